"""The notebooks: parameter names, and a papermill run of each with non-default parameters."""

from __future__ import annotations

import re

import nbformat
import papermill as pm
import pytest

import cfposture
from cfposture.report.run import NOTEBOOKS, TRENDED, notebook_parameters, notebooks_dir

COMMON = {
    "snapshot",
    "history_path",
    "stale_days",
    "usage_days",
    "min_severity",
    "accounts",
    "baseline",
}
EXPECTED = {name: COMMON for name in NOTEBOOKS}
EXPECTED["04-leaked-credentials"] = COMMON | {"scan_results"}
EXPECTED["explore"] = COMMON | {"account", "principal_type", "severity", "rule", "principal"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameter_names_are_the_documented_ones(name):
    """papermill only warns about an unknown parameter, so a renamed one would pass silently."""
    params = pm.inspect_notebook(str(notebooks_dir() / f"{name}.ipynb"))
    assert set(params) == EXPECTED[name]
    assert notebook_parameters(name) == EXPECTED[name]  # what the report checks -p against
    assert all(p["help"] for p in params.values()), "every parameter needs a help comment"


#: what a notebook calls to chart the history (cfposture.notebook computes it on first use)
TREND_CALLS = re.compile(r"\bnb\.(checklist_per_snapshot|trend|changes|changes_line)\(")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_report_holds_back_exactly_the_notebooks_that_chart_trends(name):
    """On a cold trend cache the report starts the other notebooks first and runs these once
    the trends are in. A notebook charting trends that is not held back would judge the
    history again in its kernel; one held back needlessly would wait for nothing."""
    nb = nbformat.read(notebooks_dir() / f"{name}.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert bool(TREND_CALLS.search(code)) == (name in TRENDED)


@pytest.fixture(scope="module")
def other_params(sample_snap, tmp_path_factory):
    account = sample_snap.accounts["account_id"].iloc[0]
    shown = cfposture.findings(sample_snap, stale_days=30, usage_days=45).query(
        "severity == 'high' and account_id == @account"
    )
    first = shown["finding_id"].iloc[0]  # one the notebooks show with these parameters
    baseline = tmp_path_factory.mktemp("baseline") / "accepted.yaml"
    baseline.write_text(f"accepted:\n  - {{finding_id: {first}, reason: vault, owner: dana}}\n")
    return {
        "baseline": str(baseline),
        "stale_days": 30,
        "usage_days": 45,
        "min_severity": "medium",
        "accounts": account,
        "history_path": str(cfposture.history("sample")[-1].parent),
    }


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_with_non_default_parameters(tmp_path, name, other_params, sample_snap):
    params = dict(other_params)
    if name == "explore":
        params.update(
            severity="high", rule="CFP-T01", principal=sample_snap.tokens["token_id"].iloc[0]
        )
    out = tmp_path / f"{name}.ipynb"
    nb = pm.execute_notebook(
        str(notebooks_dir() / f"{name}.ipynb"),
        str(out),
        parameters=params,
        kernel_name="python3",
        progress_bar=False,
    )
    assert nb.metadata.papermill.exception is not True
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    if name in ("00-overview", "01-api-tokens"):
        # run on its own (JupyterLab, papermill), a notebook carries plotly.js in its outputs,
        # so exporting it by hand still gives a page that renders offline
        html = "".join(
            o.get("data", {}).get("text/html", "")
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
        )
        assert "plotly.js v" in html
    if name == "00-overview":  # the summary reflects the parameters: fewer findings shown
        default = "findings=196"
        assert "findings=" in printed and default not in printed
        assert "info=0" in printed and "low=0" in printed
        assert "accepted=1" in printed  # the baseline's one entry


def test_scan_results_keep_the_notebooks_filters(tmp_path, sample_snap):
    """04-leaked-credentials re-judges with a scan's results: the account and severity the
    analyst chose must still hold (a leak in another account is not theirs to see here)."""
    import cfposture.notebook as nb

    t = sample_snap.tokens
    t = t[(t["status"] == "active") & t["inventoried"] & (t["owner_type"] == "account")]
    one = t.drop_duplicates("account_id").head(2)  # a token in each of two accounts
    scan = tmp_path / "scan.csv"
    one.assign(location="repo/.env:1")[["token_id", "location"]].to_csv(scan, index=False)
    mine = one["account_id"].iloc[0]

    everything = nb.with_scan(nb.setup(), str(scan))
    assert set(nb.rule_findings(everything, "CFP-T09")["account_id"]) == set(one["account_id"])
    view = nb.with_scan(nb.setup(accounts=mine, min_severity="high"), str(scan))
    leaks = nb.rule_findings(view, "CFP-T09")
    assert set(leaks["account_id"]) == {mine}
    assert set(view.findings["account_id"].dropna()) == {mine}
    assert (view.findings["severity"].isin(["high", "critical"])).all()


def test_the_explorer_marks_accepted_risks(tmp_path, sample_snap):
    import cfposture.notebook as nb

    first = cfposture.findings(sample_snap)["finding_id"].iloc[0]
    baseline = tmp_path / "accepted.yaml"
    baseline.write_text(f"accepted:\n  - {{finding_id: {first}, reason: vault, owner: dana}}\n")
    rows = nb.explore_rows(nb.setup(baseline=str(baseline)))
    assert rows["status"].value_counts().to_dict() == {"open": len(rows) - 1, "accepted": 1}
    assert (nb.explore_rows(nb.setup())["status"] == "open").all()


def test_the_explorer_says_what_its_table_holds_and_keeps_the_drill_down_short():
    """At enterprise scale a filter matches tens of thousands of findings and principals: the
    table says how many it stands for, and the drill-down lists the first few principals (a
    parameter may still name any principal with grants)."""
    import cfposture.notebook as nb

    view = nb.setup()
    rows = nb.explore_rows(view)
    principals = list(rows.drop_duplicates("principal_id")["principal_id"])
    opts = nb.drill_options(rows, limit=3)
    assert opts[0] == ("(none)", "") and [v for _, v in opts[1:]] == principals[:3]
    caption = nb.explore_caption(rows, limit=3)
    assert caption == (
        f"{len(rows):,} findings of {len(principals):,} principals match; the 25 most severe "
        "below. The drill-down lists the first 3 principals; narrow the filters."
    )
    assert nb.explore_caption(rows.head(5)).endswith("match; all below.")
    granted = set(view.snap.grants["principal_id"])
    later = next(p for p in principals[3:] if p in granted)
    box = nb.explorer(view, drill_limit=3, principal=later)
    pick = box.children[3]
    assert pick.value == later and len(pick.options) == 5
    assert nb.explorer(view, drill_limit=3, principal="no-such-principal").children[3].value == ""


def test_tables_show_names_dates_and_how_much_they_cut():
    import cfposture.notebook as nb

    view = nb.build_view("sample")
    rows = nb.tokens_to_roll_first(view)
    assert len(rows) > 5
    html = nb.table(view, rows, nb.ROLL_COLUMNS, 5).to_html()
    assert f"5 of {len(rows)} shown; all of them: findings.csv" in html
    assert "Kestrel Outfitters" in html and not re.search(r">[0-9a-f]{32}<", html)
    assert "NaN" not in html and "NaT" not in html and "&lt;NA&gt;" not in html
    assert "—" in html  # the tokens without an expiry
    assert re.search(r">20\d\d-\d\d-\d\d<", html) and "T09:00" not in html
    assert "row_heading" not in html  # no index column
    whole = nb.table(view, rows, nb.ROLL_COLUMNS, len(rows)).to_html()
    assert " of " not in whole.split("<table")[1].split(">")[0] and "<caption" not in whole


def test_largest_gaps_leave_out_tokens_that_cannot_act():
    import cfposture.notebook as nb

    view = nb.build_view("sample")
    t = view.snap.tokens
    inactive = set(t.loc[t["status"] != "active", "token_id"])
    assert inactive & set(view.scores["principal_id"])  # the sample has some, scored
    kept = nb.active_scores(view)
    assert not inactive & set(kept["principal_id"])
    assert set(view.scores["principal_type"]) == set(kept["principal_type"])
