"""``Snapshot``: one snapshot's validated frames, as :func:`cfposture.load.load` returns them.

A module of its own, importing only pandas, because the report's kernels unpickle snapshots
(``cfposture.notebook.save_view``): the class a pickle names is imported to load it, and
``cfposture.load`` would bring normalisation and pandera (~0.6 s per kernel) to frames that
are already validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Snapshot:
    """One snapshot's validated frames, with its manifest (what was fetched and denied)."""

    path: Path
    manifest: dict[str, Any] = field(repr=False)
    accounts: pd.DataFrame = field(repr=False)
    zones: pd.DataFrame = field(repr=False)
    tokens: pd.DataFrame = field(repr=False)
    grants: pd.DataFrame = field(repr=False)
    members: pd.DataFrame = field(repr=False)
    oauth_apps: pd.DataFrame = field(repr=False)
    audit_events: pd.DataFrame = field(repr=False)
    permission_catalog: pd.DataFrame = field(repr=False)

    FRAMES = (
        "accounts",
        "zones",
        "tokens",
        "grants",
        "members",
        "oauth_apps",
        "audit_events",
        "permission_catalog",
    )

    @property
    def created_at(self) -> pd.Timestamp:
        return pd.Timestamp(self.manifest["created_at"])

    @property
    def coverage_gaps(self) -> pd.DataFrame:
        """Endpoints the API refused: what this snapshot cannot see, and the permission it needs."""
        rows = [
            {
                "endpoint": e.get("endpoint"),
                "path": e.get("path"),
                "account_id": (e.get("ids") or {}).get("account_id"),
                "http_status": e.get("http_status"),
                "message": e.get("message"),
                "needs": e.get("needs"),
                "documentation_url": e.get("documentation_url"),
            }
            for e in self.manifest["endpoints"]
            if e.get("status") == "denied"
        ]
        cols = ["endpoint", "path", "account_id", "http_status", "message", "needs"]
        return pd.DataFrame(rows, columns=[*cols, "documentation_url"])

    def summary(self) -> dict[str, Any]:
        """Headline counts, for the command line and the report's index."""
        t = self.tokens
        active = t[t["status"] == "active"]
        return {
            "snapshot": str(self.path),
            "created_at": self.manifest.get("created_at"),
            "source": (self.manifest.get("source") or {}).get("kind"),
            "rows": {name: len(getattr(self, name)) for name in self.FRAMES},
            "tokens_by_format": active["format"].value_counts().sort_index().to_dict(),
            "tokens_without_expiry": int(active["expires_on"].isna().sum()),
            "members_without_2fa": int(
                ((self.members["status"] == "accepted") & (self.members["two_factor"] == False))  # noqa: E712
                .fillna(False)
                .sum()
            ),
            "super_admins": int(self.members["is_super_admin"].sum()),
            "coverage_gaps": len(self.coverage_gaps),
        }
