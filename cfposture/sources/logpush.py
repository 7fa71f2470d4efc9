"""Import a Logpush export of audit logs (dataset ``audit_logs_v2``) for usage windows longer
than the 30 days the API keeps.

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

import gzip
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import CfPostureError
from ..rawsnapshot import AUDIT_EXPORT, SnapshotWriter, isoformat


class AuditImportError(CfPostureError):
    """An export file that cannot be read or holds a record cfposture cannot place."""


def _when(value: Any, where: str) -> datetime:
    """``ActionTimestamp`` as a UTC datetime: RFC 3339, or an epoch number in s, ms or ns."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        n = float(value)
        seconds = n / 1e9 if n > 1e14 else n / 1e3 if n > 1e11 else n
        return datetime.fromtimestamp(seconds, UTC)
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


def read_records(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """(record, "file:line") for every record of one export file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AuditImportError(f"cannot read {path} ({e.strerror or e}); check the path") from None
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError) as e:
            raise AuditImportError(f"{path} is not readable Parquet ({e})") from None
        for n, record in enumerate(table.to_pylist(), start=1):
            yield record, f"{path} row {n}"
        return
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise AuditImportError(f"{path} is not valid gzip ({e}); download it again") from None
    for n, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise AuditImportError(f"{path} line {n} is not JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise AuditImportError(f"{path} line {n} is not a JSON object")
        yield record, f"{path} line {n}"


def import_audit(
    out: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> tuple[Path, int]:
    """Write the events of ``files`` as an audit export at ``out`` (atomically); returns the
    folder and the number of distinct events. The export claims to cover ``since``–``before``
    (default: its first to its last event), the span the usage rules will trust."""
    if not files:
        raise AuditImportError("give one or more Logpush export files")
    by_account: dict[str, dict[str, dict[str, Any]]] = {}
    sources = []
    for f in map(Path, files):
        for record, where in read_records(f):
            event = to_event(record, where)
            by_account.setdefault(event["account"]["id"], {})[event["id"]] = event
        sources.append({"file": f.name, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()})
    times = [e["action"]["time"] for events in by_account.values() for e in events.values()]
    if not times and (since is None or before is None):
        raise AuditImportError("the files hold no audit events; give --since and --before to record"
                           " a span with none")  # fmt: skip
    start = since or _when(min(times), "first event")
    end = before or _when(max(times), "last event")
    if start >= end:
        raise AuditImportError(
            f"the span {isoformat(start)}..{isoformat(end)} is empty; check --since and --before"
        )
    outside = [t for t in times if not start <= _when(t, "event") <= end]
    if outside:
        raise AuditImportError(
            f"{len(outside)} event(s) fall outside {isoformat(start)}..{isoformat(end)}"
            f" (e.g. {min(outside)}); widen --since/--before or leave them out"
        )
    source = {"kind": AUDIT_EXPORT, "format": "logpush audit_logs_v2", "files": sources}
    with SnapshotWriter(out, source, created_at=end) as w:
        w.audit_window = {"since": isoformat(start), "before": isoformat(end)}
        w.write("accounts", [{"id": a} for a in sorted(by_account)])
        for account, events in sorted(by_account.items()):
            ordered = sorted(events.values(), key=lambda e: (e["action"]["time"], e["id"]))
            w.write("audit_logs", ordered, account_id=account)
    return Path(out), len(times)
