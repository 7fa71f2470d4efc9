"""Token rules, CFP-T01 … CFP-T09 (checklist steps 1 and 3).

Rules filter the tokens frame with pandas and build one dict per finding from plain records:
no per-row ``.loc`` or ``iterrows``, because an enterprise account yields tens of thousands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..catalog import classify_product, group_id_of, group_ids, scope_kind
from ..narrow import read_companions, safe_token_policies, terraform, token_update_body
from ..schemas import records
from ._base import Context, finding, rule, ts

Row = dict[str, Any]


def _ptype(t: Row) -> str:
    return "account_token" if t["owner_type"] == "account" else "user_token"


def _where(t: Row) -> tuple[str, str]:
    """(dashboard path, API path) of a token."""
    if t["owner_type"] == "account":
        return (
            "Manage Account › Account API Tokens",
            f"/accounts/{t['account_id']}/tokens/{t['token_id']}",
        )
    return "My Profile › API Tokens", f"/user/tokens/{t['token_id']}"


def _active(ctx: Context) -> pd.DataFrame:
    """Active tokens of the inventory that their owners manage. A token an OAuth app minted
    is the app's to roll, restrict and narrow: it is reviewed with the app (step 2, notebook
    02), and revoking the app revokes it."""
    t = ctx.snap.tokens
    return t[(t["status"] == "active") & t["inventoried"] & t["oauth_client_id"].isna()]


def _token_finding(t: Row, severity: str, evidence: dict, rec: str, **kw: Any) -> dict:
    return finding(
        severity=severity,
        principal_type=_ptype(t),
        principal_id=t["token_id"],
        principal_name=t["name"],
        account_id=t["account_id"],
        scope=kw.pop("scope", "token"),
        evidence=evidence,
        recommendation=rec,
        **kw,
    )


@rule("CFP-T01", 1, "Active API token in the legacy (non-scannable) format")
def legacy_format(ctx: Context) -> list[dict]:
    """Legacy tokens have no prefix or checksum, so secret scanners only find them next to a
    keyword; rolling reissues them as cfut_/cfat_ tokens that GitHub and Cloudflare catch."""
    out = []
    for t in records(_active(ctx)[lambda d: d["format"] == "legacy"]):
        dash, api = _where(t)
        out.append(
            _token_finding(
                t,
                "medium",
                {
                    "format": "legacy",
                    "format_source": t["format_source"],
                    "issued_on": ts(t["issued_on"]),
                    "modified_on": ts(t["modified_on"]),
                },
                "Roll the token to reissue it in the scannable format, then replace the stored "
                f"value. Dashboard: {dash} › {t['name']} › Roll. API: PUT {api}/value",
            )
        )
    return out


@rule("CFP-T02", 3, "API token never expires")
def no_expiry(ctx: Context) -> list[dict]:
    """A token without expires_on stays valid forever after it leaks."""
    out = []
    for t in records(_active(ctx)[lambda d: d["expires_on"].isna()]):
        dash, api = _where(t)
        out.append(
            _token_finding(
                t,
                "low",
                {"expires_on": None, "issued_on": ts(t["issued_on"])},
                f"Set an expiry date (e.g. 12 months) and roll before it. Dashboard: {dash} › "
                f"{t['name']} › Edit › TTL. API: PUT {api} with expires_on",
            )
        )
    return out


@rule("CFP-T03", 3, "API token has no client IP restriction")
def no_ip_restriction(ctx: Context) -> list[dict]:
    """Without condition.request_ip a stolen token works from anywhere."""
    out = []
    for t in records(_active(ctx)[lambda d: d["ip_allow"].isna()]):
        dash, api = _where(t)
        out.append(
            _token_finding(
                t,
                "low",
                {"ip_allow": None},
                f"Restrict it to the addresses that use it (the audit log shows them). Dashboard: "
                f"{dash} › {t['name']} › Edit › Client IP Address Filtering. API: PUT {api} with "
                "condition.request_ip.in",
            )
        )
    return out


@rule("CFP-T04", 1, "Active API token unused for the stale window")
def unused_token(ctx: Context) -> list[dict]:
    """A token nobody used for stale_days (never used counts, once it is that old) is attack
    surface with no benefit."""
    cutoff = ctx.as_of - pd.Timedelta(days=ctx.params.stale_days)
    t = _active(ctx)
    old = t["issued_on"].isna() | (t["issued_on"] <= cutoff)
    stale = t["last_used_on"].isna() | (t["last_used_on"] < cutoff)
    out = []
    for row in records(t[old & stale]):
        dash, api = _where(row)
        out.append(
            _token_finding(
                row,
                "medium",
                {
                    "last_used_on": ts(row["last_used_on"]),
                    "stale_days": ctx.params.stale_days,
                    "issued_on": ts(row["issued_on"]),
                },
                f"Delete the token if nothing depends on it. Dashboard: {dash} › {row['name']} › "
                f"Delete. API: DELETE {api}",
            )
        )
    return out


@rule("CFP-T05", 1, "API token not rolled for more than the rotation period")
def not_rolled(ctx: Context) -> list[dict]:
    """The last change (a roll or an edit) is older than rotate_days."""
    t = _active(ctx)
    t = t.assign(changed=t["modified_on"].fillna(t["issued_on"]))
    cutoff = ctx.as_of - pd.Timedelta(days=ctx.params.rotate_days)
    out = []
    for row in records(t[t["changed"] < cutoff]):
        dash, api = _where(row)
        out.append(
            _token_finding(
                row,
                "medium",
                {
                    "last_changed": ts(row["changed"]),
                    "age_days": int((ctx.as_of - row["changed"]).days),
                    "rotate_days": ctx.params.rotate_days,
                },
                f"Roll the token and update where it is stored. Dashboard: {dash} › "
                f"{row['name']} › Roll. API: PUT {api}/value",
            )
        )
    return out


@rule("CFP-T06", 3, "API token scope is a wildcard")
def wildcard_scope(ctx: Context) -> list[dict]:
    """All accounts, all zones, or all zones of an account: every new zone or account joins
    the token's reach without anyone deciding it."""
    g = ctx.grants
    wild = g[
        (g["effect"] == "allow")
        & g["principal_type"].isin(["user_token", "account_token"])
        & g["scope_type"].isin(["all_accounts", "all_zones"])
    ]
    wild = wild.assign(edit=wild["access_level"].isin(["edit", "admin"]))
    per = wild.groupby(["principal_id", "scope_type", "scope_id"])
    # a groupby per column: named aggregations over the frame took twice as long
    per_scope = (
        pd.DataFrame(
            {
                "groups": per["permission_group_name"].agg(lambda s: sorted(set(s))),
                "edit": per["edit"].max(),
            }
        )
        .reset_index()
        .merge(_active(ctx), left_on="principal_id", right_on="token_id")
    )
    out = []
    for t in records(per_scope):
        dash, api = _where(t)
        out.append(
            _token_finding(
                t,
                "medium" if t["edit"] else "low",
                {
                    "scope_type": t["scope_type"],
                    "scope_id": t["scope_id"],
                    "permission_groups": t["groups"],
                },
                "Replace the wildcard with the accounts or zones the token needs (CFP-T07 "
                f"lists the ones it used). Dashboard: {dash} › {t['name']} › Edit › "
                f"Zone/Account Resources. API: PUT {api} with narrower policies[].resources",
                scope=f"{t['scope_type']}:{t['scope_id']}",
            )
        )
    return out


@rule("CFP-T07", 3, "API token holds write permissions it did not use in the window")
def unused_permissions(ctx: Context) -> list[dict]:
    """Write-level grants with no write in the usage window's audit logs. Audit logs record
    writes only, so read groups are never called unused. The remedy is a narrowed policy that
    cannot break the token: reads kept, used writes narrowed to where they wrote, unused writes
    replaced by the product's read group (``narrow.safe_token_policies``), as an API request
    body and as Terraform. Only judged when audit history covers the whole window, for tokens
    that existed for all of it and were used in it (an idle token is CFP-T04's: delete it)."""
    if not ctx.window.sufficient:
        return []
    g = ctx.grants
    g = g[g["principal_type"].isin(["user_token", "account_token"])]
    allow = g[g["effect"] == "allow"]
    with_unused = set(allow.loc[allow["usage_state"] == "unused", "principal_id"])
    active = _active(ctx)
    used_lately = active["last_used_on"] >= ctx.window.start
    seen = active["token_id"].isin(ctx.exercised["principal_id"])
    judged = (
        ~active["token_id"].isin(ctx.younger_than_window())
        & (used_lately.fillna(False) | seen)
        & active["token_id"].isin(with_unused)
    )
    tokens = {t["token_id"]: t for t in records(active[judged])}
    catalog = ctx.snap.permission_catalog
    companions = read_companions(catalog)
    kind = dict(zip(catalog["permission_group_id"], catalog["scopes"].map(scope_kind), strict=True))
    product = dict(zip(catalog["permission_group_id"], catalog["product"], strict=True))
    mine = g[g["principal_id"].isin(list(tokens))].reset_index(names="grant")
    mine = mine.assign(
        product=mine["permission_group_id"]
        .map(product)
        .fillna(mine["permission_group_name"].map(classify_product)),
        scope_kind=mine["permission_group_id"]
        .map(kind)
        .fillna(mine["scope_type"].map({"zone": "zone", "all_zones": "zone", "user": "user"}))
        .fillna("account"),
        wr=mine["weight"] * mine["reach_factor"],
    )
    # a group the API named without an id takes its real id from the catalogue
    ids = group_ids(catalog)
    no_id = mine["permission_group_id"].isna()
    mine.loc[no_id, "permission_group_id"] = [
        group_id_of(ids, n, (k,))
        for n, k in zip(mine.loc[no_id, "permission_group_name"], mine.loc[no_id, "scope_kind"],
                        strict=True)
    ]  # fmt: skip
    grants: dict[str, list[dict[str, Any]]] = {}
    for r in records(mine):
        grants.setdefault(r["principal_id"], []).append(r)
    pairs = ctx.covered_pairs
    uses: dict[Any, list[tuple[Any, Any]]] = {}
    for grant, account, zone in zip(
        *(pairs[c].tolist() for c in ("grant", "ev_account", "zone_id")), strict=True
    ):
        uses.setdefault(grant, []).append((account, zone))
    out = []
    for pid in sorted(grants):
        rows = grants[pid]
        t = tokens[pid]
        for r in rows:  # ``grant`` is the row's place in ctx.grants, which the pairs use
            r["grant"] = int(r["grant"])
        policies, changes = safe_token_policies(rows, uses, companions)
        body = token_update_body(t, policies)
        observable = [r for r in rows if r["effect"] == "allow" and r["usage_state"] in OBSERVED]
        unused = [r for r in observable if r["usage_state"] == "unused"]
        _, api = _where(t)
        total = _sum([r["wr"] for r in observable])
        share = float(_sum([r["wr"] for r in unused]) / total) if total else 0.0
        out.append(
            _token_finding(
                t,
                "medium" if share >= 0.5 else "low",
                {
                    "unused": sorted(
                        {
                            f"{r['permission_group_name']} @ {r['scope_type']}:{r['scope_id']}"
                            for r in unused
                        }
                    ),
                    "used": sorted(
                        {
                            r["permission_group_name"]
                            for r in observable
                            if r["usage_state"] == "used"
                        }
                    ),
                    "not_observable": sorted(
                        {
                            r["permission_group_name"]
                            for r in rows
                            if r["usage_state"] == "unobservable"
                        }
                    ),
                    "last_used_on": ts(t["last_used_on"]),
                    "window_days": ctx.params.usage_days,
                    "unused_share": round(share, 3),
                    "changes": changes,
                },
                "Replace the token's policies with the narrowed policy (remedy): it keeps every "
                "read group (audit logs cannot show reads), keeps the write groups the token "
                f"used in {ctx.params.usage_days} days where it used them, and turns unused "
                f"write groups into their read groups. API: PUT {api}",
                remedy={
                    "method": "PUT",
                    "path": api,
                    "body": body,
                    "terraform": terraform(t, body),
                    "evidence": changes,
                },
            )
        )
    return out


OBSERVED = ("used", "unused")


def _sum(values: list[float]) -> np.float64:
    """As ``Series.sum`` adds floats: numpy's pairwise sum, a missing value counted as 0."""
    return np.nansum(np.asarray(values, dtype="float64"))


@rule("CFP-T08", 3, "User-owned API token acting on the account")
def user_token_on_account(ctx: Context) -> list[dict]:
    """A personal token automating an account leaves with its owner and cannot be seen or
    revoked by the account's admins; account-owned tokens belong to the account."""
    ev, t = ctx.events, ctx.snap.tokens
    users = t.loc[t["owner_type"] == "user", "token_id"]
    # the columns needed, then the rows: filtering every column of millions of events first
    # took ~2 s of the rules' ~6 at 100 accounts
    acting = ev.loc[
        (ev["actor_context"] == "api_token") & ev["token_id"].isin(users),
        ["token_id", "account_id", "when"],
    ]
    per = (  # one column's size and max: named aggregations took three times as long
        acting.groupby(["token_id", "account_id"])["when"]
        .agg(events="size", last="max")
        .reset_index()
        .merge(ctx.snap.tokens.drop(columns=["account_id"]), on="token_id")
    )
    return [
        finding(
            severity="medium",
            principal_type="user_token",
            principal_id=t["token_id"],
            principal_name=t["name"],
            account_id=t["account_id"],
            scope=f"account:{t['account_id']}",
            evidence={
                "events": int(t["events"]),
                "last_seen": ts(t["last"]),
                "owner_email": None if pd.isna(t["owner_email"]) else t["owner_email"],
                "inventoried": bool(t["inventoried"]),
            },
            recommendation="Create an account-owned token with the same (narrowed) "
            "permissions, switch the automation to it, then delete the user token. "
            "Dashboard: Manage Account › Account API Tokens › Create Token. "
            f"API: POST /accounts/{t['account_id']}/tokens",
        )
        for t in records(per)
    ]


@rule("CFP-T09", 1, "API token value found in scanned content")
def leaked_token(ctx: Context) -> list[dict]:
    """A scan found the token's value (verified to this token id); critical while active."""
    if ctx.leaks is None or ctx.leaks.empty:
        return []
    where = ctx.leaks.groupby("token_id")["location"].agg(lambda s: sorted(set(map(str, s)))[:20])
    out = []
    for t in records(ctx.snap.tokens[ctx.snap.tokens["token_id"].isin(where.index)]):
        dash, api = _where(t)
        out.append(
            _token_finding(
                t,
                "critical" if t["status"] == "active" else "high",
                {"locations": where[t["token_id"]], "status": t["status"]},
                "Roll the token now, then remove the value from where it was found (and "
                f"from history). Dashboard: {dash} › {t['name']} › Roll. API: PUT {api}/value",
                adjust=False,
            )
        )
    return out
