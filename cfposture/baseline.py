"""Accepted risks: a YAML or JSON file of finding ids with a reason, an owner and an expiry.

    accepted:
      - finding_id: 3f1c...
        reason: break-glass token, kept in the vault
        owner: dana@example.com
        expires: 2027-03-31

An accepted finding stays in the output with ``status = accepted``; once ``expires`` has passed
(at the snapshot's date) it is open again. Ids the findings no longer contain are reported, not
fatal: the problem may simply be fixed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .bounded import read_file
from .errors import CfPostureError


@dataclass(frozen=True)
class Acceptance:
    finding_id: str
    reason: str
    owner: str
    expires: pd.Timestamp | None


@dataclass(frozen=True)
class Baseline:
    path: str
    entries: dict[str, Acceptance]
    digest: str = ""  # of the file's bytes: cached results judged with it key on it


def _yaml() -> Any:
    """PyYAML, imported when a YAML baseline is read (~10 ms that the findings, the report and
    its kernels, which import this module, need not pay without one)."""
    import yaml

    return yaml


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    p = Path(path)
    advice = "give a YAML or JSON file"
    try:
        raw = read_file(p, CfPostureError, advice)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CfPostureError(f"baseline {p} is not UTF-8; {advice}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else _yaml().safe_load(text)
    except RecursionError:
        raise CfPostureError(f"baseline {p} nests too deeply to read; {advice}") from None
    except (json.JSONDecodeError, _yaml().YAMLError) as e:
        first = str(e).splitlines()[0]
        raise CfPostureError(
            f"baseline {p} is not valid {(p.suffix[1:] or 'yaml').upper()}: {first}"
        ) from None
    items = data.get("accepted") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise CfPostureError(f"baseline {p} needs a top-level 'accepted' list (see the README)")
    entries = {}
    for n, it in enumerate(items, start=1):
        if not isinstance(it, dict) or not it.get("finding_id"):
            raise CfPostureError(f"baseline {p} entry {n} has no finding_id")
        for key in ("reason", "owner"):
            if not str(it.get(key) or "").strip():
                raise CfPostureError(
                    f"baseline {p} entry {n} ({it['finding_id']}) has no {key}: every accepted "
                    "risk needs a reason and an owner"
                )
        expires = it.get("expires")
        try:
            when = pd.Timestamp(str(expires), tz="UTC") if expires else None
        except ValueError:
            raise CfPostureError(
                f"baseline {p} entry {n}: expires {expires!r} is not a date (YYYY-MM-DD)"
            ) from None
        fid = str(it["finding_id"])
        entries[fid] = Acceptance(fid, str(it["reason"]), str(it["owner"]), when)
    return Baseline(str(p), entries, hashlib.sha256(raw).hexdigest()[:16])


def apply_baseline(df: pd.DataFrame, baseline: Baseline, as_of: pd.Timestamp) -> pd.DataFrame:
    """Mark accepted findings; expired acceptances leave them open."""
    live = {fid for fid, a in baseline.entries.items() if a.expires is None or a.expires > as_of}
    out = df.copy()
    out.loc[out["finding_id"].isin(list(live)), "status"] = "accepted"
    return out


EXPIRING_DAYS = 30
"""An acceptance this close to its expiry is listed as expiring: its owner has a month to
renew it with a reason or fix the finding before it opens again (and fails a gate)."""

RISK_STATES = ["reopened", "expiring", "accepted", "no finding"]
RISK_COLUMNS = [
    "state",
    "days_left",
    "expires",
    "owner",
    "reason",
    "severity",
    "rule_id",
    "principal_name",
    "finding_id",
]


def accepted_risks(df: pd.DataFrame, baseline: Baseline, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every baseline entry with what became of it at ``as_of``, so none is forgotten:
    ``reopened`` (expired, the finding is open again), ``expiring`` (within EXPIRING_DAYS),
    ``accepted``, or ``no finding`` (fixed, or a typo: the entry can go). Most urgent first."""
    by_id = df.drop_duplicates("finding_id").set_index("finding_id")
    rows = []
    for fid, a in baseline.entries.items():
        days = None if a.expires is None else (a.expires - as_of).days
        if fid not in by_id.index:
            state = "no finding"
        elif a.expires is not None and a.expires <= as_of:
            state = "reopened"
        elif days is not None and days <= EXPIRING_DAYS:
            state = "expiring"
        else:
            state = "accepted"
        f = by_id.loc[fid] if fid in by_id.index else None
        rows.append(
            {
                "state": state,
                "days_left": days,
                "expires": a.expires,
                "owner": a.owner,
                "reason": a.reason,
                "severity": None if f is None else f["severity"],
                "rule_id": None if f is None else f["rule_id"],
                "principal_name": None if f is None else f["principal_name"],
                "finding_id": fid,
            }
        )
    out = pd.DataFrame(rows, columns=RISK_COLUMNS)
    out["state"] = pd.Categorical(out["state"], RISK_STATES, ordered=True)
    out["days_left"] = out["days_left"].astype("Int64")
    return out.sort_values(["state", "days_left"], na_position="last").reset_index(drop=True)


def unknown_ids(df: pd.DataFrame, baseline: Baseline) -> list[str]:
    """Baseline ids no current finding has (fixed, or a typo)."""
    return sorted(set(baseline.entries) - set(df["finding_id"]))


ACCEPT_DAYS = 90
"""How long ``cfposture accept`` accepts a risk unless told otherwise: a quarter, so that every
acceptance comes back to its owner (``--expires never`` accepts for good)."""

SHORT_ID = 6  # the shortest finding-id prefix ``accept`` takes (the table shows 12 characters)


def resolve_ids(df: pd.DataFrame, wanted: list[str]) -> list[str]:
    """Full finding ids for ids or unique prefixes of them, in the order given; a one-line error
    for one that matches no finding, or several."""
    ids = df["finding_id"].drop_duplicates()
    out: list[str] = []
    for w in wanted:
        w = w.strip().lower()
        if len(w) < SHORT_ID:
            raise CfPostureError(
                f"finding id {w!r} is too short: give at least {SHORT_ID} characters of it"
            )
        hits = ids[ids.str.startswith(w)]
        if hits.empty:
            raise CfPostureError(
                f"no finding {w} in this snapshot (fixed already, or a typo?); "
                "`cfposture findings SNAPSHOT` lists them with their ids"
            )
        if len(hits) > 1:
            raise CfPostureError(f"{w} is the start of {len(hits)} finding ids; give more of it")
        if hits.iloc[0] not in out:
            out.append(hits.iloc[0])
    return out


def record(
    path: str | os.PathLike[str],
    ids: list[str],
    *,
    reason: str,
    owner: str,
    expires: pd.Timestamp | None,
) -> dict[str, str]:
    """Accept ``ids`` in the baseline file at ``path`` (created if missing): an id already
    there is renewed with the new reason, owner and expiry, any other is added at the end.
    Returns id → ``added`` or ``renewed``.

    The file is read first as every command reads it, so a broken baseline is reported and
    left alone; YAML is edited round trip (ruamel.yaml), keeping the team's comments and
    order; the new file replaces the old one atomically and is read back before this returns.
    """
    if not reason.strip() or not owner.strip():
        raise CfPostureError("every accepted risk needs a reason and an owner (--reason, --owner)")
    p = Path(path)
    is_json = p.suffix.lower() == ".json"
    exists = p.exists()
    if exists:
        load_baseline(p)  # a broken file fails here, before anything is written
    items: list
    if is_json:
        doc = json.loads(p.read_text(encoding="utf-8")) if exists else {"accepted": []}
        items = doc["accepted"]
    else:
        rt = _round_trip()
        doc = rt.load(p.read_text(encoding="utf-8")) if exists else None
        if doc is None:
            doc = rt.load("accepted: []\n")
        items = doc["accepted"]
    where = {str(it.get("finding_id")): n for n, it in enumerate(items)}
    done: dict[str, str] = {}
    for fid in ids:
        entry = {"finding_id": fid, "reason": reason.strip(), "owner": owner.strip()}
        if expires is not None:
            entry["expires"] = expires.date().isoformat() if is_json else expires.date()
        if fid in where:
            old = items[where[fid]]
            for key in ("reason", "owner", "expires"):
                if key in entry:
                    old[key] = entry[key]
                elif key in old:
                    del old[key]
            done[fid] = "renewed"
        else:
            items.append(entry)
            where[fid] = len(items) - 1
            done[fid] = "added"
    _replace(p, doc, is_json)
    load_baseline(p)  # what was written reads back as a baseline
    return done


def _round_trip() -> Any:
    """ruamel.yaml's round-trip loader and dumper, in the README's layout (imported here: only
    ``accept`` writes YAML)."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.preserve_quotes = True
    return rt


def _replace(p: Path, doc: object, is_json: bool) -> None:
    """Write ``doc`` to a temporary file beside ``p``, then move it over ``p``: a reader never
    sees half a baseline, and an error leaves the old one as it was."""
    import io
    import tempfile

    buf = io.StringIO()
    if is_json:
        json.dump(doc, buf, indent=2)
        buf.write("\n")
    else:
        _round_trip().dump(doc, buf)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(buf.getvalue())
        if p.exists():
            mode = p.stat().st_mode & 0o7777
        else:  # as open() would create it (mkstemp's file is private): the team shares it
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
