"""Snapshots' audit events, parsed once and kept as Parquet: by load, and by the usage rules
for every older snapshot of their window."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from cfposture import cache, usage
from cfposture.findings import findings
from cfposture.load import forget_frames, load
from cfposture.rawsnapshot import MANIFEST, add_observations

# the module, not the function cfposture exports under the same name
loading = importlib.import_module("cfposture.load")


@pytest.fixture
def parsed(spy) -> list[Path]:
    """The snapshots whose audit logs were parsed (not read from the cache)."""
    return spy(loading, "audit_events")


def test_loading_a_snapshot_again_reads_its_events_from_the_cache(sample_history, cache_in, parsed):
    first = load(sample_history)
    assert parsed == [first.path]
    parsed.clear()
    again = load(sample_history)
    assert parsed == []
    pd.testing.assert_frame_equal(first.audit_events, again.audit_events)
    assert len(first.audit_events) > 1000


def test_cached_events_equal_parsed_ones_and_spare_the_parse(sample_history, cache_in, parsed):
    snap = load(sample_history)
    parsed.clear()
    cold, window = usage.usage_events(snap, 90)
    assert len(parsed) >= 2  # the sample's window reaches back over older pulls
    events = {f"{cache.frame_key('audit_events', p)}.parquet" for p in [*parsed, snap.path]}
    assert events <= {p.name for p in cache_in.glob("*.parquet")}  # and the newest's
    parsed.clear()
    warm, window2 = usage.usage_events(snap, 90)
    assert parsed == []
    pd.testing.assert_frame_equal(cold, warm)
    assert window == window2


def test_findings_are_the_same_cached_or_not(sample_history, cache_in, monkeypatch):
    snap = load(sample_history)
    first = findings(snap)
    again = findings(load(sample_history))  # from the cache
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", "off")
    off = findings(load(sample_history))
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, off)
    assert list(cache_in.glob("*.parquet"))  # the first run filled it


def test_a_changed_snapshot_is_parsed_again(sample_history, cache_in, parsed):
    snap = load(sample_history)
    parsed.clear()
    usage.usage_events(snap, 90)
    older = parsed[0]
    m = json.loads((older / MANIFEST).read_text())
    m["note"] = "edited"
    (older / MANIFEST).write_text(json.dumps(m))
    parsed.clear()
    usage.usage_events(snap, 90)
    assert parsed == [older]


def test_a_torn_or_foreign_frame_is_recomputed(sample_history, cache_in, parsed):
    snap = load(sample_history)
    parsed.clear()
    cold, _ = usage.usage_events(snap, 90)
    frames = [cache_in / f"{cache.frame_key('audit_events', p)}.parquet" for p in parsed]
    frames[0].write_bytes(b"PAR1 torn")
    # a readable Parquet file of the wrong shape breaks the frame's contract
    pd.DataFrame({"x": [1]}).to_parquet(frames[1])
    parsed.clear()
    again, _ = usage.usage_events(snap, 90)
    assert len(parsed) == 2
    pd.testing.assert_frame_equal(cold, again)


def test_frames_keep_within_their_budget_least_recently_used_first(cache_in, monkeypatch):
    df = pd.DataFrame({"x": range(2000)})
    for n, key in enumerate(["old", "mid", "new"]):
        cache.put_frame(key, df)
        os.utime(cache_in / f"{key}.parquet", (1000 + n, 1000 + n))
    size = (cache_in / "old.parquet").stat().st_size
    assert cache.get_frame("old") is not None  # a read counts as a use
    monkeypatch.setenv("CFPOSTURE_CACHE_MAX_MB", str(2.5 * size / 1024 / 1024))
    cache.put_frame("newest", df)
    assert sorted(p.stem for p in cache_in.glob("*.parquet")) == ["newest", "old"]


def test_no_frames_when_the_cache_is_off(sample_history, tmp_path, monkeypatch, parsed):
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", "off")
    snap = load(sample_history)
    parsed.clear()
    usage.usage_events(snap, 90)
    n = len(parsed)
    usage.usage_events(snap, 90)
    assert len(parsed) == 2 * n > 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_cached_events_are_private_to_the_user(sample_history, cache_in):
    """They hold members' emails and IP addresses, as the snapshot does."""
    load(sample_history)
    frames = list(cache_in.glob("*.parquet"))
    assert frames
    assert {f.stat().st_mode & 0o777 for f in frames} == {0o600}
    assert cache_in.stat().st_mode & 0o777 == 0o700


def test_a_frame_that_cannot_be_written_costs_only_the_cache(
    sample_history, cache_in, monkeypatch, parsed
):
    def refuse(self, *a, **kw):
        raise NotImplementedError("pyarrow cannot write this")  # not an OSError

    monkeypatch.setattr(pd.DataFrame, "to_parquet", refuse)
    snap = load(sample_history)
    assert len(snap.audit_events) > 0
    assert not list(cache_in.glob("*.parquet")) and not list(cache_in.glob(".*"))


@pytest.fixture
def normalized(spy) -> list[Path]:
    """The snapshots whose inventory was normalised (not read from the cache)."""
    return spy(loading, "normalize")


def _frames(snap) -> dict[str, pd.DataFrame]:
    return {n: getattr(snap, n) for n in (*loading.INVENTORY, "permission_catalog", "audit_events")}


def test_loading_again_reads_the_inventory_from_the_cache(sample_history, cache_in, normalized):
    first = load(sample_history)
    assert normalized == [first.path]
    again = load(sample_history)
    assert normalized == [first.path]  # not normalised twice
    for name, df in _frames(first).items():
        pd.testing.assert_frame_equal(df, getattr(again, name), obj=name)
    assert len(first.tokens) > 50 and (~first.tokens["inventoried"]).any()


def test_an_observation_beside_the_snapshot_reaches_the_tokens(sample_history, cache_in):
    """``cfposture scan --verify`` records which tokens it saw next to the snapshot; the
    cached tokens frame must not hide that (its key hashes observed.json too)."""
    snap = load(sample_history)
    token = snap.tokens[snap.tokens["format_source"] == "inferred"].iloc[0]
    add_observations(
        snap.path,
        [{"token_id": token["token_id"], "format": "legacy", "source": "scan",
          "observed_at": "2099-01-01T00:00:00Z"}],
    )  # fmt: skip
    again = load(sample_history).tokens.set_index("token_id").loc[token["token_id"]]
    assert (again["format"], again["format_source"]) == ("legacy", "observed")


def test_a_damaged_inventory_frame_means_normalising_again(sample_history, cache_in, normalized):
    first = load(sample_history)
    grants = cache_in / f"{cache.frame_key('grants', first.path)}.parquet"
    g = pd.read_parquet(grants)
    g.loc[0, "effect"] = "maybe"  # schema drift: the grants frame allows allow and deny
    g.to_parquet(grants)
    (cache_in / f"{cache.frame_key('members', first.path)}.parquet").unlink()  # evicted
    again = load(sample_history)
    assert len(normalized) == 2
    for name, df in _frames(first).items():
        pd.testing.assert_frame_equal(df, getattr(again, name), obj=name)


def test_forgetting_a_snapshots_frames_means_parsing_it_as_new(
    sample_history, cache_in, parsed, normalized
):
    snap = load(sample_history)
    forget_frames(snap.path)
    load(sample_history)
    assert parsed == [snap.path, snap.path] and normalized == [snap.path, snap.path]


def test_an_old_snapshot_the_trends_read_once_leaves_no_inventory_behind(sample_history, cache_in):
    """The trends cache what they need of an old snapshot (its rows and finding ids); its
    inventory frames would never be read again, its audit events would (newer usage windows)."""
    from cfposture import notebook

    view = notebook.build_view(str(sample_history))
    notebook.trend(view)
    older = [Path(p) for p in view.history[:-1]]
    names = {p.name for p in cache_in.glob("*.parquet")}
    for snap in older:
        assert f"{cache.frame_key('tokens', snap)}.parquet" not in names
    assert f"{cache.frame_key('audit_events', older[-1])}.parquet" in names
    assert f"{cache.frame_key('tokens', view.snap.path)}.parquet" in names


def test_cfposture_cache_shows_and_clears_only_its_own_entries(
    sample_history, cache_in, capsys, monkeypatch
):
    from cfposture.cli import main

    load(sample_history)
    ours = cache.entries()
    assert len(ours) >= 7  # the newest's audit events and inventory, older ones' events
    # a cache folder pointed somewhere shared: other files must survive a clear
    others = [cache_in / "notes.json", cache_in / "report.parquet", cache_in / ("a" * 64 + ".txt")]
    for p in others:
        p.write_text("keep me")
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert str(cache_in) in out and f"entries: {len(ours)}," in out
    assert main(["cache", "--clear"]) == 0
    assert f"deleted {len(ours)} entries" in capsys.readouterr().out
    assert cache.entries() == [] and all(p.read_text() == "keep me" for p in others)
    load(sample_history)  # and the next run simply fills it again
    assert len(cache.entries()) == len(ours)
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", "off")
    assert main(["cache", "--clear"]) == 0
    assert "off" in capsys.readouterr().out


@pytest.fixture
def holding():
    """Audit frames held in memory, as ``cfposture report`` holds them; off again after."""
    before = loading.hold_audit_frames(64)
    yield
    loading.hold_audit_frames(before)


def _reads(monkeypatch) -> list[str]:
    """The cache keys read from disk from now on."""
    keys: list[str] = []
    real = cache.get_frame

    def reading(key):
        keys.append(key)
        return real(key)

    monkeypatch.setattr(cache, "get_frame", reading)
    return keys


def test_held_events_are_read_once_and_each_reader_gets_its_own(
    sample_history, cache_in, holding, spy, monkeypatch
):
    """Judging a history reads each snapshot's events again for every newer snapshot whose
    window reaches it: held, they come from memory after the first read; what a reader
    does to its frame does not reach the next reader."""
    load(sample_history)  # parsed and written to the cache
    read = _reads(monkeypatch)
    raw = loading.RawSnapshot.open(cfposture_newest(sample_history))
    first = loading.audit_events_of(raw)
    assert read == [] and len(first) > 1000  # held since the load
    first.loc[first.index[0], "actor_email"] = "someone@else.example"
    first["extra"] = 1
    again = loading.audit_events_of(raw)
    assert "extra" not in again and again["actor_email"].iloc[0] != "someone@else.example"
    forget_frames(raw.path)  # the benchmarks' way to make the newest snapshot new again
    parsed = spy(loading, "audit_events")
    loading.audit_events_of(raw)
    assert parsed == [raw.path]


def test_nothing_is_held_by_default(sample_history, cache_in, monkeypatch):
    assert loading._read.budget == 0
    load(sample_history)
    read = _reads(monkeypatch)
    raw = loading.RawSnapshot.open(cfposture_newest(sample_history))
    loading.audit_events_of(raw)
    loading.audit_events_of(raw)
    assert len(read) == 2  # from the cache each time


def test_held_frames_stay_within_their_budget_least_recently_used_first():
    held = loading._Held(budget=0)
    frames = {k: pd.DataFrame({"v": range(1000)}) for k in "abc"}
    size = int(frames["a"].memory_usage(index=True, deep=True).sum())
    held.put("a", frames["a"])
    assert held.get("a") is None  # a budget of 0 holds nothing
    held.budget = 2 * size
    held.put("a", frames["a"])
    held.put("b", frames["b"])
    assert held.get("a") is not None  # a use: "b" is now the least recent
    held.put("c", frames["c"])
    assert held.get("b") is None and held.get("a") is not None and held.get("c") is not None
    held.put("big", pd.DataFrame({"v": range(10_000)}))  # larger than the budget: not held
    assert held.get("big") is None and held.get("a") is not None


def cfposture_newest(history: Path) -> Path:
    return loading.history(history)[-1]


def _poison(snapshot: Path) -> None:
    """Replace every cached inventory and audit frame of ``snapshot`` with an empty one of the
    same columns, as someone who can write the cache folder could."""
    for kind in ("audit_events", *loading.INVENTORY):
        path = cache.cache_dir() / f"{cache.frame_key(kind, snapshot)}.parquet"
        frame = pd.read_parquet(path)
        frame.iloc[0:0].to_parquet(path, index=False)


def test_a_gate_never_rests_on_the_cache(sample_history, cache_in, capsys):
    """Poisoned frames change what an ungated run shows (the cache is trusted when it is the
    user's alone), but ``--fail-on`` parses the snapshots and fails as it should."""
    from cfposture.cli import main

    honest = findings(load(sample_history))
    _poison(load(sample_history).path)
    assert findings(load(sample_history)).empty  # what a replaced frame could do
    assert main(["findings", str(sample_history), "--format", "json", "--fail-on", "high"]) == 1
    gated = json.loads(capsys.readouterr().out)["findings"]
    assert len(gated) == len(honest) > 0


def test_a_cache_folder_others_may_write_is_not_used(sample_history, cache_in, caplog):
    load(sample_history)
    _poison(load(sample_history).path)
    cache_in.chmod(0o777)
    try:
        assert cache.cache_dir() is None
        assert not findings(load(sample_history)).empty  # parsed again, not poisoned
        assert "others may write to it" in caplog.text and "CFPOSTURE_CACHE_DIR" in caplog.text
    finally:
        cache_in.chmod(0o700)


def test_a_cache_folder_or_entry_of_another_user_is_not_used(
    sample_history, cache_in, monkeypatch, caplog
):
    load(sample_history)
    _poison(load(sample_history).path)
    real_uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real_uid + 1)
    assert cache.cache_dir() is None and "not to you" in caplog.text
    # an entry planted by someone else in a folder that is ours: skipped, entry by entry
    monkeypatch.setattr(cache, "trusted", lambda folder: True)
    key = cache.frame_key("tokens", load(sample_history).path)
    assert cache.get_frame(key) is None
    assert not findings(load(sample_history)).empty


def test_the_reports_gate_judges_the_snapshots_not_the_cache(sample_history, cache_in):
    """``cfposture report --fail-on`` builds its view with ``cached=False``."""
    from cfposture.notebook import build_view

    honest = findings(load(sample_history))
    _poison(load(sample_history).path)
    assert build_view(str(sample_history)).findings.empty
    gated = build_view(str(sample_history), cached=False).findings
    assert len(gated) == len(honest) > 0
