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


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
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
    return Baseline(str(p), entries)


def apply_baseline(df: pd.DataFrame, baseline: Baseline, as_of: pd.Timestamp) -> pd.DataFrame:
    """Mark accepted findings; expired acceptances leave them open."""
    live = {fid for fid, a in baseline.entries.items() if a.expires is None or a.expires > as_of}
    out = df.copy()
    out.loc[out["finding_id"].isin(list(live)), "status"] = "accepted"
    return out


def unknown_ids(df: pd.DataFrame, baseline: Baseline) -> list[str]:
    """Baseline ids no current finding has (fixed, or a typo)."""
    return sorted(set(baseline.entries) - set(df["finding_id"]))
