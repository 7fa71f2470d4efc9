"""Narrowed policies, written as the request the Cloudflare API accepts (and as Terraform).

A narrowed policy must never break what a token does, and audit logs show only writes. So it
keeps every read group at its scope, narrows each used write group to the scopes that saw
writes (keeping the product's read group on the rest), and replaces each unused write group by
the product's read group at the same scope. Every id is a real permission-group id: the
grant's own (from the API) or a catalogue id Cloudflare publishes. ``allows()`` replays an
event against a policy list; the tests replay the whole window with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple

import pandas as pd

from .catalog import scope_kind
from .scopes import ACCOUNT, USER, ZONE, Scope, member_scopes, token_scopes
from .usage import _default_covers


def scope_resources(scope_type: str, scope_id: Any) -> dict[str, Any]:
    """A grant's scope as a token policy's ``resources`` map (the inverse of
    ``scopes.token_scopes``)."""
    if scope_type == "all_accounts":
        return {f"{ACCOUNT}*": "*"}
    if scope_type == "account":
        return {f"{ACCOUNT}{scope_id}": "*"}
    if scope_type == "all_zones":
        if scope_id in (None, "*") or _missing(scope_id):
            return {f"{ZONE}*": "*"}
        return {f"{ACCOUNT}{scope_id}": {f"{ZONE}*": "*"}}
    if scope_type == "zone":
        return {f"{ZONE}{scope_id}": "*"}
    if scope_type == "user":
        return {f"{USER}{scope_id}": "*"}
    return {str(scope_id): "*"}  # a resource: its key is the scope id


class GroupRef(NamedTuple):
    """A permission group as a policy names it: the real id (None only for a group the API
    named without one and the catalogue does not know) and, for people, the name."""

    id: str | None
    name: str


def safe_token_policies(
    grants: list[dict[str, Any]],
    uses: dict[Any, list[tuple[Any, Any]]],
    read_companion: dict[tuple[str, str], GroupRef],
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The narrowed policies of one token, and what each change rests on.

    ``grants``: the token's grant rows (``grant`` index, group id and name, ``access_level``,
    ``scope_type``, ``scope_id``, ``account_id``, ``usage_state``, ``effect``, ``scope_kind``);
    ``uses``: per used grant, its (account, zone or missing) events. Never breaks a working
    token: every read group and every grant whose use cannot be observed stays at its scope;
    a used write group keeps the scopes that saw writes, and the rest of its reach keeps the
    product's read group; an unused write group is replaced by the product's read group at
    the same scope (dropped when the product has none). Deny policies stay as they are.
    """
    # (effect, group id) → the group and every resource it keeps
    held: dict[tuple[str, str], tuple[GroupRef, dict[str, Any]]] = {}
    changes: list[dict[str, str]] = []

    def keep(ref: GroupRef, resources: dict[str, Any], effect: str = "allow") -> None:
        _, have = held.setdefault((effect, ref.id or ref.name), (ref, {}))
        for key, value in resources.items():
            if have.get(key) != "*":  # "*" on a key holds everything nested under it
                have[key] = value

    for g in grants:
        gid = g["permission_group_id"]
        ref = GroupRef(None if _missing(gid) else str(gid), str(g["permission_group_name"]))
        where = scope_resources(g["scope_type"], g["scope_id"])
        scope = f"{g['scope_type']}:{g['scope_id']}"
        state = g["usage_state"]
        if g["effect"] != "allow" or state not in ("used", "unused"):
            keep(ref, where, g["effect"])
            continue
        companion = read_companion.get((str(g["product"]), str(g["scope_kind"])))
        if state == "unused":
            if companion is not None:
                keep(companion, where)
            changes.append(
                {
                    "group": f"{ref.name} @ {scope}",
                    "change": f"replaced by {companion.name}" if companion else "removed",
                    "evidence": "no write in the window's audit logs",
                }
            )
            continue
        seen = uses.get(g["grant"], [])
        zones = sorted({str(z) for _, z in seen if not _missing(z)})
        accounts = sorted({str(a) for a, z in seen if _missing(z) and not _missing(a)})
        narrowed: dict[str, Any] = {f"{ZONE}{z}": "*" for z in zones}
        narrowed.update({f"{ACCOUNT}{a}": "*" for a in accounts})
        if not narrowed or g["used_share"] >= 1.0:
            keep(ref, where)
            continue
        keep(ref, narrowed)
        if companion is not None:
            keep(companion, where)
        changes.append(
            {
                "group": f"{ref.name} @ {scope}",
                "change": f"narrowed to {len(zones) + len(accounts)} scope(s) that saw writes"
                + (f"; {companion.name} kept on the rest" if companion else ""),
                "evidence": f"writes on {', '.join(zones + accounts)}",
            }
        )
    # groups on the same resources and effect share one policy
    by_resources: dict[str, dict[str, GroupRef]] = {}
    for (effect, group), (ref, resources) in held.items():
        key = json.dumps([effect, resources], sort_keys=True)
        by_resources.setdefault(key, {})[group] = ref
    policies = []
    for key, refs in sorted(by_resources.items()):
        effect, resources = json.loads(key)
        policies.append(
            {
                "effect": effect,
                "resources": resources,
                "permission_groups": [
                    {"id": r.id, "name": r.name}
                    for r in sorted(refs.values(), key=lambda r: r.name)
                ],
            }
        )
    return policies, changes


def read_companions(catalog: pd.DataFrame) -> dict[tuple[str, str], GroupRef]:
    """(product, scope kind) → the product's read group with a real id: what an unused write
    group becomes, so the token keeps reading what it may read today (reads are invisible)."""
    reads = catalog[
        (catalog["kind"] == "token")
        & (catalog["access_level"] == "read")
        & (catalog["id_source"] == "api")
    ]
    out: dict[tuple[str, str], GroupRef] = {}
    for product, scopes, gid, name in zip(
        reads["product"], reads["scopes"], reads["permission_group_id"], reads["name"], strict=True
    ):
        out.setdefault((product, scope_kind(scopes)), GroupRef(gid, name))
    return out


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
    """The narrowed token as Terraform (Cloudflare provider >= 5.13): ``cloudflare_api_token``
    for a user-owned token, ``cloudflare_account_token`` for an account-owned one."""
    account = token["owner_type"] == "account"
    kind = "cloudflare_account_token" if account else "cloudflare_api_token"
    lines = [f'resource "{kind}" "{_hcl_name(str(token["name"]))}" {{']
    if account:
        lines.append(f'  account_id = "{token["account_id"]}"')
    lines.append(f"  name       = {json.dumps(body['name'])}")
    lines.append("  policies = [")
    for p in body["policies"]:
        groups = ", ".join(f'{{ id = "{g["id"]}" }}' for g in p["permission_groups"])
        # provider >= 5.13 takes resources as a JSON string (HCL accepts this object syntax)
        res = json.dumps(p["resources"], sort_keys=True)
        lines += [
            "    {",
            f'      effect            = "{p["effect"]}"',
            f"      permission_groups = [{groups}]",
            f"      resources         = jsonencode({res})",
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
    remedy (the member API references resource groups by id). ``ids``: role name → real id;
    a role without one gets ``id: None`` and the remedy says to look it up.
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
            "permission_groups": [{"id": ids.get(role), "name": role}],
            "resource_groups": [
                {
                    "name": f"{role} on {len(zones)} zone(s)",
                    # one object, as SDK 5.9 and the API create it (older answers: a list)
                    "scope": {
                        "key": f"{ACCOUNT}{account_id}",
                        "objects": [{"key": f"{ZONE}{z}"} for z in sorted(zones)],
                    },
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
