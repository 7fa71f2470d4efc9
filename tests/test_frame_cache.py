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
from cfposture.load import load
from cfposture.rawsnapshot import MANIFEST

# the module, not the function cfposture exports under the same name
loading = importlib.import_module("cfposture.load")


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The snapshots whose audit logs were parsed (not read from the cache)."""
    seen: list[Path] = []
    real = loading.audit_events

    def counting(raw, accounts):
        seen.append(raw.path)
        return real(raw, accounts)

    monkeypatch.setattr(loading, "audit_events", counting)
    return seen


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
    assert len(list(cache_in.glob("*.parquet"))) == len(parsed) + 1  # and the newest
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
