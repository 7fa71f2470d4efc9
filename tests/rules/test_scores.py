"""The least-privilege gap formula and token exposure, on hand-computable cases."""

from __future__ import annotations

import pytest
from orgbuilder import Z1, A, event, pol, tok

import cfposture
from cfposture.scoring import EXPOSURE_MAX


def two_grant_token():
    return tok(
        "t",
        pol(["DNS Write"], zone=Z1),
        pol(
            ["Zone Settings Write"],
            resources={
                f"com.cloudflare.api.account.{A}": {"com.cloudflare.api.account.zone.*": "*"}
            },
        ),
    )


def test_lp_gap_from_usage_worked_example(org):
    # DNS Write on one zone: w 9 × r 2 = 18, used. Zone Settings Write on all zones of the
    # account: w 9 × r 4 = 36, unused. gap = 100 × 36 / 54 = 66.7
    snap = org(account_tokens=[two_grant_token()], events=[event(1, token="t")])
    row = cfposture.scores(snap).set_index("principal_id").loc["t"]
    assert row["granted_weight"] == 54 and row["used_weight"] == 18
    assert row["lp_gap"] == pytest.approx(66.7)
    assert row["basis"] == "usage" and row["window_days"] == 90
    assert row["reach"] == 2  # Z1, and every zone of A (Z1, Z2)


def test_lp_gap_falls_back_to_static_breadth_without_history(org):
    # unused = 1 - min_reach / reach: DNS Write on a zone is already narrowest (0);
    # Zone Settings Write on all zones: 1 - 2/4 = 0.5 -> 100 × 18 / 54 = 33.3
    snap = org(account_tokens=[two_grant_token()], events=[event(1, token="t")], history_days=10)
    row = cfposture.scores(snap).set_index("principal_id").loc["t"]
    assert row["basis"] == "static" and row["window_days"] == 0
    assert row["lp_gap"] == pytest.approx(33.3)


def test_a_token_younger_than_the_window_is_scored_on_static_breadth(org):
    """It has not had the whole window to use what it holds (CFP-T07 waits for it too)."""
    young = {**two_grant_token(), "id": "young", "name": "young"}
    young["issued_on"] = "2026-10-01T00:00:00Z"
    events = [event(1, token="t"), event(2, token="young")]
    s = cfposture.scores(org(account_tokens=[two_grant_token(), young], events=events))
    rows = s.set_index("principal_id")
    assert rows.loc["t", "basis"] == "usage" and rows.loc["t", "window_days"] == 90
    assert rows.loc["young", "basis"] == "static" and rows.loc["young", "window_days"] == 0
    assert rows.loc["young", "lp_gap"] == pytest.approx(100 * 18 / 54, abs=0.1)


def test_unused_reach_of_a_used_write_group_counts(org):
    """DNS Write on every zone of the account (2), written on one: half its reach unused,
    which agrees with CFP-M04/T06 rather than calling the grant fully used."""
    wide = {f"com.cloudflare.api.account.{A}": {"com.cloudflare.api.account.zone.*": "*"}}
    t = tok("t", pol(["DNS Write"], resources=wide))
    row = cfposture.scores(org(account_tokens=[t], events=[event(1, token="t")])).iloc[0]
    assert row["granted_weight"] == 36 and row["used_weight"] == 18
    assert row["lp_gap"] == pytest.approx(50.0)


def test_reads_never_count_in_the_gap_and_show_as_read_reach(org):
    """Audit logs do not record reads: a read-only token has no observable gap."""
    reader = tok("reader", pol(["DNS Read"], resources={"com.cloudflare.api.account.*": "*"}))
    mixed = tok("mixed", pol(["DNS Write"], zone=Z1), pol(["Zone Read"], zone=Z1))
    s = cfposture.scores(org(account_tokens=[reader, mixed], events=[event(1, token="mixed")]))
    rows = s.set_index("principal_id")
    assert rows.loc["reader", "lp_gap"] == 0 and rows.loc["reader", "basis"] == "unobservable"
    assert rows.loc["reader", "read_reach"] == 3 * 8  # DNS Read w 3 × all accounts 8
    assert rows.loc["mixed", "lp_gap"] == 0 and rows.loc["mixed", "granted_weight"] == 18
    assert rows.loc["mixed", "read_reach"] == 3 * 2  # Zone Read w 3 × one zone 2


def test_all_used_scores_zero_and_unused_scores_hundred(org):
    tight = tok("tight", pol(["DNS Write"], zone=Z1))
    idle = tok("idle", pol(["DNS Write"], zone=Z1))
    s = cfposture.scores(org(account_tokens=[tight, idle], events=[event(1, token="tight")]))
    assert s.set_index("principal_id")["lp_gap"].to_dict() == {"idle": 100.0, "tight": 0.0}


def test_exposure_orders_tokens_by_risk(org):
    legacy_wide = tok(
        "legacy-wide",
        pol(["DNS Write"], resources={"com.cloudflare.api.account.*": "*"}),
        issued_on="2022-01-01T00:00:00Z",
        modified_on="2022-01-01T00:00:00Z",
        expires_on=None,
        condition=None,
    )
    scannable_tight = tok("tight", pol(["DNS Read"], zone=Z1))
    disabled = tok("off", status="disabled")
    s = cfposture.scores(org(account_tokens=[legacy_wide, scannable_tight, disabled]))
    e = s.set_index("principal_id")["exposure"]
    # DNS Write 9 × all accounts 8 × legacy (1+1) × no expiry 1.5 × no IP 1.5
    # × age 4.9 years, capped at 4: (1 + 4/4) × used recently 1.0
    assert e["legacy-wide"] == pytest.approx(100 * 9 * 8 * 2 * 1.5 * 1.5 * 2 / EXPOSURE_MAX)
    assert e["legacy-wide"] > e["tight"] > 0
    assert e["off"] == 0
    assert s["exposure"].max() <= 100


def test_exposure_trend_shows_legacy_going_down():
    trend = cfposture.exposure_trend("sample")
    legacy = trend[trend["format"] == "legacy"].groupby("snapshot")["tokens"].sum()
    assert len(legacy) >= 6 and legacy.iloc[-1] < legacy.iloc[0]
    assert set(trend["tier"]) <= {"admin", "write", "read", "unknown"}


def test_scores_of_an_org_without_readable_tokens(org):
    from orgbuilder import member

    snap = org(
        members=[member("solo", ["Administrator"])], events=[event(1, email="solo@example.com")]
    )
    assert snap.tokens.empty
    scores = cfposture.scores(snap)
    assert set(scores["principal_type"]) == {"member"}
    assert scores["exposure"].isna().all()  # exposure is a token measure


def test_groups_outside_the_catalog_are_named_from_the_pull_and_weighed_by_their_name(org):
    """A group sent by id and meta only is named from the pull's own permission-group list;
    one nobody names keeps its label. Both are weighed by the catalogue's rule, not as the
    cheapest group, and counted as judged by name."""
    new, unknown = "f" * 32, "e" * 32
    t = tok(
        "t",
        {
            "id": "p",
            "effect": "allow",
            "resources": {f"com.cloudflare.api.account.zone.{Z1}": "*"},
            "permission_groups": [
                {"id": new, "meta": {"label": "zone_waf_rules_write"}},
                {"id": unknown, "meta": {"label": "frobnicator_write"}},
            ],
        },
    )
    listed = [
        {"id": new, "name": "Zone WAF Rules Write", "scopes": ["com.cloudflare.api.account.zone"]}
    ]
    snap = org(account_tokens=[t], permission_groups=listed)
    g = snap.grants.set_index("permission_group_id")
    assert g.loc[new, "permission_group_name"] == "Zone WAF Rules Write"
    assert g.loc[unknown, "permission_group_name"] == "frobnicator_write"
    assert set(g["access_level"]) == {"edit"}
    assert snap.uncatalogued_groups == ["Zone WAF Rules Write", "frobnicator_write"]
    assert snap.summary()["groups_judged_by_name"] == 2
    row = cfposture.scores(snap).iloc[0]
    # Zone WAF Rules Write: edit 3 × high 3 = 9; frobnicator: edit 3 × medium 2 = 6; zone r 2
    assert row["granted_weight"] == (9 + 6) * 2
