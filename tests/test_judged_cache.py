"""A notebook an analyst opens reuses the findings and scores an earlier notebook computed for
the same snapshot (``cfposture.notebook.judged``); reports and gates always judge afresh."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cfposture import notebook
from cfposture.load import history
from cfposture.rawsnapshot import OBSERVED


@pytest.fixture
def judgements(spy) -> list[Path]:
    """The snapshots judged afresh (rules and scores run, not read from the cache)."""
    return spy(notebook, "judge_afresh")


def _newest(folder: Path) -> str:
    return str(history(folder)[-1])


def _same(a: notebook.View, b: notebook.View) -> None:
    pd.testing.assert_frame_equal(a.findings, b.findings)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert a.window == b.window


def test_a_second_notebook_reuses_the_judgement(sample_history, cache_in, judgements):
    first = notebook.setup(_newest(sample_history))
    assert len(judgements) == 1
    again = notebook.setup(_newest(sample_history))
    assert len(judgements) == 1  # read back, not judged
    _same(first, again)
    assert len(first.findings) > 100 and first.window is not None and first.window.sufficient
    fresh = notebook.build_view(_newest(sample_history))  # what a report computes
    _same(fresh, again)


def test_other_parameters_or_an_edited_snapshot_are_judged_afresh(
    sample_history, cache_in, judgements
):
    snap = _newest(sample_history)
    notebook.setup(snap)
    notebook.setup(snap, stale_days=30)
    assert len(judgements) == 2
    # a scan's verified token ids attach to the snapshot: CFP-T09 may fire now
    (Path(snap) / OBSERVED).write_text(json.dumps({"observations": []}))
    notebook.setup(snap)
    assert len(judgements) == 3


def test_filters_and_baselines_apply_on_top_of_a_reused_judgement(
    sample_history, cache_in, judgements, tmp_path
):
    snap = _newest(sample_history)
    everything = notebook.setup(snap)
    target = everything.findings.iloc[0]
    base = tmp_path / "baseline.yaml"
    base.write_text(
        "accepted:\n"
        f"  - finding_id: {target['finding_id']}\n"
        "    reason: test\n    owner: sec@example.com\n"
    )
    high = notebook.setup(snap, min_severity="high", baseline=str(base))
    assert len(judgements) == 1
    assert set(high.findings["severity"]) <= {"high", "critical"}
    accepted = notebook.setup(snap, baseline=str(base)).findings
    assert accepted.loc[accepted["finding_id"] == target["finding_id"], "status"].tolist() == [
        "accepted"
    ]
    assert (everything.findings["status"] == "open").all()  # the cached frame is not the edited one


@pytest.mark.parametrize("damage", ["torn findings", "missing scores", "schema drift", "bad entry"])
def test_a_damaged_entry_is_judged_again(sample_history, cache_in, judgements, damage):
    snap = _newest(sample_history)
    first = notebook.setup(snap)
    key = notebook._judged_key(Path(snap), first.params)
    if damage == "torn findings":
        path = cache_in / f"{key}-findings.parquet"
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "missing scores":
        (cache_in / f"{key}-scores.parquet").unlink()  # evicted by the frames' budget
    elif damage == "schema drift":
        path = cache_in / f"{key}-findings.parquet"
        f = pd.read_parquet(path)
        f.loc[0, "severity"] = "apocalyptic"
        f.to_parquet(path)
    else:
        (cache_in / f"{key}.json").write_text('{"key": "' + key + '", "value": {"window": {}}}')
    again = notebook.setup(snap)
    assert len(judgements) == 2
    _same(first, again)


def test_reports_and_gates_never_read_the_cache(sample_history, cache_in, monkeypatch):
    snap = _newest(sample_history)
    notebook.setup(snap)

    def refuse(*_):
        raise AssertionError("read the judgement cache")

    monkeypatch.setattr(notebook, "_judged_hit", refuse)
    view = notebook.build_view(snap)  # cfposture report computes its view this way
    assert len(view.findings) > 100


def test_a_notebook_opened_after_a_report_reuses_the_reports_judgement(
    sample_history, cache_in, judgements
):
    snap = _newest(sample_history)
    report_view = notebook.build_view(snap)  # as cfposture report computes it: afresh
    assert len(judgements) == 1
    _same(report_view, notebook.setup(snap))
    assert len(judgements) == 1


def test_with_the_cache_off_each_notebook_judges(sample_history, monkeypatch, judgements):
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", "off")
    snap = _newest(sample_history)
    _same(notebook.setup(snap), notebook.setup(snap))
    assert len(judgements) == 2


@pytest.mark.parametrize(
    "window",
    [
        notebook.Window(pd.Timestamp("2026-11-25T06:00:00Z"), 90, None),  # no audit logs read
        notebook.Window(
            pd.Timestamp("2026-11-25T06:00:00Z"), 30, pd.Timestamp("2026-11-01T00:00:00Z"), True
        ),
    ],
)
def test_every_kind_of_window_survives_the_cache(window):
    doc = json.loads(json.dumps(notebook._window_doc(window)))  # as cache.put stores it
    back = notebook._window_of(doc)
    assert back == window and back.sentence() == window.sentence()
