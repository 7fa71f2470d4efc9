"""The usage window: what the usage rules were asked to judge, and what audit history covers.

The design promises that every usage-based result says which window it covered, or says
"not yet enough history". This module is that statement, for the findings' outputs, the
scores, the report's index page and the notebooks. It needs only pandas (not the catalogue,
loading or pandera) because a report's kernels unpickle it with the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

USAGE_RULES = ("CFP-T07", "CFP-M04", "CFP-M05", "CFP-O01")
"""The rules that say "unused" from audit logs, and so hold back on too short a history
(CFP-O01 still judges apps whose connected-apps export dates their last use)."""

SLACK = pd.Timedelta(hours=12)
"""How far short of the window's start the history may begin and still count as covering it
(pull times drift by minutes to hours between scheduled runs)."""


def _day(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Window:
    """The usage window asked for and the audit history that actually covers it.

    ``denied``: this snapshot's pull could not read every account's audit logs, so its own
    days prove no disuse (see ``usage._span``)."""

    as_of: pd.Timestamp
    days: int
    covered_since: pd.Timestamp | None
    denied: bool = False

    @property
    def start(self) -> pd.Timestamp:
        return self.as_of - pd.Timedelta(days=self.days)

    @property
    def covered_days(self) -> int:
        if self.covered_since is None:
            return 0
        return max(0, (self.as_of - max(self.covered_since, self.start)).days)

    @property
    def sufficient(self) -> bool:
        """True when audit history covers the whole window (AWS Access Analyzer's rule too)."""
        return self.covered_since is not None and self.covered_since <= self.start + SLACK

    def to_dict(self) -> dict[str, Any]:
        """The window for machine-readable outputs (findings JSON and SARIF, summary.json)."""
        return {
            "judged": self.sufficient,
            "rules": list(USAGE_RULES),
            "asked_days": self.days,
            "covered_days": self.covered_days,
            "covered_since": None if self.covered_since is None else self.covered_since.isoformat(),
            "ends": self.as_of.isoformat(),
            "audit_logs_denied": self.denied,
        }

    def sentence(self) -> str:
        """One line for people: what the usage rules judged on, or why they did not judge and
        what to do about it."""
        if self.sufficient:
            return (
                f"Usage judged on {self.days} days of audit logs, "
                f"{_day(self.start)} to {_day(self.as_of)}. Audit logs record writes only: "
                "read permissions are not observable, so they are kept and never called unused."
            )
        rules = f"{', '.join(USAGE_RULES[:-1])} and {USAGE_RULES[-1]}"
        if self.denied:
            why = (
                "the pulling token could not read every account's audit logs. "
                "Grant it Account Settings Read and pull again"
            )
        elif self.covered_since is None:
            why = "no audit logs were read for this snapshot. Pull with audit logs"
        else:
            why = (
                f"audit logs cover {self.covered_days} of the {self.days} days asked "
                f"(since {_day(self.covered_since)}). Keep pulling with "
                "`cfposture pull --since-last`, or import older logs from Logpush with "
                "`cfposture import-audit`"
            )
        return (
            f"Not yet enough history for {rules}: {why}. Until then they call nothing unused "
            "that only audit logs could show, and least-privilege scores show static breadth."
        )
