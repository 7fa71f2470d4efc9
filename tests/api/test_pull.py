"""cfposture pull against the fake API over real HTTP on 127.0.0.1, with the official SDK."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from fakeserver import CANARY, serve

import cfposture
from cfposture.catalog import sample_dir
from cfposture.cli import main
from cfposture.errors import CfPostureError
from cfposture.fakeapi import FakeCloudflare, base_url, make_server
from cfposture.fakeapi.server import error
from cfposture.sources.pull import PullOptions, minimum_requests, pull

LATEST = cfposture.history("sample")[-1]
MANIFEST = json.loads((LATEST / "manifest.json").read_text())
SINCE = datetime.fromisoformat(MANIFEST["audit_window"]["since"].replace("Z", "+00:00"))
BEFORE = datetime.fromisoformat(MANIFEST["audit_window"]["before"].replace("Z", "+00:00"))


def opts(out: Path, url: str, **kw) -> PullOptions:
    base = dict(
        out=out,
        api_base=url,
        since=SINCE,
        before=BEFORE,
        quiet=True,
        oauth_export=sample_dir() / "connected-apps.csv",
    )
    base.update(kw)
    return PullOptions(**base)


def assert_same_frames(a: cfposture.Snapshot, b: cfposture.Snapshot) -> None:
    for name in cfposture.Snapshot.FRAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


def test_round_trip_sample_fake_api_pull_gives_the_same_frames(tmp_path, sample_snap):
    with serve("sample") as (_fake, url):
        result = pull(opts(tmp_path / "snap", url))
    assert_same_frames(cfposture.load(result.path), sample_snap)
    assert result.rate_limited == 0 and result.retries == 0
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["source"]["kind"] == "api"
    assert manifest["audit_window"] == MANIFEST["audit_window"]


def test_denied_endpoint_is_a_coverage_gap_not_a_failure(tmp_path):
    with serve("sample") as (_fake, url):
        result = pull(opts(tmp_path / "snap", url))
    (gap,) = result.denied
    assert gap["endpoint"] == "oauth_clients" and gap["http_status"] == 403
    assert gap["needs"] == "OAuth Client Read"
    assert gap["documentation_url"].startswith("https://developers.cloudflare.com/")
    assert not cfposture.load(result.path).coverage_gaps.empty


def test_pages_stop_on_result_info_without_an_extra_request(tmp_path, one_account):
    with serve(one_account) as (fake, url):
        result = pull(
            opts(
                tmp_path / "snap",
                url,
                oauth_export=None,
                since=datetime(2026, 10, 1, tzinfo=UTC),
                before=datetime(2026, 12, 1, tzinfo=UTC),
            )
        )
        reqs = fake.stats.requests
    snap = cfposture.load(result.path)
    (aid,) = snap.accounts["account_id"]
    assert len(snap.tokens[snap.tokens["owner_type"] == "account"]) == 250
    assert reqs[f"GET /client/v4/accounts/{aid}/tokens"] == 5  # ceil(250/50), no empty page
    assert reqs[f"GET /client/v4/accounts/{aid}/members"] == 2
    assert reqs[f"GET /client/v4/accounts/{aid}/logs/audit"] == 20  # 20,000 / 1,000 per cursor
    assert len(snap.audit_events) == 20_000
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert result.requests == sum(reqs.values()) == minimum_requests(manifest) == 38


def test_429_with_retry_after_is_waited_out(tmp_path, sample_snap):
    # the server allows 10 requests per 2 s, then locks out for 1 s; the pull's budget believes
    # in 1200, as when the dashboard or another tool spends the same user's budget meanwhile
    with serve("sample", rate_limit=10, rate_window=2, lockout=1) as (fake, url):
        result = pull(opts(tmp_path / "snap", url, workers=2, rate_window=2))
        refused = fake.stats.status[429]
    assert refused > 0 and result.rate_limited == refused
    assert_same_frames(cfposture.load(result.path), sample_snap)


@pytest.mark.parametrize("family", ["a", "b"])
def test_budget_keeps_under_the_server_limit(tmp_path, family):
    # both sides agree on 30 per 3 s: the pull spends at most 90% and never sees a 429
    with serve("sample", rate_limit=30, rate_window=3, header_family=family) as (fake, url):
        start = time.monotonic()
        result = pull(opts(tmp_path / "snap", url, rate_limit=30, rate_window=3))
        elapsed = time.monotonic() - start
        assert fake.stats.status[429] == 0
    assert result.requests > 27 and elapsed >= 3  # it did have to wait for the window


def test_random_5xx_are_retried(tmp_path, sample_snap):
    with serve("sample", fail_rate=0.25, seed=3) as (fake, url):
        result = pull(opts(tmp_path / "snap", url))
        failures = sum(n for s, n in fake.stats.status.items() if s >= 500)
    assert failures > 0 and result.retries == failures
    assert_same_frames(cfposture.load(result.path), sample_snap)


def test_truncated_and_non_json_bodies_and_latency_spikes_are_survived(tmp_path, sample_snap):
    """A 200 whose body is cut in half or is an HTML error page, and requests that stall: the
    pull retries them and ends with exactly the frames a clean pull gives."""
    with serve("sample", garble_rate=0.15, spike_rate=0.1, spike_ms=300, seed=3) as (fake, url):
        result = pull(opts(tmp_path / "snap", url))
    assert fake.stats.status["garbled"] > 0
    assert result.retries >= fake.stats.status["garbled"]
    assert_same_frames(cfposture.load(result.path), sample_snap)


def test_always_garbled_fails_cleanly_with_nothing_loadable(tmp_path):
    with serve("sample", garble_rate=1.0) as (_fake, url), pytest.raises(CfPostureError) as err:
        pull(opts(tmp_path / "snap", url))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "snap").exists()


def test_persistent_5xx_fails_cleanly_and_keeps_what_was_fetched(tmp_path):
    with (
        serve("sample", fail_rate=0.6, seed=1) as (_fake, url),
        pytest.raises(CfPostureError, match="--resume") as info,
    ):
        pull(opts(tmp_path / "snap", url, max_attempts=2))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "snap").exists()
    with pytest.raises(CfPostureError):  # whatever is left never loads as a snapshot
        cfposture.load(tmp_path / ".snap.partial")


def test_bad_token_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "wrong")
    with (
        serve("sample", token="right") as (_fake, url),
        pytest.raises(CfPostureError, match=r"rejected the token \(401\)"),
    ):
        pull(opts(tmp_path / "snap", url))
    assert list(tmp_path.iterdir()) == []


def test_missing_token_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    with pytest.raises(CfPostureError, match="set CLOUDFLARE_API_TOKEN"):
        pull(opts(tmp_path / "snap", "http://127.0.0.1:9/client/v4"))


def test_unknown_account_is_refused(tmp_path):
    with serve("sample") as (_fake, url), pytest.raises(CfPostureError, match="not visible"):
        pull(opts(tmp_path / "snap", url, accounts=["f" * 32]))


def test_account_filter(tmp_path, sample_snap):
    aid = sample_snap.accounts["account_id"].iloc[1]
    with serve("sample") as (_fake, url):
        result = pull(opts(tmp_path / "snap", url, accounts=[aid]))
    snap = cfposture.load(result.path)
    assert set(snap.zones["account_id"]) == {aid}


PULL = [sys.executable, "-m", "cfposture.cli", "pull"]


def test_killed_pull_resumes_to_the_same_snapshot(tmp_path, sample_snap):
    out = tmp_path / "snap"
    partial = tmp_path / ".snap.partial"
    with serve("sample", latency_ms=150) as (fake, url):
        args = [
            *PULL,
            str(out),
            "--api-base",
            url,
            "--since",
            SINCE.isoformat(),
            "--before",
            BEFORE.isoformat(),
            "--workers",
            "1",
            "--quiet",
            "--oauth-export",
            str(sample_dir() / "connected-apps.csv"),
        ]
        proc = subprocess.Popen(args, env=os.environ.copy())
        deadline = time.monotonic() + 60
        while (
            not (partial / "journal.ndjson").exists()
            or len((partial / "journal.ndjson").read_text().splitlines()) < 8
        ):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not out.exists() and partial.exists()
        first = sum(fake.stats.requests.values())

        again = subprocess.run(args, capture_output=True, text=True, env=os.environ.copy())
        assert again.returncode == 2 and "--resume" in again.stderr

        resumed = subprocess.run(
            [*args, "--resume"], capture_output=True, text=True, env=os.environ.copy()
        )
        assert resumed.returncode == 0, resumed.stderr
        second = sum(fake.stats.requests.values()) - first
    assert not partial.exists()
    assert_same_frames(cfposture.load(out), sample_snap)
    assert second < 39  # the endpoints fetched before the kill were not fetched again


def test_the_token_is_written_nowhere(tmp_path, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    with serve("sample", fail_rate=0.2, seed=5) as (_fake, url):
        secret_url = url.replace("http://", "http://alice:hunter2@")
        code = main(
            [
                "pull",
                str(tmp_path / "snap"),
                "--api-base",
                secret_url,
                "--since",
                SINCE.isoformat(),
                "--before",
                BEFORE.isoformat(),
            ]
        )
        assert code == 0
        main(["pull", str(tmp_path / "snap2"), "--api-base", url])  # a second run, default window
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    blobs = []
    for p in tmp_path.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            blobs.append(gzip.decompress(data) if p.suffix == ".gz" else data)
    for needle in (CANARY, CANARY[5:25], "hunter2"):
        assert needle not in text
        assert all(needle.encode() not in b for b in blobs)
    assert len(blobs) > 30


def test_the_token_stays_out_of_the_report(tmp_path, monkeypatch, capfd, caplog):
    """Canary through the whole chain: fake API → pull → findings → report → scan (the token
    sits in a file; --verify sends it to the fake and joins the snapshot) → plan."""
    caplog.set_level(logging.DEBUG)
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "ci.env").write_text(f"CLOUDFLARE_API_TOKEN={CANARY}\n")
    with serve("sample") as (_fake, url):
        result = pull(opts(tmp_path / "snap", url))
        monkeypatch.chdir(tmp_path)
        assert main(["report", str(result.path), "--out", "report", "--quiet"]) == 0
        assert main(["findings", str(result.path), "--format", "sarif", "-o", "f.sarif"]) == 0
        for fmt in ("json", "sarif", "csv", "table"):
            args = ["scan", "leak", "--verify", "--api-base", url, "--snapshot", str(result.path)]
            assert main([*args, "--format", fmt, "-o", f"scan.{fmt}"]) == 0
        assert main(["plan", str(result.path), "--out", "plan.json"]) == 0
    assert "cfut_" in (tmp_path / "scan.table").read_text()  # it was found, redacted
    out, err = capfd.readouterr()
    assert CANARY not in out + err + caplog.text
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != leak]
    assert any(p.name == "index.html" for p in files)
    for p in files:
        data = p.read_bytes()
        data = gzip.decompress(data) if p.suffix == ".gz" else data
        assert CANARY.encode() not in data, p


def test_403_on_every_optional_endpoint_is_a_snapshot_of_gaps(tmp_path):
    """A token that may list accounts and nothing else: the pull finishes, every other
    endpoint is a coverage gap naming the permission it needs, and the rules still run."""
    from cfposture.rawsnapshot import RawSnapshot, SnapshotWriter

    raw = RawSnapshot.open(LATEST)
    locked = tmp_path / "locked"
    with SnapshotWriter(locked, source={"kind": "test"}) as w:
        w.audit_window = raw.manifest["audit_window"]
        for e in raw.manifest["endpoints"]:
            if e["endpoint"] == "accounts":
                w.write("accounts", raw.items("accounts"))
            elif e["status"] == "ok" and e["endpoint"] not in ("connected_apps",):
                w.deny(
                    e["endpoint"],
                    http_status=403,
                    code=10000,
                    message="Forbidden",
                    documentation_url="https://developers.cloudflare.com/api/",
                    **e["ids"],
                )
    with serve(locked) as (fake, url):
        result = pull(opts(tmp_path / "snap", url, oauth_export=None))
    assert fake.stats.status[403] == len(result.denied) > 10
    assert all(d["needs"] for d in result.denied)
    snap = cfposture.load(result.path)
    assert len(snap.accounts) == len(raw.items("accounts"))
    assert snap.tokens.empty and snap.audit_events.empty
    assert len(snap.coverage_gaps) == len(result.denied)
    cfposture.findings(snap)  # runs on what there is (account-level rules only)


@pytest.fixture
def hist(tmp_path: Path) -> Path:
    """A history folder holding the sample's latest snapshot (audit logs up to BEFORE)."""
    import shutil

    h = tmp_path / "hist"
    shutil.copytree(LATEST, h / "2026-11-25")
    return h


def _window(snap: Path) -> dict[str, str]:
    return json.loads((snap / "manifest.json").read_text())["audit_window"]


def test_since_last_fetches_only_what_is_new_and_the_history_chains(hist, caplog):
    before = datetime(2026, 11, 27, 6, tzinfo=UTC)  # two days after the sample's pull
    with serve("sample") as (_fake, url):
        pull(opts(hist / "2026-11-27", url, since=None, before=before, since_last=True))
    assert _window(hist / "2026-11-27") == {
        "since": MANIFEST["audit_window"]["before"],
        "before": "2026-11-27T06:00:00Z",
    }
    snap = cfposture.load(hist)
    assert snap.path.name == "2026-11-27" and snap.audit_events.empty  # nothing new in the fake
    from cfposture.usage import usage_events

    window = usage_events(snap, 30)[1]  # this pull's 2 days + the older snapshot's 30
    assert window.sufficient and window.covered_since == pd.Timestamp(SINCE)
    assert not [r for r in caplog.records if "since-last" in r.getMessage()]


def test_since_last_after_the_retention_says_the_days_between_are_gone(hist, caplog):
    with serve("sample") as (_fake, url), caplog.at_level(logging.WARNING):
        later = datetime(2028, 7, 10, tzinfo=UTC)
        pull(opts(hist / "later", url, since=None, before=later, since_last=True))
    # 548 days (18 months): all the API keeps
    assert _window(hist / "later")["since"] == "2027-01-09T00:00:00Z"
    assert any("the days between are gone" in r.getMessage() for r in caplog.records)


def test_since_last_without_an_earlier_snapshot_takes_audit_days(tmp_path, caplog):
    with serve("sample") as (_fake, url), caplog.at_level(logging.WARNING):
        first = opts(tmp_path / "first" / "s", url, since=None, since_last=True, audit_days=7)
        pull(first)
    assert _window(tmp_path / "first" / "s")["since"] == "2026-11-18T06:00:00Z"
    assert any("no earlier snapshot" in r.getMessage() for r in caplog.records)


def test_since_last_refuses_a_window_the_history_already_holds(hist, capsys):
    code = main(["pull", str(hist / "again"), "--api-base", "http://127.0.0.1:9/client/v4",
                 "--since-last", "--before", "2026-11-24T00:00:00Z", "--quiet"])  # fmt: skip
    assert code == 2
    assert "already reach 2026-11-25T06:00:00Z" in capsys.readouterr().err
    assert not (hist / "again").exists() and not (hist / ".again.partial").exists()
    with pytest.raises(SystemExit):
        main(["pull", str(hist / "x"), "--since-last", "--since", "2026-11-01T00:00:00Z"])


class AuditDown(FakeCloudflare):
    """Audit logs answer 500 every time: a pull fails after fetching everything else."""

    def _audit(self, q, account_id):
        return error(500, 10000, "Internal Server Error")


def test_resume_refuses_another_server_or_token(tmp_path, monkeypatch):
    """A resumed pull that finished from another server or with another token would mix two
    organisations into one snapshot."""
    down = make_server(AuditDown("sample"))
    threading.Thread(target=down.serve_forever, daemon=True).start()
    url = base_url(down)
    try:
        with pytest.raises(CfPostureError, match="--resume"):
            pull(opts(tmp_path / "snap", url, max_attempts=1))
        partial = tmp_path / ".snap.partial"
        assert CANARY not in (partial / "resume.json").read_text()  # a fingerprint only
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", CANARY[:-1] + "0")
        with pytest.raises(CfPostureError, match="started with another token") as info:
            pull(opts(tmp_path / "snap", url, resume=True))
        assert CANARY[:-1] not in str(info.value)
    finally:
        down.shutdown()
        down.server_close()
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", CANARY)
    with (
        serve("sample") as (_fake, other),
        pytest.raises(CfPostureError, match="started with another server"),
    ):
        pull(opts(tmp_path / "snap", other, resume=True))
    assert partial.is_dir()  # still there to resume from the right server


def test_a_wrong_api_base_says_so_and_leaves_nothing(tmp_path):
    with (
        serve("sample") as (_fake, url),
        pytest.raises(CfPostureError, match=r"answered 404: is --api-base right\?"),
    ):
        pull(opts(tmp_path / "snap", url.replace("/client/v4", "/v4")))
    assert list(tmp_path.iterdir()) == []  # nothing to resume: no partial folder


def test_a_refused_connection_fails_after_three_tries(tmp_path, monkeypatch):
    import cfposture.sources.pull as pulling

    waits: list[float] = []
    monkeypatch.setattr(pulling.time, "sleep", waits.append)
    with pytest.raises(CfPostureError, match=r"cannot connect to .*is --api-base right"):
        pull(opts(tmp_path / "snap", "http://127.0.0.1:9/client/v4"))
    assert len(waits) == 2 and sum(waits) < 2  # not the full retries a flaky answer gets
    assert list(tmp_path.iterdir()) == []


def test_restart_discards_an_interrupted_pull(tmp_path, sample_snap):
    down = make_server(AuditDown("sample"))
    threading.Thread(target=down.serve_forever, daemon=True).start()
    try:
        with pytest.raises(CfPostureError, match="--resume"):
            pull(opts(tmp_path / "snap", base_url(down), max_attempts=1))
    finally:
        down.shutdown()
        down.server_close()
    assert (tmp_path / ".snap.partial").is_dir()
    with serve("sample") as (_fake, other):
        result = pull(opts(tmp_path / "snap", other, restart=True))
    assert_same_frames(cfposture.load(result.path), sample_snap)
    assert not (tmp_path / ".snap.partial").exists()


def test_snapshot_files_are_private(tmp_path):
    with serve("sample") as (_fake, url):
        result = pull(opts(tmp_path / "snap", url))
    for p in [result.path, *result.path.rglob("*")]:
        want = 0o700 if p.is_dir() else 0o600
        assert p.stat().st_mode & 0o777 == want, p
