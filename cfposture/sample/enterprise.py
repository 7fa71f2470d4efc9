"""The enterprise-scale synthetic snapshot, for benchmarks.

The design's scale: 100 accounts, 25,000 account tokens, 10,000 memberships and 2,000,000
audit events in 30 days (plus 1,000 zones and 50 user tokens). Items have the same shapes as
the small sample (``api.py``); audit events are written from a line template because building
two million dicts would measure the generator, not cfposture.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import load_audit_map, load_catalog
from ..rawsnapshot import SnapshotWriter, isoformat
from ..scopes import ACCOUNT, ZONE
from .api import Ids, member_item, pg_ref, resource_group, token_item, token_resources

ACCOUNTS = 100
TOKENS_PER_ACCOUNT = 250
MEMBERS_PER_ACCOUNT = 100
ZONES_PER_ACCOUNT = 10
AUDIT_EVENTS = 2_000_000
USER_TOKENS = 50
CREATED_AT = datetime(2026, 11, 25, 6, tzinfo=UTC)
WINDOW = timedelta(days=30)


class _Enterprise:
    def __init__(self, seed: int, n_accounts: int = ACCOUNTS) -> None:
        self.ids = Ids(seed)
        self.rng = random.Random(seed)
        catalog = load_catalog()
        self.token_pgs = catalog[catalog["kind"] == "token"]
        self.roles = catalog[catalog["kind"] == "role"]
        self.accounts = [self.ids("account", f"e{i}") for i in range(n_accounts)]
        self.zones = {
            a: [self.ids("zone", f"{a}|{z}") for z in range(ZONES_PER_ACCOUNT)]
            for a in self.accounts
        }
        self.users = [self.ids("user", f"u{i}") for i in range(3_000)]

    def _groups(self, k: int, zone_level: bool) -> list[dict[str, Any]]:
        pgs = self.token_pgs
        scoped = pgs[
            (pgs["scopes"].str.contains("zone") == zone_level)
            & ~pgs["scopes"].str.contains("api.user")
        ]
        rows = scoped.sample(n=k, random_state=self.rng.randrange(2**31))
        return [pg_ref(r.permission_group_id, r.name) for r in rows.itertuples()]

    def token(self, account: str | None, n: int) -> dict[str, Any]:
        rng = self.rng
        tid = self.ids("token", f"{account}|{n}")
        issued = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(2_150))
        rolled = issued + timedelta(days=rng.randrange(400)) if rng.random() < 0.2 else issued
        modified = min(rolled, CREATED_AT)
        used = CREATED_AT - timedelta(hours=rng.randrange(24 * 400)) if rng.random() < 0.8 else None
        policies = []
        for i in range(rng.choice((1, 1, 2))):
            zone_level = rng.random() < 0.6
            if zone_level:
                scope = rng.choice(("zones", "zones", "account_zones", "all_zones"))
            else:
                scope = rng.choice(("account", "account", "all_accounts"))
            aid = account or rng.choice(self.accounts)
            zones = rng.sample(self.zones[aid], rng.randrange(1, 4)) if scope == "zones" else []
            policies.append(
                {
                    "id": self.ids("policy", f"{tid}|{i}"),
                    "effect": "allow",
                    "resources": token_resources(scope, aid, zones, self.users[0]),
                    "permission_groups": self._groups(rng.randrange(1, 4), zone_level),
                }
            )
        expires = issued + timedelta(days=365) if rng.random() < 0.4 else None
        return token_item(
            token_id=tid,
            name=f"svc-{n:04d}",
            status=rng.choices(["active", "disabled"], [19, 1])[0],
            issued_on=issued,
            modified_on=modified,
            last_used_on=max(used, issued) if used else None,
            expires_on=expires,
            ip_in=["203.0.113.0/24"] if rng.random() < 0.3 else None,
            policies=policies,
        )

    def member(self, account: str, n: int) -> dict[str, Any]:
        rng = self.rng
        user = self.users[(n * 31 + self.accounts.index(account)) % len(self.users)]
        policies = []
        for i in range(rng.choice((1, 1, 2))):
            role = self.roles.iloc[rng.randrange(len(self.roles))]
            if "zone" in role["scopes"]:
                objects = [f"{ZONE}{z}" for z in rng.sample(self.zones[account], 2)]
            elif "resource" in role["scopes"]:
                objects = [f"{ACCOUNT}worker.{self.ids('worker', f'{account}|{n}')}"]
            else:
                objects = ["*"]
            pid = self.ids("policy", f"{account}|m{n}|{i}")
            policies.append(
                {
                    "id": pid,
                    "access": "allow",
                    "permission_groups": [pg_ref(role["permission_group_id"], role["name"])],
                    "resource_groups": [resource_group(self.ids("rg", pid), account, objects)],
                }
            )
        return member_item(
            member_id=self.ids("member", f"{account}|{n}"),
            user_id=user,
            email=f"user{self.users.index(user)}@corp.example",
            first="User",
            last=str(n),
            status=rng.choices(["accepted", "pending"], [24, 1])[0],
            two_factor=rng.random() < 0.85,
            policies=policies,
        )


METHODS = {"create": "POST", "update": "PUT", "delete": "DELETE"}


def _audit_lines(
    ent: _Enterprise, account: str, n: int, seed: int, window: timedelta = WINDOW
) -> Iterator[bytes]:
    """``n`` audit log v2 lines for one account over ``window``, from numpy-drawn columns and
    a template."""
    rs = np.random.default_rng([seed, ent.accounts.index(account)])
    amap = load_audit_map()
    rows = rs.integers(0, len(amap), n)
    secs = np.sort(rs.integers(0, int(window.total_seconds()), n))
    tokens = rs.integers(0, TOKENS_PER_ACCOUNT, n)
    ctx = rs.choice(np.array(["api_token", "dash", "oauth"]), n, p=[0.7, 0.25, 0.05])
    zones = rs.integers(0, ZONES_PER_ACCOUNT, n)
    # audit logs v2 record writes only; one in forty fails
    actions = rs.choice(np.array(["create", "update", "delete"]), n, p=[0.3, 0.6, 0.1])
    failed = rs.random(n) < 0.025
    start = CREATED_AT - window
    products = amap.to_dict("records")
    for i in range(n):
        r = products[rows[i]]
        if ctx[i] == "api_token":
            tid, tname = ent.ids("token", f"{account}|{tokens[i]}"), f"svc-{tokens[i]:04d}"
        elif ctx[i] == "oauth":  # a handful of OAuth apps act for users
            tid, tname = ent.ids("oauth_grant", str(tokens[i] % 8)), f"app-{tokens[i] % 8}"
        else:
            tid = tname = None
        zone = ent.zones[account][zones[i]] if r["scope_level"] == "zone" else None
        action = str(actions[i])
        event = {
            "id": f"{rs.integers(0, 2**63):016x}{i:016x}",
            "account": {"id": account, "name": f"Account {account[:6]}"},
            "action": {
                "result": "failure" if failed[i] else "success",
                "time": isoformat(start + timedelta(seconds=int(secs[i]))),
                "type": action,
            },
            "actor": {
                "id": account if ctx[i] == "api_token" else ent.users[tokens[i]],
                "context": str(ctx[i]),
                "ip_address": f"203.0.113.{tokens[i] % 250}",
                "token_id": tid,
                "token_name": tname,
                "type": "account" if ctx[i] == "api_token" else "user",
            },
            "raw": {
                "method": METHODS[action],
                "status_code": 400 if failed[i] else 200,
                "uri": r["uri"].format(zone_id=zone or "", account_id=account, resource_id="x"),
            },
            "resource": {"id": f"r{i % 997}", "product": r["product"], "type": r["resource_type"]},
        }
        if zone:
            event["zone"] = {"id": zone}
        yield json.dumps(event, separators=(",", ":")).encode()


def write_enterprise(
    dest: Path, seed: int, source: dict[str, Any], accounts: int = ACCOUNTS, days: int = 30
) -> None:
    """Write the enterprise snapshot; ``accounts`` < 100 gives a proportionally smaller one
    (same per-account content) for benchmark smoke runs. ``days``: the audit window one pull
    read, at the design's rate of 2M events a month (90 days: 6M, the default usage window)."""
    ent = _Enterprise(seed, accounts)
    window = timedelta(days=days)
    per_account = AUDIT_EVENTS // ACCOUNTS * days // 30
    with SnapshotWriter(dest, source=source, created_at=CREATED_AT) as w:
        w.audit_window = {"since": isoformat(CREATED_AT - window), "before": isoformat(CREATED_AT)}
        w.write("user", [{"id": ent.users[0], "email": "user0@corp.example"}])
        w.write(
            "accounts",
            [
                {"id": a, "name": f"Account {a[:6]}", "settings": {"enforce_twofactor": i % 3 == 0}}
                for i, a in enumerate(ent.accounts)
            ],
        )
        w.write("user_tokens", [ent.token(None, n) for n in range(USER_TOKENS)])
        for a in ent.accounts:
            w.write(
                "zones",
                [
                    {
                        "id": z,
                        "name": f"z{i}-{a[:8]}.example",
                        "status": "active",
                        "account": {"id": a},
                    }
                    for i, z in enumerate(ent.zones[a])
                ],
                account_id=a,
            )
            w.write(
                "account_tokens", [ent.token(a, n) for n in range(TOKENS_PER_ACCOUNT)], account_id=a
            )
            w.write("members", [ent.member(a, n) for n in range(MEMBERS_PER_ACCOUNT)], account_id=a)
            w.write_lines(
                "audit_logs",
                _audit_lines(ent, a, per_account, seed, window),
                compresslevel=1,
                account_id=a,
            )
