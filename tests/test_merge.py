"""cfposture merge: several members' pulls of the same accounts as one snapshot.

The second member's pull is built from the sample's latest snapshot, as that member's token
would have seen the same accounts: their own /user and /user/tokens instead of Dana's, and
whatever else a test changes (a newer token version, a gap the other pull did not have).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from covering import cover

import cfposture
from cfposture.catalog import sample_dir
from cfposture.errors import CfPostureError, SnapshotError
from cfposture.load import history
from cfposture.merge import manifest_digest, merge, merged_from
from cfposture.rawsnapshot import RawSnapshot, SnapshotWriter, add_observations, isoformat

LATEST = "2026-11-25"
DANA = "dana@kestrel-outfitters.example"


@pytest.fixture(scope="module")
def dana() -> Path:
    return sample_dir() / LATEST


@pytest.fixture(scope="module")
def marco(dana: Path) -> dict[str, Any]:
    """A member whose user token the sample sees only in the audit logs (marco-terraform)."""
    t = cfposture.load(dana).tokens
    row = t[(t["name"] == "marco-terraform") & ~t["inventoried"]].iloc[0]
    return {"id": row["owner_id"], "email": row["owner_email"], "token_id": row["token_id"]}


def _token(token_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": token_id,
        "name": name,
        "status": "active",
        "issued_on": "2025-01-10T09:00:00Z",
        "modified_on": "2025-01-10T09:00:00Z",
        "policies": [
            {
                "id": "p1",
                "effect": "allow",
                "resources": {"com.cloudflare.api.account.zone.*": "*"},
                "permission_groups": [
                    {"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read"}
                ],
            }
        ],
        **extra,
    }


def repull(
    src: Path,
    dest: Path,
    *,
    user: dict[str, Any] | None,
    user_tokens: list[dict[str, Any]],
    after: timedelta = timedelta(hours=1),
    window_shift: timedelta = timedelta(hours=1),
    replace: dict[tuple[str, str], list[dict[str, Any]]] | None = None,
    deny: set[tuple[str, str]] = frozenset(),
) -> Path:
    """``src`` as another member's pull ``after`` it: same accounts, their own user data.
    ``replace``/``deny`` are keyed by (endpoint, api path)."""
    raw = RawSnapshot.open(src)
    created = datetime.fromisoformat(raw.created_at.replace("Z", "+00:00")) + after
    with SnapshotWriter(dest, {"kind": "test", "who": (user or {}).get("email")}, created) as w:
        win = raw.manifest["audit_window"]
        w.audit_window = {
            k: isoformat(datetime.fromisoformat(v.replace("Z", "+00:00")) + window_shift)
            for k, v in win.items()
        }
        for e in raw.manifest["endpoints"]:
            key, ids = e["endpoint"], e["ids"]
            if key == "user":
                if user is None:
                    w.deny("user", http_status=403, message="Forbidden")
                else:
                    w.write("user", [user])
            elif key == "user_tokens":
                w.write("user_tokens", user_tokens)
            elif (key, e["path"]) in deny or e["status"] != "ok":
                w.deny(key, http_status=403, message="Forbidden", code=10000, **ids)
            else:
                items = (replace or {}).get((key, e["path"]))
                w.write(key, raw.items(key, **ids) if items is None else items, **ids)
    return dest


@pytest.fixture
def marco_pull(tmp_path: Path, dana: Path, marco: dict[str, Any]) -> Path:
    """Marco's own pull of the same accounts: his user token inventoried, with its policy."""
    return repull(
        dana,
        tmp_path / "marco",
        user={"id": marco["id"], "email": marco["email"]},
        user_tokens=[_token(marco["token_id"], "marco-terraform")],
    )


def _account(dana: Path) -> str:
    return RawSnapshot.open(dana).entries("account_tokens")[0]["ids"]["account_id"]


def test_each_members_user_tokens_stay_with_their_owner(
    tmp_path: Path, dana: Path, marco: dict[str, Any], marco_pull: Path
) -> None:
    bob = marco_pull
    merged = merge([dana, bob], tmp_path / "merged")
    tokens = cfposture.load(merged).tokens.set_index("token_id")
    before = cfposture.load(dana).tokens

    mine = tokens.loc[marco["token_id"]]
    assert bool(mine["inventoried"]) and mine["owner_email"] == marco["email"]
    assert mine["owner_id"] == marco["id"] and mine["policy_count"] == 1
    danas = before[(before["owner_type"] == "user") & before["inventoried"]]["token_id"]
    assert set(tokens.loc[list(danas), "owner_email"]) == {DANA}
    # nothing lost, nothing twice: only marco's token moved from audit-only to inventoried
    assert len(tokens) == len(before)
    assert (~tokens["inventoried"]).sum() == (~before["inventoried"]).sum() - 1


def test_the_later_pull_wins_and_new_items_are_added(tmp_path: Path, dana: Path) -> None:
    aid = _account(dana)
    path = f"/accounts/{aid}/tokens"
    listed = RawSnapshot.open(dana).items("account_tokens", account_id=aid)
    changed = {**listed[0], "name": "renamed-after-dana-pulled"}
    bob = repull(
        dana,
        tmp_path / "bob",
        user={"id": "b0b", "email": "bob@example.test"},
        user_tokens=[],
        replace={("account_tokens", path): [changed, *listed[1:], _token("new1", "created-later")]},
    )
    tokens = cfposture.load(merge([bob, dana], tmp_path / "m")).tokens.set_index("token_id")
    assert tokens.loc[listed[0]["id"], "name"] == "renamed-after-dana-pulled"
    assert tokens.loc["new1", "owner_type"] == "account"
    assert tokens.index.is_unique
    raw = RawSnapshot.open(tmp_path / "m")
    assert raw.entries("account_tokens", "ok")[0]["count"] >= len(listed) + 1


def test_gaps_close_where_any_pull_could_read(tmp_path: Path, dana: Path) -> None:
    gap = RawSnapshot.open(dana).denied()[0]  # the sample's one gap: oauth_clients of one account
    aid = _account(dana)
    clients = [{"id": "oc1", "name": "Bob's CI", "redirect_uris": []}]
    # bob can read what dana could not, and cannot read one list dana could
    bob_raw = tmp_path / "bob"
    repull(
        dana,
        bob_raw,
        user={"id": "b0b", "email": "bob@example.test"},
        user_tokens=[],
        deny={("members", f"/accounts/{aid}/members")},
    )
    # rewrite bob's pull with the gap readable: a fresh pull with that endpoint answered
    bob = tmp_path / "bob2"
    raw = RawSnapshot.open(bob_raw)
    with SnapshotWriter(bob, raw.manifest["source"], datetime.now(UTC)) as w:
        w.audit_window = raw.manifest["audit_window"]
        for e in raw.manifest["endpoints"]:
            if e["path"] == gap["path"]:
                w.write(e["endpoint"], clients, **e["ids"])
            elif e["status"] == "ok":
                w.write(e["endpoint"], raw.items(e["endpoint"], **e["ids"]), **e["ids"])
            else:
                w.deny(e["endpoint"], http_status=403, message="Forbidden", **e["ids"])
    merged = RawSnapshot.open(merge([dana, bob], tmp_path / "m", max_apart=timedelta(days=400)))
    assert merged.denied() == []
    assert merged.items("oauth_clients", **gap["ids"]) == clients
    assert merged.items("members", account_id=aid) == RawSnapshot.open(dana).items(
        "members", account_id=aid
    )
    # and a gap no pull could read stays a gap
    both = RawSnapshot.open(merge([dana, bob_raw], tmp_path / "m2"))
    assert [e["path"] for e in both.denied()] == [gap["path"]]


def test_audit_events_once_each_in_time_order_in_the_window_all_covered(
    tmp_path: Path, dana: Path
) -> None:
    aid = RawSnapshot.open(dana).entries("audit_logs")[0]["ids"]["account_id"]
    path = f"/accounts/{aid}/logs/audit"
    events = RawSnapshot.open(dana).items("audit_logs", account_id=aid)
    extra = {**events[-1], "id": "later-event"}
    extra["action"] = {**extra["action"], "time": "2026-11-25T06:30:00Z"}
    bob = repull(
        dana,
        tmp_path / "bob",
        user={"id": "b0b", "email": "bob@example.test"},
        user_tokens=[],
        replace={("audit_logs", path): [*events[10:], extra]},
    )
    merged = RawSnapshot.open(merge([dana, bob], tmp_path / "m"))
    got = merged.items("audit_logs", account_id=aid)
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids)) == len(events) + 1
    times = [e["action"]["time"] for e in got]
    assert times == sorted(times) and ids[-1] == "later-event"
    dana_win = RawSnapshot.open(dana).manifest["audit_window"]
    bob_win = RawSnapshot.open(bob).manifest["audit_window"]
    assert merged.manifest["audit_window"] == {
        "since": bob_win["since"],
        "before": dana_win["before"],
    }


def test_history_counts_a_merge_once_and_loads_it(tmp_path: Path, dana: Path) -> None:
    folder = tmp_path / "history"
    folder.mkdir()
    a = repull(dana, folder / "a-dana", user={"id": "d", "email": DANA}, user_tokens=[],
               after=timedelta(0), window_shift=timedelta(0))  # fmt: skip
    b = repull(dana, folder / "z-bob", user={"id": "b0b", "email": "b@x.test"}, user_tokens=[])
    assert history(folder) == [a, b]
    m = merge([a, b], folder / "m-merged")
    assert merged_from(RawSnapshot.open(m).manifest) == {manifest_digest(a), manifest_digest(b)}
    assert history(folder) == [m]  # same created_at as bob's pull, but bob's is inside it
    assert cfposture.load(folder).path == m
    c = repull(dana, tmp_path / "carol", user={"id": "c", "email": "c@x.test"}, user_tokens=[])
    m2 = merge([m, c], folder / "n-merged-again")
    assert history(folder) == [m2]
    owners = {e["ids"]["user_id"] for e in RawSnapshot.open(m2).entries("owner_user")}
    assert owners == {"d", "b0b", "c"}


def test_observations_are_carried_over(tmp_path: Path, dana: Path) -> None:
    bob = repull(dana, tmp_path / "bob", user={"id": "b0b", "email": "b@x.test"}, user_tokens=[])
    tid = cfposture.load(dana).tokens.query("owner_type == 'account'")["token_id"].iloc[0]
    seen = {
        "token_id": tid,
        "format": "scannable",
        "source": "scan",
        "observed_at": "2026-11-26T00:00:00Z",
    }
    add_observations(bob, [seen])
    merged = merge([dana, bob], tmp_path / "m")
    tokens = cfposture.load(merged).tokens.set_index("token_id")
    assert tokens.loc[tid, "format_source"] == "observed"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("apart", "hours apart"),
        ("windows", "do not overlap"),
        ("same", "same pull"),
        ("anonymous", "not who owns them"),
        ("one", "two or more"),
        ("exists", "already exists"),
        ("hostile", "refusing user_id '../../escaped'"),
    ],
)
def test_what_cannot_be_merged_says_why_and_writes_nothing(
    tmp_path: Path, dana: Path, case: str, message: str
) -> None:
    bob_user = {"id": "b0b", "email": "b@x.test"}
    kw: dict[str, Any] = {"user": bob_user, "user_tokens": []}
    if case == "apart":
        kw["after"] = timedelta(hours=30)
    if case == "windows":
        kw["window_shift"] = timedelta(days=40)
    if case == "anonymous":
        kw = {"user": None, "user_tokens": [_token("t9", "whose")]}
    if case == "hostile":  # a /user id that would put bob's tokens outside the merge's folder
        kw["user"] = {**bob_user, "id": "../../escaped"}
    bob = repull(dana, tmp_path / "bob", **kw)
    inputs = {"one": [dana], "same": [dana, dana]}.get(case, [dana, bob])
    out = tmp_path / "out"
    if case == "exists":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    with pytest.raises(CfPostureError, match=message):
        merge(inputs, out)
    if case == "exists":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert not (tmp_path.parent / "escaped").exists()


def test_the_command_line_merges_and_the_rules_run_on_the_merge(
    tmp_path: Path, dana: Path, marco: dict[str, Any], marco_pull: Path
) -> None:
    bob = marco_pull
    out = tmp_path / "merged"
    cli = [sys.executable, "-m", "cfposture.cli"]
    done = subprocess.run(
        [*cli, "merge", str(out), str(dana), str(bob)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "merged 2 pulls" in done.stdout and marco["email"] in done.stdout and DANA in done.stdout
    found = subprocess.run(
        [*cli, "findings", str(out), "--format", "json"], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)["findings"]
    mine = [r for r in rows if r["principal_id"] == marco["token_id"]]
    # an inventoried token with policies is judged on them: no expiry and no IP restriction
    assert {"CFP-T02", "CFP-T03"} <= {r["rule_id"] for r in mine}
    bad = subprocess.run(
        [*cli, "merge", str(tmp_path / "x"), str(dana)], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "two or more" in bad.stderr and "Traceback" not in bad.stderr


def test_a_plan_from_a_merge_names_whose_user_token_each_action_changes(
    tmp_path: Path, dana: Path, marco: dict[str, Any], marco_pull: Path
) -> None:
    from cfposture.remediate.plan import build_plan

    bob = marco_pull
    plan = build_plan(cfposture.load(merge([dana, bob], tmp_path / "m")), rules=["CFP-T02"])
    owners = {
        a["target"]["id"]: a["target"]["owner_email"]
        for a in plan["actions"]
        if a["target"]["type"] == "user_token"
    }
    assert owners[marco["token_id"]] == marco["email"]  # no expiry: set one, by marco
    assert DANA in owners.values()
    assert all(
        a["target"]["owner_email"] is None
        for a in plan["actions"]
        if a["target"]["type"] == "account_token"
    )


def _small_pull(dest: Path, who: str, when: datetime, lines: list[bytes]) -> Path:
    with SnapshotWriter(dest, {"kind": "test"}, when) as w:
        w.audit_window = {"since": "2026-11-01T00:00:00Z", "before": "2026-11-25T00:00:00Z"}
        w.write("user", [{"id": who, "email": f"{who}@x.test"}])
        w.write("user_tokens", [])
        w.write("accounts", [{"id": "acc", "name": "A"}])
        w.write_lines("audit_logs", lines, account_id="acc")
        cover(w, ["acc"])
    return dest


def _event(ident: Any, when: str) -> bytes:
    return json.dumps({"id": ident, "action": {"time": when, "type": "view"}}).encode()


@pytest.mark.parametrize("odd", ["number id", "blank line", "no action"])
def test_unusual_audit_lines_take_the_exact_path_and_merge_alike(tmp_path: Path, odd: str) -> None:
    when = datetime(2026, 11, 25, tzinfo=UTC)
    first = [_event("e1", "2026-11-02T00:00:00Z"), _event("e3", "2026-11-04T00:00:00Z")]
    strange = {
        "number id": [_event(7, "2026-11-03T00:00:00Z")],
        "blank line": [b"", _event("e7", "2026-11-03T00:00:00Z")],
        "no action": [json.dumps({"id": "e7"}).encode()],
    }[odd]
    second = [first[0], *strange, _event("e4", "2026-11-05T00:00:00Z")]
    a = _small_pull(tmp_path / "a", "ann", when, first)
    b = _small_pull(tmp_path / "b", "ben", when + timedelta(hours=1), second)
    merged = RawSnapshot.open(merge([a, b], tmp_path / "m"))
    got = [e["id"] for e in merged.items("audit_logs", account_id="acc")]
    # an event without a time keeps its place among its own pull's events
    assert got == ["e1", 7 if odd == "number id" else "e7", "e3", "e4"]
    again = RawSnapshot.open(merge([merged.path, b], tmp_path / "m2"))
    assert [e["id"] for e in again.items("audit_logs", account_id="acc")] == got


def test_a_malformed_audit_line_stops_the_merge_naming_the_file(tmp_path: Path) -> None:
    when = datetime(2026, 11, 25, tzinfo=UTC)
    a = _small_pull(tmp_path / "a", "ann", when, [_event("e1", "2026-11-02T00:00:00Z")])
    b = _small_pull(tmp_path / "b", "ben", when, [b'{"id": "e2", "action": '])
    with pytest.raises(SnapshotError, match=r"audit\.ndjson\.gz line 1 is not JSON"):
        merge([a, b], tmp_path / "m")
    assert not (tmp_path / "m").exists()
