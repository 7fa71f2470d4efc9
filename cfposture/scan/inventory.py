"""Join verified leaks to a snapshot's inventory, and record what was observed.

"This leaked token can edit DNS on all 40 zones": the owner, the name, the last use and the
strongest grant of each verified token, from the same frames the findings use. Verified token
ids are recorded beside the snapshot (``observed.json``, no values), so its ``format_source``
becomes ``observed`` and CFP-T09 fires on the next ``findings`` or ``report``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SCOPE = {
    "all_accounts": "all accounts",
    "account": "the whole account",
    "all_zones": "every zone of the account",
    "zone": "one zone",
    "resource": "one resource",
    "user": "the owner's user profile",
}


def _strongest(grants: Any, zones: int) -> str:
    g = grants[grants["effect"] == "allow"]
    if g.empty:
        return "no permissions found in the snapshot"
    top = g.assign(rank=g["weight"] * g["reach_factor"]).sort_values("rank").iloc[-1]
    reach = f"{zones} zone{'s' if zones != 1 else ''}"
    return (
        f"can use {top['permission_group_name']} ({top['access_level']}) on "
        f"{SCOPE.get(top['scope_type'], top['scope_type'])} ({reach} reached,"
        f" {g['permission_group_name'].nunique()} permission groups)"
    )


def join(findings: list[dict[str, Any]], snapshot: str) -> int:
    """Add owner, name, last use and what the token can do to verified findings."""
    from ..load import load
    from ..privilege import weighted_grants, zones_reached

    snap = load(snapshot)
    tokens = snap.tokens.drop_duplicates("token_id").set_index("token_id")
    weighted = weighted_grants(snap.grants, snap.permission_catalog)
    reached = zones_reached(snap.grants, snap.zones)
    joined = 0
    for f in findings:
        tid = f.get("token_id")
        if not tid or tid not in tokens.index:
            if tid:
                f["inventory"] = "not in the snapshot (pull again, or another account's token)"
            continue
        t = tokens.loc[tid]
        ptype = "account_token" if t["owner_type"] == "account" else "user_token"
        mine = weighted[(weighted["principal_type"] == ptype) & (weighted["principal_id"] == tid)]
        zones = int(reached.get((ptype, tid), 0))
        f.update(
            {
                "inventory": "found",
                "token_name": t["name"],
                "owner": t["owner_email"] if isinstance(t["owner_email"], str) else t["owner_id"],
                "account_id": f.get("account_id") or t["account_id"],
                "last_used_on": None if t.isna()["last_used_on"] else str(t["last_used_on"]),
                "zones_reached": zones,
                "can": _strongest(mine, zones),
            }
        )
        joined += 1
    return joined


def observations(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One observation per verified token id: its format as seen in the value, and where."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f.get("token_id") and f.get("live") is not None:
            out.setdefault(
                f["token_id"],
                {
                    "token_id": f["token_id"],
                    "account_id": f.get("account_id"),
                    "format": "legacy" if f["format"] == "legacy_token" else "scannable",
                    "source": "scan",
                    "observed_at": now,
                    "fingerprint": f["fingerprint"],
                    "location": f["location"],
                },
            )
    return list(out.values())
