"""members frame (and the member and user-group halves of grants).

Policies a member inherits from a user group appear in the member's own ``policies``; they are
recognised by policy id and tagged with ``via_group_id``. A group membership whose policies the
member listing does not repeat (older API shapes) is added from the group.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import NormalizeError
from ..rawsnapshot import RawSnapshot
from ..schemas import Members, columns, validate
from ._util import as_list, dig, flag, frame, item_id, text, typed
from .grants import GrantBuilder

SUPER_ADMIN = "Super Administrator - All Privileges"


def _group_policies(raw: RawSnapshot, aid: str, grants: GrantBuilder) -> tuple[dict, dict]:
    """Per account: policy id → group id, and group id → (policies, member ids/emails)."""
    policy_group: dict[str, str] = {}
    groups: dict[str, tuple[list[dict], set[str]]] = {}
    for g in raw.items("user_groups", account_id=aid):
        gid = text(g.get("id"))
        if not gid:
            continue
        policies = [p for p in as_list(g.get("policies")) if isinstance(p, dict)]
        for p in policies:
            if text(p.get("id")):
                policy_group[str(p["id"])] = gid
            grants.add_member_policy(
                p,
                principal_type="user_group",
                principal_id=gid,
                principal_name=text(g.get("name")),
                account_id=aid,
            )
        who: set[str] = set()
        for m in raw.items("user_group_members", account_id=aid, group_id=gid):
            who.update(x for x in (text(m.get("id")), text(m.get("email"))) if x)
        groups[gid] = (policies, who)
    return policy_group, groups


def members(raw: RawSnapshot, account_ids: list[str], grants: GrantBuilder) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()  # pages can overlap when the list changes mid-pull
    for aid in account_ids:
        policy_group, groups = _group_policies(raw, aid, grants)
        for n, m in enumerate(raw.items("members", account_id=aid), start=1):
            where = f"account {aid} member {n}"
            mid = item_id(m, where)
            typed(m, "user", dict, where)
            policies = typed(m, "policies", list, where) or []
            if not all(isinstance(p, dict) for p in policies):
                raise NormalizeError(f"{where}: a policy is not an object; pull the snapshot again")
            typed(m, "roles", list, where)
            if mid in seen:
                continue
            seen.add(mid)
            email = text(m.get("email")) or text(dig(m, "user", "email"))
            names: list[str] = []
            start = len(grants.rows)
            listed = {text(p.get("id")) for p in policies}
            for p in policies:
                grants.add_member_policy(
                    p,
                    principal_type="member",
                    principal_id=mid,
                    principal_name=email,
                    account_id=aid,
                    via_group_id=policy_group.get(text(p.get("id")) or ""),
                )
            for gid, (gpolicies, who) in groups.items():
                if mid in who or (email and email in who):
                    for p in gpolicies:
                        if text(p.get("id")) not in listed:
                            grants.add_member_policy(
                                p,
                                principal_type="member",
                                principal_id=mid,
                                principal_name=email,
                                account_id=aid,
                                via_group_id=gid,
                            )
            if not policies:  # legacy roles only: each role is an account-wide grant
                for r in as_list(m.get("roles")):
                    rname = text(r.get("name")) if isinstance(r, dict) else text(r)
                    if rname:
                        grants.add_member_policy(
                            {
                                "id": text(r.get("id")) if isinstance(r, dict) else None,
                                "access": "allow",
                                "permission_groups": [{"name": rname}],
                            },
                            principal_type="member",
                            principal_id=mid,
                            principal_name=email,
                            account_id=aid,
                        )
            mine = grants.rows[start:]
            names = sorted({g["permission_group_name"] for g in mine if g["effect"] == "allow"})
            rows.append(
                {
                    "member_id": mid,
                    "account_id": aid,
                    "user_id": text(dig(m, "user", "id")),
                    "email": email,
                    "status": text(m.get("status")),
                    "two_factor": flag(dig(m, "user", "two_factor_authentication_enabled")),
                    "is_super_admin": SUPER_ADMIN in names,
                    "roles": "; ".join(names) or None,
                }
            )
    df = frame(rows, columns(Members))
    df["two_factor"] = df["two_factor"].astype("boolean")
    df["is_super_admin"] = df["is_super_admin"].astype(bool)
    return validate(Members, df)
