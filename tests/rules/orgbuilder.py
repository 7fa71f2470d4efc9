"""A tiny hand-written organisation for table-driven rule tests: ids and payload builders.

A module of its own (not conftest) so that test files import it by a unique name: two
conftest modules imported as ``conftest`` collide when test folders run together."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cfposture.catalog import group_id_of, group_ids, load_catalog

A, B = "a" * 32, "b" * 32
Z1, Z2 = "1" * 32, "2" * 32
AS_OF = datetime(2026, 11, 25, 6, tzinfo=UTC)
USER = {"id": "u" * 32, "email": "me@example.com"}


def tok(tid: str, *policies: dict, **fields: Any) -> dict:
    """A token; defaults: active, scannable (issued after the rollout), expiring, IP-bound."""
    base = {
        "id": tid,
        "name": tid,
        "status": "active",
        "issued_on": "2026-06-01T00:00:00Z",
        "modified_on": "2026-06-01T00:00:00Z",
        "last_used_on": "2026-11-20T00:00:00Z",
        "expires_on": "2027-06-01T00:00:00Z",
        "condition": {"request_ip": {"in": ["192.0.2.0/24"]}},
        "policies": list(policies) or [pol(["DNS Read"], zone=Z1)],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def pol(
    groups: list[str],
    *,
    zone: str | None = None,
    account: str | None = None,
    resources: dict | None = None,
    effect: str = "allow",
) -> dict:
    if resources is None:
        resources = (
            {f"com.cloudflare.api.account.zone.{zone}": "*"}
            if zone
            else {f"com.cloudflare.api.account.{account or A}": "*"}
        )
    return {
        "id": "p" + "".join(g[0] for g in groups),
        "effect": effect,
        "resources": resources,
        "permission_groups": [{"id": real_id(g), "name": g} for g in groups],
    }


def real_id(group: str) -> str:
    """A token permission group's real id (the zone one where the name exists at both
    scopes); a slug for a name the catalog does not hold."""
    return group_id_of(group_ids(load_catalog()), group) or group.lower().replace(" ", "-")


def member(
    mid: str,
    roles: list[str],
    *,
    zones: list[str] | None = None,
    two_factor=True,
    status="accepted",
    account: str = A,
) -> dict:
    objects = (
        [{"key": f"com.cloudflare.api.account.zone.{z}"} for z in zones]
        if zones
        else [{"key": "*"}]
    )
    return {
        "id": mid,
        "status": status,
        "email": f"{mid}@example.com",
        "user": {
            "id": "u" + mid,
            "email": f"{mid}@example.com",
            "two_factor_authentication_enabled": two_factor,
        },
        "policies": [
            {
                "id": f"{mid}-{r}",
                "access": "allow",
                "permission_groups": [{"name": r}],
                "resource_groups": [
                    {
                        "id": "rg",
                        "scope": [
                            {"key": f"com.cloudflare.api.account.{account}", "objects": objects}
                        ],
                    }
                ],
            }
            for r in roles
        ],
    }


def event(
    n: int,
    *,
    token: str | None = None,
    email: str | None = None,
    product="dns_records",
    rtype="dns_record",
    action="update",
    zone: str | None = Z1,
    account: str = A,
    when="2026-11-20T00:00:00Z",
    actor_type="account",
    context=None,
) -> dict:
    actor = {
        "id": "x",
        "context": context or ("api_token" if token else "dash"),
        "email": email,
        "token_id": token,
        "token_name": token,
        "type": actor_type,
    }
    e = {
        "id": f"ev{n}",
        "account": {"id": account},
        "actor": actor,
        "action": {"time": when, "type": action, "result": "success"},
        "resource": {"product": product, "type": rtype, "id": "r"},
    }
    if zone:
        e["zone"] = {"id": zone}
    return e
