"""Turn the sample organisation (org.py) into six monthly raw snapshots.

Each snapshot holds the state on its date: tokens issued by then and not yet deleted, rolls and
expiries applied, ``last_used_on`` from the activity before that date, the connected-apps
export as of then, and the audit events since the previous snapshot (monthly pulls chained
with ``--since-last``), so that the union of the last three covers a 90-day window.

Activity and audit logs differ as they do on the real API: every use moves a token's
``last_used_on`` and an app's last use in the connected-apps export, but audit logs v2 record
only create, update and delete actions, never reads. The logs also hold what no principal of
the inventory did (``system`` and ``cloudflare_admin`` actors) and some failed writes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..catalog import group_id_of, group_ids, load_audit_map, load_catalog, scope_kind
from ..scopes import ACCOUNT, ZONE
from . import org
from .api import (
    METHOD,
    Ids,
    audit_item,
    member_item,
    pg_ref,
    resource_group,
    token_item,
    token_resources,
    ts,
)

FIRST_PULL_DAYS = timedelta(days=30)
"""How far back the sample's first pull read audit logs (later pulls chain from the previous)."""
Items = dict[tuple[str, tuple[tuple[str, str], ...]], list[dict[str, Any]]]


def day(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s).replace(tzinfo=UTC) if s else None


@dataclass
class SnapshotData:
    """The API items of one snapshot: (endpoint key, ids) → items, plus denied endpoints."""

    created_at: datetime
    audit_since: datetime
    items: Items = field(default_factory=dict)
    denied: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def put(self, key: str, items: list[dict[str, Any]], **ids: str) -> None:
        self.items[(key, tuple(sorted(ids.items())))] = items


class SampleBuilder:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.ids = Ids(seed)
        self.catalog = load_catalog()
        tokens = self.catalog[self.catalog["kind"] == "token"]
        roles = self.catalog[self.catalog["kind"] == "role"]
        self.group_id = group_ids(self.catalog)
        for name, (gid, scopes) in org.NEWER_GROUPS.items():
            self.group_id[(name, scope_kind(scopes))] = gid
        self.role_id = dict(zip(roles["name"], roles["permission_group_id"], strict=True))
        self.level = dict(zip(tokens["name"], tokens["access_level"], strict=False))
        self.level.update(zip(roles["name"], roles["access_level"], strict=True))
        self.audit_map = load_audit_map()
        self.account_id = {k: self.ids("account", k) for k in org.ACCOUNTS}
        self.zone_id = {k: self.ids("zone", k) for k in org.ZONES}
        self.user_id = {k: self.ids("user", k) for k in org.PEOPLE}
        self.dates = [day(d).replace(hour=6) for d in org.SNAPSHOT_DATES]  # type: ignore[union-attr]
        self.start = self.dates[0] - FIRST_PULL_DAYS
        self.activity = self._all_events()
        self.events = self._logged(self.activity)

    # -- identities ------------------------------------------------------------------------

    def email(self, person: str) -> str:
        first, _last, domain, _tfa = org.PEOPLE[person]
        return f"{first.lower()}@{domain}"

    def token_id(self, key: str) -> str:
        tok = next((t for t in org.TOKENS if t.key == key), None)
        if tok is not None and tok.provisioner:  # the id its app's audit events carry
            return self.ids("oauth_grant", tok.provisioner)
        return self.ids("token", key)

    # -- policies --------------------------------------------------------------------------

    def _groups(
        self, names: tuple[str, ...], scope: str, *, by_id: bool = False
    ) -> list[dict[str, Any]]:
        """Token groups by their real ids: a name at zone and at account scope has two ids,
        so a zone-level policy takes the zone one where there is one."""
        prefer = {"user": ("user",), "account": ("account",)}.get(scope, ("zone",))
        out = []
        for n in names:
            gid = group_id_of(self.group_id, n, prefer)
            if gid is None:
                raise ValueError(f"no permission group named {n!r}")
            out.append(pg_ref(gid, n, by_id=by_id))
        return out

    def token_policies(self, tok: org.Tok) -> list[dict[str, Any]]:
        out = []
        for i, p in enumerate(tok.policies):
            account = tok.owner if not tok.owner.startswith("user:") else None
            if p.scope in ("account", "account_zones") and p.targets:
                account = p.targets[0]
            zones = [self.zone_id[z] for z in p.targets] if p.scope == "zones" else []
            person = tok.owner.split(":", 1)[1] if tok.owner.startswith("user:") else org.PULLER
            out.append(
                {
                    "id": self.ids("policy", f"{tok.key}|{i}"),
                    "effect": p.effect,
                    "resources": token_resources(
                        p.scope,
                        self.account_id.get(account or ""),
                        zones,
                        self.user_id[person],
                    ),
                    # staging's tokens come back as ids and meta only, as some answers do
                    "permission_groups": self._groups(p.groups, p.scope, by_id=tok.owner == "stg"),
                }
            )
        return out

    def member_policy(self, owner: str, account: str, i: int, p: org.P) -> dict[str, Any]:
        aid = self.account_id[account]
        if p.scope == "zones":
            objects = [f"{ZONE}{self.zone_id[z]}" for z in p.targets]
        elif p.scope == "resource":
            objects = [
                f"{ACCOUNT}{kind.replace('-', '.')}.{self.ids('resource', name)}"
                for kind, name in (t.split(":", 1) for t in p.targets)
            ]
        else:
            objects = ["*"]
        return {
            "id": self.ids("policy", f"{owner}|{i}"),
            "access": p.effect,
            "permission_groups": [pg_ref(self.role_id[g], g) for g in p.groups],
            "resource_groups": [
                resource_group(self.ids("resource_group", f"{owner}|{i}"), aid, objects)
            ],
        }

    # -- activity --------------------------------------------------------------------------

    def _action(self, group: str) -> tuple[dict[str, Any], str]:
        level = self.level[group]
        col = "read_group" if level == "read" else "write_group"
        rows = self.audit_map[self.audit_map[col] == group]
        if rows.empty:
            raise ValueError(f"no audit mapping for permission group {group!r}")
        return rows.iloc[0].to_dict(), level

    def _events_for(
        self,
        rng: random.Random,
        use: org.Use,
        actor: dict[str, Any],
        since: datetime,
        until: datetime,
        ip: str,
    ) -> Iterator[dict[str, Any]]:
        if use.target == "user":  # user-level calls are not in account audit logs
            return
        row, level = self._action(use.group)
        if row["scope_level"] == "zone":
            account_key, zone_key = org.ZONES[use.target][0], use.target
            zone = (self.zone_id[zone_key], org.ZONES[zone_key][1])
        else:
            account_key, zone = use.target, None
        aid = self.account_id[account_key]
        start = max(since, day(use.start) or since, self.start)
        stop = min(until, day(use.stop) or until, self.dates[-1])
        d = start
        while d < stop:
            whole, frac = divmod(use.per_day, 1)
            for _ in range(int(whole) + (rng.random() < frac)):
                when = d + timedelta(seconds=rng.randrange(86_400))
                if not start <= when < stop:
                    continue
                if level == "read":
                    action = "view"
                elif row["product"] == "cache":
                    action = "create"
                else:
                    action = rng.choices(["create", "update", "delete"], [3, 6, 1])[0]
                rid = self.ids("resource", f"{row['product']}|{use.target}|{rng.randrange(12)}")
                uri = row["uri"].format(
                    zone_id=zone[0] if zone else "", account_id=aid, resource_id=rid
                )
                yield audit_item(
                    event_id=f"{rng.getrandbits(128):032x}",
                    when=when,
                    account=(aid, org.ACCOUNTS[account_key][0]),
                    actor={**actor, "ip_address": ip},
                    action_type=action,
                    product=row["product"],
                    resource_type=row["resource_type"],
                    resource_id=rid,
                    method=METHOD[action] if row["product"] != "cache" else "POST",
                    uri=uri,
                    zone=zone,
                )
            d += timedelta(days=1)

    def _ip(self, rng: random.Random, allow: tuple[str, ...]) -> str:
        if allow == org.CI_IPS:
            return f"203.0.113.{rng.randrange(10, 60)}"
        if allow == org.OFFICE_IPS:
            return f"198.51.100.{rng.randrange(2, 250)}"
        return f"192.0.2.{rng.randrange(2, 250)}"

    def _all_events(self) -> list[dict[str, Any]]:
        rng = random.Random(self.seed)
        events: list[dict[str, Any]] = []
        for tok in org.TOKENS:
            tid = self.token_id(tok.key)
            if tok.owner.startswith("user:"):
                person = tok.owner.split(":", 1)[1]
                actor = {
                    "id": self.user_id[person],
                    "context": "api_token",
                    "email": self.email(person),
                    "token_id": tid,
                    "token_name": tok.name,
                    "type": "user",
                }
            else:
                actor = {
                    "id": self.account_id[tok.owner],
                    "context": "api_token",
                    "email": None,
                    "token_id": tid,
                    "token_name": tok.name,
                    "type": "account",
                }
            ip = self._ip(rng, tok.ip)
            until = min(x for x in (day(tok.deleted), day(tok.expires), self.dates[-1]) if x)
            if tok.status == "disabled":
                continue
            for use in tok.uses:
                events += self._events_for(rng, use, actor, day(tok.issued), until, ip)  # type: ignore[arg-type]
        for m in org.MEMBERS:
            if m.status != "accepted":
                continue
            actor = {
                "id": self.user_id[m.person],
                "context": "dash",
                "email": self.email(m.person),
                "type": "user",
            }
            ip = self._ip(rng, org.OFFICE_IPS)
            for use in m.uses:
                events += self._events_for(rng, use, actor, day(m.joined), self.dates[-1], ip)  # type: ignore[arg-type]
        for app in org.APPS:
            if not app.uses_per_day:
                continue
            actor = {
                "id": self.user_id[app.user],
                "context": "oauth",
                "email": self.email(app.user),
                "token_id": self.ids("oauth_grant", app.key),
                "token_name": app.name,
                "type": "user",
            }
            accounts = list(org.ACCOUNTS) if app.accounts == ("*",) else list(app.accounts)
            ip = self._ip(rng, ())
            for account in accounts:
                use = org.Use(
                    _app_group(app),
                    account,
                    app.uses_per_day / len(accounts),
                    start=app.granted,
                    stop=app.uses_stop or app.revoked,
                )
                events += self._events_for(rng, use, actor, day(app.granted), self.dates[-1], ip)  # type: ignore[arg-type]
        events += self._others(rng)
        events.sort(key=lambda e: (e["action"]["time"], e["id"]))
        return events

    def _others(self, rng: random.Random) -> list[dict[str, Any]]:
        """What audit logs hold besides the inventory's principals: Cloudflare's own systems
        renewing certificates, and its staff acting on a support ticket."""
        out = []
        actors = [
            ({"id": "", "type": "system", "context": None, "email": None}, "zone", 0.3),
            (
                {"id": "", "type": "cloudflare_admin", "context": "dash", "email": None},
                "acct",
                0.02,
            ),
        ]
        row = {
            "zone": self.audit_map[self.audit_map["product"] == "ssl"].iloc[0],
            "acct": self.audit_map[self.audit_map["product"] == "account"].iloc[0],
        }
        d = self.start
        while d < self.dates[-1]:
            for actor, kind, per_day in actors:
                if rng.random() >= per_day:
                    continue
                zkey = rng.choice(sorted(org.ZONES))
                akey = org.ZONES[zkey][0]
                aid = self.account_id[akey]
                zone = (self.zone_id[zkey], org.ZONES[zkey][1]) if kind == "zone" else None
                r = row[kind]
                rid = self.ids("resource", f"{r['product']}|{zkey}|system")
                out.append(
                    audit_item(
                        event_id=f"{rng.getrandbits(128):032x}",
                        when=d + timedelta(seconds=rng.randrange(86_400)),
                        account=(aid, org.ACCOUNTS[akey][0]),
                        actor={**actor, "ip_address": None},
                        action_type="update",
                        product=r["product"],
                        resource_type=r["resource_type"],
                        resource_id=rid,
                        method="PUT",
                        uri=r["uri"].format(
                            zone_id=zone[0] if zone else "", account_id=aid, resource_id=rid
                        ),
                        zone=zone,
                    )
                )
            d += timedelta(days=1)
        return out

    @staticmethod
    def _logged(activity: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What audit logs v2 record of the activity: writes only (reads are never logged),
        and one write in forty fails (a validation error: the actor still held the group)."""
        out = []
        for e in activity:
            if e["action"]["type"] == "view":
                continue
            if int(e["id"][:2], 16) < 7 and e["actor"]["type"] in ("user", "account"):
                e = {**e, "action": {**e["action"], "result": "failure"}}
                e["raw"] = {**e["raw"], "status_code": 400}
            out.append(e)
        return out

    # -- snapshots -------------------------------------------------------------------------

    def snapshots(self) -> list[SnapshotData]:
        out = []
        prev = self.start
        for at in self.dates:
            out.append(self.snapshot(at, prev))
            prev = at
        return out

    def snapshot(self, at: datetime, since: datetime) -> SnapshotData:
        snap = SnapshotData(created_at=at, audit_since=since)
        dana = org.PEOPLE[org.PULLER]
        snap.put(
            "user",
            [
                {
                    "id": self.user_id[org.PULLER],
                    "email": self.email(org.PULLER),
                    "first_name": dana[0],
                    "last_name": dana[1],
                    "two_factor_authentication_enabled": dana[3],
                }
            ],
        )
        accounts = [self.account_item(k) for k in org.ACCOUNTS]
        snap.put("accounts", accounts)
        tokens = self.tokens_at(at)
        snap.put("user_tokens", tokens.get("user", []))
        token_pgs = self.catalog[self.catalog["kind"] == "token"]
        listed = [
            {"id": r.permission_group_id, "name": r.name, "scopes": r.scopes.split(",")}
            for r in token_pgs.itertuples()
        ] + [
            {"id": gid, "name": name, "scopes": [scopes]}
            for name, (gid, scopes) in org.NEWER_GROUPS.items()
        ]
        snap.put("user_token_permission_groups", listed)
        role_pgs = self.catalog[self.catalog["kind"] == "role"]
        for key, item in zip(org.ACCOUNTS, accounts, strict=True):
            aid = self.account_id[key]
            snap.put("account", [item], account_id=aid)
            snap.put("account_tokens", tokens.get(key, []), account_id=aid)
            snap.put(
                "account_token_permission_groups",
                [g for g in listed if "com.cloudflare.api.user" not in g["scopes"]],
                account_id=aid,
            )
            snap.put(
                "permission_groups",
                [
                    {
                        "id": r.permission_group_id,
                        "name": r.name,
                        "meta": {"label": r.name, "scopes": r.scopes},
                    }
                    for r in role_pgs.itertuples()
                ],
                account_id=aid,
            )
            self.put_members(snap, key, at)
            snap.put(
                "zones",
                [self.zone_item(z) for z, (a, _n) in org.ZONES.items() if a == key],
                account_id=aid,
            )
            if ("oauth_clients", key) in org.DENIED:
                snap.denied.append(("oauth_clients", {"account_id": aid}))
            else:
                snap.put("oauth_clients", self.published_clients(key, at), account_id=aid)
            snap.put(
                "audit_logs",
                [
                    e
                    for e in self.events
                    if e["account"]["id"] == aid and ts(since) < e["action"]["time"] <= ts(at)  # type: ignore[operator]
                ],
                account_id=aid,
            )
        snap.put("connected_apps", self.connected_apps(at))
        return snap

    def account_item(self, key: str) -> dict[str, Any]:
        name, tfa, oauth = org.ACCOUNTS[key]
        return {
            "id": self.account_id[key],
            "name": name,
            "type": "standard",
            "settings": {
                "enforce_twofactor": tfa,
                "abuse_contact_email": None,
                "oauth_app_access_enabled": oauth,
            },
            "created_on": "2019-04-02T09:12:44Z",
        }

    def zone_item(self, key: str) -> dict[str, Any]:
        account, name = org.ZONES[key]
        return {
            "id": self.zone_id[key],
            "name": name,
            "status": "active",
            "paused": False,
            "type": "full",
            "account": {"id": self.account_id[account], "name": org.ACCOUNTS[account][0]},
            "created_on": "2020-02-20T10:00:00Z",
        }

    def tokens_at(self, at: datetime) -> dict[str, list[dict[str, Any]]]:
        by_owner: dict[str, list[dict[str, Any]]] = {}
        last_use: dict[str, str] = {}
        for e in self.activity:  # every use moves last_used_on, reads too
            t = e["actor"].get("token_id")
            if t and e["action"]["time"] <= ts(at):
                last_use[t] = e["action"]["time"]
        for tok in org.TOKENS:
            issued = day(tok.issued)
            if not tok.listed or issued > at or (tok.deleted and day(tok.deleted) <= at):  # type: ignore[operator]
                continue
            owner = "user" if tok.owner.startswith("user:") else tok.owner
            rolled = day(tok.rolled)
            modified = rolled if rolled and rolled <= at else issued
            expires = day(tok.expires)
            status = tok.status
            if status == "active" and expires and expires <= at:
                status = "expired"
            tid = self.token_id(tok.key)
            used = last_use.get(tid)
            if used is None and tok.last_used_before and day(tok.last_used_before) <= at:  # type: ignore[operator]
                used = ts(day(tok.last_used_before).replace(hour=14))  # type: ignore[union-attr]
            if used is None and any(u.target == "user" for u in tok.uses) and issued < at:  # type: ignore[operator]
                used = ts(at - timedelta(days=3))
            by_owner.setdefault(owner, []).append(
                token_item(
                    token_id=tid,
                    name=tok.name,
                    status=status,
                    issued_on=issued.replace(hour=9),  # type: ignore[union-attr]
                    modified_on=modified.replace(hour=9),  # type: ignore[union-attr]
                    last_used_on=datetime.fromisoformat(used.replace("Z", "+00:00"))
                    if used
                    else None,
                    expires_on=expires,
                    ip_in=list(tok.ip),
                    policies=self.token_policies(tok),
                    provisioner=self.ids("oauth_app", tok.provisioner) if tok.provisioner else None,
                    creator=None if tok.provisioner else self._creator(tok),
                    ip_not_in=list(tok.ip_deny),
                    not_before=day(tok.not_before),
                )
            )
        return by_owner

    def _creator(self, tok: org.Tok) -> str:
        """creator_email_at_creation: the owner of a user token; for an account token, the
        super administrator who made it (the first member of its account)."""
        if tok.owner.startswith("user:"):
            return self.email(tok.owner.split(":", 1)[1])
        first = next(m for m in org.MEMBERS if m.account == tok.owner)
        return self.email(first.person)

    def put_members(self, snap: SnapshotData, account: str, at: datetime) -> None:
        aid = self.account_id[account]
        groups = {k: g for k, g in org.USER_GROUPS.items() if g[0] == account}
        group_policies = {
            k: [self.member_policy(f"group:{k}", account, i, p) for i, p in enumerate(g[2])]
            for k, g in groups.items()
        }
        members = []
        group_members: dict[str, list[dict[str, Any]]] = {k: [] for k in groups}
        for m in org.MEMBERS:
            if m.account != account:
                continue
            mid = self.ids("member", f"{account}|{m.person}")
            first, last, _domain, tfa = org.PEOPLE[m.person]
            policies = [
                self.member_policy(f"member:{account}|{m.person}", account, i, p)
                for i, p in enumerate(m.policies)
            ]
            for g in m.groups:  # inherited policies appear in the member's own list
                policies += group_policies[g]
                group_members[g].append(
                    {"id": mid, "email": self.email(m.person), "status": m.status}
                )
            members.append(
                member_item(
                    member_id=mid,
                    user_id=self.user_id[m.person],
                    email=self.email(m.person),
                    first=first,
                    last=last,
                    status=m.status,
                    two_factor=tfa,
                    policies=policies,
                )
            )
        snap.put("members", members, account_id=aid)
        snap.put(
            "resource_groups",
            [rg for m in members for p in m["policies"] for rg in p["resource_groups"]],
            account_id=aid,
        )
        snap.put(
            "user_groups",
            [
                {
                    "id": self.ids("user_group", k),
                    "name": g[1],
                    "created_on": "2025-01-10T08:00:00Z",
                    "modified_on": "2025-01-10T08:00:00Z",
                    "policies": group_policies[k],
                }
                for k, g in groups.items()
            ],
            account_id=aid,
        )
        for k in groups:
            snap.put(
                "user_group_members",
                group_members[k],
                account_id=aid,
                group_id=self.ids("user_group", k),
            )

    def published_clients(self, account: str, at: datetime) -> list[dict[str, Any]]:
        out = []
        for name, uri, status, scopes, created in org.PUBLISHED_CLIENTS.get(account, []):
            if day(created) > at:  # type: ignore[operator]
                continue
            out.append(
                {
                    "client_id": self.ids("oauth_client", name),
                    "client_name": name,
                    "client_uri": uri,
                    "client_uri_verification": {"status": status},
                    "visibility": "private",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "redirect_uris": [f"{uri}/oauth/callback"],
                    "scopes": list(scopes),
                    "token_endpoint_auth_method": "client_secret_basic",
                    "created_at": ts(day(created)),
                    "updated_at": ts(day(created)),
                }
            )
        return out

    def connected_apps(self, at: datetime) -> list[dict[str, Any]]:
        """The connected-apps export as of ``at`` (the format documented in the README)."""
        last_seen: dict[str, str] = {}
        for e in self.activity:  # the dashboard's last use counts reads too
            if e["actor"]["context"] == "oauth" and e["action"]["time"] <= ts(at):
                last_seen[e["actor"]["token_name"]] = e["action"]["time"]
        out = []
        for app in org.APPS:
            if not app.exported or day(app.granted) > at:  # type: ignore[operator]
                continue
            if app.revoked and day(app.revoked) <= at:  # type: ignore[operator]
                continue
            out.append(
                {
                    "app_id": self.ids("oauth_app", app.key),
                    "app_name": app.name,
                    "publisher": app.publisher,
                    "verified": app.verified,
                    "user_email": self.email(app.user),
                    "accounts": ["all"]
                    if app.accounts == ("*",)
                    else [self.account_id[a] for a in app.accounts],
                    "scopes": list(app.scopes),
                    "granted_on": ts(day(app.granted)),
                    "last_used_on": last_seen.get(app.name),
                }
            )
        return out


def _app_group(app: org.App) -> str:
    """The permission group an app's daily use exercises: a write its scopes allow (logged),
    else a read (never logged: only the connected-apps export dates it). An app missing from
    the export is one seen only acting in audit logs, so its use is a write."""
    writes = [s for s in app.scopes if s.endswith(("write", "purge"))]
    if any("workers" in s for s in writes):
        return "Workers Scripts Write"
    if writes or not app.exported:
        return "Account Settings Write"
    return "Account Settings Read"


def build(seed: int) -> list[SnapshotData]:
    return SampleBuilder(seed).snapshots()


__all__ = ["SampleBuilder", "SnapshotData", "build"]
