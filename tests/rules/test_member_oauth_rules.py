"""CFP-M01 … M05 and CFP-O01 … O03: cases that must and must not fire."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from orgbuilder import Z1, Z2, A, event, member

import cfposture

SA = "Super Administrator - All Privileges"


def fired(snap, rule, **params):
    f = cfposture.findings(snap, rules=[rule], **params)
    return set(f["principal_name"])


def test_m01_accepted_members_without_2fa(org):
    snap = org(
        members=[
            member("no2fa", ["Administrator"], two_factor=False),
            member("pending", ["Administrator"], two_factor=False, status="pending"),
            member("ok", ["Administrator"]),
            member("ro-no2fa", ["Administrator Read Only"], two_factor=False),
        ]
    )
    f = cfposture.findings(snap, rules=["CFP-M01"])
    assert dict(zip(f["principal_name"], f["severity"], strict=False)) == {
        "no2fa@example.com": "high",
        "ro-no2fa@example.com": "low",
    }


@pytest.mark.parametrize("enforce, should_fire", [(False, True), (True, False)])
def test_m02_account_enforcement(org, enforce, should_fire):
    assert fired(org(enforce_twofactor=enforce), "CFP-M02") == ({"Acme"} if should_fire else set())


@pytest.mark.parametrize(
    "n_super, limit, should_fire",
    [(4, 3, True), (3, 3, False), (2, 3, False), (1, 3, True), (3, 2, True)],
)
def test_m03_super_admin_count(org, n_super, limit, should_fire):
    members = [member(f"sa{i}", [SA]) for i in range(n_super)]
    members.append(member("pending-sa", [SA], status="pending"))  # not counted
    got = fired(org(members=members), "CFP-M03", max_super_admins=limit)
    assert got == ({"Acme"} if should_fire else set())


def test_m04_account_wide_role_used_on_zones_only(org):
    members = [
        member("zoner", ["Administrator"]),  # edits DNS on Z1 and Z2 only -> narrow
        member("accounter", ["Administrator"]),  # also touches account settings -> keep
        member("already-zoned", ["Domain DNS"], zones=[Z1]),
        member("reader", ["Administrator Read Only"]),  # read-only roles are not judged
    ]
    events = [
        event(1, email="zoner@example.com", zone=Z1),
        event(2, email="zoner@example.com", zone=Z2),
        event(3, email="accounter@example.com", zone=Z1),
        event(4, email="accounter@example.com", zone=None, product="account", rtype="account"),
        event(5, email="already-zoned@example.com", zone=Z1),
    ]
    f = cfposture.findings(org(members=members, events=events), rules=["CFP-M04"])
    assert f["principal_name"].tolist() == ["zoner@example.com"]
    remedy = json.loads(f.loc[0, "remedy"])
    put = remedy["steps"][-1]
    assert put["method"] == "PUT" and put["path"] == f"/accounts/{A}/members/zoner"
    # DNS edits on Z1 and Z2 need Domain DNS there; the reads audit logs cannot show stay,
    # as the read-only role on the whole account
    got = {
        p["permission_groups"][0]["name"]: (
            p["permission_groups"][0]["id"],
            [o["key"] for o in p["resource_groups"][0]["scope"]["objects"]],
        )
        for p in put["body"]["policies"]
    }
    assert got == {
        "Domain DNS": (
            None,
            [f"com.cloudflare.api.account.zone.{Z1}", f"com.cloudflare.api.account.zone.{Z2}"],
        ),
        "Administrator Read Only": ("f2b20eaa1a5d4af42b53ac16238c99c7", ["*"]),
    }
    assert "look up the id of Domain DNS" in put["note"]  # no placeholder id is sent
    assert json.loads(f.loc[0, "evidence"])["reads_kept"] == ["Administrator Read Only"]
    assert remedy["steps"][0]["method"] == "POST"


def test_m05_inactive_members_once_history_covers_the_window(org):
    members = [
        member("busy", ["Administrator"]),
        member("idle", ["Administrator"]),
        member("invited", ["Administrator"], status="pending"),
    ]
    events = [event(1, email="busy@example.com")]
    assert fired(org(members=members, events=events), "CFP-M05") == {"idle@example.com"}
    short = org(members=members, events=events, history_days=20)
    assert fired(short, "CFP-M05") == set()


APP = {
    "app_id": "app",
    "app_name": "App",
    "publisher": "app.example",
    "verified": True,
    "user_email": "me@example.com",
    "accounts": [A],
    "scopes": ["zone.read"],
    "granted_on": "2025-01-01T00:00:00Z",
    "last_used_on": "2026-11-01T00:00:00Z",
}


def app(**over):
    return {**APP, "app_id": over.get("app_name", "app"), **over}


@pytest.mark.parametrize(
    "given, should_fire",
    [
        (app(app_name="idle", last_used_on="2026-05-01T00:00:00Z"), True),
        (app(app_name="never", last_used_on=None), True),
        (app(app_name="new-never", last_used_on=None, granted_on="2026-11-01T00:00:00Z"), False),
        (app(app_name="busy"), False),
    ],
)
def test_o01_idle_apps(org, given, should_fire):
    assert fired(org(apps=[given]), "CFP-O01") == ({given["app_name"]} if should_fire else set())


def test_o01_audit_activity_counts(org):
    idle = app(app_name="Seen", last_used_on=None)
    events = [
        event(
            1,
            token="grant1",
            context="oauth",
            actor_type="user",
            zone=None,
            product="account",
            rtype="account",
            action="view",
        )
    ]
    events[0]["actor"]["token_name"] = "Seen"
    assert fired(org(apps=[idle], events=events), "CFP-O01") == set()


def test_o01_calls_an_app_never_seen_idle_only_once_history_covers_the_window(org):
    """No known use is evidence of disuse only over audit logs that cover the window; a last
    use the export dates before the window is evidence on its own."""
    never = app(app_name="never", last_used_on=None)
    dated = app(app_name="dated", last_used_on="2026-05-01T00:00:00Z")
    assert fired(org(apps=[never, dated]), "CFP-O01") == {"never", "dated"}
    assert fired(org(apps=[never, dated], history_days=20), "CFP-O01") == {"dated"}


def _oauth_event(n: int, name: str, when: str) -> dict:
    e = event(n, token=name, context="oauth", actor_type="user", zone=None, product="account",
              rtype="account", action="view", when=when)  # fmt: skip
    return e


def test_o01_reads_activity_from_the_whole_history(tmp_path):
    """An app that acted 50 days ago, in an older pull's audit logs, was active in a 90-day
    window even though the newest pull's 30 days do not show it."""
    from datetime import timedelta

    from covering import cover
    from orgbuilder import AS_OF, USER

    from cfposture.rawsnapshot import SnapshotWriter

    quiet = app(app_name="Quiet", app_id="quiet", last_used_on=None)

    def pull(dest, when, events):
        with SnapshotWriter(dest, source={"kind": "test"}, created_at=when) as w:
            w.audit_window = {
                "since": (when - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "before": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            w.write("user", [USER])
            w.write("accounts", [{"id": A, "name": "Acme"}])
            w.write("audit_logs", events, account_id=A)
            w.write("connected_apps", [quiet])
            cover(w, [A])

    seen = (AS_OF - timedelta(days=50)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i, days in enumerate((90, 60, 30, 0)):
        events = [_oauth_event(1, "quiet", seen)] if days == 30 else []
        pull(tmp_path / f"h/{i}", AS_OF - timedelta(days=days), events)
    snap = cfposture.load(tmp_path / "h")
    assert snap.oauth_apps["last_seen_on"].isna().all()  # not in the newest pull's own logs
    assert fired(snap, "CFP-O01") == set()
    # the rule's wider merge left the snapshot's frame as it was
    assert len(snap.oauth_apps) == 1 and snap.oauth_apps["last_seen_on"].isna().all()


def test_merging_activity_twice_adds_no_app_twice(org):
    from cfposture.normalize.oauth import merge_activity

    events = [_oauth_event(1, "unexported", "2026-11-20T00:00:00Z")]
    snap = org(apps=[app(app_name="exported")], events=events)
    once = snap.oauth_apps
    assert sorted(once["source"]) == ["audit", "export"]
    again = merge_activity(once, snap.audit_events)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), once.reset_index(drop=True))


@pytest.mark.parametrize(
    "given, should_fire",
    [
        (app(app_name="all-write", accounts=["all"], scopes=["dns.write", "zone.read"]), True),
        (app(app_name="all-read", accounts=["all"], scopes=["zone.read"]), False),
        (app(app_name="one-write", scopes=["dns.write"]), False),
        (app(app_name="wrangler-style", accounts=["all"], scopes=["workers:write"]), True),
    ],
)
def test_o02_write_scopes_on_all_accounts(org, given, should_fire):
    assert fired(org(apps=[given]), "CFP-O02") == ({given["app_name"]} if should_fire else set())


def test_o03_unverified_publishers_severity_by_scopes(org):
    apps = [
        app(app_name="amber-write", verified=False, scopes=["dns.write"]),
        app(app_name="amber-read", verified=False),
        app(app_name="blue", verified=True),
    ]
    f = cfposture.findings(org(apps=apps), rules=["CFP-O03"])
    assert dict(zip(f["principal_name"], f["severity"], strict=False)) == {
        "amber-write": "high",
        "amber-read": "medium",
    }


def test_m04_offers_no_narrowing_that_could_break_the_member_or_the_account(org):
    """A role whose reads no read-only role keeps (DNS), and a super administrator: the finding
    stays, without a remedy, and says why."""
    members = [member("dns", ["DNS"]), member("boss", ["Super Administrator - All Privileges"])]
    events = [event(1, email="dns@example.com", zone=Z1), event(2, email="boss@example.com")]
    f = cfposture.findings(org(members=members, events=events), rules=["CFP-M04"])
    f = f.set_index("principal_name")
    assert set(f.index) == {"dns@example.com", "boss@example.com"}
    assert f["remedy"].isna().all()
    assert "No read-only role keeps the reads of DNS" in f.loc["dns@example.com", "recommendation"]
    assert "super administrator" in f.loc["boss@example.com", "recommendation"]
