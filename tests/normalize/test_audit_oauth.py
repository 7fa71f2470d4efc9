"""normalize → audit_events (fast and fallback paths) and oauth_apps (three sources)."""

from __future__ import annotations

import pandas as pd
import pytest

from cfposture.errors import NormalizeError
from cfposture.normalize import audit as audit_mod

A, B = "a" * 32, "b" * 32


def event(eid: str, when: str = "2026-11-01T10:00:00Z", **over) -> dict:
    e = {
        "id": eid,
        "account": {"id": A, "name": "Acme"},
        "action": {"description": "x", "result": "success", "time": when, "type": "update"},
        "actor": {
            "id": "u1",
            "context": "api_token",
            "email": "me@example.com",
            "ip_address": "192.0.2.1",
            "token_id": "t1",
            "token_name": "ci",
            "type": "user",
        },
        "raw": {"cf_ray_id": "r", "method": "PUT", "status_code": 200, "uri": "/zones/z/dns"},
        "resource": {
            "id": "r1",
            "product": "dns_records",
            "type": "dns_record",
            "request": {"free": ["form"]},
            "response": "text",
            "scope": {},
        },
        "zone": {"id": "z" * 32, "name": "one.example"},
        "brand_new_field": [1, {"x": None}],
    }
    e.update(over)
    return e


def test_audit_fields_are_flattened(load_payloads):
    snap = load_payloads({"accounts": [{"id": A}], f"audit_logs:{A}": [event("e1")]})
    row = snap.audit_events.iloc[0]
    assert row[
        [
            "event_id",
            "account_id",
            "actor_context",
            "actor_ip",
            "token_id",
            "product",
            "resource_type",
            "zone_id",
            "method",
            "uri",
        ]
    ].tolist() == [
        "e1",
        A,
        "api_token",
        "192.0.2.1",
        "t1",
        "dns_records",
        "dns_record",
        "z" * 32,
        "PUT",
        "/zones/z/dns",
    ]
    assert row["when"] == pd.Timestamp("2026-11-01T10:00:00Z")


def test_type_drift_falls_back_to_the_lenient_reader(load_payloads, monkeypatch):
    """actor.id as a number breaks the arrow schema; the Python path reads it as text."""
    drift = event("e2", actor={"id": 12345, "context": "dash", "type": "user"})
    snap = load_payloads({"accounts": [{"id": A}], f"audit_logs:{A}": [event("e1"), drift]})
    assert snap.audit_events["actor_id"].tolist() == ["u1", "12345"]
    # and the two readers agree on well-formed input
    data = b"\n".join(__import__("json").dumps(event(f"e{i}")).encode() for i in range(5))
    fast, slow = audit_mod._read_arrow(data), audit_mod._read_python(data, "x")
    pd.testing.assert_frame_equal(
        fast.astype(object).fillna(pd.NA), slow.astype(object).fillna(pd.NA), check_dtype=False
    )


def test_duplicate_events_across_pages_are_dropped_and_account_filled(load_payloads):
    no_account = event("e3")
    del no_account["account"]
    snap = load_payloads(
        {
            "accounts": [{"id": A}, {"id": B}],
            f"audit_logs:{A}": [event("e1"), event("e1"), event("e2")],
            f"audit_logs:{B}": [no_account],
        }
    )
    a = snap.audit_events
    assert a["event_id"].tolist() == ["e1", "e2", "e3"]
    assert a["account_id"].tolist() == [A, A, B]


def test_accounts_read_in_threads_give_the_frame_one_reader_gives(
    write_snapshot, monkeypatch, tmp_path
):
    """Six accounts, read by up to four threads: the same frame, in account order, as one
    thread reading them in turn; an event copied into a later account keeps its first copy;
    one account's drifted logs fall back to the lenient reader alone."""
    from cfposture.normalize.accounts import account_ids
    from cfposture.rawsnapshot import RawSnapshot

    ids = [f"{i:032x}" for i in range(1, 7)]
    payloads: dict = {"accounts": [{"id": a} for a in ids]}
    for a in ids:
        mine = [event(f"{a[-1]}-{k}", account={"id": a}) for k in range(50)]
        payloads[f"audit_logs:{a}"] = [*mine, event(f"{ids[0][-1]}-0", account={"id": a})]
    payloads[f"audit_logs:{ids[3]}"].append(
        event("drift", account={"id": ids[3]}, actor={"id": 7, "type": "user"})
    )
    raw = RawSnapshot.open(write_snapshot(payloads))
    monkeypatch.setattr(audit_mod.os, "cpu_count", lambda: 4)
    threaded = audit_mod.audit_events(raw, account_ids(raw))
    monkeypatch.setattr(audit_mod, "READERS", 1)
    alone = audit_mod.audit_events(raw, account_ids(raw))
    pd.testing.assert_frame_equal(threaded, alone)
    assert threaded["account_id"].drop_duplicates().tolist() == ids
    assert len(threaded) == 6 * 50 + 1
    assert threaded.loc[threaded["event_id"] == "1-0", "account_id"].tolist() == [ids[0]]
    assert threaded.loc[threaded["event_id"] == "drift", "actor_id"].tolist() == ["7"]


def test_a_damaged_account_stops_the_accounts_not_yet_read(monkeypatch):
    """A checksum mismatch in the first account fails the read at once: the threads do not
    go on to parse the other accounts' logs first."""
    import time

    from cfposture.errors import SnapshotError

    ids = [f"{i:032x}" for i in range(1, 13)]
    calls: list[str] = []

    def account(raw, aid):
        calls.append(aid)
        if aid == ids[0]:
            raise SnapshotError("damaged")
        time.sleep(0.05)  # a real account's parse
        return None

    monkeypatch.setattr(audit_mod.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(audit_mod, "_account_events", account)
    with pytest.raises(SnapshotError, match="damaged"):
        audit_mod.audit_events(object(), ids)  # type: ignore[arg-type]
    assert len(calls) <= 4, calls


def test_an_event_larger_than_arrows_block_stays_on_the_fast_path(monkeypatch):
    """Arrow refuses an event that straddles two blocks; the same reader then reads the
    account's logs in one block, not the slow lenient reader."""
    import json

    monkeypatch.setattr(audit_mod, "BLOCK", 4096)
    big = event("big", resource={"product": "dns_records", "type": "x", "request": "y" * 20000})
    data = "\n".join(json.dumps(e) for e in [event("a"), big, event("b")]).encode()

    def slow(*_a):
        raise AssertionError("the lenient reader was used")

    monkeypatch.setattr(audit_mod, "_read_python", slow)
    df = audit_mod._account_events(type("Raw", (), {"read_bytes": lambda *a, **k: data})(), A)
    assert df is not None and df["event_id"].tolist() == ["a", "big", "b"]


@pytest.mark.parametrize("broken", [{"action": {"type": "view"}}, {"id": None}])
def test_event_without_id_or_time_is_a_clear_error(load_payloads, broken):
    with pytest.raises(NormalizeError, match=r"no id or no action\.time"):
        load_payloads({"accounts": [{"id": A}], f"audit_logs:{A}": [event("e1", **broken)]})


EXPORT = [
    {
        "app_id": "app1",
        "app_name": "Deployer",
        "publisher": "deploy.example",
        "verified": False,
        "user_email": "me@example.com",
        "accounts": ["all"],
        "scopes": ["dns.write", "zone.write"],
        "granted_on": "2025-01-01T00:00:00Z",
        "last_used_on": None,
    },
    {
        "app_id": "app2",
        "app_name": "Grafana",
        "publisher": "grafana.example",
        "verified": True,
        "user_email": "ops@example.com",
        "accounts": [A, B],
        "scopes": "analytics.read",
        "granted_on": "2025-02-01",
        "last_used_on": "2026-10-01T00:00:00Z",
    },
]


def test_oauth_apps_from_export_published_clients_and_audit(load_payloads):
    oauth = lambda eid, name, when: event(  # noqa: E731
        eid,
        when,
        actor={
            "id": "u",
            "context": "oauth",
            "token_id": f"grant-{name}",
            "token_name": name,
            "type": "user",
        },
    )
    snap = load_payloads(
        {
            "accounts": [{"id": A}, {"id": B}],
            "connected_apps": EXPORT,
            f"oauth_clients:{A}": [
                {
                    "client_id": "c1",
                    "client_name": "Portal",
                    "client_uri": "https://portal.example/x",
                    "client_uri_verification": {"status": "verified"},
                    "scopes": ["user-details.read"],
                    "created_at": "2026-06-05T00:00:00Z",
                }
            ],
            f"audit_logs:{A}": [
                oauth("e1", "Grafana", "2026-11-02T00:00:00Z"),
                oauth("e2", "Mystery App", "2026-11-03T00:00:00Z"),
            ],
        }
    )
    o = snap.oauth_apps
    assert o[["app_id", "account_id", "source"]].values.tolist() == [
        ["app1", "*", "export"],
        ["app2", A, "export"],
        ["app2", B, "export"],
        ["c1", A, "published_client"],
        ["grant-Mystery App", A, "audit"],
    ]
    assert o.loc[0, "scopes"] == "dns.write zone.write"
    assert o.loc[0, "verified"] == False  # noqa: E712
    # Grafana acted in A after its export date; B keeps the export's last use
    assert o.loc[1, "last_seen_on"] == pd.Timestamp("2026-11-02T00:00:00Z")
    assert o.loc[2, "last_seen_on"] == pd.Timestamp("2026-10-01T00:00:00Z")
    assert o.loc[3, ["publisher", "verified"]].tolist() == ["portal.example", True]
    assert o.loc[4, "last_seen_on"] == pd.Timestamp("2026-11-03T00:00:00Z")


def test_an_apps_activity_is_matched_through_the_token_it_minted(load_payloads):
    """An OAuth event carries the minted token's id; the token's provisioner_id is the app's
    client id: the activity is the published client's, not a new app seen only in the logs."""
    minted = {
        "id": "tok-portal",
        "name": "Portal",
        "status": "active",
        "issued_on": "2026-06-05T00:00:00Z",
        "provisioner_type": "com.cloudflare.api.oauthtoken",
        "provisioner_id": "c1",
        "policies": [],
    }
    act = event(
        "e1",
        "2026-11-04T00:00:00Z",
        actor={"id": "u", "context": "oauth", "token_id": "tok-portal", "type": "user"},
    )
    snap = load_payloads(
        {
            "accounts": [{"id": A}],
            "user_tokens": [minted],
            f"oauth_clients:{A}": [{"client_id": "c1", "client_name": "Kestrel Portal"}],
            f"audit_logs:{A}": [act],
        }
    )
    o = snap.oauth_apps
    assert o[["app_id", "source", "minted_tokens"]].values.tolist() == [
        ["c1", "published_client", 1]
    ]
    assert o.loc[0, "last_seen_on"] == pd.Timestamp("2026-11-04T00:00:00Z")
    assert snap.tokens.set_index("token_id").loc["tok-portal", "oauth_client_id"] == "c1"
