"""The charts of the notebooks and the report: plotly figures with titles, axis labels, hover
details and the same severity colours everywhere.

Built from ``plotly.graph_objects`` traces, one per colour: plotly.express made the same
figures three times slower (~30 ms a chart against ~10, most of it laying out subplots and
validating its updates), and a report draws a dozen of them, two notebooks of them after the
history's trends (benchmarks/README.md, Report, eleventh session)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from .errors import SEVERITIES
from .palette import FORMAT_COLORS, PRINCIPAL_COLORS, PUBLISHER_COLORS, SEVERITY_COLORS

STEP_NAMES = {1: "1 · API tokens", 2: "2 · OAuth apps", 3: "3 · permissions"}
LAYOUT = {"height": 420, "margin": {"t": 60, "l": 60, "r": 20}}
TEMPLATE = "cfposture"
TRACE_TYPES = ("bar", "scatter", "histogram", "heatmap")
#: plotly_white's styles for kinds of subplot these charts never draw (maps, polar, ternary
#: and 3-D axes): left out of the template
UNDRAWN = ("geo", "polar", "ternary", "scene")


def template() -> str:
    """plotly_white, with trace defaults for the trace types these charts draw only, and
    without its styles for the subplots they never draw (``UNDRAWN``).

    Every figure validates and deep-copies its template; the full plotly_white carries
    defaults for some thirty trace types and made templates about half of the notebooks'
    time, and the undrawn subplots' styles still cost ~1.3 ms of each figure's ~4.4 ms (and
    ~13 ms of the template's own build). Passed to each chart (``template=``), never set as
    plotly's default, so an analyst's own figures are left alone."""
    if TEMPLATE not in pio.templates:
        white = pio.templates["plotly_white"]
        drawn = {k: v for k, v in white.layout.to_plotly_json().items() if k not in UNDRAWN}
        pio.templates[TEMPLATE] = go.layout.Template(
            layout=drawn, data={t: white.data[t] for t in TRACE_TYPES}
        )
    return TEMPLATE


def _figure(
    traces: list[go.BaseTraceType], title: str, x: str, y: str, legend: str | None = None
) -> go.Figure:
    """The traces in a figure with the report's template, size, title and axis titles."""
    layout: dict = {"template": template(), "title": title, **LAYOUT}
    layout["xaxis"] = {"title": {"text": x}}
    layout["yaxis"] = {"title": {"text": y}}
    if legend is not None:
        layout["legend"] = {"title": {"text": legend}, "tracegroupgap": 0}
    return go.Figure(traces, layout)


def _hover(*parts: str) -> str:
    return "<br>".join(parts) + "<extra></extra>"


def _dates(s: pd.Series) -> list:
    """Timestamps as plotly.js reads them: it knows no time zones, so UTC without one."""
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.tolist()


def findings_by_severity(findings: pd.DataFrame) -> go.Figure:
    """Open findings per checklist step, stacked by severity."""
    f = findings[findings["status"] == "open"]
    counts = f.groupby(["checklist_step", "severity"]).size().rename("findings").reset_index()
    traces = []
    for sev in SEVERITIES[::-1]:
        d = counts[counts["severity"] == sev]
        if d.empty:
            continue
        traces.append(
            go.Bar(
                x=d["checklist_step"].map(STEP_NAMES).tolist(),
                y=d["findings"].tolist(),
                name=sev,
                legendgroup=sev,
                marker_color=SEVERITY_COLORS[sev],
                hovertemplate=_hover(
                    f"severity={sev}", "checklist step=%{x}", "open findings=%{y}"
                ),
            )
        )
    fig = _figure(
        traces,
        "Open findings by checklist step and severity",
        "checklist step",
        "open findings",
        "severity",
    )
    fig.update_layout(
        barmode="relative",
        xaxis={"categoryorder": "array", "categoryarray": list(STEP_NAMES.values())},
    )
    return fig


def checklist_trend(per_snapshot: pd.DataFrame) -> go.Figure:
    """Open findings per checklist step across snapshots (``snapshot``, ``checklist_step``,
    ``findings``, optionally ``usage_judged``). Snapshots whose usage rules did not judge (too
    little audit history) are shaded: step 3 rises when they start judging, which is not a
    regression."""
    df = per_snapshot.assign(step=per_snapshot["checklist_step"].map(STEP_NAMES))
    traces = [
        go.Scatter(
            x=_dates(d["snapshot"]),
            y=d["findings"].tolist(),
            name=step,
            legendgroup=step,
            mode="lines+markers",
            hovertemplate=_hover(f"step={step}", "snapshot date=%{x}", "open findings=%{y}"),
        )
        for step, d in df.groupby("step", sort=False)
    ]
    fig = _figure(
        traces,
        "Checklist progress: open findings per step over time",
        "snapshot date",
        "open findings",
        "step",
    )
    if "usage_judged" in df:
        note = "usage rules not judged yet (short audit history)"
        shapes, notes = [], []
        for i, (x0, x1) in enumerate(_unjudged_spans(df)):
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "y domain",
                    "x0": x0,
                    "x1": x1,
                    "y0": 0,
                    "y1": 1,
                    "fillcolor": "#9e9e9e",
                    "opacity": 0.15,
                    "line": {"width": 0},
                }
            )
            if i == 0:
                notes.append(
                    {
                        "text": note,
                        "showarrow": False,
                        "xref": "x",
                        "yref": "y domain",
                        "x": x0,
                        "y": 1,
                        "xanchor": "left",
                        "yanchor": "top",
                    }
                )
        if shapes:
            fig.update_layout(shapes=shapes, annotations=notes)
    return fig


def _unjudged_spans(df: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Runs of snapshots whose usage rules did not judge, each reaching to the next snapshot
    (where the step-3 count changes), or to itself when it is the last."""
    judged = df.groupby("snapshot")["usage_judged"].all().sort_index()
    dates = list(judged.index)
    spans, start = [], None
    for i, at in enumerate(dates):
        if not judged[at] and start is None:
            start = at
        if start is not None and (judged[at] or i == len(dates) - 1):
            spans.append((start, at))
            start = None
    return spans


def legacy_exposure_trend(trend: pd.DataFrame) -> go.Figure:
    """Stacked area: token exposure by format across snapshots (weighted by privilege)."""
    df = trend.groupby(["snapshot", "format"])[["exposure", "tokens"]].sum().reset_index()
    traces = []
    for fmt in ["legacy", "unknown", "scannable"]:
        d = df[df["format"] == fmt]
        if d.empty:
            continue
        traces.append(
            go.Scatter(
                x=_dates(d["snapshot"]),
                y=d["exposure"].tolist(),
                customdata=d[["tokens"]].to_numpy(),
                name=fmt,
                legendgroup=fmt,
                mode="lines",
                stackgroup="1",
                line_color=FORMAT_COLORS[fmt],
                hovertemplate=_hover(
                    f"format={fmt}",
                    "snapshot date=%{x}",
                    "exposure (sum over active tokens)=%{y}",
                    "tokens=%{customdata[0]}",
                ),
            )
        )
    return _figure(
        traces,
        "Legacy-token exposure over time (privilege-weighted)",
        "snapshot date",
        "exposure (sum over active tokens)",
        "format",
    )


def exposure_heatmap(tokens: pd.DataFrame, scores: pd.DataFrame, as_of: pd.Timestamp) -> go.Figure:
    """Token exposure by age and privilege tier: where the oldest powerful tokens sit."""
    t = tokens[(tokens["status"] == "active") & tokens["inventoried"]].copy()
    t["age"] = pd.cut(
        (as_of - t["issued_on"]).dt.days / 365.25,
        [-1, 0.5, 1, 2, 3, 100],
        labels=["< 6 months", "6–12 months", "1–2 years", "2–3 years", "> 3 years"],
    )
    s = scores.set_index("principal_id")
    t["exposure"] = t["token_id"].map(s["exposure"]).fillna(0)
    t["tier"] = pd.cut(
        t["token_id"].map(s["granted_weight"]).fillna(0),
        [-1, 10, 40, 1e9],
        labels=["low privilege", "medium privilege", "high privilege"],
    )
    grid = t.pivot_table(
        index="tier", columns="age", values="exposure", aggfunc="sum", observed=False
    ).fillna(0)
    cell = go.Heatmap(
        z=grid.to_numpy(),
        x=[str(c) for c in grid.columns],
        y=[str(i) for i in grid.index],
        coloraxis="coloraxis",
        texttemplate="%{z:.0f}",
        hovertemplate=_hover("token age: %{x}", "privilege: %{y}", "exposure: %{z}"),
    )
    fig = _figure([cell], "Where exposure sits: token age × privilege", "token age", "privilege")
    fig.update_layout(
        coloraxis={
            "colorscale": "OrRd",
            "autocolorscale": False,
            "colorbar": {"title": {"text": "exposure"}},
        },
        yaxis={"autorange": "reversed"},  # the lowest tier on top, as the frame lists them
    )
    return fig


def lp_gap_distribution(scores: pd.DataFrame) -> go.Figure:
    x = "least-privilege gap (0 = uses all it holds)"
    traces = [
        go.Histogram(
            x=d["lp_gap"].tolist(),
            name=ptype,
            legendgroup=ptype,
            nbinsx=20,
            bingroup="x",  # one set of bins for every type, so the stacks line up
            marker_color=PRINCIPAL_COLORS.get(ptype),
            hovertemplate=_hover(f"principal={ptype}", f"{x}=%{{x}}", "count=%{y}"),
        )
        for ptype, d in scores.groupby("principal_type", sort=False)
    ]
    fig = _figure(traces, "Least-privilege gap per principal", x, "count", "principal")
    fig.update_layout(barmode="stack")
    return fig


def granted_vs_used(scores: pd.DataFrame) -> go.Figure:
    x, y = "granted (Σ weight × reach)", "used in the window"
    traces = [
        go.Scatter(
            x=d["granted_weight"].tolist(),
            y=d["used_weight"].tolist(),
            hovertext=d["principal_name"].tolist(),
            customdata=d[["lp_gap", "reach"]].to_numpy(),
            name=ptype,
            legendgroup=ptype,
            mode="markers",
            marker_color=PRINCIPAL_COLORS.get(ptype),
            hovertemplate=_hover(
                "<b>%{hovertext}</b><br>",
                f"principal_type={ptype}",
                f"{x}=%{{x}}",
                f"{y}=%{{y}}",
                "lp_gap=%{customdata[0]}",
                "reach=%{customdata[1]}",
            ),
        )
        for ptype, d in scores.groupby("principal_type", sort=False)
    ]
    fig = _figure(
        traces,
        "Granted vs used: everything below the diagonal is unused access",
        x,
        y,
        "principal_type",
    )
    top = float(max(scores["granted_weight"].max(), 1)) if not scores.empty else 1.0
    fig.update_layout(
        shapes=[
            {
                "type": "line",
                "x0": 0,
                "y0": 0,
                "x1": top,
                "y1": top,
                "line": {"dash": "dot", "color": "#888"},
            }
        ]
    )
    return fig


def oauth_idle(
    apps: pd.DataFrame, as_of: pd.Timestamp, account_names: dict[str, str] | None = None
) -> go.Figure:
    """One bar per connected app: days since its last activity on any account (an app
    granted on three accounts is idle as long as its most recent use says, not three bars
    stacked). Each bar is labelled, so an app active today (0 days) still shows."""
    a = apps[apps["source"] != "published_client"].copy()
    a["days idle"] = (
        (as_of - a["last_seen_on"]).dt.days.fillna((as_of - a["granted_on"]).dt.days).fillna(0)
    )
    a["publisher"] = a["verified"].map({True: "verified", False: "unverified"}).fillna("unknown")
    names = account_names or {}
    a["account"] = a["account_id"].map(lambda x: "all accounts" if x == "*" else names.get(x, x))
    a = (
        a.groupby("app_id", sort=False)
        .agg(
            app_name=("app_name", "first"),
            days=("days idle", "min"),
            publisher=("publisher", "first"),
            accounts=("account", lambda s: ", ".join(sorted({str(x) for x in s.dropna()}))),
            scopes=("scopes", "first"),
        )
        .sort_values("days")
    )
    traces = [
        go.Bar(
            x=d["days"].tolist(),
            y=d["app_name"].tolist(),
            text=[f"{int(x)} d" for x in d["days"]],
            textposition="outside",
            cliponaxis=False,
            customdata=d[["accounts", "scopes"]].astype(object).to_numpy(),
            orientation="h",
            name=publisher,
            legendgroup=publisher,
            marker_color=PUBLISHER_COLORS[publisher],
            hovertemplate=_hover(
                f"publisher={publisher}",
                "days idle=%{x}",
                "app=%{y}",
                "accounts=%{customdata[0]}",
                "scopes=%{customdata[1]}",
            ),
        )
        for publisher, d in a.groupby("publisher", sort=False)
    ]
    fig = _figure(
        traces, "Connected OAuth apps: days since last activity", "days idle", "app", "publisher"
    )
    fig.update_layout(barmode="relative")
    return fig


def severity_dropdown(findings: pd.DataFrame) -> go.Figure:
    """Findings per rule with a dropdown per severity: interactive in a static HTML report
    (plotly's own controls need no kernel, unlike ipywidgets)."""
    f = findings[findings["status"] == "open"]
    counts = f.groupby(["rule_id", "severity"]).size().rename("n").reset_index()
    traces = []
    for sev in SEVERITIES[::-1]:
        d = counts[counts["severity"] == sev]
        traces.append(
            go.Bar(
                x=d["rule_id"].tolist(),
                y=d["n"].tolist(),
                name=sev,
                marker_color=SEVERITY_COLORS[sev],
            )
        )
    buttons = [
        {"label": "all", "method": "update", "args": [{"visible": [True] * len(SEVERITIES)}]}
    ]
    for i, sev in enumerate(SEVERITIES[::-1]):
        vis = [j == i for j in range(len(SEVERITIES))]
        buttons.append({"label": sev, "method": "update", "args": [{"visible": vis}]})
    fig = _figure(traces, "Findings per rule (pick a severity)", "rule", "open findings")
    fig.update_layout(barmode="stack", updatemenus=[{"buttons": buttons, "x": 1.0, "y": 1.15}])
    return fig
