"""Raw snapshot folders: atomic writes, manifest checks, integrity checks, histories."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from covering import cover
from hypothesis import given, settings
from hypothesis import strategies as st

import cfposture
from cfposture.endpoints import UnsafeIdError
from cfposture.errors import SnapshotError
from cfposture.rawsnapshot import SCHEMA_VERSION, RawSnapshot, SnapshotWriter

ACCOUNT = "a" * 32
TOKENS = [{"id": "t1", "name": "one", "status": "active", "extra": {"x": 1}}]


def test_roundtrip_keeps_items_as_received(write_snapshot):
    path = write_snapshot({"accounts": [{"id": ACCOUNT}], f"account_tokens:{ACCOUNT}": TOKENS})
    raw = RawSnapshot.open(path)
    assert raw.items("account_tokens", account_id=ACCOUNT) == TOKENS
    assert raw.items("zones", account_id=ACCOUNT) == []  # not fetched: empty, not an error
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["cfposture_version"] == cfposture.__version__
    assert manifest["counts"] == {"accounts": 1, "account_tokens": 1, "members": 0, "audit_logs": 0}
    entry = raw.entries("account_tokens")[0]
    assert entry["file"] == f"accounts/{ACCOUNT}/tokens.ndjson.gz"
    assert entry["path"] == f"/accounts/{ACCOUNT}/tokens"
    assert gzip.decompress((path / entry["file"]).read_bytes()).count(b"\n") == 1


def test_denied_endpoint_is_recorded_as_coverage_gap(load_payloads):
    snap = load_payloads(
        {"accounts": [{"id": ACCOUNT}]}, denied=[("members", {"account_id": ACCOUNT})]
    )
    gaps = snap.coverage_gaps
    assert gaps[["endpoint", "account_id", "http_status", "needs"]].values.tolist() == [
        ["members", ACCOUNT, 403, "Account Settings Read"]
    ]
    assert snap.members.empty


def test_exception_inside_writer_leaves_nothing(tmp_path):
    dest = tmp_path / "snap"
    with pytest.raises(RuntimeError), SnapshotWriter(dest, source={"kind": "test"}) as w:
        w.write("accounts", [{"id": ACCOUNT}])
        raise RuntimeError("network went away")
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


WRITER = """
import sys, time
from pathlib import Path
from cfposture.rawsnapshot import SnapshotWriter

def slow():
    yield {"id": "a" * 32}
    Path(sys.argv[2]).write_text("started")
    while True:
        time.sleep(0.05)
        yield {"id": "b" * 32}

with SnapshotWriter(sys.argv[1], source={"kind": "test"}) as w:
    w.write("accounts", [{"id": "a" * 32}])
    w.write("account_tokens", slow(), account_id="a" * 32)
"""


def test_crash_mid_write_leaves_nothing_loadable(tmp_path):
    """A process killed (SIGKILL: no cleanup runs) while writing leaves no valid snapshot."""
    dest, marker = tmp_path / "snap", tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(dest), str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, "writer exited early"
            assert time.monotonic() < deadline, "writer never started"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not dest.exists()
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert len(leftovers) == 1
    with pytest.raises(SnapshotError, match="unfinished"):
        cfposture.load(leftovers[0])
    with pytest.raises(SnapshotError, match="holds no snapshot"):
        cfposture.load(tmp_path)  # the history scan ignores the partial folder


def test_writer_refuses_to_overwrite(write_snapshot):
    path = write_snapshot({"accounts": []})
    with pytest.raises(SnapshotError, match="already exists"):
        SnapshotWriter(path, source={"kind": "test"})


def _edit_manifest(path: Path, **changes) -> None:
    m = json.loads((path / "manifest.json").read_text())
    m.update(changes)
    (path / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda p: (p / "manifest.json").unlink(), "holds no snapshot"),
        (lambda p: (p / "manifest.json").write_text("{not json"), "is not JSON"),
        (lambda p: _edit_manifest(p, schema_version=SCHEMA_VERSION + 1), "upgrade"),
        (lambda p: _edit_manifest(p, schema_version=0), "invalid schema_version"),
        (lambda p: _edit_manifest(p, schema_version="1"), "no schema_version"),
        (lambda p: (p / "accounts.ndjson.gz").unlink(), "missing accounts.ndjson.gz"),
        (
            lambda p: (p / "accounts.ndjson.gz").write_bytes(
                (p / "accounts.ndjson.gz").read_bytes()[:-5]
            ),
            "truncated",
        ),
        (
            lambda p: (p / "accounts.ndjson.gz").write_bytes(
                bytes(reversed((p / "accounts.ndjson.gz").read_bytes()))
            ),
            "checksum",
        ),
    ],
    ids=[
        "no-manifest",
        "bad-json",
        "newer",
        "zero",
        "string-version",
        "missing-file",
        "truncated",
        "changed",
    ],
)
def test_broken_snapshots_fail_with_one_line_reason(write_snapshot, breakage, message):
    path = write_snapshot({"accounts": [{"id": ACCOUNT, "name": "x"}]})
    breakage(path)
    with pytest.raises(SnapshotError, match=message) as info:
        cfposture.load(path)
    assert "\n" not in str(info.value)


def test_non_json_line_is_a_clear_error(write_snapshot):
    path = write_snapshot({"accounts": [{"id": ACCOUNT}]})
    f = path / "accounts.ndjson.gz"
    f.write_bytes(gzip.compress(b'{"id": "x"}\nnot json\n', mtime=0))
    _fix_checksum(path, "accounts.ndjson.gz")
    with pytest.raises(SnapshotError, match="line 2 is not JSON"):
        cfposture.load(path)


def _fix_checksum(path: Path, rel: str) -> None:
    import hashlib

    m = json.loads((path / "manifest.json").read_text())
    data = (path / rel).read_bytes()
    for e in m["endpoints"]:
        if e.get("file") == rel:
            e["bytes"], e["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    (path / "manifest.json").write_text(json.dumps(m))


def _daily_pulls(folder: Path, days: tuple[int, ...], account: Any) -> None:
    """A history of pulls in ``folder``, one on each of January's ``days``, each listing the
    account ``account(day)`` returns."""
    from datetime import UTC, datetime

    for day in days:
        with SnapshotWriter(
            folder / f"s{day}",
            source={"kind": "test"},
            created_at=datetime(2026, 1, day, tzinfo=UTC),
        ) as w:
            w.write("accounts", [account(day)])
            cover(w, [account(day)["id"]])


def test_history_loads_latest_and_lists_oldest_first(tmp_path):
    _daily_pulls(tmp_path, (3, 1, 2), lambda day: {"id": f"{day:032d}"})
    assert [p.name for p in cfposture.history(tmp_path)] == ["s1", "s2", "s3"]
    assert cfposture.load(tmp_path).accounts["account_id"].tolist() == [f"{3:032d}"]


def test_missing_path_says_what_to_do(tmp_path):
    with pytest.raises(SnapshotError, match=r"does not exist.*'sample'"):
        cfposture.load(tmp_path / "nope")


def _rewrite_manifest(path: Path, edit) -> None:
    m = json.loads((path / "manifest.json").read_text())
    edit(m)
    (path / "manifest.json").write_text(json.dumps(m))


def _entry(m: dict, endpoint: str) -> dict:
    return next(e for e in m["endpoints"] if e["endpoint"] == endpoint)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: _entry(m, "account_tokens").pop("file"), "no valid 'file'"),
        (lambda m: _entry(m, "account_tokens").pop("bytes"), "no valid 'bytes'"),
        (lambda m: _entry(m, "account_tokens").pop("sha256"), "no valid 'sha256'"),
        (lambda m: _entry(m, "account_tokens").update(sha256="x" * 64), "invalid sha256"),
        (lambda m: _entry(m, "account_tokens").update(file="../../etc/passwd"), "names file"),
        (lambda m: _entry(m, "account_tokens").update(ids={"account_id": "../.."}), "refusing"),
        (lambda m: _entry(m, "account_tokens").update(ids={"zone": "x"}), "do not fit"),
        (lambda m: _entry(m, "account_tokens").update(ids="x"), "not an object"),
        (lambda m: _entry(m, "account_tokens").update(status="maybe"), "status 'maybe'"),
        (lambda m: m["endpoints"].append("x"), "not an endpoint entry"),
        (lambda m: m["endpoints"].append({"endpoint": "nope"}), "unknown endpoint"),
    ],
)
def test_an_edited_manifest_entry_is_refused_in_one_line(write_snapshot, edit, message):
    path = write_snapshot({"accounts": [{"id": ACCOUNT}], f"account_tokens:{ACCOUNT}": TOKENS})
    _rewrite_manifest(path, edit)
    with pytest.raises(SnapshotError, match=message) as info:
        RawSnapshot.open(path)
    assert "\n" not in str(info.value)


def test_a_manifest_missing_one_accounts_entries_is_refused(write_snapshot):
    other = "b" * 32
    path = write_snapshot({"accounts": [{"id": ACCOUNT}, {"id": other}]})
    RawSnapshot.open(path)  # both covered
    _rewrite_manifest(
        path,
        lambda m: m.update(
            endpoints=[e for e in m["endpoints"] if e["ids"].get("account_id") != other]
        ),
    )
    with pytest.raises(SnapshotError, match=f"account '{other}' but holds no account_tokens"):
        RawSnapshot.open(path)


def test_a_pulls_own_account_list_is_the_one_it_must_cover(write_snapshot):
    """``pull --account A`` lists every visible account but covers only A."""
    path = write_snapshot({"accounts": [{"id": ACCOUNT}]})
    _rewrite_manifest(path, lambda m: m["source"].update(accounts=[ACCOUNT, "c" * 32]))
    with pytest.raises(SnapshotError, match=r"'c{32}' but holds no"):
        RawSnapshot.open(path)


def test_a_file_reached_through_a_symlink_outside_the_folder_is_refused(write_snapshot, tmp_path):
    path = write_snapshot({"accounts": [{"id": ACCOUNT}], f"account_tokens:{ACCOUNT}": TOKENS})
    f = path / "accounts" / ACCOUNT / "tokens.ndjson.gz"
    outside = tmp_path / "outside.gz"
    outside.write_bytes(f.read_bytes())
    f.unlink()
    f.symlink_to(outside)
    with pytest.raises(SnapshotError, match="leads outside"):
        RawSnapshot.open(path)


@given(ident=st.text(min_size=0, max_size=40))
@settings(max_examples=300, deadline=None)
def test_no_id_writes_outside_the_snapshot_folder(ident):
    """Any id an API or a file could send either is refused or stays inside the folder."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "deep" / "er"
        base.mkdir(parents=True)
        try:
            with SnapshotWriter(base / "snap", source={"kind": "test"}) as w:
                w.write("account_tokens", [{"id": "t"}], account_id=ident)
                w.write("user_group_members", [], account_id="a", group_id=ident)
                w.write("owner_user", [{"id": ident}], user_id=ident)
        except UnsafeIdError as e:
            assert "\n" not in str(e)
        written = [p for p in Path(tmp).rglob("*") if p.is_file()]
        assert all(p.resolve().is_relative_to((base / "snap").resolve()) for p in written)


def test_one_broken_snapshot_in_a_history_is_named_and_skipped(tmp_path, caplog):
    _daily_pulls(tmp_path, (1, 2, 3), lambda day: {"id": ACCOUNT, "name": f"day {day}"})
    _rewrite_manifest(tmp_path / "s2", lambda m: m["endpoints"][0].update(file=None))
    assert [p.name for p in cfposture.history(tmp_path)] == ["s1", "s3"]
    assert "skipping s2:" in caplog.text and "no valid 'file'" in caplog.text
    assert cfposture.load(tmp_path).accounts["name"].tolist() == ["day 3"]
    with pytest.raises(SnapshotError, match="no valid 'file'"):  # named alone, it is an error
        cfposture.load(tmp_path / "s2")
