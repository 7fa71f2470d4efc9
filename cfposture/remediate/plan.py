"""``cfposture plan``: one action per open finding that has an API remedy.

Token actions, per token, in the order apply runs them: ``narrow_token`` (CFP-T07, the
narrowed policy), ``set_expiry`` (CFP-T02), ``restrict_ip`` (CFP-T03, the client IPs the token
was seen from in the audit logs), ``roll_token`` (CFP-T01), or instead of all of them
``delete_token`` (CFP-T04, unused for the stale window). Each action carries its finding id,
the before and after, the ``modified_on`` it was planned against (apply skips the target if it
changed since) and a risk note. Findings without an API remedy (OAuth apps, two-factor,
super administrators, members' scope) are listed under ``manual`` with their dashboard path.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from ..baseline import Baseline
from ..errors import SEVERITY_RANK
from ..findings import judge_in_context
from ..load import Snapshot
from ..merge import manifest_digest
from ..rawsnapshot import RawSnapshot
from ..scoring import scores_from
from ..textsafe import md_cell
from .apply import version

PLAN_VERSION = 1
ORDER = ["narrow_token", "set_expiry", "restrict_ip", "roll_token", "delete_token"]  # per token
RULE_ACTION = {
    "CFP-T07": "narrow_token",
    "CFP-T02": "set_expiry",
    "CFP-T03": "restrict_ip",
    "CFP-T01": "roll_token",
    "CFP-T04": "delete_token",
    "CFP-M04": "narrow_member",
}
RISK = {
    "narrow_token": "Writes outside what the token wrote in the window start failing; every read "
    "permission is kept (audit logs cannot show reads), and unused write groups become read.",
    "set_expiry": "The token stops working on the expiry date unless it is rolled before; "
    "put the date in the owner's calendar.",
    "restrict_ip": "Calls from any other address are refused; the list holds every address "
    "the token was seen from in the audit logs.",
    "roll_token": "The old value stops working at once: deploy the new value (shown once) "
    "wherever the token is used.",
    "delete_token": "Irreversible; the token was not used in the stale window, and apply "
    "refuses if it was used in the last 7 days.",
    "narrow_member": "The member loses write access outside the zones they changed in the "
    "window and keeps reading through a read-only role; apply creates the zone resource groups "
    "first, then replaces the account-wide role.",
}


def _ts(value: Any) -> str | None:
    return (
        None
        if value is None or pd.isna(value)
        else pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _manual(f: Any, recommendation: str, principal: str | None = None) -> dict[str, Any]:
    """A finding without an API remedy (or whose remedy cannot be applied): what to do."""
    return {
        "finding_id": f.finding_id,
        "rule_id": f.rule_id,
        "severity": f.severity,
        "principal": principal or f.principal_name or f.principal_id,
        "title": f.title,
        "recommendation": recommendation,
    }


def _raw_tokens(snap: Snapshot, raw: RawSnapshot) -> dict[str, dict[str, Any]]:
    out = {str(t.get("id")): t for t in raw.items("user_tokens")}
    for e in raw.entries("owner_user_tokens"):  # a merged snapshot: every member's own tokens
        out.update({str(t.get("id")): t for t in raw.items("owner_user_tokens", **e["ids"])})
    for aid in snap.accounts["account_id"]:
        out.update({str(t.get("id")): t for t in raw.items("account_tokens", account_id=aid)})
    return out


def _raw_members(snap: Snapshot, raw: RawSnapshot) -> dict[str, dict[str, Any]]:
    out = {}
    for aid in snap.accounts["account_id"]:
        for m in raw.items("members", account_id=aid):
            out[str(m.get("id"))] = {**m, "_account_id": aid}
    return out


def _wide_via_groups(snap: Snapshot, member_id: str) -> list[str]:
    """User groups through which a member holds an account-wide edit/admin role."""
    g = snap.grants
    wide = g[
        (g["principal_type"] == "member")
        & (g["principal_id"] == member_id)
        & (g["effect"] == "allow")
        & (g["scope_type"] == "account")
        & g["access_level"].isin(["edit", "admin"])
    ]
    return sorted(wide["via_group_id"].dropna().unique())


def _role_ids(raw: RawSnapshot, account_id: str) -> dict[str, str]:
    """Role name → id from the account's own IAM permission groups, as the pull read them:
    the ids of roles whose id Cloudflare does not publish."""
    out: dict[str, str] = {}
    for g in raw.items("permission_groups", account_id=account_id):
        if isinstance(g, dict) and g.get("name") and g.get("id"):
            out.setdefault(str(g["name"]), str(g["id"]))
    return out


def _missing_ids(policies: list[dict[str, Any]], ids: dict[str, str]) -> list[str]:
    """Fill each permission group's missing id from ``ids`` (by name); the names left without."""
    missing = []
    for p in policies:
        for g in p.get("permission_groups", []):
            if not g.get("id"):
                g["id"] = ids.get(str(g.get("name")))
                if not g["id"]:
                    missing.append(str(g.get("name")))
    return sorted(set(missing))


def _member_action(f: Any, m: dict[str, Any]) -> dict[str, Any]:
    """CFP-M04's remedy as one action: create the zone resource groups, then PUT policies."""
    steps = json.loads(f.remedy)["steps"]
    put = steps[-1]
    aid = m["_account_id"]
    path = f"/accounts/{aid}/members/{m['id']}"
    target = {"type": "member", "id": str(m["id"]), "name": f.principal_name, "account_id": aid}
    return {
        "id": f"{f.finding_id}:narrow_member",
        "finding_id": f.finding_id,
        "rule_id": f.rule_id,
        "kind": "narrow_member",
        "target": {**target, "path": path},
        "request": f"POST {len(steps) - 1} resource group(s), then PUT {path}",
        "before": {"policies": m.get("policies")},
        "after": {"policies": put["body"]["policies"], "keep_policy_ids": put["keep_policy_ids"]},
        "guard": {"version": version(target, m)},
        "risk": RISK["narrow_member"],
        "evidence": json.loads(f.evidence),
        "force": False,
    }


def _ips(snap: Snapshot, token_id: str) -> list[str]:
    ev = snap.audit_events
    return sorted(
        ev.loc[(ev["token_id"] == token_id) & ev["actor_ip"].notna(), "actor_ip"].unique()
    )


def build_plan(
    snap: Snapshot,
    *,
    rules: list[str] | None = None,
    baseline: Baseline | None = None,
    expires_in_days: int = 90,
    now: datetime | None = None,
    **params: int,
) -> dict[str, Any]:
    """The plan for ``snap``'s open findings (``rules`` narrows which), as a JSON-able dict."""
    now = now or datetime.now(UTC)
    df, ctx = judge_in_context(snap, baseline=baseline, **params)
    df = df[df["status"] == "open"]
    if rules:
        df = df[df["rule_id"].isin(rules)]
    opened = RawSnapshot.open(snap.path)
    raw = _raw_tokens(snap, opened)
    tokens = snap.tokens.drop_duplicates("token_id").set_index("token_id")
    actions: list[dict[str, Any]] = []
    manual: list[dict[str, Any]] = []
    by_token: dict[str, dict[str, pd.Series]] = {}
    members = _raw_members(snap, opened)
    for f in df.itertuples(index=False):
        kind = RULE_ACTION.get(f.rule_id)
        if kind == "narrow_member" and f.principal_id in members and isinstance(f.remedy, str):
            groups = _wide_via_groups(snap, f.principal_id)
            if groups:
                manual.append(
                    _manual(
                        f,
                        "The account-wide role comes from user group(s) "
                        f"{', '.join(groups)}: a member update cannot remove it. Narrow the "
                        "group's policy or take the member out of the group (Manage Account › "
                        "Members › User groups). " + f.recommendation,
                    )
                )
            else:
                action = _member_action(f, members[f.principal_id])
                ids = _role_ids(opened, members[f.principal_id]["_account_id"])
                missing = _missing_ids(action["after"]["policies"], ids)
                if missing:  # a request with a made-up id would fail or, worse, mean another role
                    manual.append(
                        _manual(
                            f,
                            f"The id of {', '.join(missing)} is not known: pull with a token that "
                            "may read the account's IAM permission groups, or look it up with GET "
                            "/accounts/{account_id}/iam/permission_groups. " + f.recommendation,
                        )
                    )
                else:
                    actions.append(action)
        elif kind and kind != "narrow_member" and f.principal_id in raw:
            by_token.setdefault(f.principal_id, {})[kind] = f
        else:
            manual.append(_manual(f, f.recommendation))
    for tid, kinds in sorted(by_token.items()):
        t, item = tokens.loc[tid], raw[tid]
        owner = "account" if t["owner_type"] == "account" else "user"
        base = (
            f"/accounts/{t['account_id']}/tokens/{tid}"
            if owner == "account"
            else f"/user/tokens/{tid}"
        )
        wanted = ["delete_token"] if "delete_token" in kinds else [k for k in ORDER if k in kinds]
        for kind in wanted:
            f = kinds[kind]
            before: dict[str, Any]
            after: dict[str, Any]
            if kind == "narrow_token":
                body = json.loads(f.remedy)["body"]
                before, after = {"policies": item.get("policies")}, {"policies": body["policies"]}
            elif kind == "set_expiry":
                when = (now + timedelta(days=expires_in_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
                before, after = {"expires_on": item.get("expires_on")}, {"expires_on": when}
            elif kind == "restrict_ip":
                ips = _ips(snap, tid)
                if not ips:
                    manual.append(
                        _manual(
                            f,
                            "No client address seen in the audit logs: ask the owner where it "
                            "runs, then add condition.request_ip. " + f.recommendation,
                            principal=t["name"],
                        )
                    )
                    continue
                before = {"condition": item.get("condition")}
                after = {"condition": {"request_ip": {"in": ips}}}
            elif kind == "roll_token":
                before, after = {"format": t["format"]}, {"format": "scannable"}
            else:
                before, after = {"status": t["status"], "last_used_on": _ts(t["last_used_on"])}, {}
            actions.append(
                {
                    "id": f"{f.finding_id}:{kind}",
                    "finding_id": f.finding_id,
                    "rule_id": f.rule_id,
                    "kind": kind,
                    "target": {
                        "type": f"{owner}_token",
                        "id": tid,
                        "name": t["name"],
                        "account_id": None if owner == "user" else t["account_id"],
                        # a user token only its owner can change (merged snapshots hold many)
                        "owner_email": t["owner_email"] if owner == "user" else None,
                        "path": base,
                    },
                    "request": {
                        "roll_token": f"PUT {base}/value",
                        "delete_token": f"DELETE {base}",
                    }.get(kind, f"PUT {base}"),
                    "before": before,
                    "after": after,
                    "guard": {"version": item.get("modified_on")},
                    "risk": RISK[kind],
                    # what the change rests on: per narrowed group for narrow_token
                    "evidence": json.loads(f.remedy).get("evidence")
                    if kind == "narrow_token"
                    else json.loads(f.evidence),
                    "force": False,
                }
            )
    # what to do first: the targets of the most severe findings, then the principals that
    # reach the most; a target's actions stay together, in ORDER (a roll last: a change after
    # it would make the scan's "observed: scannable" stale)
    rank = dict(zip(df["finding_id"], df["severity"].map(SEVERITY_RANK), strict=True))
    worst: dict[str, int] = {}
    for a in actions:
        tid = a["target"]["id"]
        worst[tid] = max(worst.get(tid, 0), rank[a["finding_id"]])
    reach = scores_from(ctx).groupby("principal_id")["reach"].max().to_dict()
    actions.sort(
        key=lambda a: (
            -worst[a["target"]["id"]],
            -reach.get(a["target"]["id"], 0),
            str(a["target"]["name"]),
            a["target"]["id"],
            ORDER.index(a["kind"]) if a["kind"] in ORDER else -1,
        )
    )
    manual.sort(key=lambda m: (-SEVERITY_RANK[m["severity"]], str(m["principal"])))
    return {
        "version": PLAN_VERSION,
        "snapshot": str(snap.path),
        # apply checks every action against this snapshot, and this says it is the same one
        "snapshot_digest": manifest_digest(snap.path),
        "snapshot_created_at": snap.manifest.get("created_at"),
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "actions": actions,
        "manual": manual,
    }


def _rests_on(evidence: Any) -> str:
    """An action's evidence in a table cell: each narrowed group's change and why, or the
    finding's evidence as ``key: value`` pairs."""
    if isinstance(evidence, list):
        return "; ".join(f"{c['group']}: {c['change']} ({c['evidence']})" for c in evidence)
    if isinstance(evidence, dict):
        return ", ".join(f"{k}: {v}" for k, v in evidence.items() if v not in (None, [], ""))
    return ""


def render_plan(plan: dict[str, Any], fmt: str = "markdown") -> str:
    """A human-readable plan to review before ``cfposture apply --yes``."""
    lines = [
        f"# cfposture plan: {len(plan['actions'])} API action(s), {len(plan['manual'])} manual",
        "",
        f"Snapshot {plan['snapshot']} ({plan['snapshot_created_at']}),"
        f" planned {plan['created_at']}.",
        "",
        "| # | action | target | request | change | rests on | risk |",
        "|---:|---|---|---|---|---|---|",
    ]
    # every cell through md_cell: names come from the API and may hold | or line breaks
    for i, a in enumerate(plan["actions"], 1):
        change = json.dumps(a["after"], sort_keys=True) if a["after"] else "deleted"
        if len(change) > 80:
            change = change[:77] + "…"
        cells = [i, f"{a['kind']} ({a['rule_id']})", a["target"]["name"], a["request"], change]
        cells += [_rests_on(a.get("evidence")), a["risk"]]
        lines.append(_row(cells))
    if plan["manual"]:
        lines += ["", "## Without an API remedy", "", "| rule | severity | who | what to do |"]
        lines.append("|---|---|---|---|")
        for m in plan["manual"]:
            lines.append(_row([m["rule_id"], m["severity"], m["principal"], m["recommendation"]]))
    if fmt == "table":
        return "\n".join(_plain(line) for line in lines if "---" not in line) + "\n"
    return "\n".join(lines) + "\n"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def _plain(line: str) -> str:
    """A Markdown table row as terminal text: the cell bars become spaces, escaped bars bars."""
    return re.sub(r"(?<!\\)\|", " ", line).replace("\\|", "|").strip()
