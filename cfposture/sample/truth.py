"""Ground truth of the embedded sample: which principal should trip which rule.

Derived from the organisation's *intent* (org.py) by reasoning written independently of the
rules: it never looks at frames, audit events or the rule code. The findings test compares the
two (precision and recall must both be 1.0 at the default thresholds). Keys are readable:
principal names, and scopes with account keys (``account:prod``, ``all_zones:stg``, ``*``).
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime, timedelta

from . import org

ROLLOUT = datetime(2026, 4, 10, tzinfo=UTC)
ZONE_ROLES_EXIST = True  # every zone-level permission has a zone role (Domain Administrator)
WRITE_MARKERS = ("write", "edit", "admin", "create", "purge", "delete")


def _d(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s).replace(tzinfo=UTC) if s else None


def _use_in_window(u: org.Use, begin: datetime, start: datetime, end: datetime) -> bool:
    lo = max(begin, _d(u.start) or begin, start)
    hi = min(end, _d(u.stop) or end)
    return u.per_day > 0 and lo < hi


def _account_of(target: str) -> str:
    return org.ZONES[target][0] if target in org.ZONES else target


def _scope_of_use(u: org.Use) -> tuple[str, str]:
    """(account key, zone key or '') a use acts on."""
    return (_account_of(u.target), u.target if u.target in org.ZONES else "")


def _policy_holds(p: org.P, owner_account: str | None, acct: str, zone: str) -> bool:
    home = p.targets[0] if p.scope in ("account", "account_zones") and p.targets else owner_account
    return {
        "all_accounts": True,
        "all_zones": bool(zone),
        "account_zones": bool(zone) and acct == home,
        "account": acct == home,
        "zones": zone in p.targets,
        "user": False,
    }[p.scope]


def ground_truth(at: str = org.SNAPSHOT_DATES[-1], usage_days: int = 90) -> list[dict[str, str]]:
    """The findings the sample should yield at ``at``. Audit logs record writes only, so the
    usage rules are told from the organisation's write activity; reads leave no trace."""
    end = _d(at).replace(hour=6)  # type: ignore[union-attr]
    start = end - timedelta(days=usage_days)
    rows: list[dict[str, str]] = []

    def add(rule: str, ptype: str, name: str, scope: str) -> None:
        rows.append(
            {"rule_id": rule, "principal_type": ptype, "principal_name": name, "scope": scope}
        )

    for t in org.TOKENS:
        issued = _d(t.issued)
        user_owned = t.owner.startswith("user:")
        ptype = "user_token" if user_owned else "account_token"
        alive = issued <= end and not (t.deleted and _d(t.deleted) <= end)  # type: ignore[operator]
        uses = [
            u
            for u in t.uses
            if u.target != "user"
            and _use_in_window(u, issued, start, min(end, _d(t.expires) or end))
        ]  # type: ignore[arg-type]
        if t.provisioner:  # an OAuth app's token: reviewed with the app (step 2)
            continue
        if user_owned and alive and t.status != "disabled":  # CFP-T08, listed or not
            # seen in audit logs: only its writes are
            for acct in sorted({_account_of(u.target) for u in uses if _is_write_group(u.group)}):
                add("CFP-T08", "user_token", t.name, f"account:{acct}")
        expired = t.expires and _d(t.expires) <= end  # type: ignore[operator]
        if not (t.listed and alive and t.status == "active" and not expired):
            continue
        rolled = _d(t.rolled) if t.rolled and _d(t.rolled) <= end else None  # type: ignore[operator]
        if issued < ROLLOUT and rolled is None:  # type: ignore[operator]
            add("CFP-T01", ptype, t.name, "token")
        if not t.expires:
            add("CFP-T02", ptype, t.name, "token")
        if not t.ip:
            add("CFP-T03", ptype, t.name, "token")
        user_level_use = any(u.target == "user" for u in t.uses)
        if issued <= start and not uses and not user_level_use:  # type: ignore[operator]
            add("CFP-T04", ptype, t.name, "token")
        if (rolled or issued) < end - timedelta(days=365):  # type: ignore[operator]
            add("CFP-T05", ptype, t.name, "token")
        owner_account = None if user_owned else t.owner
        for p in t.policies:
            if p.effect != "allow":
                continue
            if p.scope == "all_accounts":
                add("CFP-T06", ptype, t.name, "all_accounts:*")
            elif p.scope == "all_zones":
                add("CFP-T06", ptype, t.name, "all_zones:*")
            elif p.scope == "account_zones":
                home = p.targets[0] if p.targets else owner_account
                add("CFP-T06", ptype, t.name, f"all_zones:{home}")
        # one grant per permission group and scope; a list of zones is one scope per zone
        grants = [
            (g, p if p.scope != "zones" else org.P(p.groups, "zones", (z,)))
            for p in t.policies
            if p.effect == "allow"
            for g in p.groups
            for z in (p.targets if p.scope == "zones" else ("",))
        ]
        # audit logs show writes only: a write group held on an account or zone and never
        # written with in the window is unused; reads and user-level groups are not judged
        unused_write = [
            _is_write_group(g)
            and p.scope != "user"
            and not any(
                u.group == g and _policy_holds(p, owner_account, *_scope_of_use(u)) for u in uses
            )
            for g, p in grants
        ]
        active = bool(uses) or user_level_use
        if active and any(unused_write) and issued <= start:  # type: ignore[operator]
            add("CFP-T07", ptype, t.name, "token")

    accepted = [m for m in org.MEMBERS if m.status == "accepted"]
    for m in accepted:
        email = f"{org.PEOPLE[m.person][0].lower()}@{org.PEOPLE[m.person][2]}"
        scope = f"account:{m.account}"
        if not org.PEOPLE[m.person][3]:
            add("CFP-M01", "member", email, scope)
        policies = list(m.policies) + [p for g in m.groups for p in org.USER_GROUPS[g][2]]
        uses = [
            u
            for u in m.uses
            if _is_write_group(u.group) and _use_in_window(u, _d(m.joined), start, end)  # type: ignore[arg-type]
        ]  # the writes: all that audit logs show of a member
        may_write = any(_is_write_role(g) for p in policies for g in p.groups)
        if not uses and may_write:
            add("CFP-M05", "member", email, scope)
        wide = any(
            p.scope == "account" and any(_is_write_role(g) for g in p.groups) for p in policies
        )
        if wide and uses and all(u.target in org.ZONES for u in uses) and ZONE_ROLES_EXIST:
            add("CFP-M04", "member", email, scope)
    for key, (name, enforce, _oauth) in org.ACCOUNTS.items():
        if not enforce:
            add("CFP-M02", "account", name, f"account:{key}")
        supers = [m for m in accepted if m.account == key and org.SA in m.policies]
        if len(supers) > 3 or len(supers) == 1:
            add("CFP-M03", "account", name, f"account:{key}")

    for app in org.APPS:
        if not app.exported or _d(app.granted) > end:  # type: ignore[operator]
            continue
        if app.revoked and _d(app.revoked) <= end:  # type: ignore[operator]
            continue
        accounts = ["*"] if app.accounts == ("*",) else list(app.accounts)
        writes = any(any(w in s for w in WRITE_MARKERS) for s in app.scopes)
        stop = _d(app.uses_stop) or end
        active = app.uses_per_day > 0 and stop > start
        for acct in accounts:
            scope = f"account:{acct}"
            if not active and _d(app.granted) <= start:  # type: ignore[operator]
                add("CFP-O01", "oauth_app", app.name, scope)
            if acct == "*" and writes:
                add("CFP-O02", "oauth_app", app.name, scope)
            if not app.verified:
                add("CFP-O03", "oauth_app", app.name, scope)
    return rows


def _is_write_group(name: str) -> bool:
    """A token permission group that can change something: its name does not end in Read."""
    return not name.endswith("Read")


def _is_write_role(name: str) -> bool:
    lowered = name.lower()
    return "read" not in lowered and name not in (
        "Analytics",
        "Audit Logs Viewer",
        "Minimal Account Access",
    )


def write_truth(path: str | os.PathLike[str]) -> None:
    rows = sorted(ground_truth(), key=lambda r: tuple(r.values()))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
