"""accounts and zones frames."""

from __future__ import annotations

import pandas as pd

from ..rawsnapshot import RawSnapshot
from ..schemas import Accounts, Zones, columns, validate
from ._util import dig, flag, frame, item_id, text


def account_ids(raw: RawSnapshot) -> list[str]:
    """Every account the snapshot covers: the /accounts list plus per-account files."""
    ids = [item_id(a, f"account {n}") for n, a in enumerate(raw.items("accounts"), start=1)]
    for e in raw.manifest["endpoints"]:
        aid = (e.get("ids") or {}).get("account_id")
        if aid and aid not in ids:
            ids.append(aid)
    return ids


def accounts(raw: RawSnapshot) -> pd.DataFrame:
    listed = {item_id(a, "an account"): a for a in raw.items("accounts")}
    rows = []
    for aid in account_ids(raw):
        # The per-account detail is newer than the list item when both are there.
        detail = next(iter(raw.items("account", account_id=aid)), None) or listed.get(aid, {})
        settings = detail.get("settings") or listed.get(aid, {}).get("settings") or {}
        rows.append(
            {
                "account_id": aid,
                "name": text(detail.get("name")) or text(listed.get(aid, {}).get("name")),
                "enforce_twofactor": flag(dig(settings, "enforce_twofactor")),
                "oauth_app_access_enabled": flag(dig(settings, "oauth_app_access_enabled")),
            }
        )
    df = frame(rows, columns(Accounts))
    for col in ("enforce_twofactor", "oauth_app_access_enabled"):
        df[col] = df[col].astype("boolean")
    return validate(Accounts, df)


def zones(raw: RawSnapshot, ids: list[str]) -> pd.DataFrame:
    rows = []
    seen: set[str] = set()
    for aid in ids:
        for n, z in enumerate(raw.items("zones", account_id=aid), start=1):
            zid = item_id(z, f"account {aid} zone {n}")
            if zid in seen:
                continue
            seen.add(zid)
            rows.append(
                {
                    "zone_id": zid,
                    "account_id": text(dig(z, "account", "id")) or aid,
                    "name": text(z.get("name")) or zid,
                    "status": text(z.get("status")),
                }
            )
    return validate(Zones, frame(rows, columns(Zones)))
