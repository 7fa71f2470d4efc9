"""OAuth app rules, CFP-O01 … CFP-O03 (checklist step 2).

They judge grants the organisation *gave* (connected-apps export, apps seen acting in audit
logs), not the OAuth clients it publishes. Revoking a connected app has no public API: the
recommendation is the dashboard path.
"""

from __future__ import annotations

import re

import pandas as pd

from ..normalize.oauth import merge_activity, minted_by
from ..schemas import records
from ._base import Context, finding, rule, ts

REVOKE = (
    "Revoke it: My Profile › Access Management › Connected Applications › Revoke "
    "(no API exists for this)"
)
WRITE = re.compile(r"(write|edit|admin|create|purge|delete)", re.IGNORECASE)


def _granted(o: pd.DataFrame) -> pd.DataFrame:
    return o[o["source"].isin(["export", "audit"])]


def _app(ctx: Context, r: dict, base: str, evidence: dict, rec: str) -> dict:
    account = None if r["account_id"] == "*" else r["account_id"]
    return finding(
        severity=base,
        adjust=False,
        principal_type="oauth_app",
        principal_id=r["app_id"],
        principal_name=r["app_name"],
        account_id=account,
        scope=f"account:{r['account_id']}",
        evidence=evidence,
        recommendation=rec,
    )


def _writes(scopes: object) -> list[str]:
    return [s for s in str(scopes or "").split() if WRITE.search(s)]


@rule("CFP-O01", 2, "OAuth app with no activity in the window")
def unused_app(ctx: Context) -> list[dict]:
    """An authorized app that has not acted for usage_days (and was granted before that).

    Its last activity is the later of the export's ``last_used_on`` (which counts reads) and
    its latest event in the usage window's audit logs (writes only). An app with no known
    activity at all is only called idle when that history covers the window."""
    cutoff = ctx.as_of - pd.Timedelta(days=ctx.params.usage_days)
    o = _granted(merge_activity(ctx.snap.oauth_apps, ctx.events, minted_by(ctx.snap.tokens)))
    old = o["granted_on"].isna() | (o["granted_on"] <= cutoff)
    unknown = o["last_seen_on"].isna()
    idle = (unknown & ctx.window.sufficient) | (o["last_seen_on"] < cutoff)
    return [
        _app(
            ctx,
            r,
            "high" if _writes(r["scopes"]) else "medium",
            {
                "last_seen_on": ts(r["last_seen_on"]),
                "granted_on": ts(r["granted_on"]),
                "window_days": ctx.params.usage_days,
                "user_email": r["user_email"],
            },
            REVOKE,
        )
        for r in records(o[old & idle])
    ]


@rule("CFP-O02", 2, "OAuth app with write scopes on all accounts")
def all_accounts_write(ctx: Context) -> list[dict]:
    """Consent for "All accounts" extends the app's write scopes to every account the user
    joins later, too."""
    o = _granted(ctx.snap.oauth_apps)
    return [
        _app(
            ctx,
            r,
            "high",
            {
                "accounts": "all",
                "write_scopes": _writes(r["scopes"]),
                "user_email": r["user_email"],
            },
            "Re-authorize the app for only the accounts it needs, or revoke it: My Profile › "
            "Access Management › Connected Applications",
        )
        for r in records(o[(o["account_id"] == "*")])
        if _writes(r["scopes"])
    ]


@rule("CFP-O03", 2, "OAuth app from an unverified publisher")
def unverified_publisher(ctx: Context) -> list[dict]:
    """The consent screen showed an amber badge: the publisher's domain is not verified."""
    o = _granted(ctx.snap.oauth_apps)
    o = o[(o["verified"] == False).fillna(False)]  # noqa: E712
    return [
        _app(
            ctx,
            r,
            "high" if _writes(r["scopes"]) else "medium",
            {"publisher": r["publisher"], "verified": False, "scopes": r["scopes"]},
            f"Check who operates {r['publisher']}; if unknown or unneeded: {REVOKE}",
        )
        for r in records(o)
    ]
