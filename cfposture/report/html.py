"""Static HTML: each executed notebook as a self-contained page, and the index.

nbconvert's template links require.js, MathJax, jQuery and the widget manager from CDNs; those
URLs are blanked, and any external ``<script src>`` left is removed, so a report opens
offline. The report's kernels draw figures without plotly.js (``PAGE_RENDERER`` in
``cfposture.notebook``); a page with a figure gets plotly.js inlined once, in its head, here.
Notebooks executed elsewhere carry plotly.js in their own outputs and are left as they are.
"""

from __future__ import annotations

import html
import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pandas as pd
from nbconvert import HTMLExporter
from nbconvert.exporters.templateexporter import TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

from ..baseline import EXPIRING_DAYS, RISK_STATES
from ..errors import SEVERITY_RANK
from ..notebook import changes_line
from ..palette import SEVERITY_COLORS
from ..schemas import SEVERITIES
from ..window import Window

if TYPE_CHECKING:
    from ..notebook import View

log = logging.getLogger(__name__)

TITLES = {
    "00-overview": "Overview",
    "01-api-tokens": "1 · API tokens",
    "02-oauth-apps": "2 · OAuth apps",
    "03-least-privilege": "3 · Least privilege",
    "04-leaked-credentials": "Leaked credentials",
    "explore": "Explore",
}


class PageExporter(HTMLExporter):
    """nbconvert's HTML exporter without the BeautifulSoup round trip it ends with.

    ``HTMLExporter.from_notebook_node`` renders the template, then parses the whole page again
    with Python's ``html.parser`` only to give images without one an ``alt`` text and to make
    input and output areas focusable (``tabindex="0"``), and serialises it back. On the report's
    pages that pass was about half of each conversion, and it runs in the report's one
    process, on its critical path (benchmarks/README.md). This does the same set-up, renders
    with the same template, and adds the same attributes by pattern on the template's class
    names. ``tests/report/test_report.py`` compares every page, tag by tag, with the stock
    exporter's, so an nbconvert that renders differently fails there, not in a user's report.
    """

    def from_notebook_node(  # type: ignore[override]
        self, nb: nbformat.NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        # HTMLExporter's own set-up, as it does it before rendering
        info = nb.metadata.get("language_info", {})
        lexer = info.get("pygments_lexer", info.get("name"))
        highlight = self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
        )
        resources = self._init_resources(resources)
        data_types = WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources
        )
        self.register_filter("highlight_code", highlight)
        self.register_filter("filter_data_type", data_types)
        body, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return accessible(body), resources


_IMG_NO_ALT = re.compile(r"<img(?![^>]*\salt=)(?=[\s/>])")
_FOCUSABLE = re.compile(
    r'(<div\b[^>]*\sclass="(?:[^"]*\s)?(?:jp-Cell-inputWrapper|jp-OutputArea-output)(?:\s[^"]*)?"'
    r"(?![^>]*\stabindex=)[^>]*?)(\s*/?>)"
)


def accessible(body: str) -> str:
    """The attributes nbconvert's exporter adds after rendering: ``alt`` text on images that
    have none, ``tabindex="0"`` on input and output areas."""
    body = _IMG_NO_ALT.sub('<img alt="No description has been provided for this image"', body)
    return _FOCUSABLE.sub(r'\1 tabindex="0"\2', body)


def exporter() -> HTMLExporter:
    return PageExporter(
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        require_js_url="",
        mathjax_url="",
        jquery_url="",
        widget_renderer_url="",
    )


# what plotly's own notebook set-up defines before its bundle: MathJax, if any, stays local
PLOTLY_CONFIG = "window.PlotlyConfig = {MathJaxConfig: 'local'};"


@cache
def _plotlyjs() -> str:
    """The plotly.js bundle that ships with the plotly package (no CDN), read once."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def notebook_html(
    nb: nbformat.NotebookNode | Path, dest: Path, using: HTMLExporter | None = None
) -> Path:
    """Write one executed notebook as a page. Pass ``using`` to convert several notebooks with
    one exporter: building one compiles nbconvert's templates, about half of a conversion
    (an exporter is not safe to share between threads)."""
    if isinstance(nb, Path):
        nb = nbformat.read(nb, as_version=4)
    body, _ = (using or exporter()).from_notebook_node(static(nb))
    # blanked CDN URLs leave <script src=""> behind (it would re-request the page itself), and
    # plotly's notebook renderer always adds MathJax from a CDN (no chart here uses LaTeX):
    # drop every external script so the page never reaches out
    body = re.sub(r'<script src="(https?:)?[^"]*">\s*</script>', "", body)
    if "Plotly.newPlot(" in body and "plotly.js v" not in body:
        head = f"<script>{PLOTLY_CONFIG}</script><script>{_plotlyjs()}</script></head>"
        body = body.replace("</head>", head, 1)
    dest.write_text(body, encoding="utf-8")
    log.debug("report: page %s written", dest.name)
    return dest


def static(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without its widget state: a page has no kernel to run widgets, and with the
    state nbconvert's template adds a script that fetches a widget manager from unpkg.com.
    Each widget's text fallback stays on the page."""
    if "widgets" not in nb.metadata:
        return nb
    meta = {k: v for k, v in nb.metadata.items() if k != "widgets"}
    return nbformat.from_dict({**nb, "metadata": meta})


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:68rem;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}.muted{color:#5b6475}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1.2rem 0}
.card{border:1px solid #d6dae3;border-radius:.5rem;padding:.8rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}.sev{color:#fff;border:0}
ul{line-height:1.9}a{color:#1f5fbf}
.window{border-left:4px solid #2ca02c;padding:.4rem .8rem;background:#f3f8f2}
.window.short{border-color:#d62728;background:#fdf1f0}
"""


STEPS = {
    1: ("Review API tokens; reissue legacy ones in the scannable format", "01-api-tokens"),
    2: ("Review authorized OAuth apps; revoke the ones not used", "02-oauth-apps"),
    3: ("Narrow member and token permissions to the smallest scope", "03-least-privilege"),
}
"""Cloudflare's three checklist steps, each with the page that works through it."""


def first_actions(view: View, per_step: int = 3) -> list[dict]:
    """Per checklist step: its open findings by severity, and the ``per_step`` principals with
    the most severe findings, the widest reach first (each principal once: its worst
    finding), with who, where and what to do (``summary.json``, and the index's "What to do
    first")."""
    f = view.findings[view.findings["status"] == "open"]
    names = view.snap.account_names
    reach = view.scores.groupby("principal_id")["reach"].max()
    out = []
    for step, (title, page) in STEPS.items():
        mine = f[f["checklist_step"] == step]
        # the most severe first, then the principals that reach the most
        mine = mine.assign(
            rank=mine["severity"].map(SEVERITY_RANK),
            reach=mine["principal_id"].map(reach).fillna(0),
        ).sort_values(["rank", "reach", "principal_name"], ascending=[False, False, True])
        top = [
            {
                "severity": r.severity,
                "who": r.principal_name or r.principal_id,
                "account": names.get(r.account_id, r.account_id)
                if pd.notna(r.account_id)
                else None,
                "what": r.title,
                "do": r.recommendation,
            }
            for r in mine.drop_duplicates("principal_id").head(per_step).itertuples()
        ]
        counts = mine["severity"].value_counts()
        out.append(
            {
                "step": step,
                "title": title,
                "page": page,
                "open": len(mine),
                "by_severity": {s: int(counts[s]) for s in SEVERITIES[::-1] if s in counts},
                "first": top,
            }
        )
    return out


def _steps_html(steps: list[dict]) -> str:
    parts = ["<h2>What to do first</h2>"]
    for s in steps:
        sev = ", ".join(f"{n} {k}" for k, n in s["by_severity"].items()) or "nothing open"
        parts.append(
            f"<h3>{s['step']} · <a href='{s['page']}.html'>{html.escape(s['title'])}</a></h3>"
            f"<p class='muted'>{s['open']} open finding(s): {html.escape(sev)}</p>"
        )
        if s["first"]:
            items = "".join(
                f"<li><b>{html.escape(t['severity'])}</b> · {html.escape(str(t['who']))}"
                + (f" ({html.escape(str(t['account']))})" if t["account"] else "")
                + f" — {html.escape(t['what'])}. {html.escape(t['do'])}</li>"
                for t in s["first"]
            )
            parts.append(f"<ol>{items}</ol>")
    return "\n".join(parts)


def _coverage_html(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"<h2>What this report cannot see</h2><ul class='coverage'>{items}</ul>"


def write_index(dest: Path, view: View, pages: list[Path]) -> Path:
    """The report's front page: headline counts, open findings by severity, the usage window
    (a silent least-privilege section must say why), the accepted risks that need someone
    now, and links to every page and file."""
    snap, findings, window = view.snap, view.findings, view.window
    s = snap.summary()
    open_f = findings[findings["status"] == "open"]
    sev = open_f.groupby("severity").size()
    cards = [
        ("accounts", s["rows"]["accounts"]),
        ("API tokens", s["rows"]["tokens"]),
        ("members", s["rows"]["members"]),
        ("OAuth apps", s["rows"]["oauth_apps"]),
        ("legacy tokens (active)", s["tokens_by_format"].get("legacy", 0)),
        ("coverage gaps", s["coverage_gaps"]),
        ("permission groups judged by name", s["groups_judged_by_name"]),
    ]
    card_html = "".join(f"<div class='card'><b>{v}</b>{html.escape(k)}</div>" for k, v in cards)
    sev_html = "".join(
        f"<div class='card sev' style='background:{SEVERITY_COLORS[k]}'>"
        f"<b>{int(sev.get(k, 0))}</b>{k}</div>"
        for k in SEVERITIES[::-1]
    )
    links = "".join(
        f"<li><a href='{p.name}'>{html.escape(TITLES.get(p.stem, p.stem))}</a></li>" for p in pages
    )
    title = f"cfposture report — {html.escape(str(s['created_at']))}"
    dest.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>
<body><h1>{title}</h1>
<p class="muted">Snapshot {html.escape(s["snapshot"])} · source {html.escape(str(s["source"]))}
 · {len(open_f)} open findings</p>
<div class="cards">{card_html}</div>
<h2>Open findings by severity</h2><div class="cards">{sev_html}</div>
<p id='changes'>{html.escape(changes_line(view))}</p>
{_steps_html(first_actions(view))}
{_coverage_html(s["coverage_notes"])}
{_risks_html(view)}
{_window_html(window)}
<h2>Notebooks</h2><ul>{links}</ul>
<h2>Machine-readable</h2><ul>
<li><a href="findings.json">findings.json</a></li><li><a href="findings.csv">findings.csv</a></li>
<li><a href="findings.sarif">findings.sarif</a> (SARIF 2.1.0)</li>
<li><a href="summary.json">summary.json</a></li>
<li>executed notebooks: <code>notebooks/</code></li></ul>
</body></html>
""",
        encoding="utf-8",
    )
    return dest


def _risks_html(view: View) -> str:
    """One line on the baseline: how many findings it accepts, and the entries that need their
    owner now (reopened, expiring), by name; none without a baseline."""
    if view.baseline is None:
        return ""
    risks = view.extras["accepted_risks"]
    n = {state: int((risks["state"] == state).sum()) for state in RISK_STATES}
    accepted = int((view.findings["status"] == "accepted").sum())
    text = (
        f"Baseline {html.escape(Path(view.baseline.path).name)}: {accepted} finding(s) accepted"
        f" ({n['expiring']} expiring within {EXPIRING_DAYS} days), {n['reopened']} reopened by"
        f" an expired acceptance, {n['no finding']} entr{'y' if n['no finding'] == 1 else 'ies'}"
        " matching no finding (fixed, or a typo)."
    )
    urgent = risks[risks["state"].isin(["reopened", "expiring"])].head(10)
    items = "".join(
        f"<li>{html.escape(str(r.state))}: {html.escape(str(r.rule_id))} "
        f"{html.escape(str(r.principal_name))} (owner {html.escape(r.owner)}, expires "
        f"{r.expires.date() if r.expires is not None and pd.notna(r.expires) else '—'})</li>"
        for r in urgent.itertuples()
    )
    css = "window short" if n["reopened"] or n["expiring"] else "window"
    more = f"<ul>{items}</ul>" if items else ""
    return f"<div class='{css}' id='accepted-risks'><p>{text}</p>{more}</div>"


def _window_html(window: Window | None) -> str:
    if window is None:
        return ""
    css = "window" if window.sufficient else "window short"
    text = html.escape(window.sentence())
    # the commands in the sentence, as code
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return f"<p class='{css}' id='usage-window'>{text}</p>"
