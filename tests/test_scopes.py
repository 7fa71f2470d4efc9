"""Resource keys → scopes, for tokens and for member resource groups."""

from __future__ import annotations

import pytest

from cfposture.scopes import Scope, member_scopes, parse_key, token_scopes

A, Z = "a" * 32, "1" * 32


@pytest.mark.parametrize(
    "key, parent, expected",
    [
        (f"com.cloudflare.api.account.{A}", None, Scope("account", A, A)),
        ("com.cloudflare.api.account.*", None, Scope("all_accounts", "*", None)),
        ("com.cloudflare.api.account.zone.*", None, Scope("all_zones", "*", None)),
        ("com.cloudflare.api.account.zone.*", A, Scope("all_zones", A, A)),
        (f"com.cloudflare.api.account.zone.{Z}", None, Scope("zone", Z, None)),
        (
            "com.cloudflare.api.account.worker.w1",
            A,
            Scope("resource", "com.cloudflare.api.account.worker.w1", A),
        ),
        (
            "com.cloudflare.api.account.access.app.x",
            A,
            Scope("resource", "com.cloudflare.api.account.access.app.x", A),
        ),
        ("com.cloudflare.api.user.u1", None, Scope("user", "u1", None)),
        ("something.unheard.of", A, Scope("resource", "something.unheard.of", A)),
    ],
)
def test_parse_key(key, parent, expected):
    assert parse_key(key, parent) == expected


@pytest.mark.parametrize("resources", [None, "*", [], {}])
def test_token_scopes_of_odd_values_are_empty(resources):
    assert token_scopes(resources) == []


def test_member_scope_without_resource_groups_is_account_wide():
    assert member_scopes(None, A) == [Scope("account", A, A)]
    assert member_scopes([{"id": "x", "scope": []}], A) == [Scope("account", A, A)]


def test_member_scope_single_dict_and_zone_key():
    rg = {"scope": {"key": f"com.cloudflare.api.account.zone.{Z}", "objects": [{"key": "*"}]}}
    assert member_scopes(rg, A) == [Scope("zone", Z, A)]
