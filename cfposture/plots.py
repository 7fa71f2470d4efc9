"""The charts of the notebooks and the report: plotly figures with titles, axis labels, hover
details and the same severity colours everywhere."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

from .errors import SEVERITIES
from .palette import FORMAT_COLORS, SEVERITY_COLORS

STEP_NAMES = {1: "1 · API tokens", 2: "2 · OAuth apps", 3: "3 · permissions"}
LAYOUT = {"height": 420, "margin": {"t": 60, "l": 60, "r": 20}}
TEMPLATE = "cfposture"
TRACE_TYPES = ("bar", "scatter", "histogram", "heatmap")


def template() -> str:
    """plotly_white, with trace defaults for the trace types these charts draw only.

    Every figure validates and copies its template; the full plotly_white carries defaults for
    some thirty trace types and made templates about half of the notebooks' time. Passed to
    each chart (``template=``), never set as plotly's default, so an analyst's own figures are
    left alone."""
    if TEMPLATE not in pio.templates:
        white = pio.templates["plotly_white"]
        pio.templates[TEMPLATE] = go.layout.Template(
            layout=white.layout, data={t: white.data[t] for t in TRACE_TYPES}
        )
    return TEMPLATE


def _style(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, **LAYOUT)
    return fig


def findings_by_severity(findings: pd.DataFrame) -> go.Figure:
    """Open findings per checklist step, stacked by severity."""
    f = findings[findings["status"] == "open"]
    counts = f.groupby(["checklist_step", "severity"]).size().rename("findings").reset_index()
    counts["step"] = counts["checklist_step"].map(STEP_NAMES)
    fig = px.bar(
        counts,
        template=template(),
        x="step",
        y="findings",
        color="severity",
        color_discrete_map=SEVERITY_COLORS,
        category_orders={"severity": SEVERITIES[::-1], "step": list(STEP_NAMES.values())},
        labels={"step": "checklist step", "findings": "open findings"},
    )
    return _style(fig, "Open findings by checklist step and severity")


def checklist_trend(per_snapshot: pd.DataFrame) -> go.Figure:
    """Open findings per checklist step across snapshots (``snapshot``, ``checklist_step``,
    ``findings``, optionally ``usage_judged``). Snapshots whose usage rules did not judge (too
    little audit history) are shaded: step 3 rises when they start judging, which is not a
    regression."""
    df = per_snapshot.assign(step=per_snapshot["checklist_step"].map(STEP_NAMES))
    fig = px.line(
        df,
        template=template(),
        x="snapshot",
        y="findings",
        color="step",
        markers=True,
        labels={"snapshot": "snapshot date", "findings": "open findings"},
    )
    if "usage_judged" in df:
        note = "usage rules not judged yet (short audit history)"
        for i, (x0, x1) in enumerate(_unjudged_spans(df)):
            fig.add_vrect(
                x0=x0,
                x1=x1,
                fillcolor="#9e9e9e",
                opacity=0.15,
                line_width=0,
                annotation_text=note if i == 0 else "",
                annotation_position="top left",
            )
    return _style(fig, "Checklist progress: open findings per step over time")


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
    fig = px.area(
        df,
        template=template(),
        x="snapshot",
        y="exposure",
        color="format",
        color_discrete_map=FORMAT_COLORS,
        category_orders={"format": ["legacy", "unknown", "scannable"]},
        hover_data={"tokens": True},
        labels={"snapshot": "snapshot date", "exposure": "exposure (sum over active tokens)"},
    )
    return _style(fig, "Legacy-token exposure over time (privilege-weighted)")


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
    fig = px.imshow(
        grid,
        template=template(),
        color_continuous_scale="OrRd",
        text_auto=".0f",
        aspect="auto",
        labels={"x": "token age", "y": "privilege", "color": "exposure"},
    )
    return _style(fig, "Where exposure sits: token age × privilege")


def lp_gap_distribution(scores: pd.DataFrame) -> go.Figure:
    fig = px.histogram(
        scores,
        template=template(),
        x="lp_gap",
        color="principal_type",
        nbins=20,
        barmode="stack",
        labels={
            "lp_gap": "least-privilege gap (0 = uses all it holds)",
            "principal_type": "principal",
        },
    )
    return _style(fig, "Least-privilege gap per principal")


def granted_vs_used(scores: pd.DataFrame) -> go.Figure:
    fig = px.scatter(
        scores,
        template=template(),
        x="granted_weight",
        y="used_weight",
        color="principal_type",
        hover_name="principal_name",
        hover_data={"lp_gap": True, "reach": True},
        labels={
            "granted_weight": "granted (Σ weight × reach)",
            "used_weight": "used in the window",
        },
    )
    top = float(max(scores["granted_weight"].max(), 1)) if not scores.empty else 1.0
    fig.add_shape(type="line", x0=0, y0=0, x1=top, y1=top, line={"dash": "dot", "color": "#888"})
    return _style(fig, "Granted vs used: everything below the diagonal is unused access")


def oauth_idle(apps: pd.DataFrame, as_of: pd.Timestamp) -> go.Figure:
    a = apps[apps["source"] != "published_client"].copy()
    a["days idle"] = (
        (as_of - a["last_seen_on"]).dt.days.fillna((as_of - a["granted_on"]).dt.days).fillna(0)
    )
    a["publisher"] = a["verified"].map({True: "verified", False: "unverified"}).fillna("unknown")
    fig = px.bar(
        a.sort_values("days idle"),
        template=template(),
        x="days idle",
        y="app_name",
        color="publisher",
        orientation="h",
        hover_data={"account_id": True, "scopes": True},
        color_discrete_map={"verified": "#2e7d32", "unverified": "#c62828", "unknown": "#9e9e9e"},
        labels={"app_name": "app"},
    )
    return _style(fig, "Connected OAuth apps: days since last activity")


def severity_dropdown(findings: pd.DataFrame) -> go.Figure:
    """Findings per rule with a dropdown per severity: interactive in a static HTML report
    (plotly's own controls need no kernel, unlike ipywidgets)."""
    f = findings[findings["status"] == "open"]
    counts = f.groupby(["rule_id", "severity"]).size().rename("n").reset_index()
    fig = go.Figure(layout={"template": template()})
    for sev in SEVERITIES[::-1]:
        d = counts[counts["severity"] == sev]
        fig.add_bar(x=d["rule_id"], y=d["n"], name=sev, marker_color=SEVERITY_COLORS[sev])
    buttons = [
        {"label": "all", "method": "update", "args": [{"visible": [True] * len(SEVERITIES)}]}
    ]
    for i, sev in enumerate(SEVERITIES[::-1]):
        vis = [j == i for j in range(len(SEVERITIES))]
        buttons.append({"label": sev, "method": "update", "args": [{"visible": vis}]})
    fig.update_layout(
        barmode="stack",
        updatemenus=[{"buttons": buttons, "x": 1.0, "y": 1.15}],
        xaxis_title="rule",
        yaxis_title="open findings",
    )
    return _style(fig, "Findings per rule (pick a severity)")
