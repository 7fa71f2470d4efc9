"""Merge the raw snapshots of several pulls of the same accounts into one snapshot.

Why: ``/user/tokens`` lists only the caller's own user tokens, so one pull inventories the
puller's user tokens and sees every other member's only in the audit logs ("seen acting on the
account, not inventoried"). Members who want theirs covered each pull with their own token;
``cfposture merge OUT A B …`` joins those pulls into one snapshot that every command reads like
any other. The rules, chosen so that a merge never claims more than the pulls saw:

* ``/user`` and ``/user/tokens`` are per caller: each pull's are kept under its owner
  (``owners/<user id>``), so a user token is never attributed to the wrong person;
* every other endpoint is the union of its items by ``id`` (items without one, by content);
  where pulls hold the same id, the latest pull's version wins, being the newest state;
* an endpoint that one pull could read and another could not counts as read: coverage gaps
  close; it stays denied only when no pull could read it;
* audit events are the union by event id, in time order; the audit window is the one every
  pull covered (the latest start, the earliest end), so usage is never judged on a span that
  only some pulls read;
* observations beside the inputs (``observed.json``) are carried over.

The merged manifest lists its inputs (``source.from``, with each manifest's sha256), and
``cfposture.load.history`` leaves out a snapshot that a merge in the same folder already holds,
so pulls and their merge can sit side by side without counting twice in trends. Nothing here
imports pandas: merging streams the stored lines, and pyarrow only reads the events' ids and
times.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import SnapshotError
from .rawsnapshot import (
    MANIFEST,
    RawSnapshot,
    SnapshotWriter,
    add_observations,
    read_observations,
)

PER_CALLER = {"user": "owner_user", "user_tokens": "owner_user_tokens"}
"""Endpoints whose answer depends on who calls: kept per owner in a merged snapshot."""

DEFAULT_MAX_APART = timedelta(hours=24)

Source = tuple[RawSnapshot, dict[str, Any]]  # a snapshot and one of its manifest entries


def manifest_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a snapshot's ``manifest.json``: names one pull exactly, whatever its folder."""
    return hashlib.sha256((Path(path) / MANIFEST).read_bytes()).hexdigest()


def merged_from(manifest: dict[str, Any]) -> set[str]:
    """The manifest digests of the pulls a merged snapshot holds (empty for a plain pull)."""
    source = manifest.get("source")
    if not isinstance(source, dict) or source.get("kind") != "merge":
        return set()
    return {
        str(f["manifest_sha256"])
        for f in source.get("from") or []
        if isinstance(f, dict) and f.get("manifest_sha256")
    }


def _when(raw: RawSnapshot) -> datetime:
    try:
        return datetime.fromisoformat(raw.created_at.replace("Z", "+00:00"))
    except ValueError:
        raise SnapshotError(
            f"{raw.path} has no valid created_at in its manifest; pull it again"
        ) from None


def _owner(raw: RawSnapshot) -> dict[str, Any] | None:
    """Who pulled: the ``/user`` answer, or None when the token could not read it."""
    if not raw.entries("user"):
        return None
    user = next(iter(raw.items("user")), None)
    return user if user and user.get("id") else None


def _window(raws: Sequence[RawSnapshot]) -> dict[str, str] | None:
    """The audit window every pull that read audit logs covered (their intersection)."""
    read = [r for r in raws if r.entries("audit_logs")] or list(raws)
    windows = [r.manifest.get("audit_window") for r in read]
    windows = [w for w in windows if isinstance(w, dict) and w.get("since") and w.get("before")]
    if not windows:
        return None
    since = max(windows, key=lambda w: _ts(w["since"]))["since"]
    before = min(windows, key=lambda w: _ts(w["before"]))["before"]
    if _ts(since) >= _ts(before):
        spans = ", ".join(f"{w['since']}..{w['before']}" for w in windows)
        raise SnapshotError(
            f"the pulls' audit windows do not overlap ({spans}); pull again with the same"
            " --since and --before so that usage is judged on one span"
        )
    return {"since": since, "before": before}


def _ts(text: str) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise SnapshotError(
            f"{text!r} in a manifest's audit_window is not a timestamp; pull again"
        ) from None


def _key(item: dict[str, Any]) -> str:
    ident = item.get("id")
    if ident is not None and not isinstance(ident, dict | list):
        return f"id:{ident}"
    return "content:" + json.dumps(item, sort_keys=True, separators=(",", ":"))


def _union(sources: Iterable[Source]) -> Iterator[bytes]:
    """Items of one endpoint from several pulls, oldest pull first: one line per id, the
    latest pull's version, in the order the ids were first seen."""
    lines: dict[str, bytes] = {}
    for raw, entry in sources:
        for item, line in raw.iter_lines(entry["endpoint"], **(entry.get("ids") or {})):
            lines[_key(item)] = line
    return iter(lines.values())


def _event_time(item: dict[str, Any]) -> str:
    action = item.get("action")
    return str(action.get("time") or "") if isinstance(action, dict) else ""


def _arrow_keys(data: bytes, lines: int) -> tuple[list[str], list[str]] | None:
    """Each event's id and time, parsed by pyarrow's JSON reader (C++, ~6× faster than
    ``json.loads`` per line); None when anything is unusual (a blank or malformed line, an id
    that is not a string, a count that differs), and the caller takes the slow, exact path."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    if not data:
        return None
    schema = pa.schema([("id", pa.string()), ("action", pa.struct([("time", pa.string())]))])
    try:
        table = pj.read_json(
            pa.py_buffer(data),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    ids = table.column("id")
    if table.num_rows != lines or ids.null_count:
        return None
    times = pc.struct_field(table.column("action").combine_chunks(), "time")
    return ids.to_pylist(), times.fill_null("").to_pylist()


def _keyed(source: Source) -> Iterator[tuple[str, str, bytes]]:
    """(time, key, line) per event of one pull's audit file, in stored order."""
    raw, entry = source
    key, ids = entry["endpoint"], entry.get("ids") or {}
    data = raw.read_bytes(key, **ids)
    lines = data.splitlines()
    fast = _arrow_keys(data, len(lines))
    if fast is None:
        for item, line in raw.iter_lines(key, **ids):
            yield _event_time(item), _key(item), line
        return
    for ident, when, line in zip(*fast, lines, strict=True):
        yield when, f"id:{ident}", line


def _events(sources: Sequence[Source]) -> Iterator[bytes]:
    """Audit events of one account from several pulls: each once, in time order. Each pull
    stored its events in time order (the pull asks for ``direction=asc``), so this streams a
    k-way merge and holds only the ids seen, not the events (enterprise logs hold millions)."""
    seen: set[str] = set()
    for _, key, line in heapq.merge(*(_keyed(s) for s in sources)):
        if key not in seen:
            seen.add(key)
            yield line


def merge(
    paths: Sequence[str | os.PathLike[str]],
    dest: str | os.PathLike[str],
    *,
    max_apart: timedelta = DEFAULT_MAX_APART,
) -> Path:
    """Write the merge of the snapshots at ``paths`` to the new folder ``dest`` (atomically,
    like a pull) and return it. Raises ``SnapshotError`` with what to do when the pulls are too
    far apart in time, their audit windows do not overlap, or a pull holds user tokens but no
    owner to keep them under."""
    if len(paths) < 2:
        raise SnapshotError("give two or more snapshots to merge (one pull per member)")
    raws = [RawSnapshot.open(p) for p in paths]
    digests = [manifest_digest(r.path) for r in raws]
    for i, d in enumerate(digests):
        if d in digests[:i]:
            twin = raws[digests.index(d)].path
            raise SnapshotError(
                f"{raws[i].path} and {twin} are the same pull; give each member's pull once"
            )
    order = sorted(range(len(raws)), key=lambda i: (_when(raws[i]), i))
    raws, digests = [raws[i] for i in order], [digests[i] for i in order]
    first, last = _when(raws[0]), _when(raws[-1])
    if last - first > max_apart:
        hours = (last - first).total_seconds() / 3600
        raise SnapshotError(
            f"{raws[0].path} and {raws[-1].path} were pulled {hours:.0f} hours apart; merge"
            " pulls taken together (pull again), or allow it with --max-apart HOURS"
        )
    window = _window(raws)

    targets: dict[tuple[str, tuple[tuple[str, str], ...]], list[Source]] = {}
    owners: list[dict[str, Any] | None] = []
    for raw in raws:
        owner = _owner(raw)
        owners.append(owner)
        for entry in raw.manifest["endpoints"]:
            key, ids = entry.get("endpoint"), dict(entry.get("ids") or {})
            if key in PER_CALLER:
                if owner is None:
                    if entry.get("status") == "ok" and key == "user_tokens" and entry.get("count"):
                        raise SnapshotError(
                            f"{raw.path} holds user tokens but not who owns them (/user was not"
                            " readable); pull again with a token that has User Details Read"
                        )
                    continue
                key, ids = PER_CALLER[key], {"user_id": str(owner["id"])}
            targets.setdefault((str(key), tuple(sorted(ids.items()))), []).append((raw, entry))

    source = {
        "kind": "merge",
        "from": [
            {
                "created_at": r.created_at,
                "user": (o or {}).get("email"),
                "source": r.manifest.get("source"),
                "manifest_sha256": d,
            }
            for r, o, d in zip(raws, owners, digests, strict=True)
        ],
    }
    with SnapshotWriter(dest, source, created_at=last) as w:
        w.audit_window = window
        for (key, ids_items), sources in targets.items():
            ids = dict(ids_items)
            read = [s for s in sources if s[1].get("status") == "ok"]
            if read:
                lines = _events(read) if key == "audit_logs" else _union(read)
                w.write_lines(key, lines, **ids)
                continue
            denied = sources[-1][1]
            w.deny(
                key,
                http_status=int(denied.get("http_status") or 0),
                message=str(denied.get("message") or ""),
                code=denied.get("code"),
                documentation_url=denied.get("documentation_url"),
                **ids,
            )
    observations = [o for r in raws for o in read_observations(r.path)]
    if observations:
        add_observations(dest, observations)
    return Path(dest)


def describe(path: str | os.PathLike[str]) -> str:
    """One line on what a merged snapshot holds, for the command line."""
    raw = RawSnapshot.open(path)
    owners = [e["ids"]["user_id"] for e in raw.entries("owner_user_tokens")]
    emails = [
        str(next(iter(raw.items("owner_user", user_id=u)), {}).get("email") or u) for u in owners
    ]
    tokens = sum(e["count"] for e in raw.entries("owner_user_tokens"))
    accounts = len({str(a.get("id")) for a in raw.items("accounts")})
    gaps = len(raw.denied())
    return (
        f"merged {len(merged_from(raw.manifest))} pulls into {raw.path} (as of {raw.created_at}):"
        f" {tokens} user token(s) of {len(owners)} owner(s)"
        + (f" ({', '.join(emails)})" if emails else "")
        + f", {accounts} account(s), {gaps} coverage gap(s)"
        + (
            f"; audit window {w['since']}..{w['before']}"
            if (w := raw.manifest.get("audit_window"))
            else ""
        )
    )
