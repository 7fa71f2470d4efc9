"""The scanner's JSON and SARIF: orjson's text, which is json's indented layout, and json's
escapes where orjson cannot write a name."""

from __future__ import annotations

import io
import json
import os
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfposture.cli import main
from cfposture.scan import output

BODY = "Zx4CrcFhEIDXk9vL2sTLeARsFp2ZZYbydVDhhIUq"
TOKEN = f"cfut_{BODY}{zlib.crc32(BODY.encode()):08x}"

# what a finding or a summary holds: text (any Unicode a path may have), numbers, flags, None
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
DOCS = st.dictionaries(
    st.text(),
    st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    ),
    max_size=6,
)


@given(DOCS)
def test_the_text_is_jsons_indented_layout(doc: dict) -> None:
    text = output.dumps(doc)
    assert text == (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def test_a_name_that_is_not_utf8_is_escaped_as_json_escapes_it() -> None:
    shown = os.fsdecode(b"/repo/caf\xe9.env")  # a lone surrogate, which orjson refuses
    doc = {"summary": {"files": 1}, "findings": [{"path": shown, "line": 1}]}
    text = output.dumps(doc)
    assert text == (json.dumps(doc, indent=2) + "\n").encode("ascii")
    assert json.loads(text)["findings"][0]["path"] == shown


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_a_scan_of_a_file_named_in_latin1_writes_its_output(
    tmp_path: Path, capsys: pytest.CaptureFixture, fmt: str
) -> None:
    odd = os.fsencode(tmp_path) + b"/caf\xe9.env"
    with open(odd, "wb") as f:
        f.write(f"token = {TOKEN}\n".encode())
    out = tmp_path / f"out.{fmt}"
    assert main(["scan", str(tmp_path), "--format", fmt, "--quiet", "-o", str(out)]) == 0
    doc = json.loads(out.read_bytes())
    if fmt == "json":
        paths = [f["path"] for f in doc["findings"]]
    else:
        paths = [
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]
        ]
    assert paths == [os.fsdecode(odd)]
    assert TOKEN not in out.read_text(errors="replace")


def test_json_on_standard_output_comes_after_what_was_printed_before(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "a.env").write_text(f"token = {TOKEN}\n")
    print("before")
    assert main(["scan", str(tmp_path), "--format", "json", "--quiet"]) == 0
    first, rest = capsys.readouterr().out.split("\n", 1)
    assert first == "before"
    assert json.loads(rest)["summary"]["credentials"] == 1


def test_json_on_a_standard_output_without_bytes_is_written_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's stream (ipykernel's) has no ``buffer``: the bytes go through as text."""
    (tmp_path / "a.env").write_text(f"token = {TOKEN}\n")
    stream = io.StringIO()  # no .buffer
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["scan", str(tmp_path), "--format", "json", "--quiet"]) == 0
    assert json.loads(stream.getvalue())["summary"]["credentials"] == 1
