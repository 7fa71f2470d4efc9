"""What every rule shares: the registry, the parameters, and the context rules read.

A rule is a small pure function ``Context -> list[dict]`` registered with a stable id, its
checklist step and a title. Rules never read files or the network; the context holds the frames
and everything derived from them once (usage window, grant usage, privilege).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import SEVERITIES, SEVERITY_RANK
from ..load import Snapshot
from ..privilege import principal_privilege, weighted_grants
from ..usage import (
    Window,
    exercised,
    grant_usage,
    read_observable,
    usage_events,
    usage_states,
    used_share,
)


@dataclass(frozen=True)
class Params:
    """Rule thresholds. Defaults follow the anchors in the README: 90 days of (un)use as in
    GCP's recommender and AWS Access Analyzer's common setting; a yearly roll."""

    stale_days: int = 90
    usage_days: int = 90
    rotate_days: int = 365
    max_super_admins: int = 3

    def __post_init__(self) -> None:
        for name in ("stale_days", "usage_days", "rotate_days"):
            if not 1 <= getattr(self, name) <= 3650:
                raise ValueError(f"{name} must be between 1 and 3650 days")
        if self.max_super_admins < 1:
            raise ValueError("max_super_admins must be at least 1")


@dataclass
class Context:
    snap: Snapshot
    params: Params
    leaks: pd.DataFrame | None = None
    as_of: pd.Timestamp = field(init=False)
    window: Window = field(init=False)
    events: pd.DataFrame = field(init=False)
    exercised: pd.DataFrame = field(init=False)
    grants: pd.DataFrame = field(init=False)
    privilege: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.as_of = self.snap.created_at
        self.events, self.window = usage_events(self.snap, self.params.usage_days)
        self.exercised = exercised(self.snap, self.events)
        g = weighted_grants(self.snap.grants, self.snap.permission_catalog)
        used, self.covered_pairs = grant_usage(self.snap, self.exercised)
        g["used"] = used
        # a user group acts through its members: its grant is used when a member used the
        # same policy grant they hold through the group
        via = g[(g["principal_type"] == "member") & g["via_group_id"].notna() & g["used"]]
        keys = ["policy_id", "permission_group_name", "scope_type", "scope_id"]
        used_via = set(map(tuple, via[["via_group_id", *keys]].astype(str).to_numpy()))
        group_rows = g["principal_type"] == "user_group"
        if group_rows.any():
            mine = g.loc[group_rows, ["principal_id", *keys]].astype(str).to_numpy()
            g.loc[group_rows, "used"] = [tuple(r) in used_via for r in mine]
        g["usage_state"] = usage_states(
            g, self.window, self.younger_than_window(), read_observable(self.events)
        )
        g["used_share"] = used_share(g, self.covered_pairs, self.snap.zones)
        self.grants = g
        self.privilege = principal_privilege(g)

    def younger_than_window(self) -> set[str]:
        """Ids of tokens issued after the usage window began: they have not had the whole
        window to use what they hold, so their use is not judged (as AWS Access Analyzer
        judges only entities that existed for the whole window). Members carry no join
        date in the API, so they are judged on the window."""
        t = self.snap.tokens
        return set(t.loc[t["issued_on"] > self.window.start, "token_id"])

    def adjust_severity(self, df: pd.DataFrame) -> pd.Series:
        """Each finding's base severity moved one step up for a privileged principal and one
        down for a read-only one (rows with ``adjust`` False keep theirs). Vectorised: the
        enterprise sample yields a hundred thousand findings."""
        priv = self.privilege.reset_index()[
            ["principal_type", "principal_id", "privileged", "tier"]
        ]
        m = df[["principal_type", "principal_id"]].merge(priv, how="left")
        rank = df["severity"].map(SEVERITY_RANK).to_numpy()
        adjust = df["adjust"].to_numpy(dtype=bool)
        up = adjust & m["privileged"].eq(True).to_numpy()
        down = adjust & ~up & m["tier"].eq("read").to_numpy()
        rank = (rank + up - down).clip(0, len(SEVERITIES) - 1)
        return pd.Series([SEVERITIES[i] for i in rank], index=df.index)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    checklist_step: int
    title: str
    check: Callable[[Context], list[dict[str, Any]]]
    description: str


RULES: dict[str, Rule] = {}


def rule(rule_id: str, step: int, title: str) -> Callable:
    """Register a rule function under a stable id (never renumbered)."""

    def wrap(fn: Callable[[Context], list[dict[str, Any]]]) -> Callable:
        RULES[rule_id] = Rule(rule_id, step, title, fn, (fn.__doc__ or "").strip())
        return fn

    return wrap


def finding(
    *,
    severity: str,
    principal_type: str,
    principal_id: str,
    principal_name: Any,
    account_id: Any,
    scope: str,
    evidence: dict[str, Any],
    recommendation: str,
    title: str | None = None,
    remedy: dict[str, Any] | None = None,
    adjust: bool = True,
) -> dict[str, Any]:
    """One finding row (rule id, step and finding id are added by the runner). ``severity`` is
    the rule's base; with ``adjust`` the runner moves it by the principal's privilege."""
    return {
        "severity": severity,
        "adjust": adjust,
        "principal_type": principal_type,
        "principal_id": str(principal_id),
        "principal_name": None if pd.isna(principal_name) else str(principal_name),
        "account_id": None if pd.isna(account_id) else str(account_id),
        "scope": scope,
        "title": title,
        "evidence": evidence,
        "recommendation": recommendation,
        "remedy": remedy,
    }


def ts(value: Any) -> str | None:
    """A timestamp for evidence: ISO date-time or None."""
    return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")
