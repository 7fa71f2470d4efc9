"""A JSON document with one long list, written fast and diffable.

The document is laid out as ``json.dumps(doc, indent=...)`` lays it out, except the long list
(findings, SARIF results), whose items go one per line, each encoded by json's C encoder.
``indent=`` switches json to its pure-Python encoder for the whole document: the 104,710
findings of 100 enterprise accounts took ~8 s as indented JSON and ~11 s as SARIF, several
times what judging them costs to write out (benchmarks/README.md). One item per line also keeps
a stored result diffable line by line. No pandas. (The scanner writes its JSON with orjson
instead: ``cfposture.scan.output``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# one encoder for every item: json.dumps with any keyword builds a new encoder per call
_ENCODER = json.JSONEncoder(default=str)


def _item_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode`` without its cost per call: ``JSONEncoder.encode`` builds json's C
    encoder anew for every item, a third of the time a 13-key finding takes (2.2 against
    3.3 µs, measured); here it is built once. The same text (a test holds them equal) and
    the same C code; only the cycle check is left out, which plain records never need.
    Where the C encoder is missing (an interpreter without ``_json``), ``encode`` it is."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has _json
        return _ENCODER.encode
    c = make(None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return lambda item: "".join(c(item, 0))


encode_item = _item_encoder()
_HOLE = "\x00cfposture: the long list\x00"  # encodes as "\u0000...": no real value does


def dumps(doc: dict[str, Any], path: tuple[str | int, ...], indent: int) -> str:
    """``doc`` as indented JSON, with the list at ``path`` (keys and indexes from the top) one
    item per line. ``doc`` is left as it was."""
    *parents, last = path
    holder: Any = doc
    for key in parents:
        holder = holder[key]
    items = holder[last]
    holder[last] = _HOLE
    try:
        head = json.dumps(doc, indent=indent, default=str)
    finally:
        holder[last] = items
    hole = json.dumps(_HOLE)
    at = head.index(hole)
    line = head[head.rfind("\n", 0, at) + 1 : at]
    outer = " " * (len(line) - len(line.lstrip(" ")))
    if items:
        inner = outer + " " * indent
        encode = encode_item
        body = "[\n" + ",\n".join([inner + encode(item) for item in items]) + "\n" + outer + "]"
    else:
        body = "[]"
    return head[:at] + body + head[at + len(hole) :] + "\n"
