"""Build API-shaped JSON items for the synthetic sample, exactly as Cloudflare returns them.

Shared by both scales so the sample, the enterprise benchmark data and (through the fake API)
the pull tests all exercise the same shapes that normalize must understand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..rawsnapshot import isoformat
from ..scopes import ACCOUNT, USER, ZONE


@dataclass(frozen=True)
class Ids:
    """Deterministic 32-hex ids: the same seed and name always give the same id."""

    seed: int

    def __call__(self, kind: str, name: str) -> str:
        return hashlib.md5(f"{self.seed}|{kind}|{name}".encode()).hexdigest()


def ts(when: datetime | None) -> str | None:
    return isoformat(when) if when else None


def pg_ref(pg_id: str, name: str, *, by_id: bool = False) -> dict[str, Any]:
    """A policy's permission group. ``by_id``: as some API answers send it, the id and
    ``meta`` only, with no name (normalize resolves the name from the id)."""
    if by_id:
        return {"id": pg_id, "meta": {"label": name.lower().replace(" ", "_"), "scopes": ""}}
    return {"id": pg_id, "name": name, "meta": {}}


def token_resources(scope: str, account_id: str | None, zone_ids: list[str], user_id: str) -> dict:
    """Resource map for a scope spec: account, all_accounts, all_zones, account_zones, zones,
    user. ``account_zones`` uses the nested form the API returns for "all zones of one account"."""
    if scope == "account":
        return {f"{ACCOUNT}{account_id}": "*"}
    if scope == "all_accounts":
        return {f"{ACCOUNT}*": "*"}
    if scope == "all_zones":
        return {f"{ZONE}*": "*"}
    if scope == "account_zones":
        return {f"{ACCOUNT}{account_id}": {f"{ZONE}*": "*"}}
    if scope == "zones":
        return {f"{ZONE}{z}": "*" for z in zone_ids}
    if scope == "user":
        return {f"{USER}{user_id}": "*"}
    raise ValueError(f"unknown scope spec {scope!r}")


def token_item(
    *,
    token_id: str,
    name: str,
    status: str,
    issued_on: datetime,
    modified_on: datetime,
    last_used_on: datetime | None,
    expires_on: datetime | None,
    ip_in: list[str] | None,
    policies: list[dict[str, Any]],
    provisioner: str | None = None,
    creator: str | None = None,
    ip_not_in: list[str] | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """A token as GET /user/tokens or /accounts/{id}/tokens lists it (optional keys omitted).
    ``provisioner``: the OAuth client that minted it."""
    item: dict[str, Any] = {
        "id": token_id,
        "name": name,
        "status": status,
        "issued_on": ts(issued_on),
        "modified_on": ts(modified_on),
    }
    if last_used_on:
        item["last_used_on"] = ts(last_used_on)
    if expires_on:
        item["expires_on"] = ts(expires_on)
    if not_before:
        item["not_before"] = ts(not_before)
    if ip_in or ip_not_in:
        ip: dict[str, list[str]] = {}
        if ip_in:
            ip["in"] = ip_in
        if ip_not_in:
            ip["not_in"] = ip_not_in
        item["condition"] = {"request_ip": ip}
    item["policies"] = policies
    if creator:
        item["creator_email_at_creation"] = creator
    if provisioner:
        item["provisioner_type"] = "com.cloudflare.api.oauthtoken"
        item["provisioner_id"] = provisioner
    return item


def resource_group(rg_id: str, account_id: str, objects: list[str]) -> dict[str, Any]:
    """A resource group: ``["*"]`` for the whole account, else zone or resource keys. Its
    ``scope`` is one object, as SDK 5.9 reads it (older references show a list)."""
    return {
        "id": rg_id,
        "name": f"rg-{rg_id[:8]}",
        "meta": {},
        "scope": {"key": f"{ACCOUNT}{account_id}", "objects": [{"key": o} for o in objects]},
    }


def member_item(
    *,
    member_id: str,
    user_id: str,
    email: str,
    first: str,
    last: str,
    status: str,
    two_factor: bool,
    policies: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "id": member_id,
        "email": email,
        "status": status,
        "user": {
            "id": user_id,
            "email": email,
            "first_name": first,
            "last_name": last,
            "two_factor_authentication_enabled": two_factor,
        },
        "policies": policies,
    }


def audit_item(
    *,
    event_id: str,
    when: datetime,
    account: tuple[str, str],
    actor: dict[str, Any],
    action_type: str,
    product: str,
    resource_type: str,
    resource_id: str,
    method: str,
    uri: str,
    zone: tuple[str, str] | None,
) -> dict[str, Any]:
    """An audit log v2 item (``GET /accounts/{id}/logs/audit``)."""
    item: dict[str, Any] = {
        "id": event_id,
        "account": {"id": account[0], "name": account[1]},
        "action": {
            "description": f"{action_type} {resource_type}",
            "result": "success",
            "time": ts(when),
            "type": action_type,
        },
        "actor": actor,
        "raw": {
            "cf_ray_id": event_id[:16],
            "method": method,
            "status_code": 200,
            "uri": uri,
            "user_agent": "cloudflare-python/5.9.0" if actor.get("token_id") else "Mozilla/5.0",
        },
        "resource": {
            "id": resource_id,
            "product": product,
            "request": {},
            "response": {},
            "scope": {},
            "type": resource_type,
        },
    }
    if zone:
        item["zone"] = {"id": zone[0], "name": zone[1]}
    return item


METHOD = {"view": "GET", "create": "POST", "update": "PUT", "delete": "DELETE"}
