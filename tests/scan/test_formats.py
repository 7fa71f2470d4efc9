"""Format definitions, table-driven: true positives, near misses, legacy context."""

from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfposture.formats import (
    FORMATS,
    Classification,
    checksum,
    classify,
    fingerprint,
    is_valid_checksum,
    legacy_kind,
    legacy_match,
    legacy_on_line,
    redact,
)
from cfposture.formats import LEGACY as LEGACY_RX
from cfposture.scan.engine import Engine, scan_text

BODY = "qYcUCSeYdDKMNp3XcYRJbY4p99O42Q70hq8BqeFJ"  # reference §1.1, a generated example
GOOD = {p: f"{p}_{BODY}{zlib.crc32(BODY.encode()):08x}" for p in ("cfut", "cfat", "cfk")}
BAD = {p: v[:-8] + "00000000" for p, v in GOOD.items()}
LEGACY = "YQSn-xWAQiiEh9qM58wZNnyQS7FUdoqGIUAbrh7T"  # Cloudflare's own docs example
GLOBAL = "d3d1443e0adc9c24564c6c5676d679d47e2ca"  # 37 hex
ORIGIN = "v1.0-" + "a1" * 12 + "-" + "0f" * 73
CFOAT = "cfoat_" + "A" * 43 + "." + "b_" * 21 + "c"

ENGINES = [pytest.param(True, id="hyperscan"), pytest.param(False, id="re")]


def found(text: str, use_hyperscan: bool = True) -> list[tuple[str, str, bool | None]]:
    return [
        (h.format, h.value.decode(), h.checksum_valid)
        for h in scan_text(text, Engine(use_hyperscan=use_hyperscan))
    ]


def test_reference_examples_have_valid_checksums() -> None:
    for v in (
        "cfk_p3yiU5ZyNidG0gfC2wf00s09fdwYboMM7DayWFYvba78282b",
        "cfut_qYcUCSeYdDKMNp3XcYRJbY4p99O42Q70hq8BqeFJb4503d62",
        "cfat_e4NQDao3VZEZLPofY4F4fkcD9a8bXVibkHRdGdJq5081a19c",
    ):
        assert is_valid_checksum(v)
        assert classify(v).is_credential
    assert checksum(BODY) == GOOD["cfut"][-8:]


@pytest.mark.parametrize(
    ("value", "fmt", "valid"),
    [
        (GOOD["cfut"], "cfut", True),
        (GOOD["cfat"], "cfat", True),
        (GOOD["cfk"], "cfk", True),
        (BAD["cfut"], "cfut", False),  # right shape, wrong checksum: a lookalike
        (BAD["cfk"], "cfk", False),
        (GOOD["cfut"].upper(), None, None),  # CFUT_ is not the prefix
        (GOOD["cfut"][:-1], None, None),  # checksum 7 characters
        (GOOD["cfut"] + "a", None, None),  # 49 after the prefix
        ("cfut_" + BODY[:-1] + "-" + GOOD["cfut"][-8:], None, None),  # alphabet: no '-'
        ("cfut_" + BODY + "ABCDEF12", None, None),  # checksum must be lowercase hex
        (LEGACY, "legacy_token", None),
        (GLOBAL, "legacy_global_key", None),
        ("A" * 40, "legacy_token", None),
        ("a" * 40, None, None),  # all lowercase hex: treated as a SHA-1 id
        ("0123456789abcdef0123456789abcdef01234567", None, None),  # a SHA-1, not a token
        (ORIGIN, "origin_ca_key", None),
        (CFOAT, "cfoat", None),
        ("hello world", None, None),
    ],
)
def test_classify(value: str, fmt: str | None, valid: bool | None) -> None:
    c = classify(value)
    assert (c.format, c.checksum_valid) == (fmt, valid)
    assert is_valid_checksum(value) is (valid is True)
    # a value object, as it was as a frozen dataclass: equal and hashed alike by its fields
    assert c == Classification(fmt, valid) and hash(c) == hash(Classification(fmt, valid))
    assert c != Classification("cfut" if fmt != "cfut" else "cfat", valid)
    assert repr(c) == f"Classification(format={fmt!r}, checksum_valid={valid!r})"


@pytest.mark.parametrize("use_hyperscan", ENGINES)
@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (f'token = "{GOOD["cfut"]}"', [("cfut", GOOD["cfut"], True)]),
        (f"Bearer {GOOD['cfat']}\n", [("cfat", GOOD["cfat"], True)]),
        (f"KEY={GOOD['cfk']}", [("cfk", GOOD["cfk"], True)]),
        (f"x={BAD['cfut']}", [("cfut", BAD["cfut"], False)]),  # reported as a lookalike
        (f"x{GOOD['cfut']}", []),  # prefix inside a longer word
        (f"_{GOOD['cfut']}", []),
        (f"-{GOOD['cfut']}", []),
        (f"{GOOD['cfut']}Z", []),
        (f"{GOOD['cfut']}_", []),
        (f"{GOOD['cfut']}.", [("cfut", GOOD["cfut"], True)]),  # end of a sentence
        (f"CLOUDFLARE_API_TOKEN={LEGACY}", [("legacy_token", LEGACY, None)]),
        (f'cloudflareToken := "{LEGACY}"', [("legacy_token", LEGACY, None)]),
        (f"<cloudflareToken>\n    {LEGACY}\n</cloudflareToken>", [("legacy_token", LEGACY, None)]),
        (f'CF_API_KEY: "{LEGACY}"', [("legacy_token", LEGACY, None)]),
        (f"API_TOKEN={LEGACY}", []),  # no Cloudflare keyword: a legacy token is unrecognisable
        (LEGACY, []),
        (f"CLOUDFLARE_API_TOKEN={LEGACY}x", []),  # 41 characters
        (f"CLOUDFLARE_API_TOKEN={LEGACY[:-1]}", []),  # 39
        (f"CLOUDFLARE_API_TOKEN{LEGACY}", []),  # no separator
        ("cloudflare_sha = 0123456789abcdef0123456789abcdef01234567", []),  # a commit id
        (f'cloudflare_global_api_key = "{GLOBAL}"', [("legacy_global_key", GLOBAL, None)]),
        (f"the cloudflare keyword is not close to the key, id = {GLOBAL}", []),
        (
            'curl "https://api.cloudflare.com/client/v4/user/tokens/verify" \\\n'
            f'  -H "Authorization: Bearer {LEGACY}"',
            [("legacy_token", LEGACY, None)],
        ),
        (f"X-Auth-User-Service-Key: {ORIGIN}", [("origin_ca_key", ORIGIN, None)]),
        (f"key: {ORIGIN}0", []),
        (f"wrangler token {CFOAT}", [("cfoat", CFOAT, None)]),
        ("", []),
    ],
)
def test_scan_text(text: str, expect: list, use_hyperscan: bool) -> None:
    assert found(text, use_hyperscan) == expect


@pytest.mark.parametrize("use_hyperscan", ENGINES)
def test_many_hits_across_merged_windows(use_hyperscan: bool) -> None:
    """Hits close together share a window; far apart they do not; all are found once."""
    parts = []
    for i in range(300):
        parts.append("x" * (i * 7 % 900))
        parts.append(f"t{i} = {GOOD['cfut'] if i % 2 else BAD['cfat']}\n")
    hits = found("".join(parts), use_hyperscan)
    assert len(hits) == 300
    assert sum(1 for h in hits if h[2]) == 150


def test_every_format_is_described() -> None:
    for f in FORMATS.values():
        assert f.doc and f.literals and f.name
    assert set(FORMATS) == {
        "cfut",
        "cfat",
        "cfk",
        "cfoat",
        "legacy_token",
        "legacy_global_key",
        "origin_ca_key",
    }


def test_redact_and_fingerprint_hide_the_value() -> None:
    r = redact(GOOD["cfut"])
    assert r == f"cfut_{BODY[:2]}…{GOOD['cfut'][-2:]}"
    assert len(r.replace("…", "")) < 12
    assert redact(LEGACY) == "YQ…7T"
    assert fingerprint(GOOD["cfut"]) == fingerprint(GOOD["cfut"].encode())
    assert GOOD["cfut"] not in fingerprint(GOOD["cfut"])


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (GOOD["cfat"], f"cfat_{BODY[:2]}…{GOOD['cfat'][-2:]}"),
        (GOOD["cfk"].encode(), f"cfk_{BODY[:2]}…{GOOD['cfk'][-2:]}"),
        (CFOAT, "cfoat_AA…_c"),
        (ORIGIN, "v1.0-a1…0f"),
        (GLOBAL, "d3…ca"),
        ("cfut_short", "cfut_…"),  # too little left after the prefix to show any of it
        ("cf_" + "x" * 40, "cf…xx"),  # cf_ is a keyword, not a prefix redact keeps
    ],
)
def test_redact_keeps_each_formats_prefix_whole(value: str | bytes, shown: str) -> None:
    assert redact(value) == shown


@given(
    fmt=st.sampled_from(["cfut", "cfat", "cfk", "legacy_token", "legacy_global_key"]),
    body=st.text(alphabet="abcdefXYZ0189_-", min_size=40, max_size=45),
)
def test_a_decided_value_is_redacted_as_redact_does_it(fmt: str, body: str) -> None:
    """``redact_decided``, the scanner's short cut for values decided from ripgrep's line."""
    from cfposture.formats import SCANNABLE_PREFIXES, redact_decided

    value = (SCANNABLE_PREFIXES.get(fmt, "") + body).encode()
    assert redact_decided(value, fmt) == redact(value)


# Pieces of text around a keyword: what decides whether LEGACY matches (the keyword in any
# case, assignments, quotes, headers, values of the right and wrong lengths, line breaks).
PIECES = [
    "cloudflare", "CloudFlare", "CLOUDFLARE", "cf_", "CF_", "xcf_", "_api_token", "Token",
    " ", "\t", "\n", "  ", "=", ":", ":=", "=>", ",", ">", "||", "?=", ".=", "::=", '"', "'",
    "`", "Bearer ", "bearer\t", "BEARER", "X-Auth-Key:", "x-auth-key: ", "-H ",
    "Authorization: ", "curl https://api.cloudflare.com/client/v4 ", LEGACY, LEGACY[:37],
    LEGACY + "x", GLOBAL, "0" * 40, "a" * 160, "-", ".", "#", "é", "\r", ";",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14), st.binary(max_size=6))
def test_legacy_match_finds_what_the_legacy_pattern_finds(parts: list[str], noise: bytes):
    """``legacy_match`` skips the header branch where no marker is within its reach and
    tries the branches one by one: at every keyword it must find LEGACY's match, no other."""
    text = noise + "".join(parts).encode()
    starts = {m.start() for m in re.finditer(rb"(?i:cloudflare|cf_)", text)}
    for buf in (text, memoryview(text)):
        for pos in starts:
            want, got = LEGACY_RX.match(buf, pos), legacy_match(buf, pos)
            assert (want and (want.span(), want.span("value"))) == (
                got and (got.span(), got.span("value"))
            ), (text, pos)


def test_a_keyword_far_from_any_header_marker_still_matches_its_header():
    """The reach: a marker ending exactly where the header branch can still see it."""
    gap = "x" * (160 - len("Authorization: "))
    text = f"cloudflare{gap}Authorization: Bearer {LEGACY}".encode()
    assert LEGACY_RX.match(text, 0) is not None
    m = legacy_match(text, 0)
    assert m is not None and m["value"].decode() == LEGACY
    far = f"cloudflare{gap}xAuthorization: Bearer {LEGACY}".encode()  # one byte too far
    assert LEGACY_RX.match(far, 0) is None and legacy_match(far, 0) is None


def test_where_both_branches_match_the_assignment_wins_as_in_legacy():
    other = LEGACY[::-1]
    text = f'cloudflare_api_token={LEGACY} curl -H "Authorization: Bearer {other}"'.encode()
    assert LEGACY_RX.match(text, 0)["value"].decode() == LEGACY
    assert legacy_match(text, 0)["value"].decode() == LEGACY


# ripgrep's match at a keyword (Engine.rg_patterns), in Python's syntax: the keyword's run,
# then, where its line goes on with an operator, an assignment's value and the character
# after it (not a dot, not the line's end: ripgrep's ``$``)
_RUN = rb"[A-Za-z0-9_\-]"
RG_KEYWORD = re.compile(
    rb"(?i:cf_|cloudflare)" + _RUN + rb"*(?:[^A-Za-z0-9_\-\n:=,>|]*[:=,>|][^A-Za-z0-9_\-\n]*"
    + _RUN + rb"+(?:[^A-Za-z0-9_\-.\n]|(?=\n)|\Z))?"
)  # fmt: skip


def _on_line(text: bytes, pos: int) -> re.Match[bytes] | None:
    """``legacy_on_line`` for the keyword at ``pos``, on what ripgrep prints for it (None
    where that is the keyword's run alone: nothing to decide from)."""
    printed = RG_KEYWORD.match(text, pos)
    assert printed is not None
    shown = printed.group()
    if re.fullmatch(_RUN + rb"+", shown):
        return None
    return legacy_on_line(shown, pos == 0 or text[pos - 1 : pos] == b"\n")


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14), st.binary(max_size=6))
def test_an_assignment_decided_on_its_line_is_the_match_in_the_file(
    parts: list[str], noise: bytes
) -> None:
    """What ``legacy_on_line`` decides from ripgrep's text alone is what ``legacy_match``
    finds at the keyword in the whole text: the same value, in the same place."""
    text = noise + "".join(parts).encode()
    for k in re.finditer(rb"(?i:cloudflare|cf_)", text):
        got = _on_line(text, k.start())
        if got is not None:
            want = legacy_match(text, k.start())
            assert want is not None, (text, k.start())
            assert want.span("value") == tuple(k.start() + i for i in got.span("value"))


@pytest.mark.parametrize(
    ("line", "value"),
    [
        (f"CLOUDFLARE_API_TOKEN={LEGACY}", LEGACY),
        (f'  "cloudflare_api_token": "{LEGACY}",', LEGACY),
        (f"cloudflareKey := '{GLOBAL}' # global key", GLOBAL),
        (f"CF_API_TOKEN={LEGACY}\r", LEGACY),  # a cf_ keyword that starts its line
        (f"CLOUDFLARE_API_TOKEN={LEGACY}\xff", LEGACY),  # not UTF-8 after it
        (f"cloudflare_sha = {'0' * 40}", None),  # 40 hex: a commit id, no credential
        # and these only the file can decide: ripgrep's text says nothing of them
        (f"export CF_API_TOKEN={LEGACY}", "file"),  # the byte before cf_ is not in it
        (f"CLOUDFLARE_KEY=v1.0-{GLOBAL}", "file"),  # no value after the dot: v1.0- may start
        (f"cloudflare_api_token = {LEGACY}.", "file"),  # a dot after the value: not taken in
        (f"cloudflare.api_token = {LEGACY}", "file"),  # taken in: the run after the keyword's
        (f"CLOUDFLARE_API_TOKEN =\n  {LEGACY}", "file"),  # the value on the next line
    ],
)
def test_what_an_assignment_on_a_keywords_line_decides(line: str, value: str | None) -> None:
    text = line.encode("latin-1")
    pos = re.search(rb"(?i:cloudflare|cf_)", text).start()
    got, want = _on_line(text, pos), legacy_match(text, pos)
    if value == "file":
        assert got is None
    else:  # decided: a value, or no credential at all
        assert got is not None
        assert (got["value"].decode() if legacy_kind(got["value"]) else None) == value
        assert (want and legacy_kind(want["value"]) and want["value"].decode()) == value
