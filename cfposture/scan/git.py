"""Scan the whole history of a git repository: every blob reachable from any ref, once.

``git log --all --reverse --raw`` names, oldest first, the commit and path where each blob
first appears; ``git cat-file --batch`` streams the blobs. A credential is reported once per
path, at the commit that introduced it, even when later commits deleted it again.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from ..errors import CfPostureError
from .engine import Engine
from .files import NO_EXCLUDES, Excludes, Located, Stats, is_binary, locate

ZERO = "0" * 40


def _git(repo: Path, *args: str) -> bytes:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), "-c", "core.quotePath=false", *args],
            capture_output=True,
            check=True,
        ).stdout
    except FileNotFoundError as e:
        raise CfPostureError("--git needs the git command; install git") from e
    except subprocess.CalledProcessError as e:
        msg = e.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CfPostureError(
            f"{repo}: git {args[0]} failed ({msg[-1] if msg else e.returncode}); is it a git"
            " repository with at least one commit?"
        ) from e


def first_appearances(
    repo: Path, excludes: Excludes = NO_EXCLUDES, revs: tuple[str, ...] = ("--all",)
) -> dict[str, tuple[str, str]]:
    """blob id → (commit, path) where it first appears, oldest commit first, outside the
    paths ``excludes`` skips (a blob copied out of an excluded folder is still found), in the
    commits ``revs`` name (git log's revisions: every ref by default)."""
    out = _git(
        repo,
        "log", "--reverse", "--date-order", "--root", "-m", "--raw", "--no-abbrev",
        "--no-renames", "--format=commit %H", *revs,
    )  # fmt: skip
    first: dict[str, tuple[str, str]] = {}
    commit = ""
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        if line.startswith("commit "):
            commit = line[7:]
        elif line.startswith(":"):
            meta, _, path = line.partition("\t")
            parts = meta.split()
            blob, mode = parts[3], parts[1]
            if blob != ZERO and mode.startswith("100") and blob not in first:
                path = _unquote(path)
                if not excludes.skips(path):
                    first[blob] = (commit, path)
    return first


def _unquote(path: str) -> str:
    if path.startswith('"') and path.endswith('"'):
        return path[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return path


def introduced(
    repo: Path, commits: str, excludes: Excludes = NO_EXCLUDES
) -> dict[str, tuple[str, str]]:
    """``first_appearances`` for the commits of a range (``origin/main..HEAD``, as git log
    takes it), keeping only blobs that no commit outside the range has: what the range
    introduced. A merge commit lists its changes against each parent, so merging the base
    branch in would otherwise bring the base's own blobs into a pull request's scan."""
    if commits.startswith("-"):
        raise CfPostureError(f"--commits {commits!r}: give a range of commits, not an option")
    revs = _git(repo, "rev-parse", "--revs-only", commits).decode().split()
    inside = tuple(r for r in revs if not r.startswith("^"))
    outside = tuple(r[1:] for r in revs if r.startswith("^"))
    if not inside:
        raise CfPostureError(
            f"--commits {commits!r} names no commit git knows in {repo} (a ref a shallow"
            " clone lacks? fetch it first); give a range such as origin/main..HEAD"
        )
    first = first_appearances(repo, excludes, (*inside, *(f"^{r}" for r in outside)))
    if outside and first:
        # the blobs the base already has where a scan of it reports them (a fixture the
        # base keeps only under an excluded path, copied into src/, is new in src/)
        known = first_appearances(repo, excludes, outside)
        first = {blob: seen for blob, seen in first.items() if blob not in known}
    return first


def scan_history(
    repo: Path,
    engine: Engine,
    stats: Stats,
    excludes: Excludes = NO_EXCLUDES,
    commits: str | None = None,
) -> list[Located]:
    """Every blob of the history (``commits``: only what that range introduced) once."""
    if not repo.is_dir():
        raise CfPostureError(f"{repo}: not a folder; --git scans a repository's history")
    _git(repo, "rev-parse", "--git-dir")  # outside a repository: a clear one-line error
    if commits is None:
        first = first_appearances(repo, excludes)
    else:
        first = introduced(repo, commits, excludes)
    blobs = list(first)
    proc = subprocess.Popen(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        try:
            for b in blobs:
                proc.stdin.write(b.encode() + b"\n")  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    found: dict[tuple[str, str], Located] = {}
    for blob in blobs:
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            stats.warn(f"{blob}: blob missing from the object store; skipped")
            continue
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)  # the newline after each object
        stats.blobs += 1
        if size == 0:
            continue
        if is_binary(data):
            stats.binary += 1
            continue
        stats.bytes += size
        hits = engine.find(data, size)
        if hits:
            commit, path = first[blob]
            for loc in locate(data, hits, path, commit):
                key = (loc.path, loc.hit.value)
                found.setdefault(key, loc)  # oldest first: the introducing commit wins
    proc.wait()
    return list(found.values())
