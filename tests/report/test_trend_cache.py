"""The trend cache: same frames cold, warm and off; recomputed whenever an input changes."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import pandas as pd
import pytest

import cfposture
import cfposture.notebook as nb
from cfposture import cache
from cfposture.rawsnapshot import MANIFEST, OBSERVED


@pytest.fixture
def judged(spy) -> list[Path]:
    """The snapshots the trend had to judge (run the rules on), in order."""
    # the module: notebook imports judge_in_context from it when judging
    return spy(importlib.import_module("cfposture.findings"), "judge_in_context")


def trends(where: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    view = nb.build_view(str(where))
    nb._trends(view)
    return view.extras["checklist"], view.extras["exposure"]


def test_warm_equals_cold_equals_off(sample_history, cache_in, judged, monkeypatch):
    cold = trends(sample_history)
    assert len(judged) == len(list(sample_history.iterdir())) - 1  # the newest comes with the view
    # per snapshot: its trend rows, and its findings' ids for the next one's changes; and the
    # newest snapshot's judgement, stored for the notebooks (cfposture.notebook.judged)
    texts = [p.read_text() for p in cache_in.glob("*.json")]
    rows = [t for t in texts if '"checklist"' in t or '"columns"' in t]
    assert len(rows) == 2 * len(list(sample_history.iterdir()))
    assert len(texts) == len(rows) + 1 and sum('"window"' in t for t in texts) == 1
    judged.clear()
    warm = trends(sample_history)
    assert judged == []  # nothing judged again
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", "off")
    off = trends(sample_history)
    assert len(judged) == len(list(sample_history.iterdir())) - 1
    for a, b, c in zip(cold, warm, off, strict=True):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)
    assert cold[0]["findings"].sum() > 0 and cold[1]["tokens"].sum() > 0


def test_an_older_snapshot_changing_invalidates_the_newer_ones(sample_history, cache_in, judged):
    trends(sample_history)
    snaps = cfposture.history(sample_history)
    m = json.loads((snaps[2] / MANIFEST).read_text())
    m["note"] = "edited"  # any byte of an older manifest: its audit events may differ
    (snaps[2] / MANIFEST).write_text(json.dumps(m))
    judged.clear()
    trends(sample_history)
    assert judged == snaps[2:-1]  # itself and every newer one (not the two before it)


def test_observations_beside_a_snapshot_invalidate_it_alone(sample_history, cache_in, judged):
    trends(sample_history)
    snaps = cfposture.history(sample_history)
    (snaps[1] / OBSERVED).write_text(json.dumps({"observations": []}))
    judged.clear()
    trends(sample_history)
    assert judged == [snaps[1]]


def test_other_parameters_other_entries(sample_history, cache_in, judged):
    trends(sample_history)
    judged.clear()
    view = nb.build_view(str(sample_history), stale_days=30)
    nb._trends(view)
    assert len(judged) == len(list(sample_history.iterdir())) - 1


def test_a_baseline_counts_accepted_risks_out_of_the_trend(
    sample_history, cache_in, judged, tmp_path
):
    """Accepted findings are not open in any snapshot where the acceptance held; the trend's
    entries key on the baseline's bytes, so a new acceptance re-judges the history once."""
    plain, _ = trends(sample_history)
    newest = cfposture.load(sample_history)
    step1 = cfposture.findings(newest).query("checklist_step == 1")["finding_id"].tolist()
    baseline = tmp_path / "accepted.yaml"

    def accept(expires: str) -> None:
        lines = [
            f"  - {{finding_id: {f}, reason: r, owner: o, expires: '{expires}'}}" for f in step1
        ]
        baseline.write_text("accepted:\n" + "\n".join(lines) + "\n")

    accept("2030-01-01")
    judged.clear()
    view = nb.build_view(str(sample_history), baseline=str(baseline))
    nb._trends(view)
    assert len(judged) == len(list(sample_history.iterdir())) - 1  # other key: judged again, once
    accepted = view.extras["checklist"]
    per_step = accepted.groupby(["snapshot", "checklist_step"])["findings"].sum()
    before = plain.groupby(["snapshot", "checklist_step"])["findings"].sum()
    assert (1 not in per_step.xs(newest.created_at).index) and before.xs(newest.created_at)[1] > 0
    older = cfposture.load(
        cfposture.history(sample_history)[-2]
    ).created_at  # judged from the cache key
    assert per_step.xs(older)[1] < before.xs(older)[1]
    assert per_step.xs(3, level=1).equals(before.xs(3, level=1))  # only what was accepted

    judged.clear()
    nb._trends(nb.build_view(str(sample_history), baseline=str(baseline)))
    assert judged == []  # the same baseline: all cached
    accept("2026-09-01")  # expired before the newer snapshots: open again there
    nb._trends(view := nb.build_view(str(sample_history), baseline=str(baseline)))
    assert len(judged) == len(list(sample_history.iterdir())) - 1
    newest_again = view.extras["checklist"].query("snapshot == @newest.created_at")
    assert set(newest_again["checklist_step"]) >= {1}


def test_a_filtered_notebook_view_trends_whole_snapshots(sample_history, cache_in, monkeypatch):
    """An analyst's view filtered to high findings still charts (and caches) the trend of
    every finding: a filtered count under the unfiltered key would poison later reports."""
    with monkeypatch.context() as m:
        m.setenv("CFPOSTURE_CACHE_DIR", "off")
        expected, _ = trends(sample_history)
    filtered = nb.setup(str(sample_history), min_severity="high")
    assert (filtered.findings["severity"].isin(["high", "critical"])).all()
    pd.testing.assert_frame_equal(nb.checklist_per_snapshot(filtered), expected)
    again, _ = trends(sample_history)  # a report after it reads what the analyst's view cached
    pd.testing.assert_frame_equal(again, expected)


def test_changes_since_the_previous_snapshot(sample_history, cache_in, judged, monkeypatch):
    """New and resolved findings between the two newest snapshots, by finding id, from the
    cache the trends filled (no snapshot judged again), and the same with the cache off."""
    snaps = cfposture.history(sample_history)
    before = set(cfposture.findings(cfposture.load(snaps[-2]))["finding_id"])
    now = set(cfposture.findings(cfposture.load(snaps[-1]))["finding_id"])
    assert now - before and before - now  # the sample changes between its last two months

    trends(sample_history)  # fills the cache
    judged.clear()
    view = nb.build_view(str(sample_history))
    c = nb.changes(view)
    assert judged == []  # the previous snapshot's findings came from the cache
    assert set(c.loc[c["change"] == "new", "finding_id"]) == now - before
    assert set(c.loc[c["change"] == "resolved", "finding_id"]) == before - now
    assert c["change"].tolist() == sorted(c["change"])  # new ones first
    line = nb.changes_line(view)
    assert line.startswith(f"Since {snaps[-2].name}: {len(now - before)} new findings")
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", "off")
    pd.testing.assert_frame_equal(nb.changes(nb.build_view(str(sample_history))), c)

    oldest = nb.build_view(str(snaps[0]), history_path=str(sample_history))  # nothing before it
    assert nb.changes(oldest).empty
    assert nb.changes_line(oldest) == "No earlier snapshot in the history to compare with."


def test_corrupt_or_foreign_entries_are_recomputed(sample_history, cache_in, monkeypatch):
    cold = trends(sample_history)
    entries = sorted(p for p in cache_in.glob("*.json") if '"checklist"' in p.read_text())
    entries[0].write_text("{not json")
    entries[1].write_text(json.dumps({"key": "someone else", "value": {}}))
    written: list[str] = []
    real_put = cache.put

    def counting_put(key, value):
        written.append(key)
        real_put(key, value)

    monkeypatch.setattr(cache, "put", counting_put)
    again = trends(sample_history)
    broken = {entries[0].stem, entries[1].stem}
    assert broken <= set(written)  # those two, and besides them only their findings' ids
    newest = cfposture.history(sample_history)[-1]  # and the view's judgement, always stored
    judgement = nb._judged_key(newest, {"stale_days": 90, "usage_days": 90})
    others = set(written) - broken - {judgement}
    assert all('"columns"' in (cache_in / f"{k}.json").read_text() for k in others)
    pd.testing.assert_frame_equal(cold[0], again[0])
    pd.testing.assert_frame_equal(cold[1], again[1])
    assert json.loads(entries[0].read_text())["key"] == entries[0].stem  # repaired


def test_an_unwritable_cache_is_skipped(sample_history, tmp_path, monkeypatch, judged):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", str(blocker / "cache"))
    checklist, _ = trends(sample_history)
    assert checklist["findings"].sum() > 0
    assert blocker.read_text() == "not a folder"


def test_the_key_follows_the_code(sample_history, monkeypatch):
    snap = cfposture.history(sample_history)[-1]
    before = cache.snapshot_key("trend", snap, [], {"stale_days": 90})
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "other code")
    assert cache.snapshot_key("trend", snap, [], {"stale_days": 90}) != before


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("CFPOSTURE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "cfposture"


def test_a_history_folder_is_listed_once_per_trend(sample_history, cache_in, monkeypatch):
    """Each snapshot's key names the older snapshots of its folder: listing the folder per
    snapshot would make a long history quadratic."""
    view = nb.build_view(str(sample_history))
    calls: list[Path] = []
    module = importlib.import_module("cfposture.load")
    real = module.folder_listing  # what history() and the trend keys list a folder with

    def counting(path):
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(module, "folder_listing", counting)
    nb._trends(view)
    assert calls.count(sample_history) == 1  # (judging an old snapshot lists that snapshot itself)


def test_no_home_directory_means_no_cache(monkeypatch):
    monkeypatch.delenv("CFPOSTURE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def nowhere():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(nowhere))
    assert cache.cache_dir() is None
    assert cache.get("0" * 64) is None
    cache.put("0" * 64, {"a": 1})  # a no-op, not an error


def test_shares_of_a_cold_history_cover_each_snapshot_once(sample_history, cache_in, judged):
    view = nb.build_view(str(sample_history))
    older = cfposture.history(sample_history)[:-1]
    assert nb.untrended(view) == older  # cold: every older snapshot, never the view's own
    for share in (older[0::2], older[1::2]):
        nb.judge_trends([str(p) for p in share], view.params)
    assert sorted(judged) == sorted(older)  # each once
    assert nb.untrended(view) == []
    judged.clear()
    nb._trends(view)
    assert judged == []  # the view finds every share in the cache


def test_pending_trends_are_known_before_the_view(sample_history, cache_in, tmp_path):
    """``cfposture report`` hands older snapshots to a kernel before its view exists: what
    ``pending_trends`` gives from the arguments is what ``untrended`` gives of the view, cold,
    part judged, with other rule parameters, a baseline (its own keys), another history."""
    older = cfposture.history(sample_history)[:-1]
    newest = str(cfposture.history(sample_history)[-1])
    baseline = tmp_path / "accepted.yaml"
    baseline.write_text("accepted: []\n")
    cases = [
        {},
        {"stale_days": 30},
        {"usage_days": 60},
        {"baseline": str(baseline)},
    ]
    for args in cases:
        assert nb.pending_trends(str(sample_history), **args) == older
        assert nb.untrended(nb.build_view(str(sample_history), **args)) == older
    params = {"stale_days": 90, "usage_days": 90}
    nb.judge_trends([str(older[1])], params)  # part judged, with the defaults only
    for args in cases:
        expected = nb.untrended(nb.build_view(str(sample_history), **args))
        assert nb.pending_trends(str(sample_history), **args) == expected
    assert nb.pending_trends(str(sample_history)) == [p for p in older if p != older[1]]
    # a snapshot folder given itself: its history is the folder it sits in, or the one named
    for args in ({}, {"history_path": str(sample_history)}):
        expected = nb.untrended(nb.build_view(newest, **args))
        assert expected and nb.pending_trends(newest, **args) == expected


def test_untrended_is_empty_without_a_cache(sample_history, monkeypatch):
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", "off")
    assert nb.untrended(nb.build_view(str(sample_history))) == []


def test_a_cold_history_is_shared_between_this_process_and_waiting_kernels(
    sample_history, cache_in, judged
):
    """``cfposture report`` on a cold trend cache: the older snapshots are handed out one at a
    time, to this process (``judge``) and to kernels waiting for the trends (``lend``); each
    is judged once, and the view gets its trends only once the lent ones are done."""
    import threading

    from cfposture.report.run import _Trends

    view = nb.build_view(str(sample_history))
    older = cfposture.history(sample_history)[:-1]
    work = _Trends.of(view)
    assert not work.cached
    lent = [work.lend(), work.lend()]  # two kernels came to the gate first
    judged.clear()
    here = threading.Thread(target=work.judge)
    here.start()
    deadline = time.monotonic() + 120
    while len(judged) < len(older) - 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # judged its share and read ahead what is cached, it waits for the kernels' chores; the
    # pages may use this process meanwhile (the read-ahead took > 0.5 s once, in a fresh venv)
    assert work.spare.wait(60)
    assert here.is_alive()
    assert sorted(judged) == sorted(older[2:])
    assert work.lend() is None  # nothing left to hand out
    for chore in lent:  # run as a kernel would (in this process, so counted here)
        assert chore is not None and "judge_trends" in chore.code
        exec(chore.code, {})
        chore.done.set()
    here.join(60)
    assert not here.is_alive()
    assert sorted(judged) == sorted(older)  # each once
    judged.clear()
    alone = trends(sample_history)  # from the cache, the same frames
    assert judged == []
    pd.testing.assert_frame_equal(view.extras["checklist"], alone[0])
    pd.testing.assert_frame_equal(view.extras["exposure"], alone[1])


def test_a_warm_history_needs_no_sharing(sample_history, cache_in):
    from cfposture.report.run import _Trends

    trends(sample_history)
    work = _Trends.of(nb.build_view(str(sample_history)))
    assert work.cached and work.lend() is None


def test_a_cold_report_judges_each_older_snapshot_once(sample_history, cache_in, judged, tmp_path):
    """Here or in a kernel (those are not counted here); the report then reads the same trend
    rows a report judging everything alone would."""
    from cfposture.report.run import write_report

    older = cfposture.history(sample_history)[:-1]
    write_report(str(sample_history), out=tmp_path / "report", workers=2)
    assert len(set(judged)) == len(judged) <= len(older)
    # the report held audit frames in memory while it ran; this process holds none after
    assert importlib.import_module("cfposture.load")._read.budget == 0
    assert nb.untrended(nb.build_view(str(sample_history))) == []
    judged.clear()
    shared = trends(sample_history)
    assert judged == []
    off = tmp_path / "off"
    cache_in.rename(off)  # an empty cache: judge everything here, alone
    alone = trends(sample_history)
    pd.testing.assert_frame_equal(shared[0], alone[0])
    pd.testing.assert_frame_equal(shared[1], alone[1])


def test_a_snapshot_a_kernel_failed_to_judge_is_judged_here(sample_history, cache_in, judged):
    """A lent chore is an optimisation: if the kernel's judging fails (its ``done`` is set all
    the same), the view's trends still cover every snapshot, judged here."""
    import threading

    from cfposture.report.run import _Trends

    view = nb.build_view(str(sample_history))
    older = cfposture.history(sample_history)[:-1]
    work = _Trends.of(view)
    failed = work.lend()  # a kernel took the oldest and failed on it
    assert failed is not None
    failed.done.set()
    judged.clear()
    here = threading.Thread(target=work.judge)
    here.start()
    here.join(120)
    assert not here.is_alive()
    assert sorted(judged) == sorted(older)  # the rest, then the failed one, by _trends
    assert not work.spare.is_set()  # it never waited: the pages wait for the trends
    judged.clear()
    alone = trends(sample_history)
    assert judged == []
    pd.testing.assert_frame_equal(view.extras["checklist"], alone[0])
    pd.testing.assert_frame_equal(view.extras["exposure"], alone[1])


def test_the_view_s_own_rows_stored_first_are_the_rows_its_trends_use(
    sample_history, cache_in, monkeypatch
):
    """``cfposture report`` stores the view's own trend rows while a kernel still judges; the
    trends it then computes read them (no exposure computed again) and equal a fresh pass."""
    alone = trends(sample_history)
    for entry in cache_in.iterdir():
        entry.unlink()
    view = nb.build_view(str(sample_history))
    nb.judge_trends([str(p) for p in nb.untrended(view)], view.params)
    nb.read_trends_ahead(view, reads := nb.TrendReads())
    scoring = importlib.import_module("cfposture.scoring")
    monkeypatch.setattr(scoring, "exposure_summary", lambda *a: pytest.fail("computed again"))
    nb._trends(view, reads)
    pd.testing.assert_frame_equal(view.extras["checklist"], alone[0])
    pd.testing.assert_frame_equal(view.extras["exposure"], alone[1])


def test_after_reading_ahead_the_trends_read_only_what_was_missing(
    sample_history, cache_in, monkeypatch
):
    """What ``read_trends_ahead`` found is not read again: once the snapshot a kernel judged
    meanwhile is in, the last pass reads its rows and nothing else, and its trends and
    changes equal a pass that read everything."""
    view = nb.build_view(str(sample_history))
    nb._trends(view)
    alone = {k: view.extras.pop(k) for k in ("checklist", "exposure", "changes", "previous")}
    for entry in cache_in.iterdir():
        entry.unlink()
    oldest, *rest = nb.untrended(view)
    nb.judge_trends([str(p) for p in rest], view.params)
    nb.read_trends_ahead(view, reads := nb.TrendReads())
    assert set(reads.rows) == set(map(Path, view.history)) - {oldest}
    assert sorted(reads.dates) == sorted(map(Path, view.history))
    nb.judge_trends([str(oldest)], view.params)  # a kernel's chore ends
    read: list[str] = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda key: read.append(key) or real_get(key))
    load = importlib.import_module("cfposture.load")
    for name in ("folder_listing", "load_created_at", "load"):
        monkeypatch.setattr(load, name, lambda *a, **k: pytest.fail("read again"))
    nb._trends(view, reads)
    assert len(read) == 1  # the oldest snapshot's trend rows
    for k, v in alone.items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(view.extras[k], v)
        else:
            assert view.extras[k] == v
