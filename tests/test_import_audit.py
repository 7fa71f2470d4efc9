"""cfposture import-audit: a Logpush export of audit logs stands in for older pulls.

The export is built from the sample's own older audit events, rewritten the way Logpush writes
the ``audit_logs_v2`` dataset; a history holding only the latest pull plus that export must then
judge usage exactly as the sample's full history does.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cfposture
from cfposture.errors import SnapshotError
from cfposture.load import audit_exports, history
from cfposture.rawsnapshot import RawSnapshot
from cfposture.sources.logpush import AuditImportError, import_audit, to_event
from cfposture.usage import usage_events

SAMPLE = history("sample")


def to_logpush(e: dict[str, Any], epoch_ns: bool = False) -> dict[str, Any]:
    """An API audit event as a Logpush audit_logs_v2 record."""
    a, r, z = e.get("actor") or {}, e.get("resource") or {}, e.get("zone") or {}
    when = e["action"]["time"]
    if epoch_ns:
        dt = datetime.fromisoformat(when.replace("Z", "+00:00"))
        when = int(dt.timestamp()) * 1_000_000_000
    return {
        "AuditLogID": e["id"],
        "AccountID": e["account"]["id"],
        "AccountName": e["account"].get("name"),
        "ActionTimestamp": when,
        "ActionType": e["action"].get("type"),
        "ActionResult": e["action"].get("result"),
        "ActionDescription": e["action"].get("description"),
        "ActorID": a.get("id"),
        "ActorType": a.get("type"),
        "ActorContext": a.get("context"),
        "ActorEmail": a.get("email"),
        "ActorIPAddress": a.get("ip_address"),
        "ActorTokenDetails": {"id": a["token_id"], "name": a.get("token_name")}
        if a.get("token_id")
        else None,
        "ResourceID": r.get("id"),
        "ResourceProduct": r.get("product"),
        "ResourceType": r.get("type"),
        "ResourceScope": r.get("scope") or None,  # a string in Logpush, {} in the sample
        "ZoneID": z.get("id"),
        "ZoneName": z.get("name"),
        "Raw": {k: v for k, v in (e.get("raw") or {}).items() if k in ("method", "uri")},
        "SomeFutureField": 1,
    }


def older_events() -> list[dict[str, Any]]:
    """The audit events of the sample's two snapshots before the latest."""
    out = []
    for snap in SAMPLE[-3:-1]:
        raw = RawSnapshot.open(snap)
        for e in raw.entries("audit_logs"):
            out += raw.items("audit_logs", **e["ids"])
    return out


@pytest.fixture(scope="module")
def export_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The older events as Logpush writes them: gzip NDJSON (RFC 3339 and epoch-ns times)
    and, for a third of them, Parquet."""
    folder = tmp_path_factory.mktemp("logpush")
    events = older_events()
    third = len(events) // 3
    ndjson = folder / "20261025T060000Z_audit.log.gz"
    lines = [json.dumps(to_logpush(e, epoch_ns=i % 2 == 0)) for i, e in enumerate(events[third:])]
    ndjson.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    parquet = folder / "part-0.parquet"
    pq.write_table(pa.Table.from_pylist([to_logpush(e) for e in events[:third]]), parquet)
    return [ndjson, parquet]


def window_of(snap: Path) -> dict[str, str]:
    return RawSnapshot.open(snap).manifest["audit_window"]


@pytest.fixture
def latest_only(tmp_path: Path) -> Path:
    h = tmp_path / "history"
    shutil.copytree(SAMPLE[-1], h / SAMPLE[-1].name)
    return h


def test_an_export_of_older_audit_logs_judges_usage_as_the_full_history_does(
    latest_only: Path, export_files: list[Path]
) -> None:
    alone = cfposture.load(latest_only)
    assert not usage_events(alone, 90)[1].sufficient  # 30 days of audit logs: rules wait
    usage_rules = {"CFP-T07", "CFP-M04", "CFP-M05"}
    assert not usage_rules & set(cfposture.findings(alone)["rule_id"])

    first, last = window_of(SAMPLE[-3])["since"], window_of(SAMPLE[-2])["before"]
    out, n = import_audit(latest_only / "logpush", export_files, since=_ts(first), before=_ts(last))
    assert n == len(older_events())
    snap = cfposture.load(latest_only)
    assert snap.path.name == SAMPLE[-1].name  # the export is not an inventory snapshot
    assert history(latest_only) == [latest_only / SAMPLE[-1].name]
    assert audit_exports(latest_only) == [out]
    assert usage_events(snap, 90)[1].sufficient

    full = cfposture.findings(cfposture.load("sample"))
    mine = cfposture.findings(snap)
    assert usage_rules <= set(mine["rule_id"])
    cols = ["finding_id", "rule_id", "severity"]
    assert sorted(map(tuple, mine[cols].to_numpy())) == sorted(map(tuple, full[cols].to_numpy()))


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_trend_cache_key_changes_when_an_export_is_added(
    latest_only: Path, export_files: list[Path]
) -> None:
    from cfposture.notebook import _trend_key

    latest = latest_only / SAMPLE[-1].name
    before = _trend_key(latest, {"usage_days": 90}, {})
    import_audit(latest_only / "logpush", export_files)
    assert _trend_key(latest, {"usage_days": 90}, {}) != before


def test_timestamps_in_every_format_logpush_writes() -> None:
    base = {"AuditLogID": "e", "AccountID": "a"}
    times = ["2026-11-01T12:00:00Z", 1_793_534_400, 1_793_534_400_000, 1_793_534_400_000_000,
             1_793_534_400_000_000_000, "1793534400", "2026-11-01T12:00:00+00:00",
             "2026-11-01T12:00:00"]  # fmt: skip
    got = {to_event({**base, "ActionTimestamp": t}, "x")["action"]["time"] for t in times}
    assert got == {"2026-11-01T12:00:00Z"}
    with pytest.raises(AuditImportError, match="is not a time"):
        to_event({**base, "ActionTimestamp": 10**30}, "x")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"AccountID": "a", "ActionTimestamp": "2026-11-01T00:00:00Z"}\n',
            "line 1: no AuditLogID",
        ),
        (b'{"AuditLogID": "e", "AccountID": "a", "ActionTimestamp": "soon"}\n', "is not a time"),
        (b'{"AuditLogID": "e", "AccountID": "../../x"}\n', "'../../x' is not an account id"),
        (b'{"AuditLogID": "e", "AccountID": "a",\n', "line 1 is not JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (b"", "no audit events"),
        (b"\x1f\x8b\x08\x00broken", "not valid gzip"),
    ],
)
def test_a_bad_export_is_one_line_and_writes_nothing(
    tmp_path: Path, content: bytes, message: str
) -> None:
    f = tmp_path / "export.log"
    f.write_bytes(content)
    with pytest.raises(AuditImportError, match=message):
        import_audit(tmp_path / "out", [f])
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_an_existing_folder_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(SnapshotError, match="already exists"):
        import_audit(tmp_path / "out", [tmp_path / "not-read-at-all.log"])
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_events_outside_the_stated_span_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "e.log"
    f.write_text(json.dumps({"AuditLogID": "e", "AccountID": "a",
                             "ActionTimestamp": "2026-12-01T00:00:00Z"}))  # fmt: skip
    with pytest.raises(AuditImportError, match="outside"):
        import_audit(
            tmp_path / "out",
            [f],
            since=datetime(2026, 10, 1, tzinfo=UTC),
            before=datetime(2026, 11, 1, tzinfo=UTC),
        )
    with pytest.raises(AuditImportError, match="is after --before 2026-11-01T00:00:00Z"):
        import_audit(tmp_path / "out", [f], before=datetime(2026, 11, 1, tzinfo=UTC))
    none = tmp_path / "none.log"
    none.write_bytes(b"")
    day = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(AuditImportError, match="is empty"):
        import_audit(tmp_path / "out", [none], since=day, before=day)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["e.log", "none.log"]  # no spill left


def test_an_export_alone_is_not_a_snapshot_to_load(
    tmp_path: Path, export_files: list[Path]
) -> None:
    out, _ = import_audit(tmp_path / "h" / "logpush", export_files)
    with pytest.raises(SnapshotError, match="only imported audit logs"):
        cfposture.load(out)
    with pytest.raises(SnapshotError, match="only imported audit logs"):
        cfposture.load(tmp_path / "h")


def test_the_command_line(tmp_path: Path, export_files: list[Path]) -> None:
    cli = [sys.executable, "-m", "cfposture.cli", "import-audit"]
    ok = subprocess.run([*cli, str(tmp_path / "x"), *map(str, export_files)],
                        capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"imported {len(older_events())} audit event(s)")
    bad = subprocess.run([*cli, str(tmp_path / "y"), str(tmp_path / "missing.log")],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr


def test_spilling_to_disk_gives_the_same_export(
    tmp_path: Path, export_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cfposture.sources.logpush as logpush

    whole, n = import_audit(tmp_path / "whole", [*export_files, export_files[0]])
    monkeypatch.setattr(logpush, "SPILL", 4096)  # spill every few events
    spilled, m = import_audit(tmp_path / "spilled", [*export_files, export_files[0]])
    assert n == m == len(older_events())  # the file given twice adds nothing
    a, b = RawSnapshot.open(whole), RawSnapshot.open(spilled)
    accounts = [e["ids"] for e in a.entries("audit_logs")]
    assert accounts == [e["ids"] for e in b.entries("audit_logs")] and len(accounts) == 3
    for ids in accounts:
        assert a.read_bytes("audit_logs", **ids) == b.read_bytes("audit_logs", **ids)


def test_an_export_running_past_the_latest_pull_still_counts(
    latest_only: Path, export_files: list[Path]
) -> None:
    """A Logpush job keeps running: its export may end after the pull being judged."""
    first = window_of(SAMPLE[-3])["since"]
    import_audit(
        latest_only / "logpush",
        export_files,
        since=_ts(first),
        before=datetime(2026, 12, 31, tzinfo=UTC),
    )
    snap = cfposture.load(latest_only)
    assert snap.path.name == SAMPLE[-1].name
    window = usage_events(snap, 90)[1]
    assert window.sufficient and window.covered_since == _ts(first)
