"""Narrowed policies from a principal's uses: the plain-Python builders against the pandas
group-bys they replaced (kept here as the oracle, down to each group's resources; the
policies are assembled from those by the same ``scoped_policies``), on generated uses."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cfposture.catalog import load_catalog
from cfposture.narrow import member_policies, scoped_policies, token_policies
from cfposture.rules.members import _zone_roles
from cfposture.usage import _default_covers

ZONE_ROLES = _zone_roles(load_catalog())
# DNS Write and Zone Write are equally powerful (rank 2), and the order they were first used in
# decides the roles: Zone Write's role covers DNS Write, not the other way round
GROUPS = ["DNS Read", "DNS Write", "Zone Write", "Zone Read", "Cache Purge", "Zone Settings Read"]
assert set(GROUPS) <= set(ZONE_ROLES)
IDS = {g: f"id-{i}" for i, g in enumerate(GROUPS)}
MISSING = st.sampled_from([None, float("nan"), pd.NA])


def _oracle_token(used: pd.DataFrame, user_groups: list[str], user_id: str | None) -> list:
    scopes: dict[str, dict[str, str]] = {}
    for group, rows in used.groupby("covered"):
        res: dict[str, str] = {}
        for account, zrows in rows.groupby("ev_account"):
            zones = list(zrows["zone_id"].dropna().unique())
            if zrows["zone_id"].isna().any():
                zones = []
            res.update(
                {f"com.cloudflare.api.account.zone.{z}": "*" for z in sorted(zones)}
                or {f"com.cloudflare.api.account.{account}": "*"}
            )
        scopes[str(group)] = res
    return scoped_policies(scopes, IDS, user_groups, user_id)  # unchanged: shared


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
@given(USES, st.lists(st.sampled_from(GROUPS), unique=True, max_size=2))
def test_token_policies_match_the_group_by_they_replaced(uses, user_groups):
    df = _frame(uses)
    got = token_policies(df.itertuples(index=False, name=None), IDS, sorted(user_groups), "u1")
    assert got == _oracle_token(df, sorted(user_groups), "u1")
    # the order and repetition of uses change nothing
    assert token_policies(list(reversed(uses)) * 2, IDS, sorted(user_groups), "u1") == got


def test_account_level_use_keeps_the_account_and_zone_use_only_the_zones():
    got = token_policies(
        [("DNS Read", "acc1", "z2"), ("DNS Read", "acc1", None), ("Zone Read", "acc1", "z1")],
        IDS,
        [],
        None,
    )
    assert [p["resources"] for p in got] == [
        {"com.cloudflare.api.account.acc1": "*"},
        {"com.cloudflare.api.account.zone.z1": "*"},
    ]


@settings(max_examples=200, deadline=None)
@given(USES)
def test_member_policies_match_the_group_by_they_replaced(uses):
    uses = [u for u in uses if isinstance(u[0], str)]  # M04 passes only coverable groups
    df = _frame(uses)
    got = member_policies(df.itertuples(index=False, name=None), "acc1", ZONE_ROLES, IDS)
    spelled = [
        (
            p["permission_groups"][0]["name"],
            [o["key"] for o in p["resource_groups"][0]["scope"][0]["objects"]],
        )
        for p in got
    ]
    want = _oracle_member(df, "acc1")
    assert spelled == [
        (role, [f"com.cloudflare.api.account.zone.{z}" for z in zones]) for role, zones in want
    ]
