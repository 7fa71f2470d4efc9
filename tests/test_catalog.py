"""The permission catalog and the audit mapping shipped in data/."""

from __future__ import annotations

import pytest

from cfposture.catalog import LEVEL_FACTOR, infer_access_level, load_audit_map, load_catalog
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
    c = load_catalog().set_index("name")
    assert c.loc["Zone Read", "permission_group_id"] == "c8fed203ed3043cba015a93ad1616f1f"
    assert c.loc["DNS Read", "permission_group_id"] == "82e64a83756745bbbb1c9c2701bf816b"


def test_every_group_the_sample_uses_is_in_the_catalog(sample_snap):
    names = set(load_catalog()["name"])
    assert set(sample_snap.grants["permission_group_name"]) <= names


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
