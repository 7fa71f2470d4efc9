"""normalize: a raw snapshot → the validated frames of the design.

Pure: it reads the snapshot folder and nothing else. Tolerant: unknown fields are ignored,
missing optional ones become nulls. Strict where it matters: a value of the wrong kind is a
one-line ``NormalizeError`` that names the frame and field, never a silently wrong frame.
"""

from __future__ import annotations

import pandas as pd

from ..catalog import load_catalog
from ..rawsnapshot import RawSnapshot
from ..schemas import Grants, validate
from ._util import frame
from .accounts import account_ids, accounts, zones
from .audit import audit_events
from .grants import GRANT_COLUMNS, GrantBuilder, pulled_groups
from .members import members
from .oauth import oauth_apps
from .tokens import infer_format, tokens

__all__ = ["infer_format", "normalize"]


def normalize(
    raw: RawSnapshot, catalog: pd.DataFrame | None = None, audit: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """All frames of one raw snapshot, keyed by frame name. ``audit``: its audit events, when
    the caller has them already (``cfposture.load`` keeps them once parsed)."""
    catalog = load_catalog() if catalog is None else catalog
    ids = account_ids(raw)
    out: dict[str, pd.DataFrame] = {"accounts": accounts(raw)}
    out["zones"] = zones(raw, ids)
    out["audit_events"] = audit_events(raw, ids) if audit is None else audit
    zone_accounts = dict(zip(out["zones"]["zone_id"], out["zones"]["account_id"], strict=True))
    builder = GrantBuilder(catalog, zone_accounts, pulled_groups(raw, ids))
    out["tokens"] = tokens(raw, ids, out["audit_events"], builder)
    out["members"] = members(raw, ids, builder)
    out["grants"] = validate(Grants, frame(builder.rows, GRANT_COLUMNS))
    out["oauth_apps"] = oauth_apps(raw, ids, out["audit_events"], out["tokens"])
    out["permission_catalog"] = catalog
    return out
