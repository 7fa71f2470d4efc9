"""Other scanners' own Cloudflare test cases (../shared/testdata), as a conformance suite.

The peers' expectations are the bar, with three kinds of documented exception:
* section A: a scannable token with a wrong CRC is reported as a *lookalike*, not a token;
* negatives a peer scopes to one of its rules (``expectation_scope``) do not bind a scanner;
* DISAGREE below: where peers contradict each other or the reference, and what cfposture chose.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cfposture.scan.engine import Engine

HERE = Path(__file__).resolve()
CANDIDATES = [
    os.environ.get("CFPOSTURE_PEER_CASES", ""),
    HERE.parents[3] / "shared/testdata/peer-scanner-cases.json",
    "/work/shared/testdata/peer-scanner-cases.json",
]

DISAGREE = {
    11: "trufflehog v1 needs a valid e-mail next to a global key; a key is a leak without one",
    216: "kingfisher's cfut_ example has 41 characters after the prefix, not 40 + 8",
    218: "titus expects a 42-character legacy token; legacy tokens are 40 (reference §1.4)",
    255: "keyshade expects a bare 40-character string; osv-scalibr (case 203) and the design say"
    " legacy tokens are only recognisable next to a keyword",
    256: "keyshade: 37 characters of [a-z0-9] without context; global keys are hex",
    258: "keyshade: as 256",
    260: "keyshade: as 256",
}


def _cases() -> list[dict]:
    for c in CANDIDATES:
        if c and Path(c).is_file():
            return json.loads(Path(c).read_text())["cases"]
    return []


CASES = _cases()


def _found(engine: Engine, text: str) -> dict[str, tuple[str, bool | None]]:
    raw = text.encode()
    return {h.value.decode(): (h.format, h.checksum_valid) for h in engine.find(raw, len(raw))}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def test_suite_is_present() -> None:
    assert len(CASES) == 267, (
        "peer-scanner-cases.json not found: set CFPOSTURE_PEER_CASES to its path"
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"case{c['case_id']}")
def test_peer_case(case: dict, engine: Engine) -> None:
    if case["case_id"] in DISAGREE:
        pytest.xfail(DISAGREE[case["case_id"]])
    found = _found(engine, case["input"])
    secrets = case["secret"] if isinstance(case["secret"], list) else [case["secret"]]
    if case["peer_expects_detection"]:
        for s in filter(None, secrets):
            assert s in found, f"missed {case['kind']}"
            fmt, valid = found[s]
            assert fmt == case["kind"]
            # section A: the peer expects a token; we report the same value as a lookalike
            assert valid is (case["checksum_valid"] if fmt in ("cfut", "cfat", "cfk") else None)
    elif not case.get("expectation_scope"):
        assert [v for v, (_, ok) in found.items() if ok is not False] == []
    for cand in case.get("scannable_candidates", []):  # every delimited candidate, judged
        edges = (cand["char_before"] or " ") + (cand["char_after"] or " ")
        if cand["delimited"] and not set(edges) & {"-", "_"}:
            assert found[cand["candidate"]][1] is cand["checksum_valid"]


def test_disagreements_still_disagree(engine: Engine) -> None:
    """If a documented exception starts passing, the note above is stale: update it."""
    by_id = {c["case_id"]: c for c in CASES}
    for cid in DISAGREE:
        c = by_id[cid]
        secrets = c["secret"] if isinstance(c["secret"], list) else [c["secret"]]
        found = _found(engine, c["input"])
        ok = (
            all(s in found for s in secrets if s)
            if c["peer_expects_detection"]
            else not [v for v, (_, k) in found.items() if k is not False]
        )
        assert not ok, f"case {cid} now agrees with the peer; drop it from DISAGREE"


def test_file_engines_agree_on_every_case(tmp_path) -> None:
    """The same 267 inputs as files: ripgrep's walk plus windowed checks finds exactly what the
    in-process engines find (format, position, checksum verdict)."""
    from cfposture.scan import scan

    assert CASES
    for c in CASES:
        (tmp_path / f"case{c['case_id']:03d}.txt").write_text(c["input"])

    def key(use_rg: bool, hs: bool = True) -> list:
        res = scan([tmp_path], use_rg=use_rg, engine=Engine(use_hyperscan=hs))
        return [(f["path"], f["line"], f["column"], f["format"], f["status"], f["fingerprint"])
                for f in res.findings]  # fmt: skip

    via_rg = key(True)
    assert via_rg == key(False) == key(False, hs=False)
    assert len(via_rg) > 200
