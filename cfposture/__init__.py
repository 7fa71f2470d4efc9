"""cfposture: audit the security posture of Cloudflare accounts.

import cfposture as cfp
snap = cfp.load("sample")      # or a snapshot folder written by cfposture pull / sample
snap.tokens, snap.grants, snap.members, snap.audit_events, ...
"""

from .__about__ import __version__
from .drift import Drift, drift
from .errors import CfPostureError, NormalizeError, SnapshotError
from .findings import findings
from .load import Snapshot, history, load
from .scoring import exposure_trend, scores

__all__ = [
    "CfPostureError",
    "Drift",
    "NormalizeError",
    "Snapshot",
    "SnapshotError",
    "__version__",
    "drift",
    "exposure_trend",
    "findings",
    "history",
    "load",
    "scores",
]
