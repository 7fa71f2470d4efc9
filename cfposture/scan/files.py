"""Walk folders and scan files: no symlinks followed, binaries skipped, huge files mapped.

A file that cannot be read is a warning, not the end of the scan: every other file is still
scanned and reported. ``.git`` folders are skipped (``--git`` scans history properly).
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

from ..errors import CfPostureError
from ..textsafe import escaped
from .engine import Engine, Hit

TYPE_CHECKING = False  # not typing's: see cfposture.cli
if TYPE_CHECKING:
    from typing import IO

SNIFF = 8000  # like git: a NUL byte in the first 8,000 bytes means binary
MAP_ABOVE = 1 << 20  # files larger than this are mapped (no copy) instead of read
# prefault the mapping in one call instead of one page fault per 4 KiB (Linux)
MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)


class Stats:
    """What a scan counted and warned of. ``log``: each warning is also logged as it is met
    (False: the caller prints them). ``counted_skips`` is False with ripgrep, which skips
    binaries and symlinks without saying."""

    def __init__(self, *, log: bool = True) -> None:
        self.files = self.bytes = self.binary = self.symlinks = self.unreadable = 0
        self.blobs = 0
        self.counted_skips = True
        self.log = log
        self.warnings: list[str] = []
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        """Counters are bumped from the scanning threads: under a lock, none is lost."""
        with self._lock:
            for k, n in counts.items():
                setattr(self, k, getattr(self, k) + n)

    def warn(self, msg: str) -> None:
        with self._lock:
            self.warnings.append(msg)
        if self.log:
            import logging  # here: few scans warn, and logging is ~3 ms of a scan's start-up

            logging.getLogger(__name__).warning(msg)

    def absorb(self, other: Stats) -> None:
        """Take ``other``'s binary count and warnings (already logged): what one ripgrep run
        found, kept apart until the run is known to have ended well."""
        with self._lock:
            self.binary += other.binary
            self.warnings += other.warnings


class Located:
    """A hit with where it was: path (and commit, for history), 1-based line and column;
    ``allowed``: its line carries the ``cfposture:allow`` marker (see ``allowed_inline``)."""

    __slots__ = ("allowed", "column", "commit", "hit", "line", "path")

    def __init__(
        self,
        hit: Hit,
        path: str,
        line: int,
        column: int,
        commit: str | None = None,
        allowed: bool = False,
    ) -> None:
        self.hit = hit
        self.path = path
        self.line = line
        self.column = column
        self.commit = commit
        self.allowed = allowed

    def __repr__(self) -> str:
        where = f"{self.commit[:12]}:" if self.commit else ""
        return f"Located({self.hit!r}, {where}{self.path}:{self.line}:{self.column})"


ALLOW_MARKER = b"cfposture:allow"
#: how far along the credential's line the marker is looked for, each side: every engine has
#: at least this much of the line at hand (ripgrep's windows reach further), so all agree
ALLOW_REACH = 1024


def allowed_inline(buf: bytes | mmap.mmap, start: int, end: int, bol: int) -> bool:
    """Whether the line holding ``buf[start:end]`` (it begins at ``bol``) says
    ``cfposture:allow`` within ALLOW_REACH bytes of it, as ``# cfposture:allow`` after a test
    fixture's fake token. Such a credential is still reported, marked allowed, as gitleaks'
    ``gitleaks:allow`` and detect-secrets' ``pragma: allowlist secret`` work; it is not new
    and fails no gate. One bounded search per credential, a second only if the marker is
    found after it (is a newline between?): it runs for every hit of a scan."""
    lo = start - ALLOW_REACH
    if lo < bol:
        lo = bol
    if lo < 0:  # the line began before a window's start: never an index from the end
        lo = 0
    at = buf.find(ALLOW_MARKER, lo, end + ALLOW_REACH)
    return at >= 0 and (at < start or buf.find(b"\n", end, at) < 0)


def locate(buf: bytes | mmap.mmap, hits: list[Hit], path: str, commit: str | None = None):
    """Line numbers for sorted hits, counting newlines once across the buffer."""
    count = _newline_counter(buf)
    out, line, pos = [], 1, 0
    for h in hits:
        line += count(pos, h.start)
        pos = h.start
        bol = buf.rfind(b"\n", 0, h.start) + 1
        allowed = allowed_inline(buf, h.start, h.end, bol)
        out.append(Located(h, path, line, h.start - bol + 1, commit, allowed))
    return out


def _newline_counter(buf: bytes | mmap.mmap):
    """Newlines in ``buf[a:b]``. Counting them is most of a scan's Python-side cost when hits
    are dense, so large buffers use numpy, which reads the mapping in place and releases the
    GIL (the threads count in parallel); bytes.count holds it and an mmap slice copies."""
    if len(buf) < 1 << 16:
        data = bytes(buf) if not isinstance(buf, bytes) else buf
        return lambda a, b: data.count(b"\n", a, b)
    import numpy as np

    arr = np.frombuffer(buf, dtype=np.uint8)
    return lambda a, b: int(np.count_nonzero(arr[a:b] == 10))


class Excludes:
    """``--exclude`` patterns: what a team keeps out of a scan (vendored code, fixtures made
    of fake tokens, minified bundles), as shell patterns matched case-sensitively.

    A pattern without ``/`` matches any file or folder name at any depth (``node_modules``,
    ``*.min.js``); one with ``/`` matches the path relative to the folder named on the command
    line, or a folder on its way (``tests/fixtures``, ``docs/*.md``; ``*`` also matches ``/``).
    A path named on the command line is matched as it was given (pre-commit names the files a
    commit stages, relative to the repository). With ``--git`` the paths are the
    repository's: a blob is reported where it first appears outside the excluded paths."""

    __slots__ = ("patterns",)

    def __init__(self, patterns: tuple[str, ...] = ()) -> None:
        for p in patterns:
            if not p.strip("/"):
                raise CfPostureError(f"--exclude {p!r}: give a file or folder name or a pattern")
        self.patterns = patterns

    def skips(self, rel: str) -> bool:
        """Whether ``rel`` (``/``-separated, relative to a scanned folder) is excluded."""
        if not self.patterns:
            return False
        parts = rel.split("/")
        for pat in self.patterns:
            if "/" not in pat:
                if any(fnmatchcase(part, pat) for part in parts):
                    return True
                continue
            pat = pat.strip("/")
            if any(fnmatchcase("/".join(parts[:i]), pat) for i in range(1, len(parts) + 1)):
                return True
        return False

    def rg_globs(self) -> list[str]:
        """The patterns ripgrep can apply itself with the same meaning (a name at any depth,
        no bracket or escape, whose syntax differs between its globs and fnmatch), so it
        does not even read those files; what is matched in Python stays the reference."""
        return [f"--glob=!{p}" for p in self.patterns if _PLAIN_NAME.fullmatch(p)]


NO_EXCLUDES = Excludes()

_PLAIN_NAME = re.compile(r"[\w.*?@+=,~-]+")


def is_binary(head: bytes) -> bool:
    return b"\0" in head[:SNIFF]


def scan_file(path: Path, engine: Engine, stats: Stats, shown: str) -> list[Located]:
    try:
        # O_NONBLOCK: a file swapped for a FIFO since it was listed must not block the scan
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                stats.warn(f"{escaped(shown)}: not a regular file; skipped")
                return []
            size = st.st_size
            if size == 0:
                return []
            if size <= MAP_ABOVE:
                buf: bytes | mmap.mmap = f.read()
                head = buf[:SNIFF]
            else:
                head = f.read(SNIFF)
                buf = mmap.mmap(f.fileno(), 0, flags=MAP_FLAGS, prot=mmap.PROT_READ)
            if is_binary(head):
                stats.add(binary=1)
                return []
            stats.add(files=1, bytes=size)
            hits = engine.find(buf, len(buf))
            return locate(buf, hits, shown) if hits else []
    except OSError as e:
        stats.add(unreadable=1)
        stats.warn(f"{shown}: cannot read ({e.strerror or e}); skipped")
        return []


STDIN_SHOWN = "<stdin>"


def scan_stream(stream: IO[bytes], engine: Engine, stats: Stats) -> list[Located]:
    """Standard input, read whole and scanned as a file named ``<stdin>`` is: binary (a NUL
    byte in its first 8,000 bytes) is skipped, with a warning, since nothing else names it."""
    try:
        buf = stream.read()
    except OSError as e:
        stats.add(unreadable=1)
        stats.warn(f"{STDIN_SHOWN}: cannot read ({e.strerror or e}); skipped")
        return []
    if not buf:
        return []
    if is_binary(buf[:SNIFF]):
        stats.add(binary=1)
        stats.warn(f"{STDIN_SHOWN}: binary (a NUL byte in its first {SNIFF:,} bytes); skipped")
        return []
    stats.add(files=1, bytes=len(buf))
    hits = engine.find(buf, len(buf))
    return locate(buf, hits, STDIN_SHOWN) if hits else []


def _git_listed(root: Path) -> set[Path] | None:
    """Files git would not ignore under ``root`` (tracked + untracked, minus .gitignore'd), or
    None outside a work tree. git is the reference implementation of .gitignore."""
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {(root / p.decode("utf-8", "surrogateescape")) for p in out.split(b"\0") if p}


def iter_files(
    roots: list[Path], stats: Stats, *, gitignore: bool = False, excludes: Excludes = NO_EXCLUDES
) -> Iterator[Path]:
    for root in roots:
        if root.is_symlink():
            stats.symlinks += 1
            stats.warn(f"{root}: a symlink; not followed (scan its target instead)")
            continue
        if not root.exists():
            raise CfPostureError(f"{root}: no such file or folder; check the path")
        if root.is_file():
            yield root
            continue
        allowed = _git_listed(root) if gitignore else None
        if gitignore and allowed is None:
            stats.warn(f"{root}: not inside a git work tree; --gitignore has no effect there")
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath).relative_to(root).as_posix()
            rel = "" if here == "." else here + "/"
            kept = [d for d in dirnames if d != ".git" and not excludes.skips(rel + d)]
            links = [d for d in kept if os.path.islink(os.path.join(dirpath, d))]
            stats.symlinks += len(links)  # os.walk lists them but never enters them
            dirnames[:] = sorted(d for d in kept if d not in links)
            for name in sorted(filenames):
                p = Path(dirpath, name)
                if excludes.skips(rel + name):
                    continue
                try:
                    mode = p.lstat().st_mode
                except OSError:
                    continue  # gone since the folder was listed
                if stat.S_ISLNK(mode):
                    stats.symlinks += 1
                    continue
                if not stat.S_ISREG(mode):  # a FIFO, socket or device: reading it never ends
                    stats.warn(f"{escaped(str(p))}: not a regular file; skipped")
                    continue
                if allowed is not None and p not in allowed:
                    continue
                yield p


def scan_files(
    roots: list[Path],
    engine: Engine,
    stats: Stats,
    *,
    gitignore: bool = False,
    workers: int = 0,
    excludes: Excludes = NO_EXCLUDES,
) -> list[Located]:
    """Scan every regular file under ``roots`` with ``workers`` threads (default: one per core;
    the prefilter releases the GIL)."""
    paths = list(iter_files(roots, stats, gitignore=gitignore, excludes=excludes))
    workers = workers or min(8, os.cpu_count() or 1)
    from concurrent.futures import ThreadPoolExecutor  # not for ripgrep's scans: ~2 ms spared

    with ThreadPoolExecutor(workers) as pool:
        chunks = pool.map(lambda p: scan_file(p, engine, stats, str(p)), paths)
        return [loc for chunk in chunks for loc in chunk]
