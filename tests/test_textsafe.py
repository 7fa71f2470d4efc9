"""Names chosen by whoever created a token reach CSV files, Markdown plans and terminals safely."""

from __future__ import annotations

import csv
import io
import os
import zlib
from pathlib import Path

import pytest

from cfposture.cli import main
from cfposture.remediate.plan import render_plan
from cfposture.textsafe import csv_cell, escaped, md_cell

A = "a" * 32
FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_are_neutralised(value):
    assert csv_cell(value) == "'" + value
    assert csv_cell("dana") == "dana" and csv_cell(-3) == -3 and csv_cell(None) is None


def test_control_characters_and_undecodable_bytes_are_escaped():
    assert escaped("a\nb\x1b[2Jc\\") == "a\\x0ab\\x1b[2Jc\\\\"
    assert escaped(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
    assert md_cell("x | y\nz") == "x \\| y\\x0az"


def _hostile_snapshot(write_snapshot) -> Path:
    names = ["=cmd|' /C calc'!A0", "evil | x\n| 9 | forged row |", "\x1b[2Jclear"]
    tokens = [
        {
            "id": f"{n:032x}",
            "name": name,
            "status": "active",
            "issued_on": "2025-01-01T00:00:00Z",
            "modified_on": "2025-01-01T00:00:00Z",
            "policies": [
                {
                    "id": f"p{n}",
                    "effect": "allow",
                    "resources": {f"com.cloudflare.api.account.{A}": "*"},
                    "permission_groups": [
                        {"id": "4755a26eedb94da69e1066d98aa820be", "name": "DNS Write"}
                    ],
                }
            ],
        }
        for n, name in enumerate(names, start=1)
    ]
    return write_snapshot({"accounts": [{"id": A, "name": "Acme"}], f"account_tokens:{A}": tokens})


def test_findings_csv_has_no_formula_cells(write_snapshot, tmp_path, capsys):
    snap = _hostile_snapshot(write_snapshot)
    out = tmp_path / "f.csv"
    main(["findings", str(snap), "--format", "csv", "-o", str(out)])
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    names = {r[rows[0].index("principal_name")] for r in rows[1:]}
    assert "'=cmd|' /C calc'!A0" in names
    cells = [c for r in rows for c in r]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]


def test_terminal_tables_show_escapes_not_control_characters(write_snapshot, capsys):
    snap = _hostile_snapshot(write_snapshot)
    main(["findings", str(snap)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2Jclear" in out
    main(["scores", str(snap)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil | x\\x0a" in out


def test_a_plan_table_keeps_one_row_per_action(write_snapshot, tmp_path):
    snap = _hostile_snapshot(write_snapshot)
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(snap), "--out", str(plan_file), "--quiet"]) in (0, 1)
    import json

    plan = json.loads(plan_file.read_text())
    text = render_plan(plan)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(plan["actions"]) + (1 + len(plan["manual"])) * bool(plan["manual"])
    assert "\x1b" not in text and "evil \\| x\\x0a\\| 9 \\| forged row \\|" in text
    assert "\x1b" not in render_plan(plan, "table")


def test_a_scan_csv_and_table_of_odd_file_names(tmp_path, capsys):
    names = [b"=cmd.env", b"caf\xe9.env", b"deploy\x1b[2J.env"]
    for name in names:
        with open(os.fsencode(tmp_path) + b"/" + name, "wb") as f:
            f.write(b"CLOUDFLARE_API_TOKEN=" + _valid_token().encode() + b"\n")
    out = tmp_path.parent / f"{tmp_path.name}.csv"
    main(["scan", str(tmp_path), "--format", "csv", "--quiet", "-o", str(out)])
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    locations = [r[rows[0].index("location")] for r in rows[1:]]
    assert len(locations) == 3
    assert not [c for r in rows for c in r if c.startswith(("=", "+", "@"))]
    assert any(loc.endswith("caf\\xe9.env:1") for loc in locations), locations
    main(["scan", str(tmp_path), "--quiet"])
    table = capsys.readouterr().out
    assert "\x1b" not in table and "deploy\\x1b[2J.env" in table


def _valid_token() -> str:
    body = "T3xtSafeT3xtSafeT3xtSafeT3xtSafeT3xtSafe"
    return f"cfut_{body}{zlib.crc32(body.encode()):08x}"
