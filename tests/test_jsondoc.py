"""One long list per document, one item per line, the rest laid out as json.dumps(indent=)."""

from __future__ import annotations

import copy
import json

import pandas as pd

from cfposture import jsondoc


def test_a_nested_list_one_item_per_line_the_rest_as_json_lays_it_out():
    at = pd.Timestamp("2026-11-29", tz="UTC")  # not JSON: written as str(), as before
    doc = {"tool": {"rules": [1]}, "runs": [{"results": [{"id": 1, "at": at}, {"id": 2}]}]}
    before = copy.deepcopy(doc)
    text = jsondoc.dumps(doc, ("runs", 0, "results"), indent=1)
    assert doc == before  # the caller's document is left as it was
    assert text == (
        "{\n"
        ' "tool": {\n'
        '  "rules": [\n'
        "   1\n"
        "  ]\n"
        " },\n"
        ' "runs": [\n'
        "  {\n"
        '   "results": [\n'
        '    {"id": 1, "at": "2026-11-29 00:00:00+00:00"},\n'
        '    {"id": 2}\n'
        "   ]\n"
        "  }\n"
        " ]\n"
        "}\n"
    )
    assert json.loads(text) == json.loads(json.dumps(doc, default=str))


def test_a_top_level_list_and_an_empty_one():
    doc = {"summary": {"n": 2}, "findings": [{"a": 1}, {"b": "x"}]}
    assert jsondoc.dumps(doc, ("findings",), indent=2) == (
        '{\n  "summary": {\n    "n": 2\n  },\n  "findings": [\n'
        '    {"a": 1},\n    {"b": "x"}\n  ]\n}\n'
    )
    empty = jsondoc.dumps({"findings": [], "n": 0}, ("findings",), indent=2)
    assert empty == '{\n  "findings": [],\n  "n": 0\n}\n'


def test_each_item_is_the_text_json_dumps_writes():
    """The items go through json's C encoder built once (``encode_item``); every kind of
    value a record holds, and what default=str turns into text, comes out as json.dumps
    writes it."""
    at = pd.Timestamp("2026-11-29", tz="UTC")
    items = [
        {"a": 'é…"\\\n\u2028', "b": [1, 2.5, None, True, False], "c": {"d": float("inf")}},
        {"neg": -0.0, "big": 1e300, "nan": float("nan"), 1: 2, None: 3, 2.5: "k"},
        {"when": at, "many": [at, {"x": (1, 2)}]},
        "a string",
        7,
        [],
        {},
    ]
    for item in items:
        assert jsondoc.encode_item(item) == json.dumps(item, default=str)
