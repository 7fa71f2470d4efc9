"""``cfposture.load``: a snapshot folder, a history of them, or the embedded sample → frames.

A *history* is a folder whose subfolders are snapshots (what ``cfposture sample`` writes and
what scheduled pulls into dated folders build up); loading it gives its latest snapshot, and
``history()`` lists all of them oldest first, for trends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .catalog import sample_dir
from .errors import SnapshotError
from .normalize import normalize
from .rawsnapshot import MANIFEST, PARTIAL_SUFFIX, RawSnapshot

PathLike = str | os.PathLike[str]


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


def _is_snapshot(p: Path) -> bool:
    return (p / MANIFEST).is_file() and not p.name.endswith(PARTIAL_SUFFIX)


def history(path: PathLike = "sample") -> list[Path]:
    """The snapshot folders of a history, oldest first (by the manifest's created_at)."""
    p = sample_dir() if str(path) == "sample" else Path(path)
    if (p / MANIFEST).is_file() or p.name.endswith(PARTIAL_SUFFIX):
        return [p]  # RawSnapshot.open says what is wrong with it, if anything
    if not p.is_dir():
        raise SnapshotError(
            f"{p} does not exist; give a snapshot folder, a folder of snapshots, or 'sample'"
        )
    snaps = [c for c in p.iterdir() if c.is_dir() and _is_snapshot(c)]
    if not snaps:
        raise SnapshotError(
            f"{p} holds no snapshot (no {MANIFEST} in it or its subfolders); create one with"
            " cfposture pull DIR or cfposture sample DIR, or use 'sample'"
        )
    return sorted(snaps, key=lambda c: (RawSnapshot.open(c).created_at, c.name))


def load_created_at(path: PathLike) -> pd.Timestamp:
    """When a snapshot was taken (its manifest's ``created_at``), without loading its frames."""
    return pd.Timestamp(RawSnapshot.open(path).manifest["created_at"])


def load(path: PathLike = "sample") -> Snapshot:
    """Load a snapshot (or a history's latest snapshot, or ``"sample"``) as validated frames.

    Raises ``SnapshotError`` / ``NormalizeError`` with a one-line reason and what to do.
    """
    target = history(path)[-1]
    raw = RawSnapshot.open(target)
    frames = normalize(raw)
    return Snapshot(path=target, manifest=raw.manifest, **frames)
