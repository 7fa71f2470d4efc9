"""Narrowed policies: the permission groups a principal actually used, at the narrowest scope
that covers the use, written as the request the Cloudflare API accepts (and as Terraform).

Never narrower than observed use: every (group, scope) in the result is one that some event in
the window exercised, and only groups a current allow grant covers are kept, so narrowing can
only remove access. ``allows()`` replays an event against a policy list; the tests replay the
whole window with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import pandas as pd

from .scopes import ACCOUNT, ZONE, Scope, member_scopes, token_scopes
from .usage import _default_covers


def _resources_for(account_id: str, zone_ids: list[str]) -> dict[str, str]:
    if zone_ids:
        return {f"{ZONE}{z}": "*" for z in sorted(zone_ids)}
    return {f"{ACCOUNT}{account_id}": "*"}


def token_policies(
    used: Iterable[tuple[Any, Any, Any]],
    ids: dict[str, str],
    user_groups: list[str],
    user_id: str | None,
) -> list[dict[str, Any]]:
    """Policies for one token from its uses, (covered group, account, zone or missing) each.

    Zone-level use keeps exactly the zones used; account-level use keeps the account. Groups used
    on the same set of resources share one policy. Plain Python over the few rows a token has:
    a group-by per group and per account cost ~2 ms a token (run for every finding of CFP-T07,
    on every snapshot a report's trends judge).
    """
    # group → account → the zones used there (None: used on the account itself)
    seen: dict[str, dict[str, set[str] | None]] = {}
    for group, account, zone in used:
        if _missing(group):
            continue  # as a group-by on them drops missing keys
        accounts = seen.setdefault(str(group), {})
        if _missing(account):
            continue
        zones = accounts.setdefault(str(account), set())
        if zones is None:
            continue
        if _missing(zone):
            accounts[str(account)] = None
        else:
            zones.add(zone)
    scopes: dict[str, dict[str, str]] = {}
    for group, accounts in seen.items():
        res = scopes[group] = {}
        for account, zones in accounts.items():
            res.update(_resources_for(account, sorted(zones or ())))
    return scoped_policies(scopes, ids, user_groups, user_id)


def scoped_policies(
    scopes: dict[str, dict[str, str]],
    ids: dict[str, str],
    user_groups: list[str],
    user_id: str | None,
) -> list[dict[str, Any]]:
    """Token policies from each group's resources: groups on the same resources share one
    policy; the user-level groups get one of their own on the owner."""
    by_resources: dict[str, list[str]] = {}
    for group, res in scopes.items():
        by_resources.setdefault(json.dumps(res, sort_keys=True), []).append(group)
    policies = [
        {
            "effect": "allow",
            "resources": json.loads(res),
            "permission_groups": [{"id": ids.get(g, g), "name": g} for g in sorted(groups)],
        }
        for res, groups in sorted(by_resources.items())
    ]
    if user_groups and user_id:
        policies.append(
            {
                "effect": "allow",
                "resources": {f"com.cloudflare.api.user.{user_id}": "*"},
                "permission_groups": [
                    {"id": ids.get(g, g), "name": g} for g in sorted(user_groups)
                ],
            }
        )
    return policies


def _missing(value: Any) -> bool:
    """A missing value as ``tolist()`` gives it: None, NaN or pd.NA, by dtype."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def token_update_body(token: pd.Series, policies: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of PUT /user/tokens/{id} or /accounts/{account_id}/tokens/{id}."""
    body: dict[str, Any] = {"name": token["name"], "status": "active", "policies": policies}
    if isinstance(token.get("ip_allow"), str) or isinstance(token.get("ip_deny"), str):
        ip: dict[str, list[str]] = {}
        if isinstance(token.get("ip_allow"), str):
            ip["in"] = token["ip_allow"].split(",")
        if isinstance(token.get("ip_deny"), str):
            ip["not_in"] = token["ip_deny"].split(",")
        body["condition"] = {"request_ip": ip}
    for f in ("expires_on", "not_before"):
        if not pd.isna(token.get(f)):
            body[f] = pd.Timestamp(token[f]).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def _hcl_name(name: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_").lower() or "token"
    return ident if ident[0].isalpha() else f"t_{ident}"


def terraform(token: pd.Series, body: dict[str, Any]) -> str:
    """The narrowed token as Terraform (Cloudflare provider v5): ``cloudflare_api_token`` for a
    user-owned token, ``cloudflare_account_token`` for an account-owned one."""
    account = token["owner_type"] == "account"
    kind = "cloudflare_account_token" if account else "cloudflare_api_token"
    lines = [f'resource "{kind}" "{_hcl_name(str(token["name"]))}" {{']
    if account:
        lines.append(f'  account_id = "{token["account_id"]}"')
    lines.append(f"  name       = {json.dumps(body['name'])}")
    lines.append("  policies = [")
    for p in body["policies"]:
        groups = ", ".join(f'{{ id = "{g["id"]}" }}' for g in p["permission_groups"])
        res = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in p["resources"].items())
        lines += [
            "    {",
            f'      effect            = "{p["effect"]}"',
            f"      permission_groups = [{groups}]",
            f"      resources         = {{ {res} }}",
            "    },",
        ]
    lines.append("  ]")
    if "condition" in body:
        ip = body["condition"]["request_ip"]
        inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in ip.items())
        lines.append(f"  condition = {{ request_ip = {{ {inner} }} }}")
    if "expires_on" in body:
        lines.append(f'  expires_on = "{body["expires_on"]}"')
    lines.append("}")
    return "\n".join(lines) + "\n"


def member_policies(
    used: Iterable[tuple[Any, Any, Any]],
    account_id: str,
    zone_roles: dict[str, str],
    ids: dict[str, str],
) -> list[dict[str, Any]]:
    """Zone-scoped member policies covering ``used``, (covered group, account, zone) each, all
    on zones; one policy per role.

    ``resource_groups`` carry the scope inline; creating them first is the first step of the
    remedy (the member API references resource groups by id).
    """
    covers = _covers()
    # zone → the groups used there, in the order first used (a dict as an ordered set: equally
    # powerful groups are taken in that order)
    by_zone: dict[str, dict[str, None]] = {}
    for group, _, zone in used:
        if not _missing(zone) and not _missing(group):  # as a group-by on zones drops them
            by_zone.setdefault(zone, {})[group] = None
    by_role: dict[str, set[str]] = {}
    for zone in sorted(by_zone):
        chosen: list[str] = []
        # the role for the most powerful group first; reuse it for what else it covers there
        for group in sorted(by_zone[zone], key=lambda g: -len(covers.get(g, ()))):
            if any(group in covers.get(r, ()) for r in chosen):
                continue
            chosen.append(zone_roles[group])
        for role in chosen:
            by_role.setdefault(role, set()).add(str(zone))
    return [
        {
            "access": "allow",
            "permission_groups": [{"id": ids.get(role, role), "name": role}],
            "resource_groups": [
                {
                    "name": f"{role} on {len(zones)} zone(s)",
                    "scope": [
                        {
                            "key": f"{ACCOUNT}{account_id}",
                            "objects": [{"key": f"{ZONE}{z}"} for z in sorted(zones)],
                        }
                    ],
                }
            ],
        }
        for role, zones in sorted(by_role.items())
    ]


@cache
def _covers() -> dict[str, frozenset[str]]:
    """Group or role → the groups it covers (``usage._default_covers`` as a lookup); its size
    is the group's power when choosing roles."""
    cov = _default_covers()
    out: dict[str, set[str]] = {}
    for group, covered in zip(cov["group"].tolist(), cov["covered"].tolist(), strict=True):
        out.setdefault(group, set()).add(covered)
    return {g: frozenset(c) for g, c in out.items()}


def allows(
    policies: list[dict[str, Any]],
    group: str,
    account_id: str,
    zone_id: str | None,
    zone_accounts: dict[str, str],
) -> bool:
    """Whether token (``resources``) or member (``resource_groups``) policies allow one event:
    an explicit deny wins, then an allow whose groups cover ``group`` and whose scope holds
    the event's zone (or account)."""
    cov = _default_covers()
    covering = set(cov.loc[cov["covered"] == group, "group"])

    def holds(scopes: list[Scope]) -> bool:
        for s in scopes:
            if s.scope_type == "all_accounts":
                return True
            if s.scope_type == "account" and s.scope_id == account_id:
                return True
            if s.scope_type == "all_zones" and zone_id and s.scope_id in ("*", account_id):
                return True
            if s.scope_type == "zone" and zone_id and s.scope_id == zone_id:
                return True
        return False

    def matches(p: dict[str, Any]) -> bool:
        names = {g.get("name") for g in p.get("permission_groups", [])}
        if not names & covering:
            return False
        if "resources" in p:
            scopes = token_scopes(p["resources"])
        else:
            scopes = member_scopes(
                p.get("resource_groups"), zone_accounts.get(zone_id or "", account_id)
            )
        return holds(scopes)

    effect = lambda p: p.get("effect") or p.get("access")  # noqa: E731
    if any(effect(p) == "deny" and matches(p) for p in policies):
        return False
    return any(effect(p) == "allow" and matches(p) for p in policies)
