"""Narrowed policies. Token policies are held to the promise that they cannot break a working
token (audit logs show writes only): on generated grants and uses, every read stays readable
at its scope, every write that was seen stays allowed where it was seen, no group is held
anywhere it was not held before, and every id is a real one. Member policies are held to the
pandas group-by they replaced, kept here as the oracle."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cfposture.catalog import group_ids, load_catalog, scope_kind
from cfposture.narrow import member_policies, read_companions, safe_token_policies, terraform
from cfposture.rules.members import _zone_roles
from cfposture.scopes import token_scopes
from cfposture.usage import _default_covers

CATALOG = load_catalog()
REAL_IDS = set(CATALOG.loc[CATALOG["id_source"] == "api", "permission_group_id"])
COMPANIONS = read_companions(CATALOG)
ZONE_ROLES = _zone_roles(CATALOG)
# DNS Write and Zone Write are equally powerful (rank 2), and the order they were first used in
# decides the roles: Zone Write's role covers DNS Write, not the other way round
GROUPS = ["DNS Read", "DNS Write", "Zone Write", "Zone Read", "Cache Purge", "Zone Settings Read"]
assert set(GROUPS) <= set(ZONE_ROLES)
IDS = {g: f"id-{i}" for i, g in enumerate(GROUPS)}
MISSING = st.sampled_from([None, float("nan"), pd.NA])

TOKEN_GROUPS = [
    ("DNS Write", "zone"),
    ("DNS Read", "zone"),
    ("Zone Write", "zone"),
    ("Cache Purge", "zone"),
    ("Logs Write", "zone"),
    ("Account Settings Write", "account"),
    ("Workers Scripts Write", "account"),
    ("Account Settings Read", "account"),
]
ZONES = {"z1": "a1", "z2": "a1", "z3": "a2"}


def _row(i: int, group: tuple[str, str], scope: tuple[str, str], state: str) -> dict[str, Any]:
    name, kind = group
    row = CATALOG[(CATALOG["name"] == name) & (CATALOG["kind"] == "token")].iloc[0]
    scope_type, scope_id = scope
    level = row["access_level"]
    if level == "read" and state in ("used", "unused"):
        state = "unobservable"
    return {
        "grant": i,
        "permission_group_id": group_ids(CATALOG)[(name, kind)],
        "permission_group_name": name,
        "access_level": level,
        "product": row["product"],
        "scope_kind": kind,
        "scope_type": scope_type,
        "scope_id": scope_id,
        "account_id": scope_id if scope_type == "account" else ZONES.get(scope_id, "a1"),
        "effect": "allow",
        "usage_state": state,
        "used_share": 0.5 if scope_type != "zone" else 1.0,
    }


SCOPES = st.sampled_from(
    [("zone", "z1"), ("zone", "z2"), ("all_zones", "a1"), ("all_zones", "*"), ("account", "a1")]
)
STATES = st.sampled_from(["used", "unused", "unobservable", "unknown"])
# an account-level group is held on accounts; a zone-level one on zones, all zones or accounts
GRANTS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from([g for g in TOKEN_GROUPS if g[1] == "zone"]), SCOPES, STATES),
        st.tuples(
            st.sampled_from([g for g in TOKEN_GROUPS if g[1] == "account"]),
            st.sampled_from([("account", "a1"), ("account", "a2")]),
            STATES,
        ),
    ),
    min_size=1,
    max_size=6,
)


def _holds(resources: dict[str, Any], zone: str | None, account: str) -> bool:
    for s in token_scopes(resources):
        if s.scope_type == "all_accounts":
            return True
        if s.scope_type == "account" and s.scope_id == account:
            return True
        if s.scope_type == "all_zones" and zone and s.scope_id in ("*", ZONES[zone]):
            return True
        if s.scope_type == "zone" and s.scope_id == zone:
            return True
    return False


COVERS = _default_covers()


def _allowed(policies: list[dict], group: str, zone: str | None, account: str) -> bool:
    """Whether some policy holds ``group``, or a group that covers it (DNS Write reads DNS)."""
    covering = set(COVERS.loc[COVERS["covered"] == group, "group"]) | {group}
    return any(
        covering & {g["name"] for g in p["permission_groups"]}
        and _holds(p["resources"], zone, account)
        for p in policies
    )


def _places(row: dict[str, Any]) -> list[tuple[str | None, str]]:
    """Where a grant reaches, as (zone, account) points of the test org."""
    st_, sid = row["scope_type"], row["scope_id"]
    zone_level = row["scope_kind"] == "zone"
    if st_ == "zone":
        return [(sid, ZONES[sid])]
    if not zone_level:
        return [(None, row["account_id"])]
    return [(z, a) for z, a in ZONES.items() if sid in ("*", a)]


@settings(max_examples=300, deadline=None)
@given(GRANTS, st.data())
def test_narrowed_token_policy_never_breaks_the_token(specs, data):
    rows = [_row(i, *spec) for i, spec in enumerate(specs)]
    uses: dict[int, list[tuple[str, str | None]]] = {}
    for r in rows:
        if r["usage_state"] == "used":
            places = _places(r)
            picked = data.draw(st.lists(st.sampled_from(places), min_size=1, unique=True))
            uses[r["grant"]] = [(a, z) for z, a in picked]
    policies, changes = safe_token_policies(rows, uses, COMPANIONS)
    for r in rows:
        name = r["permission_group_name"]
        companion = COMPANIONS.get((r["product"], r["scope_kind"]))
        for zone, account in _places(r):
            if r["usage_state"] not in ("used", "unused"):  # reads, unknowns: untouched
                assert _allowed(policies, name, zone, account), (name, zone, account)
            elif companion is not None:  # whatever it could read, it still can
                assert _allowed(policies, companion.name, zone, account)
        for account, zone in uses.get(r["grant"], []):  # every write seen is kept
            assert _allowed(policies, name, zone, account)
    # nothing new: each (group, place) allowed was held before, or is a held write's reader
    held = {(r["permission_group_name"], z, a) for r in rows for z, a in _places(r)} | {
        (COMPANIONS[(r["product"], r["scope_kind"])].name, z, a)
        for r in rows
        if (r["product"], r["scope_kind"]) in COMPANIONS
        for z, a in _places(r)
    }
    for p in policies:
        for g in p["permission_groups"]:
            assert g["id"] in REAL_IDS
            for zone, account in [*((z, a) for z, a in ZONES.items()), (None, "a1"), (None, "a2")]:
                kind = scope_kind(
                    CATALOG.loc[CATALOG["permission_group_id"] == g["id"], "scopes"].iloc[0]
                )
                if (zone is None) != (kind == "account"):
                    continue
                if _holds(p["resources"], zone, account):
                    assert (g["name"], zone, account) in held
    assert all(c["evidence"] for c in changes)


def test_unused_write_becomes_its_read_group_and_reads_stay():
    rows = [
        _row(0, ("Logs Write", "zone"), ("all_zones", "a1"), "unused"),
        _row(1, ("DNS Read", "zone"), ("all_zones", "a1"), "unobservable"),
        _row(2, ("Cache Purge", "zone"), ("zone", "z1"), "unused"),
    ]
    policies, changes = safe_token_policies(rows, {}, COMPANIONS)
    names = {g["name"] for p in policies for g in p["permission_groups"]}
    assert names == {"Logs Read", "DNS Read"}  # Cache Purge has no read group: removed
    assert [c["change"] for c in changes] == ["replaced by Logs Read", "removed"]


def test_used_write_is_narrowed_and_the_rest_of_its_reach_stays_readable():
    rows = [_row(0, ("DNS Write", "zone"), ("all_zones", "a1"), "used")]
    policies, changes = safe_token_policies(rows, {0: [("a1", "z1")]}, COMPANIONS)
    by_name = {g["name"]: p["resources"] for p in policies for g in p["permission_groups"]}
    assert by_name["DNS Write"] == {"com.cloudflare.api.account.zone.z1": "*"}
    assert by_name["DNS Read"] == {
        "com.cloudflare.api.account.a1": {"com.cloudflare.api.account.zone.*": "*"}
    }
    assert "DNS Read kept on the rest" in changes[0]["change"]


def test_terraform_writes_resources_with_jsonencode():
    token = pd.Series({"name": "ci", "owner_type": "account", "account_id": "a1"})
    body = {
        "name": "ci",
        "policies": [
            {
                "effect": "allow",
                "permission_groups": [{"id": "4755a26eedb94da69e1066d98aa820be"}],
                "resources": {
                    "com.cloudflare.api.account.a1": {"com.cloudflare.api.account.zone.*": "*"}
                },
            }
        ],
    }
    hcl = terraform(token, body)
    assert 'resource "cloudflare_account_token" "ci"' in hcl
    line = next(x for x in hcl.splitlines() if "resources" in x)
    inner = line.split("jsonencode(", 1)[1].rsplit(")", 1)[0]
    assert json.loads(inner) == body["policies"][0]["resources"]


def _oracle_member(used: pd.DataFrame, account_id: str) -> list:
    cov = _default_covers()
    by_role: dict[str, set[str]] = {}
    for zone, rows in used.groupby("zone_id"):
        chosen: list[str] = []
        ranked = sorted(rows["covered"].unique(), key=lambda g: -int((cov["group"] == g).sum()))
        for group in ranked:
            if any(group in set(cov.loc[cov["group"] == r, "covered"]) for r in chosen):
                continue
            chosen.append(ZONE_ROLES[group])
        for role in chosen:
            by_role.setdefault(role, set()).add(str(zone))
    return [
        (role, sorted(zones)) for role, zones in sorted(by_role.items())
    ]  # what member_policies spells out per role


def _frame(uses: list[tuple[Any, Any, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(uses, columns=["covered", "ev_account", "zone_id"], dtype=object)
    return df.astype("str").where(df.notna())  # the str dtype the grants frame has


USES = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(GROUPS), MISSING),
        st.one_of(st.sampled_from(["acc1", "acc2"]), MISSING),
        st.one_of(st.sampled_from(["z1", "z2", "z3"]), MISSING),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(USES)
def test_member_policies_match_the_group_by_they_replaced(uses):
    uses = [u for u in uses if isinstance(u[0], str)]  # M04 passes only coverable groups
    df = _frame(uses)
    got = member_policies(df.itertuples(index=False, name=None), "acc1", ZONE_ROLES, IDS)
    spelled = [
        (
            p["permission_groups"][0]["name"],
            [o["key"] for o in p["resource_groups"][0]["scope"]["objects"]],
        )
        for p in got
    ]
    want = _oracle_member(df, "acc1")
    assert spelled == [
        (role, [f"com.cloudflare.api.account.zone.{z}" for z in zones]) for role, zones in want
    ]
