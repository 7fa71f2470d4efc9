"""Scan results as a table, JSON, CSV (what notebook 04 reads) or SARIF 2.1.0.

JSON and SARIF are written by orjson, indented throughout: the same text as
``json.dumps(doc, indent=2, ensure_ascii=False)`` (a test holds them equal), ~5 ms for the
9,216 findings of the benchmark corpus where json's C encoder took ~30 ms one finding per line
(``cfposture.jsondoc``, which the snapshot findings' outputs still use). A scan's report is
read by tools (jq, code-scanning uploads) and by ``--baseline``, not diffed by people.
"""

from __future__ import annotations

import orjson

from ..formats import FORMATS
from ..sarif import sarif_log
from ..textsafe import csv_cell, escaped

# imported after the scan, so only what every format needs is imported here: json (the
# fallback) and csv where they are used, typing by type checkers alone (see cfposture.cli)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

INFO_URI = "https://github.com/cfposture/cfposture#scanning-for-leaked-credentials"

COLUMNS = [
    "format",
    "status",
    "location",
    "redacted",
    "fingerprint",
    "checksum_valid",
    "path",
    "line",
    "commit",
    "baselined",
    "allowed",
    "live",
    "token_id",
    "token_status",
    "owner",
    "token_name",
    "can",
]


def dumps(doc: dict[str, Any]) -> bytes:
    """``doc`` as UTF-8 JSON indented by two, ending in a newline.

    A path that is not UTF-8 (a file name's undecodable bytes, kept as lone surrogates by
    ``os.fsdecode``) is text orjson refuses to write; such a document goes through json,
    which escapes them (``"caf\\udce9.env"``): the same layout, slower."""
    try:
        return orjson.dumps(
            doc, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
        )
    except TypeError:  # orjson.JSONEncodeError: surrogates, or a value default= cannot help
        import json

        return (json.dumps(doc, indent=2, default=str) + "\n").encode("ascii")


def as_json(findings: list[dict[str, Any]], summary: dict[str, Any]) -> bytes:
    return dumps({"summary": summary, "findings": findings})


def as_csv(findings: list[dict[str, Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows({k: csv_cell(f.get(k)) for k in COLUMNS} for f in findings)
    return buf.getvalue()


def as_table(findings: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = []
    for f in findings:
        tag = "lookalike (bad checksum)" if f["status"] == "lookalike" else f["format"]
        if f.get("baselined"):
            tag += " [baseline]"
        if f.get("allowed"):
            tag += " [allowed inline]"
        extra = ""
        if "live" in f:
            state = {True: "LIVE", False: "not live", None: "unknown"}[f["live"]]
            extra = f"  {state}" + (f" token {f['token_id']}" if f.get("token_id") else "")
            if f.get("can"):
                extra += f" — {f.get('token_name')!s} ({f.get('owner')!s}) {f['can']}"
        lines.append(escaped(f"{f['location']}  {tag}  {f['redacted']}{extra}"))
    s = summary
    blobs = bool(s["blobs"]) and not s["files"]  # --git reads blobs, not files
    n = s["blobs"] if blobs else s["files"]
    what = ("blob" if blobs else "file") + ("" if n == 1 else "s")
    lines.append(
        f"{s['credentials']} credential(s) ({s['new']} not in the baseline"
        + (f" or allowed inline, {s['allowed']} allowed" if s.get("allowed") else "")
        + "), "
        f"{s['lookalikes']} lookalike(s); {n} {what}, {s['bytes'] / 1e6:.1f} MB scanned"
        + (
            f" ({s['skipped_binary']} binary, {s['skipped_symlinks']} symlinks skipped;"
            if s["skipped_binary"] is not None
            else " (binaries and symlinks skipped by ripgrep;"
        )
        + f" engine {s['backend']})"
    )
    return "\n".join(lines) + "\n"


def as_sarif(findings: list[dict[str, Any]]) -> bytes:
    rules = [
        {
            "id": f"cfposture-scan/{fmt.id}",
            "name": fmt.name,
            "shortDescription": {"text": f"{fmt.name} in scanned content"},
            "fullDescription": {"text": fmt.doc or fmt.name},
            "help": {"text": "Roll the credential now, then remove it from the file and history."},
        }
        for fmt in FORMATS.values()
    ]
    results = []
    for f in findings:
        if f["status"] != "credential":
            continue
        msg = f"{FORMATS[f['format']].name} {f['redacted']} found"
        if f.get("can"):
            msg += f"; it {f['can']}"
        loc: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": f["path"]},
                "region": {"startLine": f["line"], "startColumn": f["column"]},
            }
        }
        result = {
            "ruleId": f"cfposture-scan/{f['format']}",
            "level": "error" if f.get("live") is not False else "warning",
            "message": {"text": msg},
            "locations": [loc],
            "partialFingerprints": {"secretSha256/v1": f["fingerprint"]},
            "baselineState": "unchanged" if f.get("baselined") else "new",
            "properties": {"commit": f.get("commit")} if f.get("commit") else {},
        }
        if f.get("allowed"):  # SARIF's own word for a cfposture:allow marker in the file
            result["suppressions"] = [{"kind": "inSource", "justification": "cfposture:allow"}]
        results.append(result)
    return dumps(sarif_log("cfposture-scan", INFO_URI, rules, results))


def render(fmt: str, findings: list[dict[str, Any]], summary: dict[str, Any]) -> str | bytes:
    """Text for ``table`` and ``csv``; UTF-8 bytes, ready to write, for ``json`` and ``sarif``."""
    if fmt == "json":
        return as_json(findings, summary)
    if fmt == "csv":
        return as_csv(findings)
    if fmt == "sarif":
        return as_sarif(findings)
    return as_table(findings, summary)
