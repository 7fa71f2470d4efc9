"""The permission catalog and the audit mapping shipped in data/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfposture.catalog import (
    LEVEL_FACTOR,
    classify,
    group_ids,
    infer_access_level,
    load_audit_map,
    load_catalog,
)
from cfposture.schemas import ACCESS_LEVELS


def test_risk_weight_follows_the_documented_formula():
    c = load_catalog()
    expected = c["access_level"].map(LEVEL_FACTOR) * c["product_risk"]
    assert (c["risk_weight"] == expected).all()
    assert set(LEVEL_FACTOR) == set(ACCESS_LEVELS)


def test_catalog_covers_the_roles_named_in_the_reference():
    names = set(load_catalog()["name"])
    for role in [
        "Super Administrator - All Privileges",
        "Administrator",
        "Administrator Read Only",
        "Cloudflare Access App Admin",
        "Cloudflare Access Identity Provider Admin",
        "Cloudflare Access policy admin",
        "Cloudflare Access service token admin",
        "Access for Infrastructure Target Admin",
        "Worker Admin",
        "Worker Edit (Versions & Deployments)",
        "Worker Read",
        "Zone Read",
        "DNS Read",
    ]:
        assert role in names


def test_documented_permission_group_ids_are_kept():
    c = load_catalog()
    ids = group_ids(c)
    assert ids[("Zone Read", "zone")] == "c8fed203ed3043cba015a93ad1616f1f"
    assert ids[("DNS Read", "zone")] == "82e64a83756745bbbb1c9c2701bf816b"
    assert ids[("DNS Write", "zone")] == "4755a26eedb94da69e1066d98aa820be"
    assert ids[("API Tokens Write", "user")] == "686d18d5ac6c441c867cbf6771e58a0a"
    # a name at both scopes keeps both ids
    assert ids[("Logs Read", "zone")] == "c4a30cd58c5d42619c86a3c36c441e2d"
    assert ids[("Logs Read", "account")] == "6a315a56f18441e59ed03352369ae956"


REFERENCE = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[2] / "shared/reference/permission-groups.json",
            Path("/work/shared/reference/permission-groups.json"),
        )
        if p.is_file()
    ),
    None,
)


@pytest.mark.skipif(REFERENCE is None, reason="the shared reference is not on this machine")
def test_catalog_holds_every_group_cloudflare_lists_with_its_id():
    assert REFERENCE is not None
    groups = json.loads(REFERENCE.read_text())["groups"]
    c = load_catalog().set_index("permission_group_id")
    for g in groups:
        row = c.loc[g["id"]]
        assert row["name"] == g["name"] and row["scopes"] == ",".join(g["scopes"])
        assert row["id_source"] == "api"


def test_token_groups_follow_the_classification_rule():
    """Levels and risk are a rule over the name (data/README.md), not hand-typed numbers."""
    c = load_catalog()
    tokens = c[c["kind"] == "token"]
    got = [
        tuple(r)
        for r in tokens[["access_level", "product", "product_risk", "risk_weight"]].to_numpy()
    ]
    assert got == [classify(n) for n in tokens["name"]]


@pytest.mark.parametrize(
    "name, level, risk",
    [
        ("DNS Write", "edit", 3),
        ("Zone WAF Write", "edit", 3),  # once outside the table, weighed like DNS Write now
        ("Account Analytics Read", "read", 1),
        ("Access: Audit Logs Read", "read", 1),
        ("Cache Purge", "edit", 1),
        ("Workers KV Storage Write", "edit", 3),
        ("Stream Write", "edit", 2),
        ("Magic Firewall Packet Captures - Read PCAPs API", "read", 3),
    ],
)
def test_classify(name, level, risk):
    got = classify(name)
    assert (got[0], got[2]) == (level, risk)


def test_placeholder_ids_are_only_roles_cloudflare_does_not_publish():
    c = load_catalog()
    assert set(c.loc[c["id_source"] == "placeholder", "kind"]) == {"role"}
    assert c.loc[c["name"] == "Super Administrator - All Privileges", "id_source"].item() == "api"


def test_every_group_the_sample_uses_is_in_the_catalog_but_the_newer_one(sample_snap):
    from cfposture.sample.org import NEWER_GROUPS

    names = set(load_catalog()["name"])
    outside = set(sample_snap.grants["permission_group_name"]) - names
    assert outside == set(NEWER_GROUPS)  # named by the pull's own lists, judged by its name
    assert sample_snap.uncatalogued_groups == sorted(NEWER_GROUPS)


def test_audit_map_names_only_catalogued_groups():
    names = set(load_catalog()["name"])
    m = load_audit_map()
    assert set(m["read_group"]) | set(m["write_group"]) <= names
    assert set(m["scope_level"]) <= {"zone", "account"}


@pytest.mark.parametrize(
    "name, level",
    [
        ("Load Balancers Read", "read"),
        ("Stream Write", "edit"),
        ("Cache Purge", "edit"),
        ("Magic Network Monitoring Admin", "admin"),
        ("Something New", "edit"),
    ],
)
def test_unknown_group_access_level_is_inferred_conservatively(name, level):
    assert infer_access_level(name) == level
