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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pull", "--rate-limit", "0", "out"], "--rate-limit: must be a whole number from 1 to"),
        (["pull", "--workers", "-1", "out"], "--workers: must be a whole number from 1 to 64"),
        (["pull", "--audit-days", "x", "out"], "--audit-days: must be between 1 and 548"),
        (["fake-api", "--port", "99999"], "--port: must be a whole number from 0 to 65,535"),
        (["fake-api", "--fail-rate", "nan"], "--fail-rate: must be a number from 0 to 1"),
        (["findings", "--usage-days", "x"], "--usage-days: must be a whole number from 1 to"),
        (["scan", "--workers", "1e9", "."], "--workers: must be a whole number from 0 to 256"),
    ],
)
def test_out_of_range_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert message in err.splitlines()[-1]
    assert "Traceback" not in err


def test_a_window_that_ends_before_it_starts_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "x")
    argv = ["pull", "--since", "2026-02-01", "--before", "2026-01-01", str(tmp_path / "s")]
    assert main(argv) == 2
    assert "--since 2026-02-01T00:00:00Z is not before --before" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


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


def test_console_script_output_and_exit_codes_survive_the_fast_exit(capsys):
    """The console script ends with os._exit (cli.exit_fast): what it prints, in full and
    flushed, and its exit code are those of ``main`` in this process."""
    assert main(["findings", "--format", "csv"]) == 0
    expected = capsys.readouterr().out
    ran = subprocess.run(
        [sys.executable, "-m", "cfposture.cli", "findings", "--format", "csv"],
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0 and ran.stdout == expected and len(expected) > 10_000
    gated = subprocess.run(
        [sys.executable, "-m", "cfposture.cli", "findings", "--fail-on", "low", "-o", "/dev/null"],
        capture_output=True,
        text=True,
    )
    assert gated.returncode == 1


_EXIT = """
import atexit, sys, threading, time
from pathlib import Path
from cfposture.cli import exit_fast
out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
def late():
    time.sleep(0.3)
    (out / "thread").write_text("done")
if sys.argv[2] == "thread":
    threading.Thread(target=late).start()  # not a daemon: the command's own unfinished work
sys.stdout.write("no newline, still buffered")
exit_fast(7)
"""


@pytest.mark.parametrize("thread", ["thread", "none"])
def test_fast_exit_runs_atexit_flushes_and_waits_for_unfinished_work(tmp_path, thread):
    ran = subprocess.run(
        [sys.executable, "-c", _EXIT, str(tmp_path), thread], capture_output=True, text=True
    )
    assert ran.returncode == 7
    assert ran.stdout == "no newline, still buffered"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").exists() == (thread == "thread")


def test_fast_exit_into_a_closed_pipe_is_quiet():
    """``cfposture findings | head -c 10``: the reader may be gone before the last flush."""
    ran = subprocess.run(
        f"'{sys.executable}' -m cfposture.cli findings --format csv | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        executable="/bin/bash",
    )
    assert len(ran.stdout) == 10 and "Traceback" not in ran.stderr


def _subparsers(parser):
    """name → subparser of a parser built by ``build_parser``."""
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_each_command_parsed_alone_is_the_command_of_the_full_parser():
    """``main`` builds only the command it runs (a scan starts ripgrep ~5 ms sooner): its
    usage, help and defaults must be exactly those of the full parser, which ``--help`` and a
    mistyped command still get."""
    from cfposture.cli import _COMMANDS, build_parser

    full = _subparsers(build_parser())
    assert sorted(full) == sorted(_COMMANDS) and len(full) == 14
    for name in _COMMANDS:
        alone = _subparsers(build_parser(name))
        assert list(alone) == [name]
        assert alone[name].format_help() == full[name].format_help()
        for a, b in zip(alone[name]._actions, full[name]._actions, strict=True):
            assert (a.dest, a.default, a.type, a.required) == (
                b.dest,
                b.default,
                b.type,
                b.required,
            )
        assert alone[name]._defaults == full[name]._defaults  # the function that runs it


def test_the_full_parser_answers_help_and_mistyped_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["scna", "."])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'scna'" in err and "scan" in err and "report" in err
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("scan", "report", "pull", "import-audit"))
