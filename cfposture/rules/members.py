"""Member and account rules, CFP-M01 … CFP-M05 (checklist step 3)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..narrow import member_policies
from ..schemas import records
from ..usage import _default_covers
from ._base import Context, finding, rule, ts

MEMBERS_PAGE = "Manage Account › Members"
SUPER_ADMIN = "Super Administrator - All Privileges"


def _accepted(ctx: Context) -> pd.DataFrame:
    m = ctx.snap.members
    return m[m["status"] == "accepted"]


@rule("CFP-M01", 3, "Accepted member without two-factor authentication")
def no_2fa(ctx: Context) -> list[dict]:
    """A password alone guards everything this member can do in the dashboard."""
    m = _accepted(ctx)
    out = []
    for r in records(m[(m["two_factor"] == False).fillna(False)]):  # noqa: E712
        out.append(
            finding(
                severity="medium",
                principal_type="member",
                principal_id=r["member_id"],
                principal_name=r["email"],
                account_id=r["account_id"],
                scope=f"account:{r['account_id']}",
                evidence={"two_factor": False, "roles": r["roles"]},
                recommendation="Ask the member to enable 2FA (My Profile › Authentication), "
                f"or enforce it for the account ({MEMBERS_PAGE} › Settings › Two-factor "
                "authentication)",
            )
        )
    return out


@rule("CFP-M02", 3, "Account does not enforce two-factor authentication")
def no_2fa_enforcement(ctx: Context) -> list[dict]:
    """Without enforcement every new member can join with a password only."""
    a = ctx.snap.accounts
    out = []
    for r in records(a[(a["enforce_twofactor"] == False).fillna(False)]):  # noqa: E712
        out.append(
            finding(
                severity="medium",
                adjust=False,
                principal_type="account",
                principal_id=r["account_id"],
                principal_name=r["name"],
                account_id=r["account_id"],
                scope=f"account:{r['account_id']}",
                evidence={"enforce_twofactor": False},
                recommendation=f"Enforce 2FA: {MEMBERS_PAGE} › Settings › Enforce two-factor "
                f"authentication. API: PATCH /accounts/{r['account_id']} with "
                "settings.enforce_twofactor = true",
            )
        )
    return out


@rule("CFP-M03", 3, "Too many super administrators, or a single one")
def super_admin_count(ctx: Context) -> list[dict]:
    """More than max_super_admins widens who can do everything (and revoke other admins);
    exactly one is a single point of failure for account recovery."""
    m = _accepted(ctx)
    names = ctx.snap.accounts.set_index("account_id")["name"]
    counts = m[m["is_super_admin"]].groupby("account_id")["email"].agg(list)
    out = []
    for aid, emails in counts.items():
        n = len(emails)
        if n > ctx.params.max_super_admins:
            sev, rec = (
                "high",
                (
                    f"Reduce super administrators to at most "
                    f"{ctx.params.max_super_admins}: give the others Administrator or "
                    f"narrower roles ({MEMBERS_PAGE} › Edit)"
                ),
            )
        elif n == 1:
            sev, rec = (
                "medium",
                (
                    f"Add a second super administrator as a break-glass backup "
                    f"({MEMBERS_PAGE} › Invite)"
                ),
            )
        else:
            continue
        out.append(
            finding(
                severity=sev,
                adjust=False,
                principal_type="account",
                principal_id=aid,
                principal_name=names.get(aid),
                account_id=aid,
                scope=f"account:{aid}",
                evidence={
                    "super_admins": n,
                    "members": sorted(emails),
                    "threshold": ctx.params.max_super_admins,
                },
                recommendation=rec,
            )
        )
    return out


def _role_ids(catalog: pd.DataFrame) -> dict[str, str]:
    """Role name → id, for the roles whose id Cloudflare publishes: a placeholder id never
    goes into a request body."""
    roles = catalog[(catalog["kind"] == "role") & (catalog["id_source"] == "api")]
    return dict(zip(roles["name"], roles["permission_group_id"], strict=True))


def _read_roles(catalog: pd.DataFrame) -> dict[str, str]:
    """Product → the account-scoped read-only role that keeps reading it."""
    roles = catalog[
        (catalog["kind"] == "role")
        & (catalog["access_level"] == "read")
        & (catalog["scopes"] == "com.cloudflare.api.account")
    ]
    return dict(zip(roles["product"], roles["name"], strict=False))


def _zone_roles(catalog: pd.DataFrame) -> dict[str, str]:
    """Token group → the cheapest zone-scoped role that covers it."""
    cov = _default_covers()
    roles = catalog[(catalog["kind"] == "role") & catalog["scopes"].str.contains("account.zone")]
    pairs = cov.merge(roles[["name", "risk_weight"]], left_on="group", right_on="name")
    best = pairs.sort_values(["risk_weight", "group"]).drop_duplicates("covered")
    return dict(zip(best["covered"], best["group"], strict=True))


@rule("CFP-M04", 3, "Account-wide role where the member's activity fits zone scope")
def account_wide_member(ctx: Context) -> list[dict]:
    """A member holding an account-wide edit/admin role whose every action in the window was on
    specific zones: the remedy gives zone-scoped roles for exactly those zones."""
    if not ctx.window.sufficient:
        return []
    g = ctx.grants
    wide = g[
        (g["principal_type"] == "member")
        & (g["effect"] == "allow")
        & (g["scope_type"] == "account")
        & g["access_level"].isin(["edit", "admin"])
    ]
    pairs = ctx.covered_pairs
    pairs = pairs[pairs["principal_type"] == "member"]
    catalog = ctx.snap.permission_catalog
    zone_roles = _zone_roles(catalog)
    ids = _role_ids(catalog)
    readers = _read_roles(catalog)
    product = dict(zip(catalog["name"], catalog["product"], strict=False))
    members = {m["member_id"]: m for m in records(ctx.snap.members)}
    # Whether each member's every use fits zone-scoped roles, for all members at once, and
    # the uses of those that fit as plain rows: a filter per member, over every column, cost
    # ~5 ms a member on every snapshot a report's trends judge.
    cols = ["covered", "ev_account", "zone_id"]
    mine = pairs.loc[pairs["principal_id"].isin(wide["principal_id"]), ["principal_id", *cols]]
    misfit = mine["zone_id"].isna() | ~mine["covered"].isin(list(zone_roles))
    bad = misfit.groupby(mine["principal_id"]).any()
    fits = set(bad.index[~bad])  # used something, and all of it on zones a role can cover
    uses: dict[str, list[tuple[Any, Any, Any]]] = {}
    for mid, *use in zip(*(mine[c].tolist() for c in ["principal_id", *cols]), strict=True):
        if mid in fits:
            uses.setdefault(mid, []).append(tuple(use))
    wide = wide.loc[
        wide["principal_id"].isin(fits), ["principal_id", "policy_id", "permission_group_name"]
    ]
    out = []
    for mid, rows in wide.groupby("principal_id"):
        used = uses[mid]
        m = members[mid]
        policies = member_policies(used, m["account_id"], zone_roles, ids)
        # reads are invisible in audit logs: the account-wide role's read side stays, as the
        # product's read-only role on the account
        keeps_reading, unreadable = [], []
        wide_roles = sorted(rows["permission_group_name"].unique())
        for role in wide_roles:
            reader = readers.get(product.get(role, ""))
            if reader is None:
                unreadable.append(role)
            elif reader not in keeps_reading:
                keeps_reading.append(reader)
        for reader in keeps_reading:
            policies.append(
                {
                    "access": "allow",
                    "permission_groups": [{"id": ids.get(reader), "name": reader}],
                    "resource_groups": [
                        {
                            "name": f"{reader} on the account",
                            "scope": {
                                "key": f"com.cloudflare.api.account.{m['account_id']}",
                                "objects": [{"key": "*"}],
                            },
                        }
                    ],
                }
            )
        unresolved = sorted(
            {g["name"] for p in policies for g in p["permission_groups"] if not g["id"]}
        )
        kept = [
            pid
            for pid in g.loc[g["principal_id"] == mid, "policy_id"].dropna().unique()
            if pid not in set(rows["policy_id"])
        ]
        api = f"/accounts/{m['account_id']}/members/{mid}"
        # No automatic remedy where narrowing could break the member's work or the account:
        # a super administrator (members and billing; CFP-M03 weighs how many to keep), or a
        # role whose reads no read-only role keeps (audit logs cannot show those reads)
        why_manual = None
        if SUPER_ADMIN in wide_roles:
            why_manual = (
                "It is a super administrator: decide with CFP-M03 who keeps that role before "
                "narrowing it, so the account is never left without one"
            )
        elif unreadable:
            why_manual = (
                f"No read-only role keeps the reads of {', '.join(unreadable)} on the rest of "
                "the account, and audit logs cannot show those reads: ask the member before "
                "narrowing"
            )
        remedy = {
            "steps": [
                {
                    "method": "POST",
                    "path": f"/accounts/{m['account_id']}/iam/resource_groups",
                    "body": rg,
                }
                for p in policies
                for rg in p["resource_groups"]
            ]
            + [
                {
                    "method": "PUT",
                    "path": api,
                    "body": {"policies": policies},
                    "keep_policy_ids": kept,
                    "note": "replace each inline resource group by its POST's id"
                    + (
                        "; look up the id of "
                        + ", ".join(unresolved)
                        + " with GET /accounts/{account_id}/iam/permission_groups"
                        if unresolved
                        else ""
                    ),
                }
            ],
        }
        out.append(
            finding(
                severity="medium",
                principal_type="member",
                principal_id=mid,
                principal_name=m["email"],
                account_id=m["account_id"],
                scope=f"account:{m['account_id']}",
                evidence={
                    "account_wide_roles": sorted(rows["permission_group_name"].unique()),
                    "zones_used": sorted({zone for _, _, zone in used}),
                    "groups_used": sorted({covered for covered, _, _ in used}),
                    "reads_kept": keeps_reading,
                    "window_days": ctx.params.usage_days,
                },
                recommendation=(
                    "Replace the account-wide role with zone-scoped roles for the zones the "
                    "member changed, keeping a read-only role for the rest (remedy). Dashboard: "
                    f"{MEMBERS_PAGE} › {m['email']} › Edit › Scope. API: create the resource "
                    "groups, then PUT the member's policies"
                    if why_manual is None
                    else f"Narrow the account-wide role to zone-scoped roles for the zones the "
                    f"member changed. {why_manual}. Dashboard: {MEMBERS_PAGE} › {m['email']} › "
                    "Edit › Scope"
                ),
                remedy=remedy if why_manual is None else None,
            )
        )
    return out


@rule("CFP-M05", 3, "Member with write access and no write in the window")
def inactive_member(ctx: Context) -> list[dict]:
    """A member who may change things made no change in the usage window. Audit logs record
    writes only, so a member who only reads is not judged; and a member who reads daily
    still shows here: this asks whether they need write access, it does not prove disuse."""
    if not ctx.window.sufficient:
        return []
    active = set(ctx.exercised.loc[ctx.exercised["principal_type"] == "member", "principal_id"])
    g = ctx.grants
    writers = set(
        g.loc[
            (g["principal_type"] == "member")
            & (g["effect"] == "allow")
            & (g["access_level"] != "read"),
            "principal_id",
        ]
    )
    out = []
    for r in records(_accepted(ctx)):
        # a member who may only read leaves no trace in audit logs: not observable
        if r["member_id"] in active or r["member_id"] not in writers:
            continue
        out.append(
            finding(
                severity="low",
                principal_type="member",
                principal_id=r["member_id"],
                principal_name=r["email"],
                account_id=r["account_id"],
                scope=f"account:{r['account_id']}",
                evidence={
                    "window_days": ctx.params.usage_days,
                    "roles": r["roles"],
                    "since": ts(ctx.window.start),
                    "writes_seen": 0,
                    "reads": "not observable (audit logs record writes only)",
                },
                recommendation="Confirm the member still needs write access; reduce it to "
                f"a read-only role, or remove the member "
                f"({MEMBERS_PAGE} › {r['email']} › Remove). API: DELETE "
                f"/accounts/{r['account_id']}/members/{r['member_id']}",
            )
        )
    return out
