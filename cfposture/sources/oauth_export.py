"""Connected-apps exports: the OAuth grants no public API lists.

Cloudflare shows a user's authorized apps only in the dashboard (Profile › Access Management ›
Connected Applications). Teams collect them into a CSV or JSON file with these columns / keys:

=============  =========================================================================
app_id         the app's OAuth client id (required)
app_name       as shown in the dashboard (required)
publisher      the publisher's domain, or "Cloudflare"
verified       true / false: the consent screen's verified-domain badge
user_email     who authorized it
accounts       account ids it was granted, separated by ";" (a list in JSON), or "all"
scopes         granted scopes, separated by spaces (a list in JSON)
granted_on     RFC 3339 date or timestamp
last_used_on   optional, RFC 3339
=============  =========================================================================
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from ..bounded import loads, read_file
from ..errors import CfPostureError

COLUMNS = [
    "app_id",
    "app_name",
    "publisher",
    "verified",
    "user_email",
    "accounts",
    "scopes",
    "granted_on",
    "last_used_on",
]
REQUIRED = ("app_id", "app_name")


def _split(value: Any, sep: str | None) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    if not value:
        return []
    return [v.strip() for v in str(value).split(sep) if v.strip()]


def _item(row: dict[str, Any], where: str) -> dict[str, Any]:
    for col in REQUIRED:
        if not str(row.get(col) or "").strip():
            raise CfPostureError(
                f"{where}: {col} is empty; every connected app needs {' and '.join(REQUIRED)}"
                " (see the README's connected-apps export format)"
            )
    verified = row.get("verified")
    if isinstance(verified, str):
        verified = {"true": True, "false": False, "": None}.get(verified.strip().lower())
    return {
        "app_id": str(row["app_id"]).strip(),
        "app_name": str(row["app_name"]).strip(),
        "publisher": (row.get("publisher") or None),
        "verified": verified,
        "user_email": (row.get("user_email") or None),
        "accounts": _split(row.get("accounts"), ";") or ["all"],
        "scopes": _split(row.get("scopes"), None),
        "granted_on": (row.get("granted_on") or None),
        "last_used_on": (row.get("last_used_on") or None),
    }


def read_export(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Parse a connected-apps export (CSV or JSON by extension) into snapshot items."""
    p = Path(path)
    advice = "give a UTF-8 CSV or JSON file"
    try:
        body = read_file(p, CfPostureError, advice).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CfPostureError(f"OAuth export {p} is not UTF-8; {advice}") from None
    if p.suffix.lower() == ".json":
        rows = loads(body, p, CfPostureError, advice)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise CfPostureError(f"{p} must hold a JSON list of objects, one per connected app")
        return [_item(r, f"{p} item {i}") for i, r in enumerate(rows, start=1)]
    reader = csv.DictReader(io.StringIO(body))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise CfPostureError(
            f"{p} has no {', '.join(missing)} column; the header must name: {', '.join(COLUMNS)}"
        )
    return [_item(r, f"{p} line {n}") for n, r in enumerate(reader, start=2)]


def write_export_csv(items: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write items in the CSV export format (used to ship an example with the sample)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for it in items:
            w.writerow(
                {
                    **it,
                    "verified": "" if it.get("verified") is None else str(it["verified"]).lower(),
                    "accounts": ";".join(it.get("accounts") or []),
                    "scopes": " ".join(it.get("scopes") or []),
                    "last_used_on": it.get("last_used_on") or "",
                }
            )
