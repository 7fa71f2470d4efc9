"""cfposture report: the folder it writes, gating, failures, and the HTML in a real browser."""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cfposture.cli import main
from cfposture.report.run import NOTEBOOKS, _LongLived, kernel_count

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "r"
    frozen = gc.get_freeze_count()
    assert main(["report", "--out", str(out), "--quiet"]) == 0
    assert gc.get_freeze_count() == frozen  # what it froze while it ran, it handed back
    return out


def test_the_collector_is_left_to_a_process_that_froze_objects_itself():
    """A pre-forking server that froze its objects keeps them frozen, and the report adds
    none of its own to them (it could not tell them apart when it hands its own back)."""
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        held = [[] for _ in range(100)]  # new objects a report would have frozen
        settled = _LongLived()
        settled.freeze()
        # none added (freezing would add at least ``held``); a frozen object may be freed
        # meanwhile, by a thread an earlier test left, so the count may fall (CI saw 2 go)
        assert gc.get_freeze_count() <= before
        settled.release()
        assert 0 < gc.get_freeze_count() <= before and held  # none handed back either
    finally:
        gc.unfreeze()
    settled = _LongLived()
    settled.freeze()
    assert gc.get_freeze_count() > 0
    settled.release()
    assert gc.get_freeze_count() == 0


def test_the_report_collects_young_objects_less_often_and_restores_the_thresholds():
    before = gc.get_threshold()
    settled = _LongLived()
    assert gc.get_threshold() == (max(_LongLived.YOUNG, before[0]), *before[1:])
    settled.release()
    assert gc.get_threshold() == before
    gc.freeze()  # a process that froze objects itself: its collector is left as it is
    try:
        _LongLived().release()
        assert gc.get_threshold() == before
        _LongLived()
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()


def test_report_folder_has_everything(report):
    for name in NOTEBOOKS:
        assert (report / "notebooks" / f"{name}.ipynb").is_file()
        assert (report / f"{name}.html").is_file()
    for f in ("index.html", "findings.json", "findings.csv", "findings.sarif", "summary.json"):
        assert (report / f).is_file()
    index = (report / "index.html").read_text()
    for name in NOTEBOOKS:
        assert f"href='{name}.html'" in index
    summary = json.loads((report / "summary.json").read_text())
    assert summary["findings"]["high"] > 0
    assert f"<b>{summary['findings']['high']}</b>high" in index
    since = summary["since_previous"]  # the sample's previous month
    assert since["snapshot"].startswith("2026-10-25") and since["new"] + since["resolved"] > 0
    assert f"<p id='changes'>Since 2026-10-25: {since['new']} new findings" in index
    # the sample's history covers the default 90-day usage window, and the report says so
    assert summary["usage_window"]["judged"] is True
    assert "id='usage-window'>Usage judged on 90 days of audit logs" in index
    # what to do first: the three checklist steps, their counts and first principals by name
    steps = summary["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    open_by_step = json.loads((report / "findings.json").read_text())["findings"]
    for s in steps:
        n = sum(
            1 for f in open_by_step if f["checklist_step"] == s["step"] and f["status"] == "open"
        )
        assert s["open"] == n > 0 and sum(s["by_severity"].values()) == n
        assert f"<a href='{s['page']}.html'>" in index and f"{n} open finding(s)" in index
        assert len({t["who"] for t in s["first"]}) == len(s["first"]) == 3
        for t in s["first"]:
            assert not re.fullmatch(r"[0-9a-f]{32}", str(t["account"] or ""))
    # the sample's token cannot read one account's OAuth clients: said on the page and in JSON
    assert any("OAuth Client Read" in n for n in summary["coverage_notes"])
    assert "What this report cannot see" in index


@pytest.mark.parametrize("fmt", ["json", "csv", "sarif"])
def test_report_findings_are_what_cfposture_findings_writes(report, tmp_path, fmt):
    """The report builds the finding rows once for JSON and SARIF; the files are still byte
    for byte what ``cfposture findings`` writes for the same snapshot."""
    assert main(["findings", "--format", fmt, "-o", str(tmp_path / f"f.{fmt}")]) == 0
    assert (report / f"findings.{fmt}").read_bytes() == (tmp_path / f"f.{fmt}").read_bytes()


CHART_PAGES = ("00-overview", "01-api-tokens", "02-oauth-apps", "03-least-privilege")


def test_html_is_self_contained(report):
    for name in CHART_PAGES:
        page = (report / f"{name}.html").read_text()
        assert "Plotly.newPlot" in page, name
        assert 'src="https://cdn.plot.ly' not in page  # (the library mentions it for maps)
        assert 1 <= page.count("plotly.js v") <= 2, name  # the library inlined once (banner)
        # the executed notebook leaves plotly.js to the page: 3.5 MB less per notebook
        assert "plotly.js v" not in (report / "notebooks" / f"{name}.ipynb").read_text()
        assert not re.search(r'<script[^>]+src="(https?:)?//', page)  # no external scripts
        assert '<script src="">' not in page


def _tags(page: str) -> tuple[list, str]:
    """A page as (tag, attributes) pairs and its text: what a reader and a screen reader get.
    Widget output areas get a fresh random id each conversion; that id is left out."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    tags = []
    for t in soup.find_all(True):
        attrs = {k: " ".join(v) if isinstance(v, list) else v for k, v in t.attrs.items()}
        if "jupyter-widgets" in attrs.get("class", ""):
            attrs.pop("id", None)
        tags.append((t.name, attrs))
    return tags, soup.get_text()


RACE = """
import time, warnings
from cfposture.report.run import _Pages
pages = _Pages()
pages.prepare()
while not pages._exporter.done():  # as judging the trends does meanwhile
    with warnings.catch_warnings():
        time.sleep(0.001)
pages._exporter.result()
pages.close()
"""


def test_pages_wait_for_the_trends_and_a_stopped_report_does_not_wait(tmp_path):
    """On a cold trend cache the page thread builds no exporter and writes no page until the
    trends are in (nbconvert's import and the pages, ~0.6 s of this process, would slow the
    judging that the last two notebooks wait for); a report stopped meanwhile closes at once."""
    import threading

    import nbformat

    from cfposture.report.run import _Pages

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# hello")])
    trends = threading.Event()
    pages = _Pages(after=trends)
    page = pages.submit(nb, tmp_path / "a.html")
    assert not page.done() and not (tmp_path / "a.html").exists()
    trends.set()
    assert page.result(timeout=60) == tmp_path / "a.html"
    assert "hello" in (tmp_path / "a.html").read_text()
    pages.close()

    stopped = _Pages(after=threading.Event())  # the trends never come
    late = stopped.submit(nb, tmp_path / "b.html")
    closer = threading.Thread(target=stopped.close)
    closer.start()
    closer.join(10)
    assert not closer.is_alive()
    assert late.cancelled() or late.exception() is not None
    assert not (tmp_path / "b.html").exists()


def test_nbconvert_loads_quietly_beside_a_thread_that_catches_warnings():
    """bleach's import adds a warning filter; if it lands in the copy a ``catch_warnings``
    block of the main thread then throws away, html5lib's deprecation warning shows (an error
    under ``-W error``: the report test failed so). Without the fix, 6 of 6 runs failed."""
    run = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", RACE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "html5lib" not in run.stderr


def test_page_exporter_renders_what_nbconvert_renders(report):
    """The report's exporter skips nbconvert's BeautifulSoup pass and adds its attributes by
    pattern (cfposture.report.html.PageExporter): every page must come out the same."""
    import nbformat
    from nbconvert import HTMLExporter

    from cfposture.report.html import exporter

    ours = exporter()
    options = {k: getattr(ours, k) for k in ("template_name", "exclude_input", "mathjax_url")}
    stock = HTMLExporter(**options, exclude_input_prompt=True, exclude_output_prompt=True,
                         require_js_url="", jquery_url="", widget_renderer_url="")  # fmt: skip
    for name in NOTEBOOKS:
        nb = nbformat.read(report / "notebooks" / f"{name}.ipynb", as_version=4)
        theirs, _ = stock.from_notebook_node(nb)
        mine, _ = ours.from_notebook_node(nb)
        assert 'tabindex="0"' in theirs, name  # the attributes are there to be compared
        assert _tags(mine) == _tags(theirs), name


def test_the_accessibility_attributes_are_added_by_pattern():
    from cfposture.report.html import accessible

    page = (
        '<div class="jp-Cell jp-CodeCell"><div class="jp-Cell-inputWrapper" data-x="1">'
        '<div class="jupyter-widgets jp-OutputArea-output jp-OutputArea-executeResult">'
        '<div class="jp-OutputArea-output" tabindex="-1"><div class="jp-OutputArea-outputs">'
        '<img src="a.png"><img alt="chart" src="b.png"/><imgx>'
    )
    assert accessible(page) == (
        '<div class="jp-Cell jp-CodeCell"><div class="jp-Cell-inputWrapper" data-x="1" '
        'tabindex="0"><div class="jupyter-widgets jp-OutputArea-output '
        'jp-OutputArea-executeResult" tabindex="0"><div class="jp-OutputArea-output" '
        'tabindex="-1"><div class="jp-OutputArea-outputs">'
        '<img alt="No description has been provided for this image" src="a.png">'
        '<img alt="chart" src="b.png"/><imgx>'
    )


def _injected(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    tagged = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    return "".join(tagged[0]["source"])


def test_fail_on_and_parameters(tmp_path, capsys, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)  # a relative --out, as in the README's Quickstart
    caplog.set_level(logging.DEBUG, logger="cfposture.report")
    argv = ["report", "--out", "r", "--quiet", "--fail-on", "high", "-p", "stale_days", "45"]
    argv += ["--kernels", "2"]  # more than the default on 2 cores: notebooks run side by side
    argv += ["-p", "usage_days", "200"]  # longer than the sample's history
    argv += ["-p", "principal_type", "account_token"]  # the explorer's alone
    assert main(argv) == 1
    assert "at or above high" in capsys.readouterr().err
    # each notebook is given the parameters it takes: papermill warns about no other one
    assert not [r for r in caplog.records if "unknown parameter" in r.getMessage()]
    assert "principal_type = " in _injected(tmp_path / "r" / "notebooks" / "explore.ipynb")
    overview = _injected(tmp_path / "r" / "notebooks" / "00-overview.ipynb")
    assert "stale_days = 45" in overview and "principal_type" not in overview
    # the silent usage rules are explained on the index and in the least-privilege page
    short = "Not yet enough history for CFP-T07, CFP-M04, CFP-M05 and CFP-O01"
    assert short in (tmp_path / "r" / "index.html").read_text()
    assert short in (tmp_path / "r" / "03-least-privilege.html").read_text()
    assert not json.loads((tmp_path / "r" / "summary.json").read_text())["usage_window"]["judged"]
    assert (tmp_path / "r" / "notebooks" / "01-api-tokens.ipynb").is_file()
    # papermill chdirs per notebook, in parallel threads: the caller's cwd must survive it
    assert Path.cwd() == tmp_path
    warm = [r for r in caplog.records if "started and warm" in r.getMessage()]
    assert len(warm) == 2


def test_the_command_keeps_a_core_for_itself(monkeypatch):
    """One kernel per core but one: the command computes the view, judges a cold history and
    writes the pages meanwhile (on 2 cores one kernel beat two, benchmarks/README)."""
    assert [kernel_count(n) for n in (1, 2, 3, 4, 8, 64)] == [1, 1, 2, 3, 6, 6]
    # the cores this process may use, not the machine's (taskset, a container's cpuset)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 32)
    assert kernel_count() == 3


@pytest.mark.parametrize("asked, started", [(None, 1), (2, 2), (64, len(NOTEBOOKS))])
def test_the_pool_never_starts_an_idle_kernel(tmp_path, monkeypatch, asked, started):
    """``--kernels`` above the number of notebooks starts one kernel per notebook, no more."""
    from cfposture.report import kernels, run

    sizes = []

    class Refused(Exception):
        pass

    def pool(size, **_):
        sizes.append(size)
        raise Refused  # nothing started: the size is all this test wants

    monkeypatch.setattr(kernels, "WarmPool", pool)
    monkeypatch.setattr(run, "kernel_count", lambda: 1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the view cache goes
    with pytest.raises(Refused):
        run.write_report("sample", out=tmp_path / "r", workers=asked)
    assert sizes == [started]
    assert not list(tmp_path.glob("cfposture-view-*"))  # a pool that fails leaves nothing


@pytest.mark.parametrize("value", ["0", "-1", "two", "65"])
def test_kernels_must_be_a_sensible_count(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as stop:
        main(["report", "--out", str(tmp_path / "r"), "--kernels", value])
    assert stop.value.code == 2
    assert "must be a whole number of kernels between 1 and 64" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_quiet_report_has_no_bar_and_no_tqdm():
    """``--quiet`` (a scheduler's run) shows no bar and does not import tqdm for one (8-12 ms
    with multiprocessing, on the command's critical path); its stand-in takes the calls the
    report makes of a bar (every quiet report in these tests makes them all)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cfposture.report.run import _bar\n"
        "bar = _bar(False)\n"
        "bar.set_postfix_str('trends', refresh=False)\n"
        "bar.update()\n"
        "bar.close()\n"
        "print('tqdm' in sys.modules, type(_bar(True)).__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "tqdm.std"], out.stdout + out.stderr


def test_a_baseline_accepts_risks_in_the_report_and_its_gate(tmp_path, capsys, sample_snap):
    """A scheduled report with accepted risks: they are marked, counted and listed, and
    --fail-on gates only on what is still open."""
    import cfposture

    highs = cfposture.findings(sample_snap).query("severity in ['critical', 'high']")
    ids = [*highs["finding_id"], "f" * 20]  # the last one matches nothing
    entries = [{"finding_id": f, "reason": "tracked in SEC-1", "owner": "dana@x"} for f in ids]
    baseline = tmp_path / "accepted.json"
    baseline.write_text(json.dumps({"accepted": entries}))
    argv = ["report", "--out", str(tmp_path / "r"), "--fail-on", "high"]  # not --quiet
    assert main([*argv, "--baseline", str(baseline)]) == 0
    out, err = capsys.readouterr()
    assert "1 baseline id(s) match no current finding" in err
    steps = 2 + len(NOTEBOOKS)  # the progress bar: the view, the trends, then each page
    assert f"{steps}/{steps}" in err and "report written to" in out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["accepted"] == len(highs) and "high" not in summary["findings"]
    assert summary["baseline"]["accepted"] == len(highs)
    assert summary["baseline"]["no finding"] == 1
    index = (tmp_path / "r" / "index.html").read_text()
    assert f"{len(highs)} finding(s) accepted" in index and "id='accepted-risks'" in index
    sarif = json.loads((tmp_path / "r" / "findings.sarif").read_text())
    suppressed = [r for r in sarif["runs"][0]["results"] if r["suppressions"]]
    assert len(suppressed) == len(highs)
    overview = (tmp_path / "r" / "00-overview.html").read_text()
    assert "tracked in SEC-1" in overview and "accepted=" in overview


@pytest.mark.parametrize(
    "name, message",
    [
        ("stale_dyas", "no notebook takes the parameter(s) stale_dyas; the notebooks take: "),
        ("snapshot", "give the snapshot as the report's argument"),
    ],
)
def test_a_parameter_no_notebook_takes_fails_first(tmp_path, capsys, name, message):
    """papermill only warns about an unknown parameter; the report refuses it in one line,
    before any kernel starts or anything is written."""
    assert main(["report", "--out", str(tmp_path / "r"), "-p", name, "30"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    if name != "snapshot":
        assert "stale_days" in err and "principal" in err  # the known ones, listed
    assert not (tmp_path / "r").exists()


def test_failing_notebook_names_cell_and_error(tmp_path, capsys):
    """Parameters are checked before anything runs; what only a notebook finds out (here, a
    scan results file that is not one) still ends in one line naming the cell."""
    bad = tmp_path / "scan.json"
    bad.write_text("this is not a scan\n")
    code = main(["report", "--out", str(tmp_path / "r"), "--quiet", "-p", "scan_results", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(r"notebook 04-leaked-credentials failed in cell \d+: \w+", err), err
    assert err.count("\n") == 1


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail("Debian's chromium is required in CI (.ci/run installs it)")
    pytest.skip("install Debian's chromium to run the browser test (apt-get install chromium)")


CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # networking off: anything not inlined would fail to load
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]


@pytest.mark.parametrize("name", CHART_PAGES)
def test_charts_render_in_headless_chromium_offline(report, name):
    exe = _chromium()
    page = (report / f"{name}.html").resolve()
    charts = page.read_text().count("Plotly.newPlot(")
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                exe,
                *CHROME_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=8000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert dom.returncode == 0, dom.stderr[-2000:]
    # plotly drew every chart of the page (each draws at least one SVG layer)
    assert charts >= 1 and dom.stdout.count('class="plot-container plotly"') == charts, name
    assert dom.stdout.count('class="main-svg"') >= charts
    if name != "00-overview":
        return
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        shot = ARTIFACTS / "report-overview.png"
        subprocess.run(
            [
                exe,
                *CHROME_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=8000",
                "--window-size=1400,2400",
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    assert shot.stat().st_size > 20_000


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("min_severity", "bogus", "-p min_severity 'bogus' is none of: 'info'"),
        ("severity", "urgent", "-p severity 'urgent' is none of: ''"),
        ("rule", "CFP-X99", "-p rule 'CFP-X99' is none of"),
        ("principal_type", "robot", "-p principal_type 'robot' is none of"),
        ("scan_results", "/missing.csv", "-p scan_results /missing.csv: no such file"),
        ("history_path", "/missing", "-p history_path /missing: no such folder"),
    ],
)
def test_a_bad_parameter_value_fails_before_anything_runs(tmp_path, capsys, name, value, message):
    assert main(["report", "--out", str(tmp_path / "r"), "-p", name, value]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()


def test_an_account_the_snapshot_lacks_fails_before_any_notebook_runs(tmp_path, capsys):
    code = main(["report", "--out", str(tmp_path / "r"), "-p", "accounts", "nosuchaccount"])
    err = capsys.readouterr().err
    assert code == 2 and "the snapshot holds no account 'nosuchaccount'" in err
    assert "Kestrel" in err  # names the accounts it has
    assert not list((tmp_path / "r").glob("*.html"))


def test_accounts_may_be_named(sample_snap):
    from cfposture.notebook import chosen_accounts

    first = sample_snap.accounts.iloc[0]
    assert chosen_accounts(f" {first['name']} ,", sample_snap.accounts) == [first["account_id"]]
    assert chosen_accounts(first["account_id"], sample_snap.accounts) == [first["account_id"]]


def test_no_page_reaches_for_a_widget_manager(report):
    """explore.html held widget state, for which nbconvert's template fetched a widget
    manager from unpkg.com: offline, a failed request and an empty area."""
    for page in report.glob("*.html"):
        text = page.read_text()
        assert "unpkg.com" not in text, page.name
        assert "addWidgetsRenderer" not in text, page.name
    explore = (report / "explore.html").read_text()
    assert "open <code>notebooks/explore.ipynb</code> in JupyterLab" in explore
