"""Execute the notebooks (in parallel) and write the report folder."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import papermill as pm

from ..catalog import data_dir
from ..errors import CfPostureError
from ..export import render
from ..load import Snapshot
from ..notebook import CACHE_ENV, build_view, save_view
from .html import notebook_html, write_index

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


def _run_one(name: str, out: Path, params: dict[str, Any]) -> Path:
    src = notebooks_dir() / f"{name}.ipynb"
    dst = out / "notebooks" / f"{name}.ipynb"
    try:
        pm.execute_notebook(
            str(src),
            str(dst),
            parameters=params,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            cwd=str(out),
            # each kernel would warn on stderr that it talks TCP on loopback; schedulers and
            # the Quickstart want a quiet command (errors still show)
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except pm.PapermillExecutionError as e:
        raise CfPostureError(
            f"notebook {name} failed in cell {e.exec_count or e.cell_index}: {e.ename}: "
            f"{str(e.evalue).splitlines()[0] if e.evalue else ''}; the executed notebook is "
            f"{dst}"
        ) from None
    return dst


def write_report(
    snapshot: str | Path = "sample",
    out: Path = Path("cfposture-report"),
    params: dict[str, Any] | None = None,
    workers: int | None = None,
) -> tuple[Path, Snapshot, Any]:
    """Run all notebooks on ``snapshot`` and write the report into ``out``.

    Returns (index path, snapshot, findings frame) so the caller can gate on findings.
    """
    out = Path(out).resolve()  # papermill changes directory while it runs a notebook
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    where = str(snapshot if str(snapshot) == "sample" else Path(snapshot).resolve())
    nb_params = {"snapshot": where, **(params or {})}
    try:
        view_params = {k: int(nb_params[k]) for k in ("stale_days", "usage_days") if k in nb_params}
    except ValueError:
        raise CfPostureError("stale_days and usage_days must be whole numbers of days") from None
    history_path = str(nb_params.get("history_path", ""))
    # Findings, scores and trends are computed once here (which also fails fast, before any
    # kernel starts, on a bad snapshot) and shared with every kernel through a private cache.
    view = build_view(where, history_path=history_path, **view_params)
    cache = Path(tempfile.mkdtemp(prefix="cfposture-view-"))
    save_view(view, cache, where, history_path)
    saved = {k: os.environ.get(k) for k in ("CFPOSTURE_DATA", CACHE_ENV)}
    os.environ.setdefault("CFPOSTURE_DATA", str(data_dir()))  # kernels find the same data
    os.environ[CACHE_ENV] = str(cache)
    # papermill's cwd= is a process-wide chdir that each thread saves and restores: with
    # notebooks in parallel the last restore can leave the process in the report folder
    here = os.getcwd()
    try:
        n = workers or max(1, min(len(NOTEBOOKS), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=n) as pool:
            done = list(pool.map(lambda name: _run_one(name, out, nb_params), NOTEBOOKS))
    finally:
        os.chdir(here)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(cache, ignore_errors=True)
    pages = [notebook_html(p, out / f"{p.stem}.html") for p in done]
    snap, df = view.snap, view.findings
    meta = {"path": str(snap.path), "created_at": snap.manifest.get("created_at")}
    for fmt, ext in (("json", "json"), ("csv", "csv"), ("sarif", "sarif")):
        (out / f"findings.{ext}").write_text(render(df, fmt, meta), encoding="utf-8")
    summary = snap.summary()
    summary["findings"] = df.groupby("severity").size().to_dict()
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    index = write_index(out / "index.html", snap, df, pages)
    return index, snap, df
