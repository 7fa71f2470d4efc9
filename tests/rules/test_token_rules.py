"""CFP-T01 … T09: table-driven cases that must and must not fire."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from orgbuilder import Z1, Z2, A, event, pol, tok

import cfposture


def fired(snap, rule, **params) -> set[str]:
    f = cfposture.findings(snap, rules=[rule], **params)
    return set(f["principal_name"])


@pytest.mark.parametrize(
    "token, should_fire",
    [
        (tok("legacy", issued_on="2025-01-01T00:00:00Z", modified_on="2025-01-01T00:00:00Z"), True),
        (
            tok("rolled", issued_on="2025-01-01T00:00:00Z", modified_on="2026-05-01T00:00:00Z"),
            False,
        ),
        (tok("new"), False),
        (
            tok(
                "legacy-disabled",
                status="disabled",
                issued_on="2024-01-01T00:00:00Z",
                modified_on="2024-01-01T00:00:00Z",
            ),
            False,
        ),
    ],
)
def test_t01_legacy_format(org, token, should_fire):
    assert fired(org(account_tokens=[token]), "CFP-T01") == (
        {token["name"]} if should_fire else set()
    )


@pytest.mark.parametrize(
    "token, should_fire",
    [
        (tok("forever", expires_on=None), True),
        (tok("expiring"), False),
        (tok("expired", expires_on=None, status="expired"), False),
    ],
)
def test_t02_no_expiry(org, token, should_fire):
    assert fired(org(account_tokens=[token]), "CFP-T02") == (
        {token["name"]} if should_fire else set()
    )


@pytest.mark.parametrize(
    "token, should_fire",
    [
        (tok("anywhere", condition=None), True),
        (tok("bound"), False),
        (tok("deny-only", condition={"request_ip": {"not_in": ["10.0.0.0/8"]}}), True),
    ],
)
def test_t03_no_ip_restriction(org, token, should_fire):
    assert fired(org(account_tokens=[token]), "CFP-T03") == (
        {token["name"]} if should_fire else set()
    )


@pytest.mark.parametrize(
    "token, stale_days, should_fire",
    [
        (tok("never", last_used_on=None, issued_on="2026-01-01T00:00:00Z"), 90, True),
        (tok("too-new-to-judge", last_used_on=None, issued_on="2026-10-01T00:00:00Z"), 90, False),
        (tok("too-new-to-judge-30", last_used_on=None, issued_on="2026-10-01T00:00:00Z"), 30, True),
        (tok("old-use", last_used_on="2026-07-01T00:00:00Z"), 90, True),
        (tok("old-use-365", last_used_on="2026-07-01T00:00:00Z"), 365, False),
        (tok("recent", last_used_on="2026-11-20T00:00:00Z"), 30, False),
        (tok("recent-45", last_used_on="2026-10-01T00:00:00Z"), 45, True),
    ],
)
def test_t04_unused_with_anchor_thresholds(org, token, stale_days, should_fire):
    got = fired(org(account_tokens=[token]), "CFP-T04", stale_days=stale_days)
    assert got == ({token["name"]} if should_fire else set())


@pytest.mark.parametrize(
    "token, rotate_days, should_fire",
    [
        (
            tok("old", issued_on="2025-01-01T00:00:00Z", modified_on="2025-01-01T00:00:00Z"),
            365,
            True,
        ),
        (
            tok("rolled", issued_on="2024-01-01T00:00:00Z", modified_on="2026-05-01T00:00:00Z"),
            365,
            False,
        ),
        (tok("young"), 365, False),
        (
            tok(
                "young-strict", issued_on="2026-06-01T00:00:00Z", modified_on="2026-06-01T00:00:00Z"
            ),
            90,
            True,
        ),
    ],
)
def test_t05_not_rolled(org, token, rotate_days, should_fire):
    got = fired(org(account_tokens=[token]), "CFP-T05", rotate_days=rotate_days)
    assert got == ({token["name"]} if should_fire else set())


def test_t06_wildcards_one_finding_per_scope_severity_by_privilege(org):
    every = tok(
        "every",
        pol(["DNS Write"], resources={"com.cloudflare.api.account.*": "*"}),
        pol(["Zone Read"], resources={"com.cloudflare.api.account.zone.*": "*"}),
    )
    nested = tok(
        "nested",
        pol(
            ["Analytics Read"],
            resources={
                f"com.cloudflare.api.account.{A}": {"com.cloudflare.api.account.zone.*": "*"}
            },
        ),
    )
    exact = tok("exact", pol(["DNS Write"], zone=Z1), pol(["Zone Read"], account=A))
    f = cfposture.findings(org(account_tokens=[every, nested, exact]), rules=["CFP-T06"])
    assert sorted(zip(f["principal_name"], f["scope"], f["severity"], strict=False)) == [
        ("every", "all_accounts:*", "high"),
        ("every", "all_zones:*", "medium"),  # read-only scope, but a privileged token
        ("nested", f"all_zones:{A}", "info"),
    ]


def test_t07_unused_groups_carry_a_narrowed_policy(org):
    wide = {f"com.cloudflare.api.account.{A}": {"com.cloudflare.api.account.zone.*": "*"}}
    t = tok("broad", pol(["DNS Write", "Zone Settings Write", "Logs Read"], resources=wide))
    all_used = tok("tight", pol(["DNS Write"], zone=Z1))
    events = [
        event(1, token="broad", zone=Z2),
        event(2, token="broad", zone=Z2),
        event(3, token="tight", zone=Z1),
    ]
    f = cfposture.findings(org(account_tokens=[t, all_used], events=events), rules=["CFP-T07"])
    assert f["principal_name"].tolist() == ["broad"]
    ev = json.loads(f.loc[0, "evidence"])
    assert ev["used"] == ["DNS Write"]
    assert ev["unused"] == [f"Zone Settings Write @ all_zones:{A}"]
    assert ev["not_observable"] == ["Logs Read"]  # a read: audit logs cannot show it
    remedy = json.loads(f.loc[0, "remedy"])
    assert remedy["method"] == "PUT" and remedy["path"] == f"/accounts/{A}/tokens/broad"
    # the write narrowed to where it wrote; every read kept where it was, the unused write
    # and the rest of the used one's reach turned into their read groups
    assert remedy["body"]["policies"] == [
        {
            "effect": "allow",
            "resources": wide,
            "permission_groups": [
                {"id": "82e64a83756745bbbb1c9c2701bf816b", "name": "DNS Read"},
                {"id": "c4a30cd58c5d42619c86a3c36c441e2d", "name": "Logs Read"},
                {"id": "517b21aee92c4d89936c976ba6e4be55", "name": "Zone Settings Read"},
            ],
        },
        {
            "effect": "allow",
            "resources": {f"com.cloudflare.api.account.zone.{Z2}": "*"},
            "permission_groups": [{"id": "4755a26eedb94da69e1066d98aa820be", "name": "DNS Write"}],
        },
    ]
    assert [c["change"] for c in remedy["evidence"]] == [
        "narrowed to 1 scope(s) that saw writes; DNS Read kept on the rest",
        "replaced by Zone Settings Read",
    ]
    assert remedy["body"]["condition"] == {"request_ip": {"in": ["192.0.2.0/24"]}}
    assert 'resource "cloudflare_account_token" "broad"' in remedy["terraform"]
    assert f'jsonencode({{"com.cloudflare.api.account.zone.{Z2}": "*"}})' in remedy["terraform"]


def test_t07_never_calls_a_read_group_unused(org):
    """A read-only token used every day leaves no audit event: its reads are not unused."""
    reader = tok("reader", pol(["DNS Read", "Zone Read", "Account Settings Read"], zone=Z1))
    snap = org(account_tokens=[reader], events=[])
    assert fired(snap, "CFP-T07") == set()
    states = cfposture.rules.Context(snap, cfposture.rules.Params()).grants["usage_state"]
    assert set(states) == {"unobservable"}


def test_t07_judges_a_token_with_no_writes_on_its_write_groups(org):
    """Active in the window (last used last week) but no write seen: its write group is unused."""
    t = tok("quiet", pol(["DNS Write", "DNS Read"], zone=Z1))
    f = cfposture.findings(org(account_tokens=[t], events=[]), rules=["CFP-T07"])
    body = json.loads(f.loc[0, "remedy"])["body"]
    assert body["policies"][0]["permission_groups"] == [
        {"id": "82e64a83756745bbbb1c9c2701bf816b", "name": "DNS Read"}
    ]


def test_t07_a_read_does_not_use_the_write_group_beside_it(org):
    t = tok("logs", pol(["Logs Write", "Logs Read"], zone=Z1))
    events = [event(1, token="logs", product="logpush", rtype="logpush_job", action="view")]
    f = cfposture.findings(org(account_tokens=[t], events=events), rules=["CFP-T07"])
    assert json.loads(f.loc[0, "evidence"])["unused"] == [f"Logs Write @ zone:{Z1}"]


def test_t07_waits_for_enough_audit_history(org):
    t = tok("broad", pol(["DNS Write", "Zone Settings Write"], zone=Z1))
    snap = org(account_tokens=[t], events=[event(1, token="broad")], history_days=30)
    assert fired(snap, "CFP-T07") == set()
    assert fired(snap, "CFP-T07", usage_days=30) == {"broad"}


def test_t07_judges_only_tokens_that_existed_for_the_whole_window(org):
    """A token issued inside the window has not had all of it to use what it holds (AWS
    Access Analyzer judges unused access the same way); after the window it is judged."""
    groups = ["DNS Write", "Zone Settings Write"]
    young = tok("young", pol(groups, zone=Z1), issued_on="2026-10-01T00:00:00Z")
    old = tok("old", pol(groups, zone=Z1))  # issued 2026-06-01
    events = [event(1, token="young"), event(2, token="old")]
    snap = org(account_tokens=[young, old], events=events)
    assert fired(snap, "CFP-T07") == {"old"}
    assert fired(snap, "CFP-T07", usage_days=30) == {"young", "old"}


def test_t08_user_token_acting_on_account(org):
    mine = tok("mine", pol(["DNS Write"], zone=Z1))
    events = [
        event(1, token="mine", actor_type="user", email="me@example.com"),
        event(2, token="someone-elses", actor_type="user", email="x@example.com"),
        event(3, token="acct", actor_type="account"),
    ]
    snap = org(user_tokens=[mine], account_tokens=[tok("acct")], events=events)
    f = cfposture.findings(snap, rules=["CFP-T08"])
    assert sorted(f["principal_name"]) == ["mine", "someone-elses"]
    assert set(f["scope"]) == {f"account:{A}"}


def test_t09_only_with_scan_results(org):
    snap = org(account_tokens=[tok("leaked"), tok("gone", status="disabled")])
    assert cfposture.findings(snap, rules=["CFP-T09"]).empty
    leaks = pd.DataFrame({"token_id": ["leaked", "gone"], "location": ["repo/.env:3", "ci.yml:9"]})
    f = cfposture.findings(snap, rules=["CFP-T09"], leaks=leaks)
    assert dict(zip(f["principal_name"], f["severity"], strict=False)) == {
        "leaked": "critical",
        "gone": "high",
    }


def test_finding_ids_are_stable_and_distinct(org):
    snap = org(account_tokens=[tok("a", expires_on=None), tok("b", expires_on=None)])
    one = cfposture.findings(snap, rules=["CFP-T02"])
    two = cfposture.findings(snap, rules=["CFP-T02"])
    assert one["finding_id"].tolist() == two["finding_id"].tolist()
    assert one["finding_id"].is_unique


def test_unknown_rule_id_is_a_clear_error(org):
    with pytest.raises(cfposture.CfPostureError, match="unknown rule id"):
        cfposture.findings(org(), rules=["CFP-X99"])


def test_t07_names_a_group_sent_without_an_id_by_its_real_id(org):
    t = tok("named", pol(["DNS Write", "Zone Settings Write"], zone=Z1))
    for g in t["policies"][0]["permission_groups"]:
        del g["id"]  # some answers name the group only
    f = cfposture.findings(
        org(account_tokens=[t], events=[event(1, token="named")]), rules=["CFP-T07"]
    )
    body = json.loads(f.loc[0, "remedy"])["body"]
    ids = {g["name"]: g["id"] for p in body["policies"] for g in p["permission_groups"]}
    assert ids == {
        "DNS Write": "4755a26eedb94da69e1066d98aa820be",
        "Zone Settings Read": "517b21aee92c4d89936c976ba6e4be55",
    }
