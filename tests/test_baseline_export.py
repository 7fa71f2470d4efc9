"""Accepted risks (baseline files) and the machine-readable outputs (JSON, CSV, SARIF)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

import cfposture
from cfposture.baseline import apply_baseline, load_baseline, unknown_ids
from cfposture.cli import main
from cfposture.errors import CfPostureError
from cfposture.export import to_csv, to_json, to_sarif

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-rtm.5.json").read_text())


@pytest.fixture(scope="module")
def sample_findings(sample_snap):
    return cfposture.findings(sample_snap)


def _baseline(tmp_path, entries, suffix=".yaml") -> Path:
    p = tmp_path / f"baseline{suffix}"
    if suffix == ".json":
        p.write_text(json.dumps({"accepted": entries}))
    else:
        import yaml

        p.write_text(yaml.safe_dump({"accepted": entries}))
    return p


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_accepted_stay_visible_and_expired_reopen(tmp_path, sample_findings, sample_snap, suffix):
    a, b = sample_findings["finding_id"].iloc[:2]
    path = _baseline(
        tmp_path,
        [
            {"finding_id": a, "reason": "break-glass", "owner": "dana", "expires": "2027-06-30"},
            {"finding_id": b, "reason": "migration", "owner": "marco", "expires": "2026-10-01"},
            {"finding_id": "0" * 20, "reason": "old", "owner": "x"},
        ],
        suffix,
    )
    base = load_baseline(path)
    out = apply_baseline(sample_findings, base, sample_snap.created_at)
    status = dict(zip(out["finding_id"], out["status"], strict=True))
    assert status[a] == "accepted"
    assert status[b] == "open"  # acceptance expired before the snapshot
    assert len(out) == len(sample_findings)
    assert unknown_ids(out, base) == ["0" * 20]


@pytest.mark.parametrize(
    "text, message",
    [
        ("accepted: 3", "top-level 'accepted' list"),
        ("accepted:\n  - reason: x\n    owner: y\n", "no finding_id"),
        ("accepted:\n  - finding_id: abc\n    owner: y\n", "no reason"),
        (
            "accepted:\n  - finding_id: abc\n    reason: r\n    owner: y\n    expires: someday\n",
            "not a date",
        ),
        ("accepted: [unclosed", "not valid"),
    ],
)
def test_bad_baselines_fail_with_one_line(tmp_path, text, message):
    p = tmp_path / "b.yaml"
    p.write_text(text)
    with pytest.raises(CfPostureError, match=message) as info:
        load_baseline(p)
    assert "\n" not in str(info.value)


def test_sarif_validates_against_the_2_1_0_schema(sample_findings):
    doc = json.loads(to_sarif(sample_findings, {"path": "sample"}))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    run = doc["runs"][0]
    assert len(run["results"]) == len(sample_findings)
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= set(sample_findings["rule_id"])
    fps = [r["partialFingerprints"]["cfpostureFindingId/v1"] for r in run["results"]]
    assert fps == sample_findings["finding_id"].tolist()


def test_sarif_marks_accepted_findings_as_suppressed(sample_findings):
    accepted = sample_findings.assign(status=["accepted"] + ["open"] * (len(sample_findings) - 1))
    doc = json.loads(to_sarif(accepted, {}))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    assert doc["runs"][0]["results"][0]["suppressions"][0]["status"] == "accepted"


def test_json_is_stamped_and_csv_round_trips(sample_findings):
    doc = json.loads(to_json(sample_findings, {"path": "sample"}))
    assert doc["cfposture_version"] == cfposture.__version__
    assert doc["rules"] == sorted(sample_findings["rule_id"].unique())
    assert isinstance(doc["findings"][0]["evidence"], dict)
    back = pd.read_csv(io.StringIO(to_csv(sample_findings)))
    assert back["finding_id"].tolist() == sample_findings["finding_id"].tolist()


def test_rows_are_the_records_with_json_parsed_and_nan_as_none(sample_findings):
    """``export.rows`` builds column by column what ``to_dict("records")`` gives, with the
    evidence and remedy parsed and only a float NaN turned into None (a NaT stays a NaT)."""
    from cfposture.export import rows

    df = sample_findings.head(6).copy()
    df.loc[df.index[:2], "principal_name"] = None
    df.loc[df.index[2], "remedy"] = None
    df["score"] = [1.5, float("nan"), 2.0, float("nan"), 0.0, 3.25]
    df["until"] = pd.to_datetime(["2026-01-01", None, "2026-02-01", None, None, None], utc=True)
    want = []
    for r in df.to_dict("records"):
        r["evidence"] = json.loads(r["evidence"])
        r["remedy"] = json.loads(r["remedy"]) if isinstance(r["remedy"], str) else None
        want.append({k: None if isinstance(v, float) and v != v else v for k, v in r.items()})
    got = rows(df)
    assert got == want
    assert got[0]["principal_name"] is None and got[1]["score"] is None
    assert got[1]["until"] is pd.NaT and isinstance(got[0]["evidence"], dict)


def test_cli_findings_formats_and_gating(tmp_path, capsys, sample_findings):
    assert main(["findings", "--fail-on", "critical"]) == 0  # the sample has no leaks
    capsys.readouterr()
    assert (
        main(["findings", "--fail-on", "high", "--format", "json", "-o", str(tmp_path / "f.json")])
        == 1
    )
    assert "at or above high" in capsys.readouterr().err
    assert len(json.loads((tmp_path / "f.json").read_text())["findings"]) == len(sample_findings)
    assert main(["findings", "--rules", "CFP-M03", "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("CFP-M03") == 2


def test_cli_baseline_accepts_and_warns_about_unknown_ids(tmp_path, capsys, sample_findings):
    highs = sample_findings[sample_findings["severity"] == "high"]["finding_id"]
    p = _baseline(
        tmp_path,
        [{"finding_id": f, "reason": "r", "owner": "o"} for f in highs]
        + [{"finding_id": "f" * 20, "reason": "r", "owner": "o"}],
    )
    assert main(["findings", "--baseline", str(p), "--fail-on", "high"]) == 0
    err = capsys.readouterr().err
    assert "1 baseline id(s) match no current finding" in err
    assert "expire" not in err

    # the sample is dated 2026-11-25: one acceptance lapsed, one lapses within 30 days
    dated = [
        {"finding_id": highs.iloc[0], "reason": "r", "owner": "lapsed", "expires": "2026-11-01"},
        {"finding_id": highs.iloc[1], "reason": "r", "owner": "soon", "expires": "2026-12-05"},
    ]
    assert main(["findings", "--baseline", str(_baseline(tmp_path, dated)), "--format", "csv"]) == 0
    err = capsys.readouterr().err
    assert (
        f"1 accepted risk(s) expired; their findings are open again: {highs.iloc[0]} (lapsed)"
        in err
    )
    assert f"1 accepted risk(s) expire within 30 days: {highs.iloc[1]} (soon)" in err
    # with the command that renews one
    renew = f"cfposture accept sample FINDING_ID --baseline {tmp_path / 'baseline.yaml'}"
    assert renew in err, err


def test_cli_bad_threshold_is_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["findings", "--stale-days", "0"])
    assert e.value.code == 2


def test_cli_scores(capsys):
    assert main(["scores", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"lp_gap", "reach", "granted_weight", "used_weight", "exposure", "basis"} <= set(rows[0])


def test_accepted_risks_lists_every_entry_most_urgent_first(tmp_path, sample_findings, sample_snap):
    from cfposture.baseline import EXPIRING_DAYS, accepted_risks

    as_of = sample_snap.created_at
    ids = sample_findings["finding_id"].tolist()
    day = pd.Timedelta(days=1)

    def entry(i: int, owner: str, days: int | None) -> dict:
        e = {"finding_id": ids[i] if i >= 0 else "f" * 20, "reason": "r", "owner": owner}
        if days is not None:
            e["expires"] = str((as_of + days * day).date())
        return e

    entries = [
        entry(0, "far", 200),
        entry(1, "soon", EXPIRING_DAYS),
        entry(2, "past", -1),
        entry(3, "forever", None),
        entry(-1, "gone", None),
    ]
    baseline = load_baseline(_baseline(tmp_path, entries))
    risks = accepted_risks(apply_baseline(sample_findings, baseline, as_of), baseline, as_of)
    assert risks["owner"].tolist() == ["past", "soon", "far", "forever", "gone"]
    assert risks["state"].astype(str).tolist() == [
        "reopened", "expiring", "accepted", "accepted", "no finding"
    ]  # fmt: skip
    assert risks.loc[0, "rule_id"] == sample_findings.loc[2, "rule_id"]
    assert risks["days_left"].isna().tolist() == [False, False, False, True, True]
    empty = load_baseline(_baseline(tmp_path, []))
    assert accepted_risks(sample_findings, empty, as_of).empty
    assert len(baseline.digest) == 16 and baseline.digest != empty.digest
