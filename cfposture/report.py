"""``cfposture report``: the posture report for one snapshot.

For now a single self-contained ``index.html`` (no scripts, no external links) with the
snapshot's headline figures, token inventory by format and the coverage gaps, plus
``summary.json`` for machines. The notebook-based report (papermill + nbconvert) replaces
the HTML body when it lands; the command, its arguments and its output folder stay the same.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from .load import Snapshot, load

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2330}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #d6dae3;padding:.25rem .5rem}
th{background:#f2f4f8;text-align:left}.muted{color:#5b6475}
"""


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p class='muted'>None.</p>"
    return df.to_html(index=False, border=0, na_rep="—", escape=True)


def _tokens_by_format(snap: Snapshot) -> pd.DataFrame:
    t = snap.tokens
    return (
        t.groupby(["status", "format"])
        .size()
        .rename("tokens")
        .reset_index()
        .sort_values(["status", "format"])
    )


def render(snap: Snapshot) -> str:
    s = snap.summary()
    headline = pd.DataFrame(
        [
            ("accounts", s["rows"]["accounts"]),
            ("zones", s["rows"]["zones"]),
            ("API tokens", s["rows"]["tokens"]),
            ("memberships", s["rows"]["members"]),
            ("OAuth apps", s["rows"]["oauth_apps"]),
            ("audit events", s["rows"]["audit_events"]),
            ("active tokens without expiry", s["tokens_without_expiry"]),
            ("accepted members without 2FA", s["members_without_2fa"]),
            ("super administrators", s["super_admins"]),
            ("coverage gaps (endpoints denied)", s["coverage_gaps"]),
        ],
        columns=["what", "count"],
    )
    gaps = snap.coverage_gaps.drop(columns=["documentation_url"])
    title = f"cfposture report — {html.escape(str(s['created_at']))}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{STYLE}</style></head><body>
<h1>{title}</h1>
<p class="muted">Snapshot {html.escape(s["snapshot"])} · source {html.escape(str(s["source"]))}</p>
<h2>At a glance</h2>{_table(headline)}
<h2>API tokens by status and format</h2>{_table(_tokens_by_format(snap))}
<h2>Coverage gaps</h2>
<p class="muted">Endpoints the pulling token could not read, and the permission it needs.</p>
{_table(gaps)}
</body></html>
"""


def write_report(snapshot: str | Path, out: Path) -> Path:
    """Write ``index.html`` and ``summary.json`` into ``out``; returns the index path."""
    snap = load(snapshot)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(snap.summary(), indent=2, default=str) + "\n")
    index = out / "index.html"
    index.write_text(render(snap), encoding="utf-8")
    return index
