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

import pandas as pd
import yaml

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


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    p = Path(path)
    try:
        raw = p.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CfPostureError(f"cannot read baseline {p} ({e}); give a YAML or JSON file") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        first = str(e).splitlines()[0]
        raise CfPostureError(
            f"baseline {p} is not valid {p.suffix[1:] or 'YAML'}: {first}"
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
