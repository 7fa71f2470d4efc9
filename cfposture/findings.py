"""Run the rules over a snapshot: the findings frame.

``finding_id`` is a stable hash of (rule, principal type, principal id, scope), so the same
problem keeps its id across runs and snapshots: baselines and trends key on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from .baseline import Baseline, apply_baseline
from .errors import SEVERITY_RANK, CfPostureError
from .load import Snapshot
from .rawsnapshot import read_observations
from .rules import RULES, Context, Params
from .schemas import Findings, validate
from .window import Window


def finding_id(rule_id: str, principal_type: str, principal_id: str, scope: str) -> str:
    key = "\x1f".join((rule_id, principal_type, principal_id, scope))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _wanted(rules: Iterable[str] | None) -> list[str]:
    wanted = list(RULES) if rules is None else list(rules)
    unknown = [r for r in wanted if r not in RULES]
    if unknown:
        raise CfPostureError(f"unknown rule id(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    return wanted


def run_rules(ctx: Context, rules: Iterable[str] | None = None) -> pd.DataFrame:
    """The findings of ``rules`` (default: all) in ``ctx``, most severe first."""
    wanted = _wanted(rules)
    rows: list[dict] = []
    for rid in wanted:
        r = RULES[rid]
        for f in r.check(ctx):
            f["rule_id"] = rid
            f["checklist_step"] = r.checklist_step
            f["title"] = f["title"] or r.title
            f["finding_id"] = finding_id(rid, f["principal_type"], f["principal_id"], f["scope"])
            f["evidence"] = json.dumps(f["evidence"], sort_keys=True, default=str)
            f["remedy"] = json.dumps(f["remedy"], sort_keys=True) if f["remedy"] else None
            f["status"] = "open"
            rows.append(f)
    df = pd.DataFrame(rows, columns=[*Findings.to_schema().columns, "adjust"])
    if not df.empty:
        df["severity"] = ctx.adjust_severity(df)
        df = df.sort_values(
            ["severity", "checklist_step", "rule_id", "principal_name"],
            key=lambda s: s.map(SEVERITY_RANK).mul(-1) if s.name == "severity" else s,
        ).reset_index(drop=True)
    return validate(Findings, df.drop(columns=["adjust"]))


def judge(
    snap: Snapshot,
    *,
    stale_days: int = 90,
    usage_days: int = 90,
    rotate_days: int = 365,
    max_super_admins: int = 3,
    rules: Iterable[str] | None = None,
    baseline: Baseline | None = None,
    leaks: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, Window]:
    """Findings for one snapshot, and the usage window they were judged on. Usage-based rules
    (CFP-T07, M04, M05, O01) read audit events of the snapshot's history folder too and only judge
    when they cover ``usage_days``; the window says whether they did, so outputs can say "not
    yet enough history" instead of staying silent."""
    df, ctx = judge_in_context(
        snap,
        stale_days=stale_days,
        usage_days=usage_days,
        rotate_days=rotate_days,
        max_super_admins=max_super_admins,
        rules=rules,
        baseline=baseline,
        leaks=leaks,
    )
    return df, ctx.window


def judge_in_context(
    snap: Snapshot,
    *,
    rules: Iterable[str] | None = None,
    baseline: Baseline | None = None,
    leaks: pd.DataFrame | None = None,
    **params: int,
) -> tuple[pd.DataFrame, Context]:
    """``judge`` (the same options), handing back the rules' context instead of its window:
    what it computed (the privilege per principal) serves ``scoring.exposure_summary`` too."""
    wanted = _wanted(rules)
    ctx = context(snap, leaks=leaks, **params)
    df = run_rules(ctx, wanted)
    return (apply_baseline(df, baseline, snap.created_at) if baseline else df), ctx


def findings(snap: Snapshot, **options: Any) -> pd.DataFrame:
    """Findings for one snapshot (``judge``'s options; its window left out)."""
    return judge(snap, **options)[0]


def recorded_leaks(snap: Snapshot) -> pd.DataFrame:
    """Leaks ``cfposture scan --verify --snapshot`` recorded beside the snapshot (token_id,
    location), for tokens not modified since (a roll after the leak made the value useless)."""
    rows = [
        {"token_id": str(o["token_id"]), "location": o.get("location"), "at": o.get("observed_at")}
        for o in read_observations(snap.path)
        if o.get("source") == "scan"
    ]
    df = pd.DataFrame(rows, columns=["token_id", "location", "at"])
    if df.empty:
        return df[["token_id", "location"]]
    df["at"] = pd.to_datetime(df["at"], utc=True, errors="coerce")
    modified = df["token_id"].map(
        snap.tokens.drop_duplicates("token_id").set_index("token_id")["modified_on"]
    )
    return df[modified.isna() | (modified <= df["at"])][["token_id", "location"]]


def context(snap: Snapshot, *, leaks: pd.DataFrame | None = None, **params: int) -> Context:
    """The rules' context (usage window, grant usage, privilege): built once, it serves both
    ``run_rules`` and ``scoring.scores_from``, so callers needing both do the work once."""
    if leaks is None:
        leaks = recorded_leaks(snap)
    try:
        return Context(snap, Params(**params), leaks)
    except (TypeError, ValueError) as e:
        raise CfPostureError(str(e)) from None


def at_or_above(df: pd.DataFrame, severity: str) -> pd.DataFrame:
    """Open findings at or above a severity (for --fail-on)."""
    rank = SEVERITY_RANK[severity]
    return df[(df["status"] == "open") & (df["severity"].map(SEVERITY_RANK) >= rank)]
