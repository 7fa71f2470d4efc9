"""``Snapshot``: one snapshot's validated frames, as :func:`cfposture.load.load` returns them.

A module of its own, importing only pandas, because the report's kernels unpickle snapshots
(``cfposture.notebook.save_view``): the class a pickle names is imported to load it, and
``cfposture.load`` would bring normalisation and pandera (~0.6 s per kernel) to frames that
are already validated.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field, fields
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
    cached: bool = field(default=True, repr=False)
    """Whether frames were read from ``cfposture.cache`` (``load(cached=False)``: not)."""

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

    @property
    def uncatalogued_groups(self) -> list[str]:
        """Permission groups the grants name that cfposture's catalog does not hold: their
        level and risk were judged from their name (``catalog.classify``), conservatively."""
        g, c = self.grants, self.permission_catalog
        known = g["permission_group_id"].isin(c["permission_group_id"]) | g[
            "permission_group_name"
        ].isin(c["name"])
        return sorted(set(g.loc[~known, "permission_group_name"]))

    @property
    def account_names(self) -> dict[str, str]:
        """Account id → name, for tables and charts: people know accounts by name."""
        a = self.accounts
        return {k: v for k, v in zip(a["account_id"], a["name"], strict=True) if isinstance(v, str)}

    @property
    def coverage_notes(self) -> list[str]:
        """What this snapshot cannot show, in words a reader acts on: the report's index and
        ``summary.json`` list them, so a quiet section is never mistaken for a clean one."""
        notes = []
        if not any(e.get("endpoint") == "connected_apps" for e in self.manifest["endpoints"]):
            notes.append(
                "No connected-apps export: OAuth apps are seen only through the accounts'"
                " published clients and the audit logs. Export the list (Manage Account ›"
                " Connected apps) and pull with --oauth-export FILE."
            )
        gaps = self.coverage_gaps
        if not gaps.empty:
            needs = ", ".join(sorted(set(gaps["needs"].dropna().astype(str))))
            notes.append(
                f"{len(gaps)} endpoint(s) refused the token: add {needs} to the pulling token"
                " (the README's permissions table)."
            )
        misses = self.uncatalogued_groups
        if misses:
            notes.append(
                f"{len(misses)} permission group(s) are not in cfposture's catalogue and were"
                f" weighed by their names: {', '.join(misses[:5])}"
                + (f" and {len(misses) - 5} more" if len(misses) > 5 else "")
                + "."
            )
        return notes

    def _rows(self, name: str) -> int:
        return len(getattr(self, name))

    def summary(self) -> dict[str, Any]:
        """Headline counts, for the command line and the report's index."""
        t = self.tokens
        active = t[t["status"] == "active"]
        return {
            "snapshot": str(self.path),
            "created_at": self.manifest.get("created_at"),
            "source": (self.manifest.get("source") or {}).get("kind"),
            "rows": {name: self._rows(name) for name in self.FRAMES},
            "tokens_by_format": active["format"].value_counts().sort_index().to_dict(),
            "tokens_without_expiry": int(active["expires_on"].isna().sum()),
            "members_without_2fa": int(
                ((self.members["status"] == "accepted") & (self.members["two_factor"] == False))  # noqa: E712
                .fillna(False)
                .sum()
            ),
            "super_admins": int(self.members["is_super_admin"].sum()),
            "coverage_gaps": len(self.coverage_gaps),
            "groups_judged_by_name": len(self.uncatalogued_groups),
            "coverage_notes": self.coverage_notes,
        }


@dataclass(frozen=True)
class EventsOnDemand(Snapshot):
    """A snapshot whose audit events stay in a file of their own until something reads them.

    ``cfposture report`` hands its kernels the view as a pickle (``notebook.save_view``), and
    each notebook unpickles it. At 100 enterprise accounts the snapshot's 2M audit events were
    800 MB of a 914 MB pickle, ~0.7 s to unpickle in every notebook, though only the explorer's
    drill-down and notebook 04's re-judging (``-p scan_results``) read them. They are pickled
    to a file beside the view instead (the same cost to the report as before; Parquet would
    cost twice as much to write and read), and read back on first use. Everything else
    behaves as ``Snapshot``; ``summary`` counts the events without reading them."""

    events_file: str = ""
    events_rows: int = 0

    @classmethod
    def of(cls, snap: Snapshot, events_file: Path, *, written: bool = False) -> EventsOnDemand:
        """``snap`` with its audit events written to ``events_file`` (unless ``written``: an
        earlier call wrote them), not held. The file is private to the caller (the report's
        temporary view folder), as the view's pickle is."""
        if not written:
            data = pickle.dumps(snap.audit_events, protocol=pickle.HIGHEST_PROTOCOL)
            events_file.write_bytes(data)
        frames = {f.name: getattr(snap, f.name) for f in fields(Snapshot)}
        frames["audit_events"] = None
        return cls(**frames, events_file=str(events_file), events_rows=len(snap.audit_events))

    @property  # type: ignore[override]
    def audit_events(self) -> pd.DataFrame:
        events = self.__dict__.get("_audit_events")
        if events is None:
            events = pickle.loads(Path(self.events_file).read_bytes())
            object.__setattr__(self, "_audit_events", events)
        return events

    @audit_events.setter
    def audit_events(self, value: pd.DataFrame | None) -> None:
        object.__setattr__(self, "_audit_events", value)  # the dataclass __init__ sets it

    def _rows(self, name: str) -> int:
        if name == "audit_events" and self.__dict__.get("_audit_events") is None:
            return self.events_rows
        return super()._rows(name)
