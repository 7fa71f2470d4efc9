"""The command line: exit codes, one-line errors, the real console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from cfposture.cli import main


def test_summary_of_the_sample(capsys):
    assert main(["summary"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"]["accounts"] == 3
    assert out["coverage_gaps"] == 1
    assert set(out["tokens_by_format"]) == {"legacy", "scannable", "unknown"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "/nonexistent/snap"], "does not exist"),
        (["sample", "/proc/cfposture-cannot-write"], ""),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("cfposture: error: ") and err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err


def test_sample_command_writes_a_loadable_history(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "s"), "--seed", "3"]) == 0
    assert "wrote small sample (seed 3)" in capsys.readouterr().out
    assert main(["summary", str(tmp_path / "s")]) == 0


def test_console_script_is_installed():
    exe = shutil.which("cfposture") or str(
        __import__("pathlib").Path(sys.executable).parent / "cfposture"
    )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("cfposture ")
    bad = subprocess.run([exe, "summary", "/nonexistent"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
