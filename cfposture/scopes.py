"""Turn Cloudflare resource keys into (scope_type, scope_id, account_id).

Tokens name their scope in a ``resources`` map whose values are ``"*"`` or, for "all zones of one
account", a nested map; members name it through resource groups (``scope[].key`` +
``objects[].key``). Both end up as the scope types of the design:
``all_accounts`` < ... ordered by reach: resource, zone, all_zones (of one account or ``*``),
account, all_accounts, plus ``user`` for the token owner's own user resources.
"""

from __future__ import annotations

from typing import Any, NamedTuple

ACCOUNT = "com.cloudflare.api.account."
ZONE = "com.cloudflare.api.account.zone."
USER = "com.cloudflare.api.user."
R2_BUCKET = "com.cloudflare.edge.r2.bucket."
WORKER = "com.cloudflare.api.account.worker."


class Scope(NamedTuple):
    scope_type: str
    scope_id: str | None
    account_id: str | None


def parse_key(key: str, parent_account: str | None = None) -> Scope:
    """One resource key. Unknown keys are kept as a ``resource`` scope named by the key."""
    if key.startswith(ZONE):
        zone = key[len(ZONE) :]
        if zone == "*":
            return Scope("all_zones", parent_account or "*", parent_account)
        return Scope("zone", zone, parent_account)
    if key.startswith(WORKER):
        return Scope("resource", key, parent_account)
    if key.startswith(ACCOUNT):
        account = key[len(ACCOUNT) :]
        if account == "*":
            return Scope("all_accounts", "*", None)
        if "." in account:  # another account-level resource type (worker, access app, ...)
            return Scope("resource", key, parent_account)
        return Scope("account", account, account)
    if key.startswith(USER):
        return Scope("user", key[len(USER) :], None)
    if key.startswith(R2_BUCKET):
        name = key[len(R2_BUCKET) :]
        account = name.split("_", 1)[0] if "_" in name else parent_account
        return Scope("resource", key, account)
    return Scope("resource", key, parent_account)


def token_scopes(resources: Any) -> list[Scope]:
    """Scopes of one token policy's ``resources`` (flat ``{key: "*"}`` or nested form)."""
    if not isinstance(resources, dict):
        return []
    out: list[Scope] = []
    for key, value in resources.items():
        outer = parse_key(str(key))
        if isinstance(value, dict) and value:
            # {"com.cloudflare.api.account.<A>": {"com.cloudflare.api.account.zone.*": "*"}}
            parent = outer.account_id
            out.extend(parse_key(str(inner), parent) for inner in value)
        else:
            out.append(outer)
    return out


def member_scopes(resource_groups: Any, account_id: str) -> list[Scope]:
    """Scopes of one member / user-group policy, from its resource groups.

    A policy without resource groups is how older members' roles look: account-wide.
    """
    if not resource_groups:
        return [Scope("account", account_id, account_id)]
    out: list[Scope] = []
    for group in resource_groups if isinstance(resource_groups, list) else [resource_groups]:
        if not isinstance(group, dict):
            continue
        scope = group.get("scope") or []
        for entry in scope if isinstance(scope, list) else [scope]:
            if not isinstance(entry, dict):
                continue
            outer = parse_key(str(entry.get("key", "")), account_id)
            objects = entry.get("objects") or [{"key": "*"}]
            for obj in objects:
                okey = str(obj.get("key", "*")) if isinstance(obj, dict) else str(obj)
                if okey == "*":
                    out.append(outer)
                else:
                    out.append(parse_key(okey, outer.account_id or account_id))
    return out or [Scope("account", account_id, account_id)]
