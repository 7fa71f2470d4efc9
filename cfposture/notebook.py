"""What the notebooks call: one ``setup`` that loads and filters, and a few table helpers.

Notebooks stay thin (one call and one table or chart per cell), so everything with logic lives
here, tested like the rest of the package.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .envvars import REPORT_KERNEL, VIEW_CACHE
from .errors import SEVERITY_RANK, CfPostureError, SnapshotError
from .snapshot import EventsOnDemand, Snapshot
from .window import Window

if TYPE_CHECKING:
    from .baseline import Baseline

# Loading, the rules, scoring and the trend cache (and with them pandera) are imported where
# a view is computed, not here: the report's kernels only unpickle a view the parent computed
# and chart it, and skipping those imports saves each kernel ~0.6 s (benchmarks/README.md).

# plotly_mimetype draws live in JupyterLab; +notebook inlines plotly.js once so nbconvert's
# static HTML renders offline (plotly_mimetype alone is silently dropped from the HTML).
RENDERER = "plotly_mimetype+notebook"
# Under `cfposture report` the page writer inlines plotly.js into each page itself
# (cfposture.report.html), so the kernels leave it out of the outputs: 3.5 MB less to send,
# store, parse and convert per notebook. Analysts' notebooks keep RENDERER, so a notebook
# exported by hand still renders offline.
PAGE_RENDERER = "plotly_mimetype+cfposture_page"

log = logging.getLogger(__name__)

# plotly's renderers import nbformat, which imports jsonschema, which imports rfc3987_syntax
# when it is installed (JupyterLab's dependencies install it) only to check the "iri" string
# format, and that module compiles a Lark grammar at import: ~2 s of every notebook's set-up on
# these machines, more than the sample's loading, rules and scores together. ``setup`` makes it
# unimportable in the notebook's kernel unless something imported it already; jsonschema in
# that kernel then checks no "iri" format. ``cfposture report`` does the same for its processes
# (``cfposture.report.kernels.SKIPPED_IMPORTS``); importing cfposture does not.
IRI_GRAMMAR = "rfc3987_syntax"


def use_renderer() -> None:
    """Pick the plotly renderer for this kernel (see RENDERER and PAGE_RENDERER)."""
    import plotly.io as pio  # here: the report's page writer uses this module without plotly

    if os.environ.get(REPORT_KERNEL):
        if "cfposture_page" not in pio.renderers:
            # the figure's HTML and script, without plotly.js and without the one-off
            # display that would inline it
            pio.renderers["cfposture_page"] = pio.base_renderers.HtmlRenderer(
                include_plotlyjs=False, global_init=False
            )
        pio.renderers.default = PAGE_RENDERER
    else:
        pio.renderers.default = RENDERER


@dataclass
class View:
    snap: Snapshot
    findings: pd.DataFrame
    scores: pd.DataFrame
    history: list
    params: dict
    extras: dict = field(default_factory=dict)  # trend frames, computed once and cached
    window: Window | None = None  # the usage window the findings were judged on
    baseline: Baseline | None = None  # accepted risks applied to the findings (and trends)


def chosen_accounts(value: str, accounts: pd.DataFrame) -> list[str]:
    """The account ids an ``accounts`` parameter names (comma-separated ids or names). An
    account the snapshot does not hold is a one-line error: pages filtered on nothing would
    each show something else."""
    ids = dict(zip(accounts["account_id"], accounts["account_id"], strict=True))
    ids.update(
        (name, aid)
        for aid, name in zip(accounts["account_id"], accounts["name"], strict=True)
        if isinstance(name, str)
    )
    out = []
    for part in (a.strip() for a in value.split(",")):
        if not part:
            continue
        if part not in ids:
            known = ", ".join(sorted(n for n in accounts["name"].dropna())) or "none"
            raise CfPostureError(
                f"the snapshot holds no account {part!r}; its accounts are: {known}"
            )
        out.append(ids[part])
    return out


def setup(
    snapshot: str = "sample",
    *,
    history_path: str = "",
    stale_days: int = 90,
    usage_days: int = 90,
    min_severity: str = "info",
    accounts: str = "",
    baseline: str = "",
) -> View:
    """Load a snapshot, run findings and scores, keep the chosen accounts and severities;
    ``baseline``: a file of accepted risks, whose findings get status ``accepted``.

    Under ``cfposture report`` the unfiltered view comes from the report's cache (computed once
    in the parent process, see ``cfposture.envvars``); in JupyterLab it is computed here, and
    the next notebook on the same snapshot reuses its findings and scores (``judged``)."""
    sys.modules.setdefault(IRI_GRAMMAR, None)  # type: ignore[arg-type]  # see IRI_GRAMMAR
    use_renderer()
    full = cached_view(snapshot, history_path, stale_days, usage_days, baseline) or build_view(
        snapshot,
        history_path=history_path,
        stale_days=stale_days,
        usage_days=usage_days,
        baseline=baseline,
        reuse=True,
    )
    if min_severity not in SEVERITY_RANK:
        raise CfPostureError(f"min_severity {min_severity!r} is none of {', '.join(SEVERITY_RANK)}")
    filters = {
        "accounts": chosen_accounts(accounts, full.snap.accounts),
        "min_severity": min_severity,
    }
    s, keep = full.scores, filters["accounts"]
    if keep:
        s = s[s["account_id"].isin(keep) | s["account_id"].isna()]
    return replace(
        full,
        findings=_filtered(full.findings, filters),
        scores=s.reset_index(drop=True),
        # the trends count whole snapshots: the newest one's from all its findings, too
        extras={**full.extras, "filters": filters, "unfiltered": full.findings},
    )


def _filtered(f: pd.DataFrame, filters: dict) -> pd.DataFrame:
    """The findings of the chosen accounts (and account-less ones) at or above a severity."""
    keep = filters["accounts"]
    if keep:
        f = f[f["account_id"].isin(keep) | f["account_id"].isna()]
    f = f[f["severity"].map(SEVERITY_RANK) >= SEVERITY_RANK[filters["min_severity"]]]
    return f.reset_index(drop=True)


def build_view(
    snapshot: str = "sample",
    *,
    history_path: str = "",
    stale_days: int = 90,
    usage_days: int = 90,
    baseline: str = "",
    reuse: bool = False,
    cached: bool = True,
) -> View:
    """The unfiltered view: snapshot, all findings and scores, the history for trends.

    ``reuse``: take the snapshot's findings and scores from ``cfposture.cache`` when this code
    already judged it with these parameters (``judged``). Notebooks opened by an analyst do;
    ``cfposture report`` judges afresh, so a gate never rests on a cache, and stores what it
    judged for the analyst who opens the notebooks on that snapshot next. ``cached=False``:
    the snapshot's frames too are parsed afresh (``load``)."""
    from .baseline import accepted_risks, apply_baseline, load_baseline
    from .load import history, load

    accepted = load_baseline(baseline) if baseline else None  # a bad file fails first
    snap = load(snapshot, cached=cached)
    params = rule_params(stale_days, usage_days)
    f, s, window = judged(snap, params, read=reuse)
    extras = {}
    if accepted is not None:
        f = apply_baseline(f, accepted, snap.created_at)
        # on all findings: a notebook's filters must not make an entry look fixed
        extras["accepted_risks"] = accepted_risks(f, accepted, snap.created_at)
    hist = history(history_path or history_folder(snap.path))
    return View(snap, f, s, hist, params, extras, window=window, baseline=accepted)


Judgement = tuple[pd.DataFrame, pd.DataFrame, Window]


def rule_params(stale_days: int = 90, usage_days: int = 90) -> dict:
    """The view's rule parameters (``View.params``), which key what is cached of it."""
    return {"stale_days": stale_days, "usage_days": usage_days}


def judge_afresh(snap: Snapshot, params: dict) -> Judgement:
    """A snapshot's findings (no baseline applied), scores and usage window."""
    from .findings import context, run_rules
    from .scoring import scores_from

    ctx = context(snap, **params)
    return run_rules(ctx), scores_from(ctx), ctx.window


def judged(snap: Snapshot, params: dict, *, read: bool = True) -> Judgement:
    """``judge_afresh``, kept in ``cfposture.cache``: an analyst opens the notebooks one after
    another on the same snapshot, and at enterprise scale the rules and scores take ~20 s of
    each notebook's ~30 s set-up (benchmarks/README.md). The key is the trend cache's (the
    snapshot's manifest and observations, the older snapshots its usage rules read, the rule
    parameters, cfposture's code) plus the pandas and pyarrow versions that write and read
    the frames. The frames are Parquet (data, never code) and go back through their schemas;
    a missing, evicted or damaged part means judging afresh. No baseline is applied before
    storing, so editing the baseline changes nothing cached. ``read=False``: judge afresh,
    and store the judgement all the same."""
    from . import cache

    key = _judged_key(snap.path, params)
    hit = _judged_hit(key) if read else None
    if hit is not None:
        return hit
    f, s, window = judge_afresh(snap, params)
    cache.put_frame(f"{key}-findings", f)
    cache.put_frame(f"{key}-scores", s)
    cache.put(key, {"window": _window_doc(window)})  # last: its presence says the rest is there
    return f, s, window


def _judged_key(path: Path, params: dict) -> str:
    import pyarrow

    from . import cache

    frames = {**params, "frames": f"pandas {pd.__version__}, pyarrow {pyarrow.__version__}"}
    return cache.snapshot_key("judged", path, _older_siblings(path, {}), frames)


def _judged_hit(key: str) -> Judgement | None:
    from . import cache
    from .schemas import Findings, Scores, validate

    entry = cache.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("window"), dict):
        return None
    f, s = cache.get_frame(f"{key}-findings"), cache.get_frame(f"{key}-scores")
    if f is None or s is None:  # evicted by the frames' budget, or unreadable
        return None
    try:
        return validate(Findings, f), validate(Scores, s), _window_of(entry["window"])
    except (CfPostureError, KeyError, TypeError, ValueError) as e:
        log.debug("cached judgement %s does not hold (%s); judging afresh", key, e)
        return None


def _window_doc(w: Window) -> dict:
    def at(ts: pd.Timestamp | None) -> str | None:
        return None if ts is None else ts.isoformat()

    return {
        "as_of": at(w.as_of),
        "days": w.days,
        "covered_since": at(w.covered_since),
        "denied": w.denied,
    }


def _window_of(doc: dict) -> Window:
    since = doc["covered_since"]
    return Window(
        as_of=pd.Timestamp(doc["as_of"]),
        days=int(doc["days"]),
        covered_since=None if since is None else pd.Timestamp(since),
        denied=bool(doc["denied"]),
    )


def _cache_key(
    snapshot: str, history_path: str, stale_days: int, usage_days: int, baseline: str = ""
) -> str:
    where = snapshot if snapshot == "sample" else str(Path(snapshot).resolve())
    raw = f"{where}|{history_path}|{stale_days}|{usage_days}|{baseline}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def save_view(
    view: View, folder: Path, snapshot: str, history_path: str = "", *, trends: bool = True
) -> Path:
    """Store a view for the report's kernels (a private pickle, deleted after), with its
    trends unless ``trends`` is False (a notebook that charts them computes them itself).
    Saved again (with its trends, after one without), it replaces the pickle atomically: a
    kernel reading the first one meanwhile reads it whole. The audit events are written once.
    A view that holds its trends already keeps them (``cfposture report`` computes them as
    the last older snapshot is judged; a second pass cost 0.15 s of its critical path)."""
    if trends and "checklist" not in view.extras:
        _trends(view)
    folder.mkdir(parents=True, exist_ok=True)
    p = view.params
    accepted = view.baseline.path if view.baseline else ""
    key = _cache_key(snapshot, history_path, p["stale_days"], p["usage_days"], accepted)
    # the audit events go beside the pickle, read by the few cells that use them
    events = folder / f"events-{key}.pkl"
    snap = EventsOnDemand.of(view.snap, events, written=events.is_file())
    path = folder / f"view-{key}.pkl"
    part = path.with_name(f"{path.name}.part")
    part.write_bytes(pickle.dumps(replace(view, snap=snap), protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(part, path)
    return path


def cached_view(
    snapshot: str, history_path: str, stale_days: int, usage_days: int, baseline: str = ""
) -> View | None:
    folder = os.environ.get(VIEW_CACHE)
    if not folder:
        return None
    key = _cache_key(snapshot, history_path, stale_days, usage_days, baseline)
    path = Path(folder) / f"view-{key}.pkl"
    return pickle.loads(path.read_bytes()) if path.is_file() else None


def history_folder(path: Path) -> str:
    """The history folder a snapshot folder sits in (itself when it is alone)."""
    from .load import history

    try:
        return str(path.parent) if len(history(path.parent)) > 1 else str(path)
    except SnapshotError:  # the parent is not a folder of snapshots
        return str(path)


def summary_line(view: View) -> str:
    """A deterministic one-line summary (nbval compares it)."""
    s = view.snap.summary()
    sev = view.findings.groupby("severity").size()
    parts = [
        f"accounts={s['rows']['accounts']}",
        f"tokens={s['rows']['tokens']}",
        f"members={s['rows']['members']}",
        f"findings={len(view.findings)}",
    ]
    parts += [f"{k}={int(sev.get(k, 0))}" for k in ("critical", "high", "medium", "low", "info")]
    accepted = int((view.findings["status"] == "accepted").sum())
    if accepted:
        parts.append(f"accepted={accepted}")
    return " ".join(parts)


def usage_line(view: View) -> str:
    """What the usage rules judged on, or why they stayed silent (deterministic on the sample,
    so nbval compares it)."""
    return view.window.sentence() if view.window is not None else ""


Listings = dict[Path, tuple[list[Path], list[Path]]]
"""Each history folder's ``folder_listing``, read once per report, not once per snapshot."""


def _older_siblings(path: Path, folders: Listings) -> list[Path]:
    """The snapshots the usage rules of ``path`` may read: older ones in the same folder, and
    the folder's imported audit logs (adding one changes the key)."""
    from .load import folder_listing

    parent = path.parent
    if parent not in folders:
        folders[parent] = folder_listing(parent)
    siblings, exports = folders[parent]
    return siblings[: siblings.index(path)] + exports if path in siblings else []


def _trend_key(
    path: Path, params: dict, folders: Listings, baseline: Baseline | None = None
) -> str:
    from . import cache

    keyed = {**params, "baseline": baseline.digest} if baseline else params
    return cache.snapshot_key("trend", path, _older_siblings(path, folders), keyed)


def _cached_rows(key: str) -> dict | None:
    from . import cache

    hit = cache.get(key)
    wanted = {"checklist", "exposure", "usage_judged"}
    return hit if isinstance(hit, dict) and wanted <= hit.keys() else None


def _trend_rows(
    path: Path,
    params: dict,
    folders: Listings,
    judged: tuple[Snapshot, pd.DataFrame, Window | None] | None = None,
    baseline: Baseline | None = None,
    seen: dict[Path, pd.DataFrame] | None = None,
) -> dict:
    """One snapshot's trend rows (open findings per step, exposure by format and tier, whether
    the usage rules judged), from the cache when this code already judged this snapshot with
    these parameters (see ``cache``). ``judged``: the snapshot, its findings and usage window,
    when the caller has them already. ``baseline``: accepted risks, applied at each snapshot's
    date (an acceptance that had expired by then counts as open then). ``seen``: collects the
    findings of snapshots judged here (for the changes, without the cache)."""
    from . import cache
    from .findings import judge_in_context
    from .load import load
    from .scoring import exposure_summary

    key = _trend_key(path, params, folders, baseline)
    hit = _cached_rows(key)
    if hit is not None:
        return hit
    privilege = None
    if judged is not None:
        snap, f, window = judged
    else:
        snap = load(path, keep=False)  # read once: what the trends need of it is cached below
        f, ctx = judge_in_context(snap, baseline=baseline, **params)
        window, privilege = ctx.window, ctx.privilege
    # what the next snapshot's report compares with ("changes since the previous snapshot")
    cache.put(_ids_key(path, params, folders), _id_rows(f))
    if seen is not None:
        seen[path] = f[ID_COLUMNS]
    steps = f[f["status"] == "open"].groupby("checklist_step").size()
    e = exposure_summary(snap, privilege)
    rows = {
        "usage_judged": bool(window and window.sufficient),
        "checklist": [[int(k), int(n)] for k, n in steps.items()],
        "exposure": [
            [r.format, r.tier, int(r.tokens), float(r.exposure)] for r in e.itertuples(index=False)
        ],
    }
    cache.put(key, rows)
    return rows


ID_COLUMNS = ["finding_id", "rule_id", "severity", "principal_type", "principal_name", "title"]


def _ids_key(path: Path, params: dict, folders: Listings) -> str:
    from . import cache

    return cache.snapshot_key("ids", path, _older_siblings(path, folders), params)


def _id_rows(f: pd.DataFrame) -> dict:
    """A snapshot's findings, compactly, for comparing the next snapshot with (all of them:
    an acceptance does not make a finding go away)."""
    cols = f[ID_COLUMNS].astype(object).where(f[ID_COLUMNS].notna(), None)
    return {"columns": ID_COLUMNS, "rows": cols.to_numpy().tolist()}


@dataclass
class TrendReads:
    """What a pass of ``_trends`` read of the history: each folder's listing, each snapshot's
    date and trend rows, the findings of snapshots it judged. Handed to a later pass over the
    same view, it is not read again (``read_trends_ahead``)."""

    folders: Listings = field(default_factory=dict)
    dates: dict[Path, pd.Timestamp] = field(default_factory=dict)
    rows: dict[Path, dict] = field(default_factory=dict)
    seen: dict[Path, pd.DataFrame] = field(default_factory=dict)


def _cached_findings(key: str) -> pd.DataFrame | None:
    """An older snapshot's findings (ID_COLUMNS) from the cache under ``key`` (``_ids_key``),
    if they are there."""
    from . import cache

    hit = cache.get(key)
    if isinstance(hit, dict) and hit.get("columns") == ID_COLUMNS:
        return pd.DataFrame(hit["rows"], columns=ID_COLUMNS)
    return None


def _findings_of(
    path: Path, params: dict, folders: Listings, seen: dict[Path, pd.DataFrame]
) -> pd.DataFrame:
    """An older snapshot's findings (ID_COLUMNS): judged in this pass, cached, or judged now
    (and cached)."""
    from . import cache
    from .findings import findings
    from .load import load

    if path in seen:
        return seen[path]
    key = _ids_key(path, params, folders)  # once: it digests the snapshot's manifest
    hit = _cached_findings(key)
    if hit is not None:
        return hit
    f = findings(load(path, keep=False), **params)
    cache.put(key, _id_rows(f))
    return f[ID_COLUMNS]


def _previous(view: View) -> Path | None:
    """The snapshot of the history before the view's own (None: it is the first, or not in
    the history)."""
    paths = [Path(p) for p in view.history]
    if view.snap.path not in paths or paths.index(view.snap.path) == 0:
        return None
    return paths[paths.index(view.snap.path) - 1]


def _changes(view: View, reads: TrendReads) -> None:
    """Findings new and resolved since the previous snapshot of the history: what a team
    working the checklist week by week looks at first. ``reads``: what the trends' pass read
    (the dates of the snapshots, the findings of those it judged)."""
    prev = _previous(view)
    if prev is None:
        view.extras["changes"] = pd.DataFrame(columns=["change", *ID_COLUMNS])
        view.extras["previous"] = None
        return
    before = _findings_of(prev, view.params, reads.folders, reads.seen)
    now = view.extras.get("unfiltered", view.findings)[ID_COLUMNS]
    new = now[~now["finding_id"].isin(before["finding_id"])].assign(change="new")
    gone = before[~before["finding_id"].isin(now["finding_id"])].assign(change="resolved")
    both = pd.concat([new, gone], ignore_index=True)[["change", *ID_COLUMNS]]
    rank = both["severity"].map(SEVERITY_RANK).fillna(-1)
    order = both.assign(_r=-rank).sort_values(["change", "_r", "rule_id", "principal_name"])
    view.extras["changes"] = order.drop(columns="_r").reset_index(drop=True)
    view.extras["previous"] = reads.dates[prev]


def changes(view: View) -> pd.DataFrame:
    """Findings new and resolved since the previous snapshot (``change``: new, resolved),
    new ones first, most severe first; empty for a snapshot without an earlier one."""
    if "changes" not in view.extras:
        _trends(view)
    return view.extras["changes"]


def changes_line(view: View) -> str:
    """One line on what changed since the previous snapshot (nbval compares it)."""
    c, prev = changes(view), view.extras.get("previous")
    if prev is None:
        return "No earlier snapshot in the history to compare with."
    n = c["change"].value_counts()
    serious = c[(c["change"] == "new") & c["severity"].isin(["critical", "high"])]
    return (
        f"Since {prev.strftime('%Y-%m-%d')}: {int(n.get('new', 0))} new findings "
        f"({len(serious)} critical or high), {int(n.get('resolved', 0))} resolved."
    )


def _history_rows(view: View, path: Path, reads: TrendReads, judge: bool = True) -> dict | None:
    """A snapshot of the view's history: its date and trend rows into ``reads`` (the rows
    cached, or computed, judging the snapshot if need be; only cached ones unless ``judge``)."""
    from .load import load_created_at

    own = path == view.snap.path
    if path not in reads.dates:
        reads.dates[path] = view.snap.created_at if own else load_created_at(path)
    if path not in reads.rows:
        if judge or own:
            # the view's own snapshot was judged with the same parameters: not again (all of
            # its findings: a notebook's filters must not reach the trend, nor the cache)
            found = view.extras.get("unfiltered", view.findings)
            judged = (view.snap, found, view.window) if own else None
            reads.rows[path] = _trend_rows(
                path, view.params, reads.folders, judged, view.baseline, reads.seen
            )
        else:
            key = _trend_key(path, view.params, reads.folders, view.baseline)
            if (hit := _cached_rows(key)) is None:
                return None
            reads.rows[path] = hit
    return reads.rows[path]


def _trends(view: View, reads: TrendReads | None = None) -> None:
    """Both trends in one pass over the history: each old snapshot is judged once per code
    version and parameters, ever (``cfposture.cache``); only new snapshots cost a load.
    ``reads``: what an earlier pass over this view read already (``read_trends_ahead``)."""
    reads = reads if reads is not None else TrendReads()
    checklist, exposure = [], []
    for path in map(Path, view.history):
        rows = _history_rows(view, path, reads)
        assert rows is not None  # judged if it was not cached
        at = reads.dates[path]
        checklist += [(at, step, n, rows["usage_judged"]) for step, n in rows["checklist"]]
        exposure += [(at, *r) for r in rows["exposure"]]
    view.extras["checklist"] = pd.DataFrame(
        checklist, columns=["snapshot", "checklist_step", "findings", "usage_judged"]
    ).astype({"checklist_step": "int64", "findings": "int64", "usage_judged": "bool"})
    view.extras["exposure"] = pd.DataFrame(
        exposure, columns=["snapshot", "format", "tier", "tokens", "exposure"]
    ).astype({"tokens": "int64", "exposure": "float64"})
    _changes(view, reads)


def read_trends_ahead(view: View, reads: TrendReads) -> None:
    """Read into ``reads`` what the view's trends need and the caches already hold: the
    history's listing and dates, the trend rows of every snapshot judged (the view's own
    computed and stored now), the previous snapshot's findings. ``cfposture report`` does this
    before it waits for older snapshots kernels judge, so that ``_trends(view, reads)`` after
    the wait reads only those. That pass is on the report's critical path, and it runs beside
    the page writer's thread: read all over again, its many small file reads each gave up the
    interpreter lock to that thread, 0.07-0.17 s instead of ~0.02 s alone."""
    for path in map(Path, view.history):
        _history_rows(view, path, reads, judge=False)
    prev = _previous(view)
    if prev is not None and prev not in reads.seen:
        found = _cached_findings(_ids_key(prev, view.params, reads.folders))
        if found is not None:
            reads.seen[prev] = found


def untrended(view: View) -> list[Path]:
    """The history's older snapshots whose trend rows are not cached yet (none when caching is
    off: then nothing judged elsewhere could be shared)."""
    return _untrended(view.history, view.snap.path, view.params, view.baseline)


def pending_trends(
    snapshot: str = "sample",
    *,
    history_path: str = "",
    stale_days: int = 90,
    usage_days: int = 90,
    baseline: str = "",
) -> list[Path]:
    """``untrended`` of the view ``build_view`` would build with these arguments, known
    before it is built (from the history's manifests and the trend cache): ``cfposture
    report`` hands these to a kernel that is warm before this process has its view."""
    from .baseline import load_baseline
    from .load import history

    own = history(snapshot)[-1]
    accepted = load_baseline(baseline) if baseline else None
    params = rule_params(stale_days, usage_days)
    return _untrended(history(history_path or history_folder(own)), own, params, accepted)


def _untrended(hist: list, own: Path, params: dict, baseline: Baseline | None) -> list[Path]:
    from . import cache

    if cache.cache_dir() is None:
        return []
    folders: Listings = {}
    return [
        path
        for path in map(Path, hist)
        if path != own and _cached_rows(_trend_key(path, params, folders, baseline)) is None
    ]


def judge_trends(paths: list[str], params: dict, baseline: str = "") -> None:
    """Judge these snapshots into the trend cache. ``cfposture report`` runs a share of a cold
    history in each kernel while the kernels would otherwise wait for the view."""
    from .baseline import load_baseline

    accepted = load_baseline(baseline) if baseline else None
    folders: Listings = {}
    for path in paths:
        _trend_rows(Path(path), params, folders, baseline=accepted)


def checklist_per_snapshot(view: View) -> pd.DataFrame:
    """Open findings per checklist step for every snapshot of the history (for the trend), and
    whether the usage rules judged that snapshot (its step-3 count rises when they start)."""
    if "checklist" not in view.extras:
        _trends(view)
    return view.extras["checklist"]


def trend(view: View) -> pd.DataFrame:
    """Active tokens by format and privilege tier, per snapshot of the history."""
    if "exposure" not in view.extras:
        _trends(view)
    return view.extras["exposure"]


def accepted_risks(view: View) -> pd.DataFrame:
    """The baseline's entries, most urgent first: reopened (expired), expiring within 30 days,
    accepted, and entries that match no finding any more (empty without a baseline)."""
    if "accepted_risks" in view.extras:
        return view.extras["accepted_risks"]
    from .baseline import RISK_COLUMNS

    return pd.DataFrame(columns=RISK_COLUMNS)


def table(view: View, df: pd.DataFrame, columns: list[str], n: int = 25) -> Any:
    """The first ``n`` rows of chosen columns as people read them: account names for ids,
    dates for timestamps, "—" for a missing value, no index column; a cut list says how many
    of how many it shows, and where the rest are."""
    out = df[columns].head(n).reset_index(drop=True)
    if "account_id" in out:
        out["account_id"] = out["account_id"].map(view.snap.account_names).fillna(out["account_id"])
        out = out.rename(columns={"account_id": "account"})
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.strftime("%Y-%m-%d").where(out[c].notna(), None)
    styler = out.style.hide(axis="index").format(na_rep="—", precision=1)
    if len(df) > n:
        styler = styler.set_caption(f"{n} of {len(df)} shown; all of them: findings.csv")
    return styler


def rule_findings(view: View, *rules: str) -> pd.DataFrame:
    f = view.findings
    return f[f["rule_id"].isin(rules)]


def active_scores(view: View) -> pd.DataFrame:
    """Scores of the principals that can act today: members, and tokens that are active (a
    disabled or expired token has nothing to narrow, however wide its grants)."""
    t = view.snap.tokens
    inactive = set(t.loc[t["status"] != "active", "token_id"])
    s = view.scores
    return s[~s["principal_id"].isin(inactive)].reset_index(drop=True)


def tokens_to_roll_first(view: View) -> pd.DataFrame:
    """Active legacy tokens, most exposed first: the order to work checklist step 1 in."""
    t = view.snap.tokens
    t = t[(t["status"] == "active") & (t["format"] == "legacy") & t["inventoried"]]
    s = view.scores.set_index("principal_id")
    out = t.assign(exposure=t["token_id"].map(s["exposure"]), lp_gap=t["token_id"].map(s["lp_gap"]))
    return out.sort_values("exposure", ascending=False)[ROLL_COLUMNS].reset_index(drop=True)


ROLL_COLUMNS = [
    "name",
    "owner_type",
    "account_id",
    "issued_on",
    "last_used_on",
    "expires_on",
    "ip_allow",
    "exposure",
    "lp_gap",
]


def narrowed_policies(view: View) -> pd.DataFrame:
    """CFP-T07 remedies: the request to send for each over-privileged token, what it changes
    and on what evidence, and the read permissions it keeps because reads are not logged."""
    import json

    f = rule_findings(view, "CFP-T07")
    rows = []
    for r in f.itertuples():
        remedy = json.loads(r.remedy)
        evidence = json.loads(r.evidence)
        changes = evidence.get("changes") or []
        rows.append(
            {
                "token": r.principal_name,
                "severity": r.severity,
                "request": f"{remedy['method']} {remedy['path']}",
                "changes": "; ".join(f"{c['group']}: {c['change']}" for c in changes),
                "kept, not observable": ", ".join(evidence.get("not_observable") or []),
                "body": json.dumps(remedy["body"]["policies"]),
            }
        )
    columns = ["token", "severity", "request", "changes", "kept, not observable", "body"]
    return pd.DataFrame(rows, columns=columns)


def minted_tokens(view: View) -> pd.DataFrame:
    """API tokens an OAuth app minted (``provisioner_type`` oauthtoken), with the app that
    owns them: revoking the app revokes them, so they are reviewed with it."""
    t = view.snap.tokens
    t = t[t["oauth_client_id"].notna()]
    apps = view.snap.oauth_apps.drop_duplicates("app_id").set_index("app_id")["app_name"]
    out = pd.DataFrame(
        {
            "app": t["oauth_client_id"].map(apps).fillna(t["oauth_client_id"]),
            "token": t["name"],
            "status": t["status"],
            "issued_on": t["issued_on"],
            "last_used_on": t["last_used_on"],
            "expires_on": t["expires_on"],
        }
    )
    return out.sort_values(["app", "token"], ignore_index=True)


USAGE_COLUMNS = ["grants_used", "grants_unused", "grants_unobservable", "grants_unknown"]


def usage_states(view: View) -> pd.DataFrame:
    """Allow grants by usage state and principal type (from the scores): what the least-
    privilege gap could judge (used, unused) and what audit logs cannot show (unobservable:
    reads; unknown: not enough history)."""
    s = view.scores
    out = s.groupby("principal_type")[USAGE_COLUMNS].sum()
    out.columns = [c.removeprefix("grants_") for c in USAGE_COLUMNS]
    return out.reset_index()


def with_scan(view: View, scan_results: str) -> View:
    """Re-run the findings with scan results (CSV with ``token_id`` and ``location``), so
    CFP-T09 joins leaked values to the inventory; ``setup``'s account and severity filters
    still hold."""
    if not scan_results:
        return view
    from .findings import findings

    leaks = pd.read_csv(scan_results, dtype=str)
    missing = {"token_id", "location"} - set(leaks.columns)
    if missing:
        raise CfPostureError(
            f"{scan_results} has no {', '.join(sorted(missing))} column: write it with"
            " cfposture scan --verify --format csv"
        )
    f = findings(view.snap, leaks=leaks, baseline=view.baseline, **view.params)
    filters = view.extras.get("filters")
    return replace(view, findings=_filtered(f, filters) if filters else f)


def explore_rows(
    view: View, account: str = "", principal_type: str = "", severity: str = "", rule: str = ""
) -> pd.DataFrame:
    """Findings filtered the way the explorer's widgets filter them."""
    f = view.findings
    if account:
        f = f[f["account_id"] == account]
    if principal_type:
        f = f[f["principal_type"] == principal_type]
    if severity:
        f = f[f["severity"] == severity]
    if rule:
        f = f[f["rule_id"] == rule]
    cols = [
        "finding_id",  # what `cfposture accept` takes to record an accepted risk
        "severity",
        "status",  # accepted risks stay visible, marked
        "rule_id",
        "principal_type",
        "principal_name",
        "principal_id",
        "title",
    ]
    return f[cols].reset_index(drop=True)


def principal_detail(view: View, principal_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A principal's grants (policies and scopes) and its latest audit events."""
    g = view.snap.grants
    grants = g[g["principal_id"] == principal_id][
        [
            "policy_id",
            "effect",
            "permission_group_name",
            "access_level",
            "scope_type",
            "scope_id",
            "via_group_id",
        ]
    ]
    ev = view.snap.audit_events
    m = view.snap.members
    emails = m.loc[m["member_id"] == principal_id, "email"].tolist()
    mine = ev[(ev["token_id"] == principal_id) | ev["actor_email"].isin(emails)]
    recent = mine.sort_values("when", ascending=False)[
        ["when", "action_type", "product", "resource_type", "zone_id", "actor_ip"]
    ].head(20)
    return grants.reset_index(drop=True), recent.reset_index(drop=True)


EXPLORE_ROWS = 25
"""Findings the explorer's table shows: the most severe first."""
DRILL_OPTIONS = 200
"""Principals the explorer offers to drill into: an enterprise view has tens of thousands, and a
dropdown that long is slow to send and useless to scroll; the filters narrow it."""


def drill_options(rows: pd.DataFrame, limit: int = DRILL_OPTIONS) -> list[tuple[str, str]]:
    """(label, principal id) for the explorer's drill-down: the principals of ``rows`` in their
    order (most severe finding first), at most ``limit``, after "(none)"."""
    names = rows.drop_duplicates("principal_id").head(limit)
    labels = names["principal_name"].fillna(names["principal_id"])
    return [("(none)", ""), *zip(labels, names["principal_id"], strict=True)]


def explore_caption(rows: pd.DataFrame, limit: int = DRILL_OPTIONS) -> str:
    """What the explorer's table stands for: how many findings and principals match, how many
    are shown, and where the drill-down stops."""
    principals = rows["principal_id"].nunique()
    text = (
        f"{len(rows):,} findings of {principals:,} principals match; "
        f"{'all' if len(rows) <= EXPLORE_ROWS else f'the {EXPLORE_ROWS} most severe'} below."
    )
    if principals > limit:
        text += f" The drill-down lists the first {limit} principals; narrow the filters."
    return text


def explorer(
    view: View,
    *,
    account: str = "",
    principal_type: str = "",
    severity: str = "",
    rule: str = "",
    principal: str = "",
    drill_limit: int = DRILL_OPTIONS,
):
    """ipywidgets explorer (live kernel only): four filters, a findings table, a principal
    drill-down. Starts from the notebook's parameters."""
    import ipywidgets as w
    from IPython.display import display

    f = view.findings

    def options(col: str) -> list[tuple[str, str]]:
        return [("(all)", "")] + [(str(v), str(v)) for v in sorted(f[col].dropna().unique())]

    acct = w.Dropdown(options=options("account_id"), value=account or "", description="account")
    ptype = w.Dropdown(
        options=options("principal_type"), value=principal_type or "", description="principal"
    )
    sev = w.Dropdown(options=options("severity"), value=severity or "", description="severity")
    rul = w.Dropdown(options=options("rule_id"), value=rule or "", description="rule")
    pick = w.Dropdown(description="drill into", options=[("(none)", "")])
    table_out, detail_out = w.Output(), w.Output()

    def refresh(_=None) -> None:
        rows = explore_rows(view, acct.value, ptype.value, sev.value, rul.value)
        table_out.clear_output()
        with table_out:
            print(explore_caption(rows, drill_limit))
            display(rows.head(EXPLORE_ROWS))
        pick.options = drill_options(rows, drill_limit)

    def drill(_=None) -> None:
        detail_out.clear_output()
        if pick.value:
            grants, recent = principal_detail(view, pick.value)
            with detail_out:
                display(grants)
                display(recent)

    for control in (acct, ptype, sev, rul):
        control.observe(refresh, names="value")
    pick.observe(drill, names="value")
    refresh()
    if principal:  # the parameter may name a principal past the list's end, or unfiltered
        listed = principal in [v for _, v in pick.options]
        if not listed and principal in set(view.snap.grants["principal_id"]):
            pick.options = [*pick.options, (principal, principal)]
            listed = True
        pick.value = principal if listed else ""
    return w.VBox([w.HBox([acct, ptype]), w.HBox([sev, rul]), table_out, pick, detail_out])
