"""Raw snapshots: the API's JSON as received, one folder per pull, written atomically.

Layout (see the README's "Snapshot format")::

    SNAP/manifest.json                       what was fetched, denied, counted; written last
    SNAP/accounts.ndjson.gz                  one API result item per line, as received
    SNAP/accounts/<account_id>/tokens.ndjson.gz
    ...

Every endpoint is stored as gzip NDJSON of its ``result`` items. The page envelopes are
transport, not data: their counts go to the manifest. NDJSON lets a pull append page by page and
lets pyarrow read millions of audit events in C++ without building one giant JSON document.

A folder counts as a snapshot only once ``manifest.json`` is in it, and the writer puts it there
only inside a temporary sibling folder that is renamed into place at the very end, so a crash or
Ctrl-C never leaves a folder that loads as valid.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .__about__ import __version__
from .bounded import MAX_LINE_BYTES, gunzip, load_file, loads, read_file
from .endpoints import COVERED, ENDPOINTS, Endpoint
from .errors import CfPostureError, SnapshotError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def isoformat(when: datetime) -> str:
    """RFC 3339 with a ``Z``, the way the Cloudflare API writes timestamps."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _endpoint(key: str) -> Endpoint:
    try:
        return ENDPOINTS[key]
    except KeyError:
        raise SnapshotError(f"unknown endpoint {key!r}; known: {', '.join(ENDPOINTS)}") from None


WRITE_BATCH = 1 << 20  # bytes of lines handed to gzip at once

AUDIT_EXPORT = "audit_export"
"""``source.kind`` of a folder holding only imported audit logs (``cfposture import-audit``):
read by the usage rules like an older pull, but no inventory, so not in ``history()``."""


def is_audit_export(manifest: dict[str, Any]) -> bool:
    source = manifest.get("source")
    return isinstance(source, dict) and source.get("kind") == AUDIT_EXPORT


JOURNAL = "journal.ndjson"
RESUME_STATE = "resume.json"


class SnapshotWriter:
    """Write one raw snapshot folder atomically.

    Use as a context manager: files go to a hidden ``.DEST.….partial`` folder beside ``DEST``; on
    a clean exit the manifest is written and the folder renamed to ``DEST``. On an exception the
    partial folder is removed, unless the writer is ``resumable``: then it stays (at the fixed
    path ``.DEST.partial``) with a journal of the endpoints already complete, and a writer opened
    with ``resume=True`` continues from it. Either way nothing half-written is found under
    ``DEST``, and a partial folder never loads as a snapshot.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        source: dict[str, Any],
        created_at: datetime | None = None,
        *,
        resumable: bool = False,
        resume: bool = False,
    ) -> None:
        self.dest = Path(dest)
        if self.dest.exists() and (not self.dest.is_dir() or any(self.dest.iterdir())):
            raise SnapshotError(
                f"{self.dest} already exists; write the snapshot to a new folder or remove it first"
            )
        self.source = source
        self.created_at = created_at or utcnow()
        self.audit_window: dict[str, str] | None = None
        self.entries: list[dict[str, Any]] = []
        self.resumable = resumable or resume
        self.resume = resume
        self.state: dict[str, Any] = {}
        self._tmp: Path | None = None
        self._lock = threading.Lock()
        self.keep_partial = True  # a pull that cannot go on at all sets it False

    @property
    def partial_path(self) -> Path:
        return self.dest.parent / f".{self.dest.name}{PARTIAL_SUFFIX}"

    def __enter__(self) -> SnapshotWriter:
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        if not self.resumable:
            self._tmp = Path(
                tempfile.mkdtemp(
                    prefix=f".{self.dest.name}.", suffix=PARTIAL_SUFFIX, dir=self.dest.parent
                )
            )
            return self
        self._tmp = self.partial_path
        if self._tmp.exists() and not self.resume:
            raise SnapshotError(
                f"an interrupted pull left {self._tmp}; add --resume to continue it, or"
                " --restart to start over"
            )
        self._tmp.mkdir(mode=0o700, exist_ok=True)
        journal = self._tmp / JOURNAL
        if journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines():
                if line.strip():  # a torn last line (crash mid-append) is simply redone
                    try:
                        self.entries.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
        state = self._tmp / RESUME_STATE
        if state.exists():
            self.state = json.loads(state.read_text(encoding="utf-8"))
            self.created_at = datetime.fromisoformat(self.state["created_at"])
        else:
            self.state = {"created_at": self.created_at.isoformat()}
            self.save_state()
        return self

    def save_state(self) -> None:
        """Persist ``state`` (parameters a resumed run must reuse, e.g. the audit window)."""
        assert self._tmp is not None
        if self.resumable:
            tmp = self._tmp / (RESUME_STATE + ".tmp")
            with _private(tmp, "w") as f:
                f.write(json.dumps(self.state))
            os.replace(tmp, self._tmp / RESUME_STATE)

    def done(self, key: str, **ids: str) -> bool:
        """Whether this endpoint (for these ids) is already complete, e.g. before a resume."""
        path = _endpoint(key).api_path(**ids)
        return any(e["path"] == path for e in self.entries)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._tmp is not None
        if exc_type is not None:
            # keep a resumable partial only when it holds something worth resuming
            if not self.resumable or not self.entries or not self.keep_partial:
                shutil.rmtree(self._tmp, ignore_errors=True)
            return
        try:
            self._finish()
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise

    def write(self, key: str, items: Iterable[dict[str, Any]], **ids: str) -> int:
        """Store the result items of one endpoint (for one account / group); returns the count."""
        lines = (
            json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode() for item in items
        )
        return self.write_lines(key, lines, **ids)

    def write_lines(
        self, key: str, lines: Iterable[bytes], compresslevel: int = 6, **ids: str
    ) -> int:
        """Store already-serialised JSON lines (one item each, no newline); returns the count."""
        assert self._tmp is not None, "use SnapshotWriter as a context manager"
        rel = _endpoint(key).file(**ids)
        target = self._tmp / rel
        for folder in reversed(Path(rel).parents[:-1]):  # each one 0700 (parents=True is not)
            (self._tmp / folder).mkdir(mode=0o700, exist_ok=True)
        part = target.with_name(target.name + ".tmp")
        count = 0
        # no name and mtime=0 in the gzip header: bytes are a pure function of the content.
        with (
            _private(part) as raw,
            gzip.GzipFile("", "wb", compresslevel, raw, mtime=0) as gz,
        ):
            # in batches: GzipFile.write costs ~10 µs per call, which millions of audit
            # events per merge or pull made the larger part of writing them; deflate's output
            # does not depend on how its input is split, so the bytes are the same
            batch: list[bytes] = []
            size = 0
            for line in lines:
                batch.append(line)
                size += len(line)
                count += 1
                if size >= WRITE_BATCH:
                    gz.write(b"\n".join(batch) + b"\n")
                    batch, size = [], 0
            if batch:
                gz.write(b"\n".join(batch) + b"\n")
        os.replace(part, target)
        self._record(key, rel, count, ids)
        return count

    def _record(self, key: str, rel: str, count: int, ids: dict[str, str]) -> None:
        assert self._tmp is not None
        data = (self._tmp / rel).read_bytes()
        self._append(
            {
                "endpoint": key,
                "path": _endpoint(key).api_path(**ids),
                "ids": ids,
                "status": "ok",
                "file": rel,
                "count": count,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )

    def _append(self, entry: dict[str, Any]) -> None:
        """Add a manifest entry; a resumable writer also journals it durably."""
        assert self._tmp is not None
        with self._lock:
            self.entries = [e for e in self.entries if e["path"] != entry["path"]]
            self.entries.append(entry)
            if self.resumable:
                fd = os.open(self._tmp / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
                    f.flush()
                    os.fsync(f.fileno())

    def deny(
        self,
        key: str,
        *,
        http_status: int,
        message: str,
        code: int | None = None,
        documentation_url: str | None = None,
        **ids: str,
    ) -> None:
        """Record that the API refused an endpoint: a coverage gap, not a failure."""
        ep = _endpoint(key)
        self._append(
            {
                "endpoint": key,
                "path": ep.api_path(**ids),
                "ids": ids,
                "status": "denied",
                "http_status": http_status,
                "code": code,
                "message": message,
                "documentation_url": documentation_url,
                "needs": ep.needs,
            }
        )

    def _finish(self) -> None:
        assert self._tmp is not None
        counts: dict[str, int] = {}
        for e in self.entries:
            if e["status"] == "ok":
                counts[e["endpoint"]] = counts.get(e["endpoint"], 0) + e["count"]
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "cfposture_version": __version__,
            "created_at": isoformat(self.created_at),
            "source": self.source,
            "audit_window": self.audit_window,
            "counts": counts,
            "endpoints": self.entries,
        }
        for leftover in (JOURNAL, RESUME_STATE):
            (self._tmp / leftover).unlink(missing_ok=True)
        _write_json_durably(self._tmp / MANIFEST, manifest)
        if self.dest.exists():  # an empty folder the caller made for us
            self.dest.rmdir()
        os.replace(self._tmp, self.dest)


def _private(path: Path, mode: str = "wb") -> Any:
    """``path`` opened for writing, created 0600: snapshots hold members' emails and IP
    addresses (their folders are 0700)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {}))


def _write_json_durably(path: Path, obj: Any) -> None:
    with _private(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


@dataclass
class RawSnapshot:
    """A snapshot folder opened for reading; checks the manifest before anything else."""

    path: Path
    manifest: dict[str, Any]
    _by_file: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RawSnapshot:
        p = Path(path)
        if p.name.endswith(PARTIAL_SUFFIX):
            raise SnapshotError(
                f"{p} is an unfinished snapshot (interrupted write); pull again or resume the pull"
            )
        mpath = p / MANIFEST
        if not p.is_dir():
            raise SnapshotError(
                f"{p} is not a folder; give a snapshot folder (cfposture pull / cfposture sample)"
                " or 'sample' for the embedded sample"
            )
        if not mpath.is_file():
            raise SnapshotError(
                f"{p} has no {MANIFEST}, so it is not a complete cfposture snapshot;"
                " pull it again (cfposture pull) or use 'sample'"
            )
        manifest = load_file(mpath, SnapshotError, "pull the snapshot again")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("schema_version"), int):
            raise SnapshotError(f"{mpath} has no schema_version; pull the snapshot again")
        version = manifest["schema_version"]
        if version > SCHEMA_VERSION:
            raise SnapshotError(
                f"{p} was written by cfposture {manifest.get('cfposture_version', '?')} "
                f"(snapshot schema {version}); this is cfposture {__version__} (schema "
                f"{SCHEMA_VERSION}): upgrade with pip install -U cfposture"
            )
        if version < 1:
            raise SnapshotError(f"{mpath} has an invalid schema_version {version}; pull again")
        entries = manifest.get("endpoints")
        if not isinstance(entries, list):
            raise SnapshotError(f"{mpath} lists no endpoints; pull the snapshot again")
        snap = cls(p, manifest)
        root = p.resolve()
        for n, e in enumerate(entries):
            rel = _checked_entry(e, n, mpath)
            if rel is None:
                continue
            f = p / rel
            if not f.resolve().is_relative_to(root):
                raise SnapshotError(f"{mpath} entry {n}: {rel} leads outside {p}; pull again")
            if not f.is_file():
                raise SnapshotError(
                    f"{p} is missing {rel} listed in its manifest; pull the snapshot again"
                )
            if f.stat().st_size != e["bytes"]:
                raise SnapshotError(
                    f"{f} has {f.stat().st_size} bytes but the manifest says {e['bytes']}:"
                    " the snapshot was changed or truncated; pull it again"
                )
            snap._by_file[rel] = e
        snap._check_coverage(mpath)
        return snap

    def _check_coverage(self, mpath: Path) -> None:
        """Every account the snapshot covers (the pull's ``source.accounts``, else every
        account listed) has each ``COVERED`` endpoint, fetched or denied. An audit export
        holds audit logs only, by design."""
        if not self.entries("accounts") or is_audit_export(self.manifest):
            return
        source = self.manifest.get("source")
        wanted = source.get("accounts") if isinstance(source, dict) else None
        if not isinstance(wanted, list):
            wanted = [a.get("id") for a in self.iter_items("accounts")]
        present = {
            (e.get("endpoint"), e.get("ids", {}).get("account_id"))
            for e in self.manifest["endpoints"]
        }
        for account in wanted:
            missing = [k for k in COVERED if (k, account) not in present]
            if missing:
                raise SnapshotError(
                    f"{mpath} lists account {account!r} but holds no {', '.join(missing)} for"
                    " it: the snapshot is incomplete or was edited; pull it again"
                )

    # -- what is in it -------------------------------------------------------------------

    @property
    def created_at(self) -> str:
        return str(self.manifest.get("created_at", ""))

    def entries(self, key: str, status: str = "ok") -> list[dict[str, Any]]:
        return [
            e
            for e in self.manifest["endpoints"]
            if e.get("endpoint") == key and e.get("status") == status
        ]

    def denied(self) -> list[dict[str, Any]]:
        return [e for e in self.manifest["endpoints"] if e.get("status") == "denied"]

    def has(self, key: str, **ids: str) -> bool:
        return _endpoint(key).file(**ids) in self._by_file

    # -- reading -------------------------------------------------------------------------

    def read_bytes(self, key: str, **ids: str) -> bytes:
        """The decompressed NDJSON of one endpoint, checked against the manifest's sha256."""
        rel = _endpoint(key).file(**ids)
        entry = self._by_file.get(rel)
        if entry is None:
            return b""
        f = self.path / rel
        data = read_file(f, SnapshotError, "check its permissions, or pull the snapshot again")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SnapshotError(
                f"{f} does not match the checksum in the manifest: the file was changed or"
                " corrupted; pull the snapshot again"
            )
        return gunzip(data, f, SnapshotError, "pull the snapshot again")

    def items(self, key: str, **ids: str) -> list[dict[str, Any]]:
        """The stored result items of one endpoint; an endpoint not fetched gives ``[]``."""
        return list(self.iter_items(key, **ids))

    def iter_items(self, key: str, **ids: str) -> Iterator[dict[str, Any]]:
        for item, _ in self.iter_lines(key, **ids):
            yield item

    def iter_lines(self, key: str, **ids: str) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Each stored item with its line as stored (``merge`` copies lines unchanged)."""
        where = self.path / _endpoint(key).file(**ids)
        for item, line, _ in json_objects(
            self.read_bytes(key, **ids), where, SnapshotError, "pull the snapshot again"
        ):
            yield item, line


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _checked_entry(e: Any, n: int, mpath: Path) -> str | None:
    """The file of manifest entry ``n`` if it was fetched, ``None`` if it was denied; any
    other shape is a one-line error. The file must be exactly where the endpoint and its
    (checked) ids put it, so a manifest cannot point a reader anywhere else."""
    bad = f"{mpath} entry {n}"
    if not isinstance(e, dict) or not isinstance(e.get("endpoint"), str):
        raise SnapshotError(f"{bad} is not an endpoint entry; pull the snapshot again")
    ids = e.get("ids", {})
    if not isinstance(ids, dict):
        raise SnapshotError(f"{bad} has ids that are not an object; pull the snapshot again")
    try:
        expected = _endpoint(e["endpoint"]).file(**ids)
    except (TypeError, KeyError):
        raise SnapshotError(f"{bad} has ids {sorted(ids)!r} that do not fit its endpoint") from None
    except CfPostureError as err:
        raise SnapshotError(f"{bad}: {err}") from None
    if e.get("status") == "denied":
        return None
    if e.get("status") != "ok":
        raise SnapshotError(f"{bad} has status {e.get('status')!r}, not ok or denied")
    for name, kind in (("file", str), ("bytes", int), ("count", int), ("sha256", str)):
        if not isinstance(e.get(name), kind) or isinstance(e.get(name), bool):
            raise SnapshotError(f"{bad} has no valid {name!r}; pull the snapshot again")
    if e["file"] != expected:
        raise SnapshotError(f"{bad} names file {e['file']!r}, not {expected!r}; pull again")
    if not _SHA256.fullmatch(e["sha256"]):
        raise SnapshotError(f"{bad} has an invalid sha256; pull the snapshot again")
    return expected


def json_objects(
    data: bytes, where: object, error: type[CfPostureError], advice: str
) -> Iterator[tuple[dict[str, Any], bytes, int]]:
    """Each non-blank line of NDJSON ``data`` as (object, line, line number). A line that is
    not a JSON object is a one-line ``error`` naming ``where`` and the line, then ``advice``:
    snapshots and imported exports are read alike."""
    for n, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            raise error(f"{where} line {n} is over {MAX_LINE_BYTES >> 20} MB long; {advice}")
        item = loads(line, f"{where} line {n}", error, advice)
        if not isinstance(item, dict):
            raise error(f"{where} line {n} is a {type(item).__name__}, not a JSON object; {advice}")
        yield item, line, n


# -- observations: what a scan or a roll saw of token values (never the values) -----------

OBSERVED = "observed.json"


def read_observations(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Observed token formats kept beside a snapshot (``observed.json``), oldest first."""
    f = Path(path) / OBSERVED
    if not f.is_file():
        return []
    advice = "delete it and scan or apply again"
    doc = load_file(f, SnapshotError, advice)
    items = doc.get("observations") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SnapshotError(f"{f} holds no list of observations; {advice}")
    return [o for o in items if isinstance(o, dict) and o.get("token_id")]


def add_observations(path: str | os.PathLike[str], new: Iterable[dict[str, Any]]) -> int:
    """Record observations beside a finished snapshot, atomically (temp file + rename).

    They live outside the manifest so that adding one never rewrites the API's data: the
    snapshot's files and checksums stay exactly as pulled. One observation per token id and
    source is kept, the newest. Returns how many the file now holds."""
    p = Path(path)
    RawSnapshot.open(p)  # only ever beside a valid snapshot
    merged = {(o["token_id"], o.get("source")): o for o in read_observations(p)}
    for o in new:
        merged[(o["token_id"], o.get("source"))] = o
    items = sorted(merged.values(), key=lambda o: (str(o.get("observed_at")), o["token_id"]))
    fd, tmp = tempfile.mkstemp(prefix=f".{OBSERVED}.", dir=p)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "observations": items}, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p / OBSERVED)
    return len(items)
