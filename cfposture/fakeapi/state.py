"""The fake API's data: a raw snapshot's items in memory, and the changes written to it.

Reads go through the endpoint registry, so the fake serves exactly what a pull stored. Writes
(token update, roll, delete; member policy update) change the in-memory items, so a pull after
an apply sees the result, and are recorded in ``changes`` without any token value.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import threading
import zlib
from datetime import UTC, datetime
from typing import Any

from ..load import history
from ..rawsnapshot import RawSnapshot, isoformat

Key = tuple[str, tuple[tuple[str, str], ...]]
BASE62 = string.ascii_letters + string.digits


def new_token_value(prefix: str) -> str:
    """A scannable token value: prefix + 40 base62 + CRC32 of the body (8 lowercase hex)."""
    body = "".join(secrets.choice(BASE62) for _ in range(40))
    return f"{prefix}{body}{zlib.crc32(body.encode()):08x}"


def new_legacy_value() -> str:
    """A value in the pre-2026 shape: 40 of [A-Za-z0-9_-], no prefix, no checksum."""
    return "".join(secrets.choice(BASE62 + "_-") for _ in range(40))


def _key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()  # the registry holds no value either


class SnapshotState:
    def __init__(self, path: str) -> None:
        self.raw = RawSnapshot.open(history(path)[-1])
        self._items: dict[Key, list[dict[str, Any]]] = {}
        self.denied: dict[Key, dict[str, Any]] = {
            (e["endpoint"], tuple(sorted((e.get("ids") or {}).items()))): e
            for e in self.raw.denied()
        }
        self.changes: list[dict[str, Any]] = []
        self.values: dict[str, tuple[str | None, str]] = {}  # sha256(value) → (account, token)
        self.lock = threading.RLock()  # writes look items up while holding it

    @staticmethod
    def key(endpoint: str, **ids: str) -> Key:
        return endpoint, tuple(sorted(ids.items()))

    def items(self, endpoint: str, **ids: str) -> list[dict[str, Any]]:
        k = self.key(endpoint, **ids)
        with self.lock:
            if k not in self._items:
                self._items[k] = self.raw.items(endpoint, **ids)
            return self._items[k]

    def known(self, endpoint: str, **ids: str) -> bool:
        """Whether the snapshot fetched (or was denied) this endpoint for these ids."""
        k = self.key(endpoint, **ids)
        return k in self.denied or self.raw.has(endpoint, **ids)

    def account_ids(self) -> list[str]:
        return [str(a["id"]) for a in self.items("accounts")]

    # -- token values (the fake knows which value is which token, as Cloudflare does) ------

    def issue_value(self, account_id: str | None, token_id: str, *, legacy: bool = False) -> str:
        """Make up a live value for a token in the snapshot (tests plant it, then verify it)."""
        if self.find_token(account_id, token_id) is None:
            raise KeyError(f"no token {token_id} in {account_id or 'the user'}")
        value = (
            new_legacy_value() if legacy else new_token_value("cfat_" if account_id else "cfut_")
        )
        with self.lock:
            self.values[_key(value)] = (account_id, token_id)
        return value

    def who(self, value: str) -> tuple[str | None, dict[str, Any]] | None:
        """The (account id, token) a value belongs to, if it is still a token's value."""
        with self.lock:
            hit = self.values.get(_key(value))
            if hit is None:
                return None
            t = self.find_token(hit[0], hit[1])
            return (hit[0], t) if t is not None else None

    def _forget(self, account_id: str | None, token_id: str) -> None:
        for k in [k for k, v in self.values.items() if v == (account_id, token_id)]:
            del self.values[k]

    # -- writes (remediation) ----------------------------------------------------------

    def _token_list(self, account_id: str | None) -> list[dict[str, Any]]:
        if account_id:
            return self.items("account_tokens", account_id=account_id)
        return self.items("user_tokens")

    def find_token(self, account_id: str | None, token_id: str) -> dict[str, Any] | None:
        return next((t for t in self._token_list(account_id) if t.get("id") == token_id), None)

    def update_token(self, account_id: str | None, token_id: str, body: dict) -> dict | None:
        with self.lock:
            t = self.find_token(account_id, token_id)
            if t is None:
                return None
            for f in ("name", "policies", "condition", "expires_on", "not_before", "status"):
                if f in body:
                    t[f] = body[f]
            t["modified_on"] = isoformat(datetime.now(UTC))
            self.changes.append(
                {
                    "action": "update_token",
                    "account_id": account_id,
                    "token_id": token_id,
                    "fields": sorted(body),
                }
            )
            return t

    def roll_token(self, account_id: str | None, token_id: str) -> str | None:
        with self.lock:
            t = self.find_token(account_id, token_id)
            if t is None:
                return None
            t["modified_on"] = isoformat(datetime.now(UTC))
            self.changes.append(
                {"action": "roll_token", "account_id": account_id, "token_id": token_id}
            )
            value = new_token_value("cfat_" if account_id else "cfut_")
            self._forget(account_id, token_id)  # the old value stops working at once
            self.values[_key(value)] = (account_id, token_id)
        return value

    def delete_token(self, account_id: str | None, token_id: str) -> bool:
        with self.lock:
            tokens = self._token_list(account_id)
            t = self.find_token(account_id, token_id)
            if t is None:
                return False
            tokens.remove(t)
            self._forget(account_id, token_id)
            self.changes.append(
                {"action": "delete_token", "account_id": account_id, "token_id": token_id}
            )
            return True

    def find_member(self, account_id: str, member_id: str) -> dict[str, Any] | None:
        members = self.items("members", account_id=account_id)
        return next((m for m in members if m.get("id") == member_id), None)

    def create_resource_group(self, account_id: str, body: dict) -> dict[str, Any]:
        with self.lock:
            group = {
                "id": secrets.token_hex(16),
                "name": body["name"],
                "scope": body["scope"],
                "meta": body.get("meta") or {},
            }
            self.items("resource_groups", account_id=account_id).append(group)
            self.changes.append(
                {"action": "create_resource_group", "account_id": account_id, "id": group["id"]}
            )
            return group

    def _expand(self, account_id: str, policies: list) -> list:
        """Member policies as the API returns them: resource and permission groups referenced
        by id come back whole (name, scope), as Cloudflare expands them."""
        groups = {g.get("id"): g for g in self.items("resource_groups", account_id=account_id)}
        perms = {g.get("id"): g for g in self.items("permission_groups", account_id=account_id)}
        out = []
        for p in policies:
            if not isinstance(p, dict):
                continue
            p = {**p, "id": p.get("id") or secrets.token_hex(16)}
            p["permission_groups"] = [
                {**perms.get(pg.get("id"), {}), **pg} if isinstance(pg, dict) else pg
                for pg in p.get("permission_groups") or []
            ]
            p["resource_groups"] = [
                groups.get(rg.get("id"), rg) if isinstance(rg, dict) else rg
                for rg in p.get("resource_groups") or []
            ]
            out.append(p)
        return out

    def update_member(self, account_id: str, member_id: str, body: dict) -> dict | None:
        with self.lock:
            m = self.find_member(account_id, member_id)
            if m is None:
                return None
            if "policies" in body:
                m["policies"] = self._expand(account_id, body["policies"])
            if "roles" in body:
                m["roles"] = body["roles"]
            self.changes.append(
                {
                    "action": "update_member",
                    "account_id": account_id,
                    "member_id": member_id,
                    "fields": sorted(body),
                }
            )
            return m
