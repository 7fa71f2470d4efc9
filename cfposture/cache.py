"""An on-disk cache for what the report recomputes for every old snapshot of a history.

The trend charts need the open findings per checklist step and the token exposure of *every*
snapshot in a history. A weekly scheduled report over a year of snapshots would run the rules 52
times to draw one line, although only the newest snapshot is new. A snapshot never changes once
written (its manifest lists every file with its sha256), so what the rules say about it depends
only on:

* its manifest, and the scanner's observations beside it (``observed.json``);
* the manifests of the older snapshots in its folder (the usage rules read their audit events);
* the rule parameters;
* cfposture's own code and catalogs (any change to a ``.py`` or ``.csv`` file changes the key,
  so an upgrade or a local edit never reads a stale entry).

The key hashes all of these. Entries are small JSON documents (never pickles: a cache folder is
not trusted to hold code), written atomically. A missing, unreadable or corrupt entry is simply
recomputed; a cache folder that cannot be written is skipped. ``CFPOSTURE_CACHE_DIR`` moves the
cache (default ``$XDG_CACHE_HOME/cfposture``, i.e. ``~/.cache/cfposture``);
``CFPOSTURE_CACHE_DIR=off`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from .__about__ import __version__
from .catalog import data_dir
from .rawsnapshot import MANIFEST, OBSERVED

log = logging.getLogger(__name__)

#: bump when the layout of cached entries changes
LAYOUT = 1


def cache_dir() -> Path | None:
    """Where entries live, or None when caching is turned off, or when the folder is not
    the user's alone (``trusted``)."""
    env = os.environ.get("CFPOSTURE_CACHE_DIR")
    if env is not None:
        if env.strip().lower() in ("", "0", "off", "no", "false"):
            return None
        folder = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME")
        if not base:
            try:
                base = str(Path.home() / ".cache")
            except RuntimeError:  # no home directory (a bare cron or container user): no cache
                return None
        folder = Path(base) / "cfposture"
    return folder if trusted(folder) else None


def _foreign(st: os.stat_result) -> str | None:
    """Why a file or folder with this status could hold what another user wrote, or None."""
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"it belongs to user id {st.st_uid}, not to you"
    if st.st_mode & 0o022:
        return "others may write to it"
    return None


def trusted(folder: Path) -> bool:
    """Whether ``folder`` may serve as the cache: missing (it is created 0700), or a folder
    owned by the user that no one else may write to. Anyone who can replace a cached frame
    decides what the rules see, so a shared or world-writable cache is not used (warned
    once)."""
    try:
        st = folder.stat()
    except FileNotFoundError:
        return True
    except OSError as e:
        why: str | None = f"it cannot be read ({e.strerror})"
    else:
        why = "it is not a folder" if not os.path.isdir(folder) else _foreign(st)
    if why is None:
        return True
    _warn_once(f"not using the cache {folder}: {why}; point CFPOSTURE_CACHE_DIR at a folder"
               " of your own (chmod 700), or set it to off")  # fmt: skip
    return False


@cache
def _warn_once(message: str) -> None:
    log.warning("%s", message)


def _read_private(path: Path, read: Any) -> Any:
    """``read(file)`` for an entry that is the user's alone, else None (with a debug line):
    a folder can be ours while an entry in it, placed before, is not."""
    with open(path, "rb") as f:
        why = _foreign(os.fstat(f.fileno()))
        if why is not None:
            log.debug("cache entry %s skipped: %s", path, why)
            return None
        return read(f)


@cache
def code_fingerprint() -> str:
    """A hash of cfposture's source and catalogs: results computed by other code never match."""
    h = hashlib.sha256(f"{__version__}|{LAYOUT}".encode())
    package = Path(__file__).resolve().parent
    files = sorted(package.rglob("*.py")) + sorted(data_dir().glob("*.csv"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _digest(path: Path) -> bytes:
    """sha256 of a file's bytes (empty for a missing file), remembered while the file's size
    and modification time stay the same: a history's manifests feed many keys."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return b""
    return _digest_of(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=4096)
def _digest_of(path: str, size: int, mtime_ns: int) -> bytes:
    try:
        return hashlib.sha256(Path(path).read_bytes()).digest()
    except FileNotFoundError:
        return b""


def snapshot_key(kind: str, snapshot: Path, older: list[Path], params: dict[str, Any]) -> str:
    """The key of ``kind`` results for ``snapshot`` (``older``: the snapshots its rules read)."""
    h = hashlib.sha256(kind.encode())
    h.update(code_fingerprint().encode())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    for part in (snapshot / MANIFEST, snapshot / OBSERVED, *(p / MANIFEST for p in older)):
        h.update(_digest(part) or b"-")
    return h.hexdigest()


def get(key: str) -> Any | None:
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{key}.json"
    try:
        entry = _read_private(path, lambda f: json.loads(f.read().decode("utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        log.debug("cache entry %s unreadable (%s); recomputing", path, e)
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        log.debug("cache entry %s is not ours; recomputing", path)
        return None
    return entry.get("value")


def put(key: str, value: Any) -> None:
    """Store ``value`` (JSON-able) atomically; failures only cost a recomputation next time."""
    try:
        _store(
            key,
            ".json",
            lambda p: p.write_text(
                json.dumps({"key": key, "value": value}, default=str), encoding="utf-8"
            ),
        )
    except OSError as e:
        log.debug("cannot write the cache entry %s (%s); continuing without it", key, e)


def _store(key: str, suffix: str, write: Any) -> Path | None:
    """``write(path)`` into a temporary file beside the entry, then move it into place, so no
    reader sees half an entry. Entries are the user's alone (``mkstemp`` creates them 0600)
    in a folder created 0700: frames hold members' emails and IP addresses. Returns the
    folder, or None when caching is off."""
    folder = cache_dir()
    if folder is None:
        return None
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, folder / f"{key}{suffix}")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder


# Frames: a snapshot's normalised audit events (cfposture.load.audit_events_of) and inventory
# (tokens, grants, members, ...), and a notebook's findings and scores (cfposture.notebook.
# judged). The usage rules read the events of every snapshot in their window, on every run
# (findings, report, a notebook), and every notebook loads its snapshot; parsing an enterprise
# pull's 2M events takes ~14 s, reading them back as Parquet under 1 s (bench_history.py). Parquet
# holds data, not code, so a cache folder is still never trusted to hold code. Frames are far
# bigger than the JSON entries, so they share a budget: past it, the least recently used go.

FRAMES_BUDGET_MB = 2048
"""Default space for cached frames; ``CFPOSTURE_CACHE_MAX_MB`` changes it."""


def frame_key(kind: str, snapshot: Path) -> str:
    """The key of ``kind`` frame of ``snapshot``: its manifest (every file's sha256) and the
    observations beside it (``observed.json``: which tokens a scan or a roll saw, read into
    the tokens frame), cfposture's code and the pandas and pyarrow versions that write and
    read the Parquet; nothing else: a frame does not depend on rule parameters."""
    import pandas as pd
    import pyarrow

    h = hashlib.sha256(f"frame|{kind}|{pd.__version__}|{pyarrow.__version__}".encode())
    h.update(code_fingerprint().encode())
    for part in (snapshot / MANIFEST, snapshot / OBSERVED):
        h.update(_digest(part) or b"-")
    return h.hexdigest()


def get_frame(key: str) -> Any | None:
    """The cached frame (a pandas DataFrame), or None; a hit counts as a use for the budget."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{key}.parquet"
    if not path.is_file():
        return None
    import pandas as pd

    try:
        df = _read_private(path, pd.read_parquet)
        if df is None:
            return None
    except Exception as e:  # a torn or foreign file: pyarrow raises several kinds
        log.debug("cache frame %s unreadable (%s); recomputing", path, e)
        return None
    # recently used: the budget evicts the others first (a read-only cache is still read)
    with contextlib.suppress(OSError):
        os.utime(path)
    return df


def put_frame(key: str, df: Any) -> None:
    """Store a frame atomically as Parquet (private, as every entry: ``_store``), then keep all
    frames within the budget."""
    try:
        folder = _store(
            key, ".parquet", lambda p: df.to_parquet(p, compression="zstd", index=False)
        )
        if folder is not None:
            _keep_within_budget(folder)
    except Exception as e:  # OSError, or any pyarrow error: a cache never fails the run
        log.debug("cannot write the cache frame %s (%s); continuing without it", key, e)


def budget_bytes() -> int:
    """The frames' budget in bytes (``CFPOSTURE_CACHE_MAX_MB``, else FRAMES_BUDGET_MB)."""
    raw = os.environ.get("CFPOSTURE_CACHE_MAX_MB", "")
    try:
        mb = float(raw) if raw.strip() else FRAMES_BUDGET_MB
    except ValueError:
        log.warning("CFPOSTURE_CACHE_MAX_MB=%r is not a number; using %d", raw, FRAMES_BUDGET_MB)
        mb = FRAMES_BUDGET_MB
    return int(max(mb, 0) * 1024 * 1024)


def _keep_within_budget(folder: Path) -> None:
    """Delete the least recently used frames until the rest fit the budget."""
    frames = []
    for p in folder.glob("*.parquet"):
        if p.name.startswith("."):  # another run's frame being written
            continue
        try:
            st = p.stat()
        except FileNotFoundError:  # another run evicted it meanwhile
            continue
        frames.append((st.st_mtime, st.st_size, p))
    total, budget = sum(size for _, size, _ in frames), budget_bytes()
    for _, size, p in sorted(frames):
        if total <= budget:
            break
        p.unlink(missing_ok=True)
        total -= size


# What ``cfposture cache`` shows and clears. Only names cfposture writes are ever touched (a
# 64-hex key, an optional "-kind", .json or .parquet, or such a file being written), so a
# CFPOSTURE_CACHE_DIR pointed at a folder with other files in it loses none of them.
_ENTRY_NAME = re.compile(r"^\.?[0-9a-f]{64}(?:-[a-z]+)?(?:\.[A-Za-z0-9_]+)?\.(?:json|parquet)$")


def entries() -> list[Path]:
    """The files cfposture keeps in its cache folder (none when caching is off)."""
    folder = cache_dir()
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _ENTRY_NAME.match(p.name) and p.is_file())


def entry_sizes() -> dict[Path, int]:
    """``entries`` with their sizes; a file another run evicts meanwhile is left out."""
    sizes = {}
    for p in entries():
        with contextlib.suppress(FileNotFoundError):
            sizes[p] = p.stat().st_size
    return sizes


def clear() -> tuple[int, int]:
    """Delete every entry (frames hold members' emails and IP addresses: purge them with the
    snapshots they came from). Returns how many files and bytes went."""
    n = size = 0
    for p, got in entry_sizes().items():
        try:
            p.unlink()
        except FileNotFoundError:  # another run evicted or replaced it meanwhile
            continue
        n, size = n + 1, size + got
    return n, size
