"""`cfposture accept`: accepted risks recorded in the baseline file, never hand-edited."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from cfposture.baseline import ACCEPT_DAYS, load_baseline, record, resolve_ids
from cfposture.cli import main
from cfposture.errors import CfPostureError
from cfposture.findings import findings
from cfposture.load import load


@pytest.fixture(scope="module")
def found():
    return findings(load("sample"))


def _ids(found, n):
    return list(found.sort_values("finding_id")["finding_id"].head(n))


def test_accept_writes_a_baseline_the_findings_then_honour(tmp_path, found, capsys):
    a, b = _ids(found, 2)
    base = tmp_path / "accepted.yaml"
    argv = ["accept", "sample", a[:8], b, "--baseline", str(base)]
    code = main([*argv, "--reason", "break-glass, in the vault", "--owner", "dana@example.com"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"added: {a}" in out and f"added: {b}" in out
    entries = load_baseline(base).entries
    assert set(entries) == {a, b}
    expected = pd.Timestamp.now(tz="UTC").normalize() + pd.Timedelta(days=ACCEPT_DAYS)
    assert entries[a].expires == expected
    assert entries[a].owner == "dana@example.com"

    out_file = tmp_path / "f.json"
    assert main(["findings", "--baseline", str(base), "--format", "json", "-o", str(out_file)]) == 0
    status = {f["finding_id"]: f["status"] for f in json.loads(out_file.read_text())["findings"]}
    assert status[a] == status[b] == "accepted"
    assert sum(s == "accepted" for s in status.values()) == 2


def test_an_accepted_id_is_renewed_in_place_keeping_comments_and_other_entries(tmp_path, found):
    a, b, c = _ids(found, 3)
    base = tmp_path / "accepted.yaml"
    base.write_text(
        "# risks the platform team accepted\n"
        "accepted:\n"
        f"  - finding_id: {a}\n"
        "    reason: old reason\n"
        "    owner: old@example.com\n"
        "    expires: 2030-01-01   # reviewed quarterly\n"
        f"  - finding_id: {b}\n"
        "    reason: kept\n"
        "    owner: kept@example.com\n"
    )
    done = record(base, [a, c], reason="roll planned", owner="ops@example.com", expires=None)
    assert done == {a: "renewed", c: "added"}
    text = base.read_text()
    assert text.startswith("# risks the platform team accepted\n")
    assert [e["finding_id"] for e in yaml.safe_load(text)["accepted"]] == [a, b, c]
    entries = load_baseline(base).entries
    assert entries[a].reason == "roll planned" and entries[a].expires is None  # never
    assert entries[b].owner == "kept@example.com"


def test_json_baselines_stay_json(tmp_path, found):
    (a,) = _ids(found, 1)
    base = tmp_path / "accepted.json"
    when = pd.Timestamp("2031-05-01", tz="UTC")
    record(base, [a], reason="r", owner="o@example.com", expires=when)
    doc = json.loads(base.read_text())
    assert doc == {
        "accepted": [
            {"finding_id": a, "reason": "r", "owner": "o@example.com", "expires": "2031-05-01"}
        ]
    }


def test_ids_must_name_exactly_one_finding(found):
    a = _ids(found, 1)[0]
    assert resolve_ids(found, [a[:6].upper(), a]) == [a]
    with pytest.raises(CfPostureError, match="too short"):
        resolve_ids(found, [a[:5]])
    with pytest.raises(CfPostureError, match="no finding 000000"):
        resolve_ids(found, ["000000"] if not a.startswith("000000") else ["ffffff"])
    ids = found["finding_id"]
    firsts = ids.str.slice(0, 6)
    shared = firsts[firsts.duplicated()]
    if not shared.empty:  # a prefix several ids share is refused
        with pytest.raises(CfPostureError, match="start of"):
            resolve_ids(found, [shared.iloc[0]])
    else:
        with pytest.raises(CfPostureError, match="start of 2 finding ids"):
            resolve_ids(pd.DataFrame({"finding_id": ["abcdef01", "abcdef02"]}), ["abcdef"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--expires", "2001-01-01"], "has passed"),
        (["--expires", "next tuesday"], "is not a date"),
    ],
)
def test_bad_expiry_is_a_one_line_error_and_writes_nothing(tmp_path, found, capsys, extra, message):
    base = tmp_path / "accepted.yaml"
    argv = ["accept", "sample", _ids(found, 1)[0], "--baseline", str(base)]
    code = main([*argv, "--reason", "r", "--owner", "o", *extra])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not base.exists()


def test_a_broken_baseline_is_reported_and_left_as_it_was(tmp_path, found, capsys):
    base = tmp_path / "accepted.yaml"
    broken = "accepted:\n  - finding_id: abc\n    reason: [unclosed\n"
    base.write_text(broken)
    argv = ["accept", "sample", _ids(found, 1)[0], "--baseline", str(base)]
    assert main([*argv, "--reason", "r", "--owner", "o"]) == 2
    assert "is not valid YAML" in capsys.readouterr().err
    assert base.read_text() == broken
    assert [p.name for p in tmp_path.iterdir()] == ["accepted.yaml"]  # no temporary file left


def test_findings_without_a_baseline_do_not_import_yaml():
    """PyYAML is imported to read a YAML baseline, not by every program judging findings
    (the report's kernels judge older snapshots without one)."""
    import subprocess
    import sys

    code = "import sys, cfposture.findings\nprint('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_reason_and_owner_are_required(tmp_path, found):
    with pytest.raises(CfPostureError, match="reason and an owner"):
        record(tmp_path / "b.yaml", _ids(found, 1), reason=" ", owner="o", expires=None)
