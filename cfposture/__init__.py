"""cfposture: audit the security posture of Cloudflare accounts.

import cfposture as cfp
snap = cfp.load("sample")      # or a snapshot folder written by cfposture pull / sample
snap.tokens, snap.grants, snap.members, snap.audit_events, ...
"""

from .__about__ import __version__
from .errors import CfPostureError, NormalizeError, SnapshotError
from .load import Snapshot, history, load

__all__ = [
    "CfPostureError",
    "NormalizeError",
    "Snapshot",
    "SnapshotError",
    "__version__",
    "history",
    "load",
]
