"""The charts: what each one shows adds up to the frames it is drawn from, every chart is
titled and labelled, the same thing has the same colour everywhere, and no chart needs
plotly.express (its import alone cost each report kernel ~0.12 s)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from cfposture import notebook as nb
from cfposture import plots
from cfposture.errors import SEVERITIES
from cfposture.palette import FORMAT_COLORS, PRINCIPAL_COLORS, SEVERITY_COLORS


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CFPOSTURE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        v = nb.build_view("sample")
        nb.checklist_per_snapshot(v)  # the trends, judged while the cache is this test's
        return v


def _charts(view) -> dict:
    return {
        "findings_by_severity": plots.findings_by_severity(view.findings),
        "lp_gap_distribution": plots.lp_gap_distribution(view.scores),
        "checklist_trend": plots.checklist_trend(nb.checklist_per_snapshot(view)),
        "legacy_exposure_trend": plots.legacy_exposure_trend(nb.trend(view)),
        "exposure_heatmap": plots.exposure_heatmap(
            view.snap.tokens, view.scores, view.snap.created_at
        ),
        "oauth_idle": plots.oauth_idle(view.snap.oauth_apps, view.snap.created_at),
        "granted_vs_used": plots.granted_vs_used(view.scores),
        "severity_dropdown": plots.severity_dropdown(view.findings),
    }


def test_every_chart_is_titled_labelled_and_sized(view):
    for name, fig in _charts(view).items():
        layout = fig.layout
        assert layout.title.text, name
        assert layout.xaxis.title.text and layout.yaxis.title.text, name
        assert layout.height == plots.LAYOUT["height"], name
        assert layout.template.layout.paper_bgcolor == "white", name  # the report's template
        assert fig.data, name


def test_the_template_is_plotly_white_for_what_the_charts_draw(view):
    """The report's template keeps plotly_white's styles for every trace type and subplot the
    charts draw, and only those; a chart that started drawing something else would fall back
    to plotly's own defaults, so this fails first."""
    import plotly.io as pio

    white = pio.templates["plotly_white"].to_plotly_json()
    ours = pio.templates[plots.template()].to_plotly_json()
    assert ours["layout"] == {k: v for k, v in white["layout"].items() if k not in plots.UNDRAWN}
    assert set(white["layout"]) > set(ours["layout"])  # something was left out
    assert ours["data"] == {t: white["data"][t] for t in plots.TRACE_TYPES}
    for name, fig in _charts(view).items():
        drawn = fig.to_plotly_json()
        assert {t["type"] for t in drawn["data"]} <= set(plots.TRACE_TYPES), name
        assert not set(drawn["layout"]) & {*plots.UNDRAWN, "mapbox", "map"}, name


def test_the_bars_add_up_to_the_open_findings(view):
    open_ = view.findings[view.findings["status"] == "open"]
    fig = plots.findings_by_severity(view.findings)
    assert sum(sum(t.y) for t in fig.data) == len(open_)
    for t in fig.data:
        assert t.marker.color == SEVERITY_COLORS[t.name]
        assert sum(t.y) == (open_["severity"] == t.name).sum()
    drop = plots.severity_dropdown(view.findings)
    assert [t.name for t in drop.data] == SEVERITIES[::-1]  # what its buttons index
    assert sum(sum(t.y) for t in drop.data) == len(open_)
    assert all(t.marker.color == SEVERITY_COLORS[t.name] for t in drop.data)


def test_every_principal_is_drawn_once_in_its_colour(view):
    s = view.scores
    for fig in (plots.lp_gap_distribution(s), plots.granted_vs_used(s)):
        assert sum(len(t.x) for t in fig.data) == len(s)
        for t in fig.data:
            assert t.marker.color == PRINCIPAL_COLORS[t.name]
            assert len(t.x) == (s["principal_type"] == t.name).sum()
    points = plots.granted_vs_used(s)
    assert sorted(n for t in points.data for n in t.hovertext) == sorted(s["principal_name"])
    hist = plots.lp_gap_distribution(s)
    assert {t.bingroup for t in hist.data} == {"x"}  # one set of bins: the stacks line up


def test_the_trends_show_what_the_history_holds(view):
    trend = nb.trend(view)
    fig = plots.legacy_exposure_trend(trend)
    for t in fig.data:
        assert t.line.color == FORMAT_COLORS[t.name]
        expected = trend[trend["format"] == t.name].groupby("snapshot")["exposure"].sum()
        assert list(t.y) == pytest.approx(list(expected))
        assert [pd.Timestamp(x) for x in t.x] == [d.tz_localize(None) for d in expected.index]
    per = nb.checklist_per_snapshot(view)
    fig = plots.checklist_trend(per)
    assert sum(sum(t.y) for t in fig.data) == per["findings"].sum()
    for t in fig.data:  # plotly.js knows no time zones: UTC without one
        assert all(pd.Timestamp(x).tzinfo is None for x in t.x)


def test_the_heatmap_holds_all_active_exposure(view):
    t = view.snap.tokens
    active = t[(t["status"] == "active") & t["inventoried"]]
    exposure = active["token_id"].map(view.scores.set_index("principal_id")["exposure"]).fillna(0)
    fig = plots.exposure_heatmap(t, view.scores, view.snap.created_at)
    (cell,) = fig.data
    assert float(sum(map(sum, cell.z))) == pytest.approx(exposure.sum())
    assert fig.layout.coloraxis.autocolorscale is False


def test_the_idle_apps_are_the_connected_ones_one_bar_each(view):
    apps = view.snap.oauth_apps
    names = dict(zip(view.snap.accounts["account_id"], view.snap.accounts["name"], strict=True))
    fig = plots.oauth_idle(apps, view.snap.created_at, names)
    shown = sorted(n for t in fig.data for n in t.y)
    connected = apps[apps["source"] != "published_client"]
    assert shown == sorted(connected.drop_duplicates("app_id")["app_name"])
    assert len(connected) > len(shown)  # an app granted on several accounts: one bar
    days = [d for t in fig.data for d in t.x]
    assert min(days) >= 0
    # the most recent use on any account counts, not the sum of the accounts' idle days
    wrangler = next(d for t in fig.data for d, n in zip(t.x, t.y, strict=True) if n == "Wrangler")
    seen = connected.loc[connected["app_name"] == "Wrangler", "last_seen_on"]
    assert len(seen) > 1 and wrangler == (view.snap.created_at - seen).dt.days.min()
    labels = [x for t in fig.data for x in t.text]
    assert len(labels) == len(shown) and all(x.endswith(" d") for x in labels)  # 0 d shows too
    hover = [c[0] for t in fig.data for c in t.customdata]
    assert any("Kestrel" in h for h in hover) and "all accounts" in hover


def test_the_charts_do_not_import_plotly_express():
    code = "import sys, cfposture.plots; print('plotly.express' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
