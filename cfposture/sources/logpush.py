"""Import a Logpush export of audit logs (dataset ``audit_logs_v2``) for usage windows longer
than the 18 months the API keeps.

Why: the usage rules judge 90 days by default, and ``/accounts/{id}/logs/audit`` returns 30, so a
new user would wait three months of scheduled pulls before CFP-T07, M04 and M05 say anything.
Accounts that already push their audit logs to storage (R2, S3, …) have that history today.
``cfposture import-audit OUT FILE…`` turns such an export into an *audit export*: a folder in the
snapshot format holding only ``audit_logs``, with the events rewritten into the API's own shape,
so the one audit reader serves both. It goes into a history folder beside the pulls; the usage
rules read it like an older pull, while ``history()`` (trends, ``load``) leaves it out, because
it holds no inventory.

Input: the files Logpush writes (one JSON object per line, gzip or not), or Parquet with the same
columns. Fields used (Cloudflare's ``audit_logs_v2`` dataset): ``AuditLogID``, ``AccountID``,
``AccountName``, ``ActionTimestamp`` (RFC 3339, or Unix seconds, milliseconds or nanoseconds, as
the job's ``timestamp_format`` says), ``ActionType``, ``ActionResult``, ``ActionDescription``,
``ActorID``, ``ActorType``, ``ActorContext``, ``ActorEmail``, ``ActorIPAddress``,
``ActorTokenDetails`` (``id``, ``name``), ``ResourceID``, ``ResourceProduct``, ``ResourceType``,
``ResourceScope``, ``ZoneID``, ``ZoneName``, ``Raw``; other fields are ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..bounded import gunzip, max_file_bytes, read_file, too_big
from ..endpoints import SAFE_ID
from ..errors import CfPostureError
from ..rawsnapshot import AUDIT_EXPORT, SnapshotWriter, isoformat, json_objects


class AuditImportError(CfPostureError):
    """An export file that cannot be read or holds a record cfposture cannot place."""


def _when(value: Any, where: str) -> datetime:
    """``ActionTimestamp`` as a UTC datetime: RFC 3339, or an epoch number in s, ms, µs or ns."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        n = float(value)  # by magnitude: ns > 1e17 > µs > 1e14 > ms > 1e11 > s
        seconds = n / 1e9 if n > 1e17 else n / 1e6 if n > 1e14 else n / 1e3 if n > 1e11 else n
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return _when(int(text), where)
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    raise AuditImportError(f"{where}: ActionTimestamp {value!r} is not a time; check the export")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def to_event(record: dict[str, Any], where: str) -> dict[str, Any]:
    """One Logpush ``audit_logs_v2`` record as the audit logs v2 API returns the event."""
    ident, account = _text(record.get("AuditLogID")), _text(record.get("AccountID"))
    if not ident or not account:
        missing = "AuditLogID" if not ident else "AccountID"
        raise AuditImportError(f"{where}: no {missing}; is this an audit_logs_v2 export?")
    if not SAFE_ID.fullmatch(account):  # it names the folder the events are stored in
        raise AuditImportError(
            f"{where}: AccountID {account!r} is not an account id; check the export"
        )
    token = record.get("ActorTokenDetails")
    token = token if isinstance(token, dict) else {}
    raw = record.get("Raw")
    return {
        "id": ident,
        "account": {"id": account, "name": _text(record.get("AccountName"))},
        "action": {
            "description": _text(record.get("ActionDescription")),
            "result": _text(record.get("ActionResult")),
            "time": isoformat(_when(record.get("ActionTimestamp"), where)),
            "type": _text(record.get("ActionType")),
        },
        "actor": {
            "id": _text(record.get("ActorID")),
            "context": _text(record.get("ActorContext")),
            "email": _text(record.get("ActorEmail")),
            "ip_address": _text(record.get("ActorIPAddress")),
            "token_id": _text(token.get("id") or token.get("token_id")),
            "token_name": _text(token.get("name") or token.get("token_name")),
            "type": _text(record.get("ActorType")),
        },
        "raw": raw if isinstance(raw, dict) else {},
        "resource": {
            "id": _text(record.get("ResourceID")),
            "product": _text(record.get("ResourceProduct")),
            "scope": record.get("ResourceScope"),  # a string here, an object in the API
            "type": _text(record.get("ResourceType")),
        },
        "zone": {"id": _text(record.get("ZoneID")), "name": _text(record.get("ZoneName"))},
    }


def _read(path: Path) -> bytes:
    return read_file(path, AuditImportError, "check the path")


def read_records(path: Path, data: bytes | None = None) -> Iterator[tuple[dict[str, Any], str]]:
    """(record, "file:line") for every record of one export file (``data``: its bytes, when the
    caller has read them already)."""
    if data is None:
        data = _read(path)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # batch by batch, counting what the columns hold once decoded: dictionary and
        # run-length encodings let a small file decode to far more than its pages say
        limit, held, n = max_file_bytes(), 0, 0
        try:
            for batch in pq.ParquetFile(pa.BufferReader(data)).iter_batches(batch_size=256):
                held += batch.nbytes
                if held > limit:
                    raise too_big(path, limit, AuditImportError)
                for record in batch.to_pylist():
                    n += 1
                    yield record, f"{path} row {n}"
        except (pa.ArrowException, OSError) as e:
            raise AuditImportError(f"{path} is not readable Parquet ({e})") from None
        return
    if data[:2] == b"\x1f\x8b":
        data = gunzip(data, path, AuditImportError, "download it again")
    for record, _, n in json_objects(data, path, AuditImportError, "check the export"):
        yield record, f"{path} line {n}"


# one encoder for every event: json.dumps with keywords builds a new one per call
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

SPILL = 64 << 20
"""Bytes of converted events held before they are appended to per-account spill files: an
import of a quarter of an enterprise's audit logs (millions of events) runs in bounded memory."""


def import_audit(
    out: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> tuple[Path, int]:
    """Write the events of ``files`` as an audit export at ``out`` (atomically); returns the
    folder and the number of distinct events. The export claims to cover ``since``–``before``
    (default: its first to its last event), the span the usage rules will trust.

    Events stream: converted lines collect per account, spill to files beside ``out`` every
    ``SPILL`` bytes, and each account is then deduplicated and sorted on its own, so memory
    follows the largest account, not the export."""
    if not files:
        raise AuditImportError("give one or more Logpush export files")
    lo = isoformat(since) if since else None  # the stored form sorts as text
    hi = isoformat(before) if before else None
    first = last = None
    sources = []
    out = Path(out)
    writer = SnapshotWriter(out, {})  # refuses an existing folder now, not after the parsing
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.import-", dir=out.parent) as tmp:
        spill: dict[str, Path] = {}
        held: dict[str, list[bytes]] = {}
        size = 0

        def flush() -> None:
            for account, lines in held.items():
                with open(spill[account], "ab") as f:
                    f.write(b"\n".join(lines) + b"\n")
            held.clear()

        for f in map(Path, files):
            data = _read(f)
            sources.append({"file": f.name, "sha256": hashlib.sha256(data).hexdigest()})
            for record, where in read_records(f, data):
                event = to_event(record, where)
                when, account = event["action"]["time"], event["account"]["id"]
                if (lo and when < lo) or (hi and when > hi):
                    bound = f"after --before {hi}" if hi and when > hi else f"before --since {lo}"
                    raise AuditImportError(
                        f"{where}: the event at {when} is {bound}, outside the span the export"
                        " is said to cover; widen --since/--before or leave the file out"
                    )
                first = when if first is None or when < first else first
                last = when if last is None or when > last else last
                # time, id (JSON-quoted: no tab or newline in it), event
                line = f"{when}\t{_ENCODE(event['id'])}\t{_ENCODE(event)}".encode()
                if account not in spill:
                    spill[account] = Path(tmp) / f"{len(spill)}.tsv"
                held.setdefault(account, []).append(line)
                size += len(line)
                if size >= SPILL:
                    flush()
                    size = 0
        flush()
        if first is None and (lo is None or hi is None):
            raise AuditImportError(
                "the files hold no audit events; give --since and --before to record a span"
                " with none"
            )
        start, end = lo or str(first), hi or str(last)
        if start >= end:
            raise AuditImportError(f"the span {start}..{end} is empty; check --since and --before")
        writer.source = {"kind": AUDIT_EXPORT, "format": "logpush audit_logs_v2", "files": sources}
        writer.created_at = _when(end, "--before")
        count = 0
        with writer as w:
            w.audit_window = {"since": start, "before": end}
            w.write("accounts", [{"id": a} for a in sorted(spill)])
            for account in sorted(spill):
                events = {}  # id → (time, line): each event once, in time order
                for row in spill[account].read_bytes().splitlines():
                    when, ident, line = row.split(b"\t", 2)
                    events[ident] = (when, ident, line)
                count += len(events)
                lines = (line for _, _, line in sorted(events.values()))
                w.write_lines("audit_logs", lines, account_id=account)
    return out, count
