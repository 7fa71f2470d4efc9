"""Execute the notebooks (in parallel) and write the report folder."""

from __future__ import annotations

import ast
import contextlib
import gc
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..envvars import REPORT_KERNEL, VIEW_CACHE
from ..errors import CfPostureError
from . import kernels

# pandas, papermill, nbconvert and the rules are imported inside write_report, after the
# kernels started: they start (and import the same stack) while this process imports it
if TYPE_CHECKING:
    from ..notebook import View

log = logging.getLogger(__name__)

#: the notebooks that chart the history's trends: run last, once the view holds them
TRENDED = frozenset({"00-overview", "01-api-tokens"})

NOTEBOOKS = [
    "00-overview",
    "01-api-tokens",
    "02-oauth-apps",
    "03-least-privilege",
    "04-leaked-credentials",
    "explore",
]


def notebooks_dir() -> Path:
    """The shipped notebooks: the repository's notebooks/, or cfposture/_notebooks in a wheel."""
    here = Path(__file__).resolve().parent.parent
    for c in (here / "_notebooks", here.parent / "notebooks"):
        if (c / "00-overview.ipynb").is_file():
            return c
    raise CfPostureError("cfposture's notebooks are missing; reinstall from a full clone")


@cache
def notebook_parameters(name: str) -> frozenset[str]:
    """The names a notebook's cell tagged ``parameters`` assigns: what papermill can set in it.

    Read from the notebook's JSON with ``ast`` (papermill's own ``inspect_notebook`` gives the
    same names, a test holds them to it) so a mistyped ``-p`` fails before any kernel starts,
    without importing papermill first."""
    nb = json.loads((notebooks_dir() / f"{name}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        names: set[str] = set()
        for node in ast.parse(source).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        return frozenset(names)
    return frozenset()


def kernel_count(cores: int | None = None) -> int:
    """How many kernels run the notebooks by default: one per core but one, at least one, at
    most one per notebook. ``cores``: the cores this process may use (default: its affinity).

    This process needs a core of its own for most of a report: it computes the view, judges a
    cold history's trends, drives papermill's side of every cell and writes the pages. With a
    kernel on every core, three processes shared two cores, and each extra kernel also paid
    for importing the notebook stack (~1 CPU-s) before its first notebook. On 2 cores one
    kernel beat two on the sample, cold (a first report) and warm, and at 100 accounts
    (benchmarks/README, Report, ninth session)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        cores = cores or os.cpu_count() or 1
    return max(1, min(len(NOTEBOOKS), cores - 1))


def check_parameters(params: dict[str, Any]) -> None:
    """Refuse a ``-p`` name no notebook takes: papermill would only log a warning per notebook,
    and a mistyped ``stale_days`` would quietly leave the default in place."""
    if "snapshot" in params:
        raise CfPostureError(
            "give the snapshot as the report's argument (cfposture report SNAPSHOT), not -p"
        )
    known = frozenset().union(*map(notebook_parameters, NOTEBOOKS)) - {"snapshot"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise CfPostureError(
            f"no notebook takes the parameter(s) {', '.join(unknown)}; the notebooks take: "
            f"{', '.join(sorted(known))}"
        )
    from ..errors import SEVERITIES
    from ..rules import RULES

    choices = {
        "min_severity": SEVERITIES,
        "severity": ["", *SEVERITIES],
        "principal_type": ["", "user_token", "account_token", "member", "oauth_app", "account"],
        "rule": ["", *sorted(RULES)],
    }
    for name, allowed in choices.items():
        if name in params and str(params[name]) not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise CfPostureError(f"-p {name} {params[name]!r} is none of: {shown}")
    for name, kind in (("scan_results", "file"), ("baseline", "file"), ("history_path", "dir")):
        value = str(params.get(name) or "")
        exists = Path(value).is_file() if kind == "file" else Path(value).is_dir()
        if value and not exists:
            raise CfPostureError(
                f"-p {name} {value}: no such {'file' if kind == 'file' else 'folder'}"
            )


def _run_one(
    name: str, out: Path, params: dict[str, Any], kernel: kernels.Kernel, pages: _Pages
) -> Future:
    """Execute one notebook on a warm kernel, then queue its HTML page; returns the page's
    future, so the kernel moves on to its next notebook while the page is written."""
    src = notebooks_dir() / f"{name}.ipynb"
    dst = out / "notebooks" / f"{name}.ipynb"
    import papermill as pm

    mine = {k: v for k, v in params.items() if k in notebook_parameters(name)}  # no warnings
    try:
        nb = kernels.execute(src, dst, mine, kernel)
    except pm.PapermillExecutionError as e:
        raise CfPostureError(
            f"notebook {name} failed in cell {e.exec_count or e.cell_index}: {e.ename}: "
            f"{str(e.evalue).splitlines()[0] if e.evalue else ''}; the executed notebook is "
            f"{dst}"
        ) from None
    except TimeoutError as e:  # nbclient's CellTimeoutError: kernels.CELL_TIMEOUT passed
        reason = str(e).splitlines()[0] if str(e) else "a cell ran too long"
        raise CfPostureError(f"notebook {name} did not finish: {reason}") from None
    log.debug("report: notebook %s executed", name)
    return pages.submit(nb, out / f"{name}.html")


class _Pages:
    """Writes the HTML pages one after another in one thread, with one exporter.

    nbconvert is imported and the exporter built in that thread too, once ``prepare`` is
    called, after the first notebooks started: importing it first held them back by ~0.5 s,
    and importing it beside papermill's import still by ~0.2 s (one interpreter lock).
    ``after``: nothing starts before this event is set. On a cold trend cache that is
    ``_Trends.spare``: this process waits for a snapshot a kernel took, or the trends are in.
    Until then it computes what the last two notebooks wait for, and nbconvert's import
    (~0.3 s) and four pages beside it slowed that (a cold report on the sample -0.6 s median,
    benchmarks/README, Report, eighth session; starting them as soon as this process had
    judged its share still held back the trends' last step, twelfth session); the pages
    then come while this process waits, and while those two notebooks run."""

    def __init__(
        self, done: Callable[[str], None] | None = None, after: threading.Event | None = None
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cfposture-html")
        self._exporter: Future | None = None
        self._lock = threading.Lock()
        self._done = done
        self._after, self._closing = after, threading.Event()

    def prepare(self) -> None:
        """Import nbconvert and build the exporter in the page thread, first in its queue."""
        with self._lock:
            if self._exporter is None:
                # bleach (nbconvert's sanitizer) silences html5lib's deprecation warning with
                # a filter it adds as it is imported; added in the page thread while this one
                # is inside ``warnings.catch_warnings`` (pandas and pandera enter it often,
                # the history's trends are judged meanwhile), the filter went into a copy of
                # the list that block then threw away, and the warning showed (an error under
                # ``-W error``). Added here first, it is in every copy.
                warnings.filterwarnings(
                    "ignore",
                    message="html5lib's sanitizer is deprecated",
                    category=DeprecationWarning,
                    module="bleach._vendor.html5lib",
                )
                self._exporter = self._pool.submit(self._start)

    def submit(self, nb: Any, dest: Path) -> Future:
        self.prepare()
        return self._pool.submit(self._write, nb, dest)

    def _start(self) -> Any:
        """The exporter, once ``after`` is set (the page thread waits, holding no lock)."""
        if self._after is not None:
            while not self._after.wait(0.05):
                if self._closing.is_set():
                    return None
        return _exporter()

    def _write(self, nb: Any, dest: Path) -> Path:
        from .html import notebook_html

        assert self._exporter is not None  # prepare() queued it before this page
        exporter = self._exporter.result()
        if exporter is None:
            raise CfPostureError("the report stopped before its pages were written")
        page = notebook_html(nb, dest, exporter)
        if self._done is not None:
            self._done(dest.stem)
        return page

    def close(self) -> None:
        self._closing.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _exporter() -> Any:
    from .html import exporter

    return exporter()


def write_report(
    snapshot: str | Path = "sample",
    out: Path = Path("cfposture-report"),
    params: dict[str, Any] | None = None,
    workers: int | None = None,
    progress: bool = False,
    cached: bool = True,
) -> tuple[Path, View]:
    """Run all notebooks on ``snapshot`` and write the report into ``out``.

    ``workers``: how many kernels run them (default ``kernel_count()``; never more than the
    notebooks). ``progress``: a progress bar on standard error (findings and scores, trends,
    then each page), for people at a terminal: an enterprise snapshot takes a minute.
    ``cached=False``: the snapshot's frames (and the audit events of the older snapshots its
    usage rules read) are parsed from the snapshots, not read from the cache, as for a gate.

    Returns the index page's path and the view the notebooks charted (snapshot, findings with
    accepted risks marked, usage window), so the caller can gate and warn.
    """
    check_parameters(params or {})  # before anything is started or written
    out = Path(out).resolve()  # the kernels run in it
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    where = str(snapshot if str(snapshot) == "sample" else Path(snapshot).resolve())
    nb_params = {"snapshot": where, **(params or {})}
    try:
        view_params = {k: int(nb_params[k]) for k in ("stale_days", "usage_days") if k in nb_params}
    except ValueError:
        raise CfPostureError("stale_days and usage_days must be whole numbers of days") from None
    history_path = str(nb_params.get("history_path", ""))
    baseline = str(nb_params.get("baseline") or "")
    if baseline:  # the kernels run in ``out``: they need the caller's file by absolute path
        baseline = nb_params["baseline"] = str(Path(baseline).resolve())
    cache = Path(tempfile.mkdtemp(prefix="cfposture-view-"))
    # Kernels first: they start and import the notebook stack while this process imports it
    # and computes findings and scores once (which also fails fast on a bad snapshot); the
    # kernels then read that view from the private cache. The history's trends come from
    # the trend cache; on a cold one (a first report) a kernel warm before the view judges
    # older snapshots meanwhile, then the notebooks that chart no trend run while this
    # process, and any kernel waiting for the trends, judge the rest.
    try:
        pool = kernels.WarmPool(
            min(workers, len(NOTEBOOKS)) if workers else kernel_count(),  # no idle kernel
            cwd=out,
            env={**os.environ, VIEW_CACHE: str(cache), REPORT_KERNEL: "1"},
        )
    except BaseException:
        shutil.rmtree(cache, ignore_errors=True)  # the finally below is not reached yet
        raise
    pages: _Pages | None = None
    bar = _bar(progress)
    settled = _LongLived()
    restore = contextlib.ExitStack()  # process-wide settings, as they were at the end
    # papermill's local file handler chdirs around each read and write, from every worker
    # thread at once: the restores can interleave and leave the process elsewhere (the
    # notebooks' kernels run in ``out`` by their own cwd, not by this one)
    restore.callback(os.chdir, os.getcwd())
    try:
        try:
            from .. import findings, load, scoring  # noqa: F401  (the view's stack, first)
            from ..load import hold_audit_frames
            from ..notebook import (
                build_view,
                chosen_accounts,
                pending_trends,
                rule_params,
                save_view,
            )

            # the view and the trends read the older snapshots' audit events again and again
            restore.callback(hold_audit_frames, hold_audit_frames(kernels.HELD_AUDIT_MB))
            settled.freeze()
            args = {"history_path": history_path, "baseline": baseline, **view_params}
            todo = pending_trends(where, **args)
            trends = _Trends(todo, rule_params(**view_params), baseline)
            pool.lend(trends.lend)  # a kernel warm before the view judges an older snapshot
            view = build_view(where, **args, cached=cached)
            # accounts by id or name, checked before any notebook runs; the kernels get ids
            for name in ("accounts", "account"):
                if nb_params.get(name):
                    ids = chosen_accounts(str(nb_params[name]), view.snap.accounts)
                    nb_params[name] = ",".join(ids)
            trends.attach(view)
            # the notebooks that chart no trend need only this; the others wait for the trends
            save_view(view, cache, where, history_path, trends=trends.cached)
            log.debug("report: findings and scores computed")
            bar.set_postfix_str("findings and scores", refresh=False)
            bar.update()
            # after the view, which is what the kernels wait for, and before anything else
            # this process has to do (one interpreter lock): papermill, then the notebooks
            kernels.prepare()
            settled.freeze()
            pages = _Pages(
                done=lambda name: (bar.set_postfix_str(name, refresh=False), bar.update()),
                after=None if trends.cached else trends.spare,
            )
        except BaseException:
            pool.close()
            raise
        pool.start(
            NOTEBOOKS if trends.cached else sorted(NOTEBOOKS, key=lambda n: n in TRENDED),
            lambda name, kernel: _run_one(name, out, nb_params, kernel, pages),
            held=TRENDED,
            gate=None if trends.cached else trends.ready,
            idle=trends.lend,
        )
        try:
            # nbconvert loads while the first notebooks run (on a cold trend cache, once this
            # process waits for a kernel's snapshot or has the trends)
            pages.prepare()
            if not trends.cached:
                trends.judge()
                save_view(view, cache, where, history_path)  # now with its trends, all cached
                trends.ready.set()
                trends.spare.set()
                log.debug("report: trends computed")
            bar.set_postfix_str("trends", refresh=False)
            bar.update()
            _write_findings(out, view)
            done = pool.wait()
        except BaseException:
            pool.close()  # no further notebook; every kernel shut down
            raise
        written = {name: page.result() for name, page in done.items()}
        from .html import write_index

        index = write_index(out / "index.html", view, [written[n] for n in NOTEBOOKS])
    finally:
        if pages is not None:
            pages.close()
        bar.close()
        shutil.rmtree(cache, ignore_errors=True)
        settled.release()
        restore.close()
    return index, view


class _LongLived:
    """Keeps what the report loaded and computed out of the cyclic garbage collector's sight
    while the report runs (``gc.freeze``), and hands it back at the end (``gc.unfreeze``).

    The collector's full passes walk every object alive, again and again: the modules of
    pandas, pandera, papermill and nbconvert, then the view. In this process they took
    0.28-0.31 s of a warm report on the sample, on its critical path, and 0.10 s with the
    stack frozen once loaded and the view once computed (benchmarks/README, Report, seventh
    session). Nothing is lost: reference counting still frees what is not in a cycle, and a
    cycle frozen here is collected after ``release``. A process that froze objects itself
    (a pre-forking server) is left as it is, or unfreezing would hand back its objects too.

    Meanwhile the youngest generation is collected once YOUNG new containers outnumber the
    freed ones, not 700 (Python's default): judging allocates many short-lived ones, and a
    cold report on the sample spent 0.12 s in ~420 young collections, 0.02 s in one this way
    (benchmarks/README, Report, twelfth session). The thresholds are restored at the end."""

    YOUNG = 100_000

    def __init__(self) -> None:
        self._mine = gc.get_freeze_count() == 0
        self._threshold = gc.get_threshold()
        if self._mine:
            gc.set_threshold(max(self.YOUNG, self._threshold[0]), *self._threshold[1:])

    def freeze(self) -> None:
        if self._mine:
            gc.freeze()

    def release(self) -> None:
        if self._mine:
            gc.unfreeze()
            gc.set_threshold(*self._threshold)


class _NoBar:
    """The progress bar of a report that shows none (``--quiet``, a scheduler's run): tqdm's
    import, and multiprocessing's for its lock (8-12 ms, on the command's critical path), are
    not paid for a bar nobody sees."""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(shown: bool) -> Any:
    """The report's progress bar (tqdm, as ``pull``): one step for the findings and scores, one
    for the trends (judging a cold history takes longest), one per page."""
    if not shown:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(
        total=2 + len(NOTEBOOKS),
        desc="report",
        unit="step",
        leave=False,
        mininterval=0,  # eight steps: draw each (pages written close together were skipped)
    )


class _Trends:
    """The history's older snapshots the trend cache lacks (a first report, or the first after
    an upgrade), judged while the view is computed and the notebooks that chart no trend
    run; ``ready`` is set once the view holds its trends. This process takes them one at a
    time, newest first (``judge``, once it has the view); a kernel that is warm before that,
    or waiting for ``ready``, takes the oldest left (``lend``).

    ``todo``: what ``notebook.untrended`` gives (``pending_trends`` before the view);
    ``params`` and ``accepted`` (the baseline's file, or ""): the view's."""

    def __init__(self, todo: list[Path], params: dict, accepted: str = "") -> None:
        from ..notebook import TrendReads

        self._view: View | None = None
        self._reads = TrendReads()  # what the trends need, read before any wait
        self._params, self._accepted = params, accepted
        self._todo = [str(p) for p in todo]
        self.cached = not self._todo
        self.ready = threading.Event()
        #: this process has time for the pages: it waits for a kernel's snapshot, or the
        #: trends are in (set by the caller with ``ready``)
        self.spare = threading.Event()
        self._lock = threading.Lock()
        self._lent: list[kernels.Chore] = []

    @classmethod
    def of(cls, view: View) -> _Trends:
        from ..notebook import untrended

        made = cls(untrended(view), view.params, view.baseline.path if view.baseline else "")
        made.attach(view)
        return made

    def attach(self, view: View) -> None:
        """The view that gets the trends (built after the work was handed out)."""
        assert view.params == self._params, "judged with other parameters than the view's"
        self._view = view

    def _take(self, newest: bool = False) -> str | None:
        """The oldest snapshot left to judge (kernels), or the newest (this process)."""
        with self._lock:
            return self._todo.pop(-1 if newest else 0) if self._todo else None

    def lend(self) -> kernels.Chore | None:
        path = self._take()
        if path is None:
            return None
        chore = kernels.Chore(
            "import cfposture.notebook as _nb\n"
            f"_nb.judge_trends([{path!r}], {self._params!r}, {self._accepted!r})"
        )
        with self._lock:
            self._lent.append(chore)
        return chore

    def judge(self) -> None:
        """Judge what no kernel took into the trend cache, wait for what kernels took, then
        give the view its trends (judging here whatever a failed kernel left undone)."""
        from ..notebook import _trends, judge_trends, read_trends_ahead

        mine = 0
        assert self._view is not None, "attach(view) first"
        # newest first: their audit windows overlap the view's, whose audit events this process
        # holds already (kernels take the oldest, whose windows overlap each other's)
        while (path := self._take(newest=True)) is not None:
            judge_trends([path], self._params, self._accepted)
            mine += 1
        # before any wait for a kernel: once its snapshot is in, only that is read (beside the
        # pages, which start when this process waits: one interpreter lock)
        read_trends_ahead(self._view, self._reads)
        with self._lock:
            lent = list(self._lent)
        log.debug("report: %d older snapshot(s) judged here; waiting for %d lent", mine, len(lent))
        if not all(chore.done.is_set() for chore in lent):
            self.spare.set()  # nothing to do here until a kernel is done: the pages may run
        for chore in lent:
            chore.done.wait()
        _trends(self._view, self._reads)
        log.debug("report: %d older snapshot(s) judged, %d in kernels", mine + len(lent), len(lent))


def _write_findings(out: Path, view: Any) -> None:
    """findings.json/csv/sarif as ``cfposture findings`` writes them (accepted risks marked),
    and summary.json: open findings by severity, accepted ones, the baseline's state."""
    from ..baseline import RISK_STATES
    from ..export import rows, to_csv, to_json, to_sarif
    from .html import first_actions

    snap, df, window = view.snap, view.findings, view.window
    meta = {"path": str(snap.path), "created_at": snap.manifest.get("created_at")}
    found = rows(df)  # built once for both JSON and SARIF
    (out / "findings.json").write_text(to_json(df, meta, window, found), encoding="utf-8")
    (out / "findings.csv").write_text(to_csv(df), encoding="utf-8")
    (out / "findings.sarif").write_text(to_sarif(df, meta, window, found), encoding="utf-8")
    summary = snap.summary()
    summary["findings"] = df[df["status"] == "open"].groupby("severity").size().to_dict()
    summary["accepted"] = int((df["status"] == "accepted").sum())
    if view.baseline is not None:
        risks = view.extras["accepted_risks"]
        summary["baseline"] = {
            "path": view.baseline.path,
            "entries": len(risks),
            **{state: int((risks["state"] == state).sum()) for state in RISK_STATES},
        }
    summary["usage_window"] = window.to_dict() if window else None
    summary["steps"] = first_actions(view)
    prev, changed = view.extras.get("previous"), view.extras.get("changes")
    if prev is not None and changed is not None:
        counts = changed["change"].value_counts()
        summary["since_previous"] = {
            "snapshot": prev.isoformat(),
            "new": int(counts.get("new", 0)),
            "resolved": int(counts.get("resolved", 0)),
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
