"""normalize → tokens and token grants, on hand-written API payloads of every real shape."""

from __future__ import annotations

import pandas as pd
import pytest

from cfposture.errors import NormalizeError
from cfposture.normalize import infer_format

A = "a" * 32
Z1, Z2 = "1" * 32, "2" * 32
USER = {"id": "u" * 32, "email": "me@example.com"}
ZONES = [{"id": Z1, "name": "one.example", "account": {"id": A}}, {"id": Z2, "name": "two.example"}]
PG = {"id": "82e64a83756745bbbb1c9c2701bf816b", "name": "DNS Read", "meta": {"k": "v"}}


def token(tid: str, resources: dict, **extra) -> dict:
    return {
        "id": tid,
        "name": f"token {tid}",
        "status": "active",
        "issued_on": "2025-01-01T00:00:00Z",
        "modified_on": "2025-01-01T00:00:00Z",
        "policies": [
            {"id": "p" + tid, "effect": "allow", "resources": resources, "permission_groups": [PG]}
        ],
        **extra,
    }


def snap_with(load_payloads, account_tokens=(), user_tokens=(), **more):
    payloads = {
        "user": [USER],
        "accounts": [{"id": A, "name": "Acme"}],
        f"zones:{A}": ZONES,
        f"account_tokens:{A}": list(account_tokens),
        "user_tokens": list(user_tokens),
    }
    payloads.update(more)
    return load_payloads(payloads)


@pytest.mark.parametrize(
    "resources, expected",
    [
        ({f"com.cloudflare.api.account.{A}": "*"}, [("account", A, A)]),
        ({"com.cloudflare.api.account.*": "*"}, [("all_accounts", "*", None)]),
        ({"com.cloudflare.api.account.zone.*": "*"}, [("all_zones", "*", None)]),
        (
            {f"com.cloudflare.api.account.{A}": {"com.cloudflare.api.account.zone.*": "*"}},
            [("all_zones", A, A)],
        ),
        ({f"com.cloudflare.api.account.zone.{Z1}": "*"}, [("zone", Z1, A)]),
        (
            {f"com.cloudflare.api.account.{A}": {f"com.cloudflare.api.account.zone.{Z2}": "*"}},
            [("zone", Z2, A)],
        ),
        ({"com.cloudflare.api.user.abc": "*"}, [("user", "abc", None)]),
        (
            {f"com.cloudflare.edge.r2.bucket.{A}_default_logs": "*"},
            [("resource", f"com.cloudflare.edge.r2.bucket.{A}_default_logs", A)],
        ),
    ],
    ids=[
        "account",
        "all-accounts",
        "all-zones",
        "nested-account-zones",
        "zone",
        "nested-one-zone",
        "user",
        "r2-bucket",
    ],
)
def test_user_token_resource_shapes(load_payloads, resources, expected):
    snap = snap_with(load_payloads, user_tokens=[token("t1", resources)])
    g = snap.grants
    got = list(g[["scope_type", "scope_id", "account_id"]].itertuples(index=False, name=None))
    assert [tuple(None if pd.isna(v) else v for v in row) for row in got] == expected
    assert g["principal_type"].unique().tolist() == ["user_token"]
    assert g["permission_group_name"].tolist() == ["DNS Read"] * len(expected)
    assert g["access_level"].unique().tolist() == ["read"]


def test_account_token_fields_and_missing_optionals(load_payloads):
    bare = token("t1", {f"com.cloudflare.api.account.zone.{Z2}": "*"})
    full = token(
        "t2",
        {f"com.cloudflare.api.account.{A}": "*"},
        last_used_on="2026-10-01T12:00:00Z",
        expires_on="2027-01-01T00:00:00Z",
        not_before="2025-01-01T00:00:00Z",
        condition={
            "request_ip": {"in": ["10.0.0.0/8", "2001:db8::/32"], "not_in": ["10.1.0.0/16"]}
        },
        unknown_future_field={"nested": [1, 2]},
    )
    snap = snap_with(load_payloads, account_tokens=[bare, full])
    t = snap.tokens.set_index("token_id")
    assert t.loc["t1", ["owner_type", "owner_id", "account_id"]].tolist() == ["account", A, A]
    assert pd.isna(t.loc["t1", "last_used_on"]) and pd.isna(t.loc["t1", "expires_on"])
    assert pd.isna(t.loc["t1", "ip_allow"])
    assert t.loc["t2", "ip_allow"] == "10.0.0.0/8,2001:db8::/32"
    assert t.loc["t2", "ip_deny"] == "10.1.0.0/16"
    assert t.loc["t2", "last_used_on"] == pd.Timestamp("2026-10-01T12:00:00Z")
    assert t["policy_count"].tolist() == [1, 1]
    # Zone Z2's listing has no account: the grant's account comes from the owning account.
    g = snap.grants.set_index("principal_id")
    assert g.loc["t1", "account_id"] == A


def test_request_dot_ip_spelling_is_understood(load_payloads):
    t = token("t1", {}, condition={"request.ip": {"in": ["192.0.2.0/24"]}})
    snap = snap_with(load_payloads, user_tokens=[t])
    assert snap.tokens["ip_allow"].tolist() == ["192.0.2.0/24"]
    assert snap.tokens["owner_email"].tolist() == [USER["email"]]


def test_deny_effect_and_access_spelling(load_payloads):
    t = token("t1", {f"com.cloudflare.api.account.{A}": "*"})
    t["policies"].append(
        {
            "id": "p2",
            "access": "deny",
            "permission_groups": [PG],
            "resources": {f"com.cloudflare.api.account.zone.{Z1}": "*"},
        }
    )
    snap = snap_with(load_payloads, account_tokens=[t])
    assert sorted(snap.grants["effect"]) == ["allow", "deny"]


@pytest.mark.parametrize(
    "issued, modified, expected",
    [
        ("2025-06-01", "2025-06-01", "legacy"),
        ("2026-04-09", "2026-04-09", "legacy"),
        ("2026-04-10", "2026-04-10", "scannable"),
        ("2026-05-01", "2026-09-01", "scannable"),
        ("2025-06-01", "2026-05-01", "unknown"),  # rolled or edited: cannot tell
        (None, None, "unknown"),
    ],
)
def test_format_is_inferred_from_dates(issued, modified, expected):
    ts = lambda v: pd.Series([v], dtype="datetime64[us, UTC]")  # noqa: E731
    assert infer_format(ts(issued), ts(modified)).tolist() == [expected]


def test_observed_format_overrides_inference(load_payloads):
    snap = snap_with(
        load_payloads,
        account_tokens=[token("t1", {}), token("t2", {})],
        observed_token_formats=[{"token_id": "t1", "format": "scannable"}],
    )
    t = snap.tokens.set_index("token_id")
    assert t.loc["t1", ["format", "format_source"]].tolist() == ["scannable", "observed"]
    assert t.loc["t2", ["format", "format_source"]].tolist() == ["legacy", "inferred"]


def audit_event(eid: str, token_id: str, actor_type: str, when: str) -> dict:
    return {
        "id": eid,
        "account": {"id": A},
        "action": {"time": when, "type": "update", "result": "success"},
        "actor": {
            "id": "someone",
            "email": "x@example.com",
            "context": "api_token",
            "token_id": token_id,
            "token_name": f"name-{token_id}",
            "type": actor_type,
        },
        "resource": {"product": "dns_records", "type": "dns_record"},
    }


def test_tokens_seen_only_in_audit_logs_become_uninventoried_rows(load_payloads):
    events = [
        audit_event("e1", "listed", "account", "2026-11-01T00:00:00Z"),
        audit_event("e2", "other-user", "user", "2026-11-02T00:00:00Z"),
        audit_event("e3", "other-user", "user", "2026-11-03T00:00:00Z"),
        audit_event("e4", "unlisted-account", "account", "2026-11-04T00:00:00Z"),
    ]
    snap = snap_with(
        load_payloads,
        account_tokens=[token("listed", {f"com.cloudflare.api.account.{A}": "*"})],
        **{f"audit_logs:{A}": events},
    )
    t = snap.tokens.set_index("token_id")
    assert t["inventoried"].to_dict() == {
        "listed": True,
        "other-user": False,
        "unlisted-account": False,
    }
    assert t.loc["other-user", ["owner_type", "owner_email", "status"]].tolist() == [
        "user",
        "x@example.com",
        "unknown",
    ]
    assert t.loc["other-user", "last_used_on"] == pd.Timestamp("2026-11-03T00:00:00Z")
    assert t.loc["unlisted-account", ["owner_type", "owner_id"]].tolist() == ["account", A]
    assert snap.grants["principal_id"].unique().tolist() == ["listed"]  # policies unknown


def test_malformed_timestamp_names_the_field(load_payloads):
    with pytest.raises(NormalizeError, match=r"tokens\.expires_on: 'next tuesday'"):
        snap_with(load_payloads, user_tokens=[token("t1", {}, expires_on="next tuesday")])


def test_unknown_status_is_kept_as_unknown_not_dropped(load_payloads):
    snap = snap_with(load_payloads, user_tokens=[token("t1", {}, status="exposed")])
    assert snap.tokens["status"].tolist() == ["unknown"]


def test_permission_group_by_id_only_resolves_name_from_catalog(load_payloads):
    t = token("t1", {f"com.cloudflare.api.account.{A}": "*"})
    t["policies"][0]["permission_groups"] = [
        {"id": "c8fed203ed3043cba015a93ad1616f1f"},
        {"id": "f" * 32, "name": "Brand New Admin"},
    ]
    snap = snap_with(load_payloads, account_tokens=[t])
    g = snap.grants
    assert g["permission_group_name"].tolist() == ["Zone Read", "Brand New Admin"]
    assert g["access_level"].tolist() == ["read", "admin"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "account .* token 1 has no id"),
        ({"id": ""}, "account .* token 1 has no id"),
        ({"policies": "x"}, "'policies' is a string, not a list"),
        ({"policies": None}, "'policies' is null, not a list"),
        ({"policies": ["x"]}, "a policy is not an object"),
    ],
)
def test_wrong_types_in_a_token_are_one_line_errors(load_payloads, change, message):
    """Read as empty, they would hide a token or its grants from every rule."""
    broken = {**token("t1", {f"com.cloudflare.api.account.{A}": "*"}), **change}
    with pytest.raises(NormalizeError, match=message) as info:
        snap_with(load_payloads, account_tokens=[broken])
    assert "\n" not in str(info.value)


def test_an_account_or_zone_without_an_id_is_a_one_line_error(load_payloads):
    with pytest.raises(NormalizeError, match=r"account .* zone 2 has no id"):
        snap_with(load_payloads, **{f"zones:{A}": [ZONES[0], {"name": "x.example"}]})
