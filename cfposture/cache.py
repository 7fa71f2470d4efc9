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

import hashlib
import json
import logging
import os
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
    """Where entries live, or None when caching is turned off."""
    env = os.environ.get("CFPOSTURE_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "0", "off", "no", "false") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory (a bare cron or container user): no cache
            return None
    return Path(base) / "cfposture"


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
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        log.debug("cache entry %s unreadable (%s); recomputing", path, e)
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        log.debug("cache entry %s is not ours; recomputing", path)
        return None
    return entry.get("value")


def put(key: str, value: Any) -> None:
    """Store ``value`` (JSON-able) atomically; failures only cost a recomputation next time."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"key": key, "value": value}, f, default=str)
            os.replace(tmp, folder / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        log.debug("cannot write the cache in %s (%s); continuing without it", folder, e)
