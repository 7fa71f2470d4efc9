"""``cfposture scan --verify --snapshot``: leaked values verified against the fake API over
HTTP with the official SDK, joined to the inventory, recorded (without values) beside the
snapshot so the token reads as ``observed`` and CFP-T09 fires."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import pytest

import cfposture
from cfposture.cli import main
from cfposture.load import history

UNKNOWN_BODY = "Nq9pX2mT7vLc4RzB8wKd1sYh6GfJ3aUe5oIi0ZxQ"
NOT_LIVE = f"cfut_{UNKNOWN_BODY}{zlib.crc32(UNKNOWN_BODY.encode()):08x}"  # valid CRC, no token


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    dest = tmp_path / "hist" / "latest"
    shutil.copytree(history("sample")[-1], dest)
    return dest


def _pick(snapshot: Path) -> tuple[dict, dict]:
    t = cfposture.load(snapshot).tokens
    active = t[(t["status"] == "active") & t["inventoried"]]
    acct = active[(active["owner_type"] == "account") & (active["format"] == "legacy")].iloc[0]
    user = active[(active["owner_type"] == "user") & (active["format"] == "legacy")].iloc[0]
    return acct.to_dict(), user.to_dict()


def test_verify_joins_records_and_fires_t09(
    fake_api, snap: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    acct, user = _pick(snap)
    with fake_api(snap) as (fake, base):
        cfat = fake.state.issue_value(acct["account_id"], acct["token_id"])
        legacy = fake.state.issue_value(None, user["token_id"], legacy=True)
        work = tmp_path / "work"
        work.mkdir()
        (work / "deploy.yml").write_text(f"env:\n  CLOUDFLARE_API_TOKEN: {cfat}\n")
        (work / ".env").write_text(f"CLOUDFLARE_API_TOKEN={legacy}\nCF_OLD={NOT_LIVE}\n")
        args = ["scan", str(work), "--verify", "--api-base", base, "--snapshot", str(snap)]
        rc = main([*args, "--format", "json"])
        verify_calls = {k: v for k, v in fake.stats.requests.items() if "verify" in k}
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc = json.loads(out)
    by_id = {f["redacted"]: f for f in doc["findings"]}
    assert len(by_id) == 3
    live = [f for f in doc["findings"] if f["live"]]
    assert {f["token_id"] for f in live} == {acct["token_id"], user["token_id"]}
    for f in live:
        assert f["inventory"] == "found" and f["can"].startswith("can ")
        assert f["token_name"] in (acct["name"], user["name"])
    dead = [f for f in doc["findings"] if f["live"] is False]
    assert [d["format"] for d in dead] == ["cfut"] and dead[0]["token_id"] is None
    # cfut_ → user endpoint only; legacy → user then the accounts; cfat_ → the accounts
    assert verify_calls["GET /client/v4/user/tokens/verify"] == 2

    # recorded beside the snapshot, without values; the frames and rules see it
    observed = (snap / "observed.json").read_text()
    every_byte = (
        observed
        + out
        + err
        + "".join(p.read_bytes().decode("latin-1") for p in snap.rglob("*") if p.is_file())
    )
    for v in (cfat, legacy, NOT_LIVE):
        assert v not in every_byte
    s = cfposture.load(snap)
    seen = s.tokens.set_index("token_id").loc[[acct["token_id"], user["token_id"]]]
    assert set(seen["format_source"]) == {"observed"}
    assert seen.loc[acct["token_id"], "format"] == "scannable"  # the value was cfat_
    assert seen.loc[user["token_id"], "format"] == "legacy"
    t09 = cfposture.findings(s, rules=["CFP-T09"])
    assert set(t09["principal_id"]) == {acct["token_id"], user["token_id"]}
    assert set(t09["severity"]) == {"critical"}
    assert "deploy.yml:2" in " ".join(t09["evidence"])

    # the leaked-credentials notebook shows them with no parameter but the snapshot
    import papermill as pm

    from cfposture.report.run import notebooks_dir

    ran = pm.execute_notebook(
        str(notebooks_dir() / "04-leaked-credentials.ipynb"),
        str(tmp_path / "04.ipynb"),
        parameters={"snapshot": str(snap)},
        kernel_name="python3",
        progress_bar=False,
    )
    shown = json.dumps([c.get("outputs", []) for c in ran.cells])
    assert "2 leaked tokens recorded by cfposture scan --verify" in shown
    assert acct["name"] in shown and user["name"] in shown
    for v in (cfat, legacy):
        assert v not in shown


def test_rolled_token_is_no_longer_live(fake_api, snap: Path, tmp_path: Path, capsys) -> None:
    acct, _ = _pick(snap)
    with fake_api(snap) as (fake, base):
        value = fake.state.issue_value(acct["account_id"], acct["token_id"])
        fake.state.roll_token(acct["account_id"], acct["token_id"])
        (tmp_path / "a.txt").write_text(f"cloudflare: {value}\n")
        main(["scan", str(tmp_path / "a.txt"), "--verify", "--api-base", base,
              "--account", acct["account_id"], "--format", "json"])  # fmt: skip
    f = json.loads(capsys.readouterr().out)["findings"][0]
    assert (f["live"], f["token_id"]) == (False, None)


def test_sample_is_read_only(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("nothing")
    assert main(["scan", str(tmp_path), "--verify", "--snapshot", "sample"]) == 2
    assert "read-only" in capsys.readouterr().err


def test_unreachable_api_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "x").write_text(f"token {NOT_LIVE}\n")
    rc = main(["scan", str(tmp_path), "--verify", "--api-base", "http://127.0.0.1:9/client/v4"])
    err = capsys.readouterr().err
    assert rc == 2 and "could not reach the API" in err and NOT_LIVE not in err
