"""``cfposture.load``: a snapshot folder, a history of them, or the embedded sample → frames.

A *history* is a folder whose subfolders are snapshots (what ``cfposture sample`` writes and
what scheduled pulls into dated folders build up); loading it gives its latest snapshot, and
``history()`` lists all of them oldest first, for trends. A pull that a merge in the same
folder holds (``cfposture merge``) is left out: the merge stands for it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from .catalog import sample_dir
from .errors import CfPostureError, SnapshotError
from .merge import manifest_digest, merged_from
from .normalize import normalize
from .normalize.accounts import account_ids
from .normalize.audit import audit_events
from .rawsnapshot import MANIFEST, PARTIAL_SUFFIX, RawSnapshot, is_audit_export
from .schemas import AuditEvents, validate
from .snapshot import Snapshot

log = logging.getLogger(__name__)

__all__ = [
    "Snapshot",
    "audit_events_of",
    "audit_exports",
    "folder_listing",
    "forget_frames",
    "history",
    "hold_audit_frames",
    "load",
    "load_created_at",
]

PathLike = str | os.PathLike[str]


def _is_snapshot(p: Path) -> bool:
    return (p / MANIFEST).is_file() and not p.name.endswith(PARTIAL_SUFFIX)


def history(path: PathLike = "sample") -> list[Path]:
    """The snapshot folders of a history, oldest first (by the manifest's created_at)."""
    p = sample_dir() if str(path) == "sample" else Path(path)
    if (p / MANIFEST).is_file() or p.name.endswith(PARTIAL_SUFFIX):
        return [p]  # RawSnapshot.open says what is wrong with it, if anything
    if not p.is_dir():
        raise SnapshotError(
            f"{p} does not exist; give a snapshot folder, a folder of snapshots, or 'sample'"
        )
    snaps, exports = folder_listing(p)
    if snaps:
        return snaps
    if exports:
        raise SnapshotError(
            f"{p} holds only imported audit logs; pull a snapshot into it (cfposture pull)"
        )
    raise SnapshotError(
        f"{p} holds no snapshot (no {MANIFEST} in it or its subfolders); create one with"
        " cfposture pull DIR or cfposture sample DIR, or use 'sample'"
    )


def folder_listing(folder: PathLike) -> tuple[list[Path], list[Path]]:
    """A history folder's snapshots (what ``history`` lists) and its imported audit logs
    (``cfposture import-audit``, what ``audit_exports`` lists), each oldest first, from one
    reading of the folder's manifests: the usage rules and the trend cache need both."""
    p = Path(folder)
    children = [c for c in p.iterdir() if c.is_dir() and _is_snapshot(c)] if p.is_dir() else []
    opened: dict[Path, RawSnapshot] = {}
    for c in children:
        try:
            opened[c] = RawSnapshot.open(c)
        except CfPostureError as e:  # one damaged pull must not take its history down
            log.warning("skipping %s: %s", c.name, e)
    # imported audit logs hold no inventory: the usage rules read them beside the pulls
    exports = {c: r for c, r in opened.items() if is_audit_export(r.manifest)}
    snaps = {c: r for c, r in opened.items() if c not in exports}
    # pulls that a merge beside them holds (cfposture merge) would count twice in trends
    held = set().union(*(merged_from(r.manifest) for r in snaps.values()))
    if held:
        snaps = {c: r for c, r in snaps.items() if manifest_digest(c) not in held}

    def oldest_first(found: dict[Path, RawSnapshot]) -> list[Path]:
        return sorted(found, key=lambda c: (found[c].created_at, c.name))

    return oldest_first(snaps), oldest_first(exports)


def audit_exports(folder: PathLike) -> list[Path]:
    """The imported audit logs in a history folder, oldest first (see ``folder_listing``)."""
    return folder_listing(folder)[1]


def load_created_at(path: PathLike) -> pd.Timestamp:
    """When a snapshot was taken (its manifest's ``created_at``), without loading its frames."""
    return pd.Timestamp(RawSnapshot.open(path).manifest["created_at"])


def load(path: PathLike = "sample", *, keep: bool = True, cached: bool = True) -> Snapshot:
    """Load a snapshot (or a history's latest snapshot, or ``"sample"``) as validated frames.

    ``keep=False``: do not store the inventory frames in the cache (a snapshot read once, as
    the trends read an old snapshot before caching what they need of it); its audit events are
    stored either way, since the usage rules of newer snapshots read them again.
    ``cached=False``: read nothing from the cache, for this snapshot or the older ones its
    usage rules read (``Snapshot.cached``): what a gate decides rests on the snapshots alone.

    Raises ``SnapshotError`` / ``NormalizeError`` with a one-line reason and what to do.
    """
    target = history(path)[-1]
    raw = RawSnapshot.open(target)
    if is_audit_export(raw.manifest):
        raise SnapshotError(
            f"{target} holds only imported audit logs, no inventory; load the history folder"
            " it sits in (its pulls), and the usage rules will read it from there"
        )
    audit = audit_events_of(raw, cached=cached)
    frames = {**_inventory_of(raw, audit, keep, cached), "audit_events": audit}
    return Snapshot(path=target, manifest=raw.manifest, cached=cached, **frames)


INVENTORY = ("accounts", "zones", "tokens", "grants", "members", "oauth_apps")
"""The frames built from a snapshot's inventory (the audit events are cached on their own;
the permission catalog is cfposture's, not the snapshot's)."""


def _inventory_of(
    raw: RawSnapshot, audit: pd.DataFrame, keep: bool, cached: bool = True
) -> dict[str, pd.DataFrame]:
    """The inventory frames, normalised once and then kept in ``cfposture.cache`` as Parquet,
    as the audit events are: each notebook an analyst opens loads the same snapshot, and at
    100 enterprise accounts normalising 25k tokens and 100k grants takes ~3 s. Keyed like the
    audit events (tokens also read ``observed.json``, which ``cache.frame_key`` hashes too);
    all of them are read back through their schemas, or all normalised again."""
    from . import cache
    from .catalog import load_catalog
    from .schemas import FRAMES

    catalog = load_catalog()
    keys = {name: cache.frame_key(name, raw.path) for name in INVENTORY}
    hits = {name: cache.get_frame(key) if cached else None for name, key in keys.items()}
    if all(hit is not None for hit in hits.values()):
        try:
            frames = {name: validate(FRAMES[name], hit) for name, hit in hits.items()}
            return {**frames, "permission_catalog": catalog}
        except CfPostureError:
            pass
    frames = normalize(raw, catalog=catalog, audit=audit)
    for name, key in keys.items() if keep else ():
        cache.put_frame(key, frames[name])
    return {name: frames[name] for name in (*INVENTORY, "permission_catalog")}


def forget_frames(path: PathLike, kinds: tuple[str, ...] = ("audit_events", *INVENTORY)) -> None:
    """Drop a snapshot's cached frames (``kinds``: all of them), so the next load parses it as
    new (the benchmarks time a scheduled run, whose newest snapshot is always new)."""
    from . import cache

    folder = cache.cache_dir()
    for kind in kinds:
        key = cache.frame_key(kind, Path(path))
        _read.forget(key)  # held in memory by this process, too
        if folder is not None:
            (folder / f"{key}.parquet").unlink(missing_ok=True)


def audit_events_of(raw: RawSnapshot, *, cached: bool = True) -> pd.DataFrame:
    """A snapshot's audit events, parsed once and then kept in ``cfposture.cache`` as Parquet.

    They are by far the largest input, and they are read again and again: the usage rules read
    every snapshot of their window on every run (``findings``, ``report``), and each notebook
    an analyst opens loads the same snapshot. A snapshot never changes once written, so its
    manifest keys the frame (``cache.frame_key``); what is read back goes through the frame's
    schema, and anything else is parsed again. ``cached=False``: parsed from the snapshot
    whatever the cache holds (this process's own parses are still reused).
    """
    from . import cache

    key = cache.frame_key("audit_events", raw.path)
    held = _read.get(key)
    if held is not None:
        return held
    hit = cache.get_frame(key) if cached else None
    if hit is not None:
        try:
            events = validate(AuditEvents, hit)
            _read.put(key, events)
            return events
        except CfPostureError:
            pass
    events = audit_events(raw, account_ids(raw))
    cache.put_frame(key, events)
    _read.put(key, events)
    return events


class _Held:
    """Audit frames this process read, kept in memory up to ``budget`` bytes (the least
    recently used go first; a larger frame is not kept; 0, the default: none). Judging a
    history reads each snapshot's events once per newer snapshot whose usage window reaches
    it: a report on the sample read them back from Parquet and validated them ~20 times,
    ~15 ms each. Keyed like the cache (the snapshot's manifest, cfposture's code), so an
    entry never goes stale; each caller gets its own (copy-on-write) copy. Only
    ``cfposture report`` turns it on (``hold_audit_frames``), in its process and kernels."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._frames: OrderedDict[str, tuple[pd.DataFrame, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> pd.DataFrame | None:
        with self._lock:
            held = self._frames.get(key)
            if held is None:
                return None
            self._frames.move_to_end(key)
        return held[0].copy(deep=False)

    def put(self, key: str, df: pd.DataFrame) -> None:
        if not self.budget:  # off (outside a report): not even the frame's size is needed
            return
        size = int(df.memory_usage(index=True, deep=True).sum())
        if size > self.budget:
            return
        with self._lock:
            if key in self._frames:
                return
            self._frames[key] = (df.copy(deep=False), size)
            self._size += size
            while self._size > self.budget:
                _, (_, freed) = self._frames.popitem(last=False)
                self._size -= freed

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._size = 0

    def forget(self, key: str) -> None:
        with self._lock:
            held = self._frames.pop(key, None)
            if held is not None:
                self._size -= held[1]


_read = _Held(0)


def hold_audit_frames(mb: int) -> int:
    """Keep up to ``mb`` MB of the audit frames this process reads in memory (0: none, as
    by default; see ``_Held``); returns the previous setting, in MB."""
    before = _read.budget // (1024 * 1024)
    _read.budget = max(mb, 0) * 1024 * 1024
    if not _read.budget:
        _read.clear()
    return before
