"""Files from elsewhere are read within limits: gzip bombs, endless lines, deep JSON, FIFOs."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cfposture
from cfposture.bounded import DEFAULT_MAX_FILE_MB, MAX_FILE_ENV, gunzip, max_file_bytes
from cfposture.errors import CfPostureError, SnapshotError
from cfposture.sources.logpush import AuditImportError, import_audit

ACCOUNT = "a" * 32


def _bomb(mib: int) -> bytes:
    """gzip of ``mib`` MiB of zeros: about 1 KB per MiB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    return b"".join([c.compress(block) for _ in range(mib)] + [c.flush()])


def _plant(path: Path, rel: str, data: bytes) -> None:
    """Put ``data`` at ``rel`` with a manifest entry that matches it, as an attacker would."""
    (path / rel).write_bytes(data)
    m = json.loads((path / "manifest.json").read_text())
    for e in m["endpoints"]:
        if e.get("file") == rel:
            e["bytes"], e["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    (path / "manifest.json").write_text(json.dumps(m))


def test_the_default_limit_and_a_bad_setting(monkeypatch):
    monkeypatch.delenv(MAX_FILE_ENV, raising=False)
    assert max_file_bytes() == DEFAULT_MAX_FILE_MB << 20 == 1 << 30
    monkeypatch.setenv(MAX_FILE_ENV, "lots")
    with pytest.raises(CfPostureError, match="not a whole number"):
        max_file_bytes()


def test_a_gzip_bomb_in_a_snapshot_stops_at_the_limit_in_bounded_memory(write_snapshot):
    """1 GiB of zeros in 1 MB of gzip, behind a manifest that vouches for it: the load fails
    in one line naming the file, and the process never holds more than the limit."""
    path = write_snapshot({"accounts": [{"id": ACCOUNT}], f"account_tokens:{ACCOUNT}": []})
    rel = f"accounts/{ACCOUNT}/tokens.ndjson.gz"
    _plant(path, rel, _bomb(1024))
    code = (
        "import resource, sys, cfposture\n"
        "from cfposture.errors import SnapshotError\n"
        "try:\n"
        "    cfposture.load(sys.argv[1])\n"
        "except SnapshotError as e:\n"
        "    print(e)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    env = {**os.environ, MAX_FILE_ENV: "64"}

    def run(snapshot: Path) -> list[str]:
        return subprocess.run(
            [sys.executable, "-c", code, str(snapshot)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.splitlines()

    # the same load of an unplanted snapshot, in the same run: what the interpreter, pandas
    # and pyarrow take whatever is read
    clean = write_snapshot({"accounts": [{"id": ACCOUNT}], f"account_tokens:{ACCOUNT}": []})
    baseline_mb = int(run(clean)[-1])
    out = run(path)
    message, peak_mb = out[0], int(out[-1])
    assert rel in message and "more than 64 MB" in message and MAX_FILE_ENV in message
    assert len(out) == 2
    # the limit (64) and a step of decompression (16) on top; the bomb would add 1024
    assert peak_mb < baseline_mb + 200, (peak_mb, baseline_mb)


def test_several_gzip_members_are_read_and_truncation_is_named():
    data = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"b": 2}\n')
    assert gunzip(data, "x", CfPostureError, "fix it") == b'{"a": 1}\n{"b": 2}\n'
    with pytest.raises(CfPostureError, match=r"x is not valid gzip \(truncated\); fix it"):
        gunzip(data[:-6], "x", CfPostureError, "fix it")
    with pytest.raises(CfPostureError, match="more than 1 MB"):
        gunzip(_bomb(2), "x", CfPostureError, "fix it", limit=1 << 20)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "line 1 is nested too deeply to read"),
        (b'{"id": "' + b"x" * (17 << 20) + b'"}', "line 1 is over 16 MB long"),
        (b'{"id": "\xff"}', "line 1 is not UTF-8 text"),
    ],
)
def test_hostile_lines_in_a_snapshot_are_one_line_errors(write_snapshot, line, message):
    path = write_snapshot({"accounts": [{"id": ACCOUNT}], f"account_tokens:{ACCOUNT}": []})
    rel = f"accounts/{ACCOUNT}/tokens.ndjson.gz"
    _plant(path, rel, gzip.compress(line + b"\n", mtime=0))
    with pytest.raises(SnapshotError, match=message) as info:
        cfposture.load(path)
    assert rel in str(info.value) and "\n" not in str(info.value)


def test_a_logpush_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_FILE_ENV, "8")
    f = tmp_path / "export.log.gz"
    f.write_bytes(_bomb(64))
    with pytest.raises(AuditImportError, match=r"export.log.gz holds more than 8 MB"):
        import_audit(tmp_path / "out", [f])
    assert not (tmp_path / "out").exists()


def test_a_parquet_export_is_judged_by_what_its_columns_decompress_to(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_FILE_ENV, "1")
    f = tmp_path / "export.parquet"
    rows = 5000
    table = pa.table(
        {
            "AuditLogID": [f"e{i}" for i in range(rows)],
            "AccountID": [ACCOUNT] * rows,
            "ActionTimestamp": ["2026-11-01T00:00:00Z"] * rows,
            "ActionDescription": ["x" * 1000] * rows,
        }
    )
    pq.write_table(table, f, compression="zstd")
    assert f.stat().st_size < 1 << 20
    with pytest.raises(AuditImportError, match=r"export.parquet holds more than 1 MB"):
        import_audit(tmp_path / "out", [f])


def test_a_fifo_given_as_a_plan_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    run = subprocess.run(
        [sys.executable, "-m", "cfposture.cli", "apply", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CLOUDFLARE_API_TOKEN": "x"},
    )
    assert run.returncode == 2
    assert "is not a regular file" in run.stderr
