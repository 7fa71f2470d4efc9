"""Cloudflare credential formats: one small definition each, with a stable id.

The scannable formats (``cfut_``, ``cfat_``, ``cfk_``) carry a checksum: CRC-32 of the 40-character
body, as 8 lowercase hex digits (reference §1.1). A string with the right shape and a wrong
checksum is a *lookalike*, reported as checksum-invalid, never as a token. Legacy tokens and
global keys have no prefix, so they are only recognised next to a keyword (``cloudflare…``,
``CF_…``, or an ``Authorization: Bearer`` header near the word cloudflare).

Patterns work on bytes (files are scanned undecoded). Nothing here imports pandas: ``cfposture
scan`` starts fast and runs where the notebook stack is not installed.
"""

from __future__ import annotations

import re
import zlib

TYPE_CHECKING = False  # not typing's: see cfposture.cli
if TYPE_CHECKING:
    import mmap

SCANNABLE_PREFIXES = {"cfut": "cfut_", "cfat": "cfat_", "cfk": "cfk_"}
_TOKEN_CHARS = rb"A-Za-z0-9_\-"
_NOT_BEFORE = rb"(?<![" + _TOKEN_CHARS + rb"])"
_NOT_AFTER = rb"(?![" + _TOKEN_CHARS + rb"])"

# A keyword, the rest of the identifier (``CLOUDFLARE_API_TOKEN``, ``cloudflareToken``,
# ``var cloudflareToken string``), then an assignment in any of the usual languages:
# = : := ::= :::= ?= .= => , > || (a closing quote may come first, an opening one after).
_KEYWORD = rb"(?i:cloudflare|(?<![a-z0-9])cf_)[\w.\- \t]{0,24}?"
_ASSIGN = rb"[\"'`]?\s{0,4}(?::{0,3}=|\?=|\.=|=>|\|\||[:=,>])\s{0,8}[\"'`]?\s{0,2}"
#: one of these is in every operator _ASSIGN takes, and in no identifier or run of token
#: characters (what ``legacy_on_line`` rests on)
ASSIGN_OPERATOR_CHARS = ":=,>|"
# An HTTP header next to a Cloudflare URL (curl examples): the token follows ``Bearer``.
_HEADER = rb"(?i:cloudflare)[\s\S]{0,160}?(?i:bearer\s+|x-auth-key:\s*)[\"']?"
_LEGACY_VALUE = rb"(?P<value>[" + _TOKEN_CHARS + rb"]{37,45})" + _NOT_AFTER

LEGACY = re.compile(rb"(?:" + _KEYWORD + _ASSIGN + rb"|" + _HEADER + rb")" + _LEGACY_VALUE)
# LEGACY's two branches on their own, for ``legacy_match``
_ASSIGNED = re.compile(rb"(?:" + _KEYWORD + _ASSIGN + rb")" + _LEGACY_VALUE)
_IN_HEADER = re.compile(rb"(?:" + _HEADER + rb")" + _LEGACY_VALUE)
#: where the header branch's marker ends at the latest: cloudflare, 160 bytes, x-auth-key:
_HEADER_REACH = len(b"cloudflare") + 160 + len(b"x-auth-key:")


def legacy_match(buf: bytes | memoryview | mmap.mmap, pos: int) -> re.Match[bytes] | None:
    """``LEGACY.match(buf, pos)``, the same match, faster where the keyword is common.

    Where ``cloudflare`` starts no assignment, LEGACY's header branch tries ``bearer`` and
    ``x-auth-key:`` at each of the next 160 bytes: ~5 µs a keyword, and a tree holding the
    Cloudflare SDK has tens of thousands of them (site-packages: 39,888, 0.2 s of a 0.55 s
    scan). Here the header branch runs only where one of its markers is within reach, which
    it needs to match; the assignment branch runs first, as in LEGACY's alternation, so the
    first match is the one LEGACY finds (a property test holds them equal)."""
    m = _ASSIGNED.match(buf, pos)
    if m is not None:
        return m
    head = bytes(buf[pos : pos + _HEADER_REACH]).lower()
    if head.startswith(b"cloudflare") and (b"bearer" in head or b"x-auth-key:" in head):
        return _IN_HEADER.match(buf, pos)
    return None


def legacy_on_line(text: bytes, line_start: bool) -> re.Match[bytes] | None:
    """LEGACY's match at the keyword ``text`` starts with, where ``text`` alone decides it;
    None where only the file can say (``legacy_match`` there).

    ``text`` is a keyword's run of token characters, then other characters (no newline),
    then a run that ends where its run in the file ends, then at most one character that is
    no token character: what ripgrep prints for ``CLOUDFLARE_API_TOKEN="…"``
    (``cfposture.scan.engine.Engine.rg_patterns``). ``line_start``: ``text`` starts its
    line. A ``cf_`` keyword decides only there: its lookbehind reads the byte before it.

    Why a match in ``text`` is the match in the file. The assignment branch reads the
    keyword, an identifier of ``[\\w.\\- \\t]``, an operator with quotes and spaces
    around it, then a value: a run of 37-45 token characters with no token character after
    it. Every operator holds one of ``ASSIGN_OPERATOR_CHARS``, which neither an identifier
    nor a run can hold, so a match in ``text`` has such a character ``c`` before ``text``'s
    last run. A way through the file that read past ``text`` would have to pass ``c`` in its
    operator and then take that last run, whole, as its value: so it reads no further than
    ``text``. Hence the first way that succeeds in ``text`` is the first in the file, and
    ``legacy_match`` returns it before trying the header branch. Where the assignment
    branch fails in ``text`` the file may still hold a match (the header branch, a value on
    the next line): None. A property test holds this to ``legacy_match`` in the file."""
    if not line_start and text[:3].lower() == b"cf_":
        return None
    return _ASSIGNED.match(text)


_HEX = re.compile(rb"[a-f0-9]+")


class Format:
    """One credential type. ``pattern`` finds it in text; the value is group ``value``.

    ``grants``: what the credential is (user_token, account_token, global_key, oauth,
    origin_ca); ``scannable``: it has a prefix and a checksum; ``pattern`` is None for the
    legacy formats, found through LEGACY (keyword-anchored); ``literals``: what a prefilter
    looks for (case-insensitive where ``keyword``). A plain class, not a dataclass: that
    import is ~8 ms of a scan's start-up (see ``cfposture.scan.engine.Hit``)."""

    __slots__ = ("doc", "grants", "id", "keyword", "literals", "name", "pattern", "scannable")

    def __init__(
        self,
        id: str,
        name: str,
        grants: str,
        scannable: bool,
        pattern: re.Pattern[bytes] | None,
        literals: tuple[bytes, ...],
        keyword: bool = False,
        doc: str = "",
    ) -> None:
        self.id = id
        self.name = name
        self.grants = grants
        self.scannable = scannable
        self.pattern = pattern
        self.literals = literals
        self.keyword = keyword
        self.doc = doc

    def __repr__(self) -> str:
        return f"Format({self.id!r}, {self.name!r})"


def _scannable(fid: str, name: str, grants: str) -> Format:
    prefix = SCANNABLE_PREFIXES[fid].encode()
    rx = (
        _NOT_BEFORE
        + rb"(?P<value>"
        + re.escape(prefix)
        + rb"(?P<body>[A-Za-z0-9]{40})(?P<crc>[a-f0-9]{8}))"
        + _NOT_AFTER
    )
    return Format(
        fid,
        name,
        grants,
        True,
        re.compile(rx),
        (prefix,),
        doc=f"{prefix.decode()} + 40 base62 + CRC-32 of the body as 8 lowercase hex",
    )


FORMATS: dict[str, Format] = {
    f.id: f
    for f in (
        _scannable("cfut", "User API token", "user_token"),
        _scannable("cfat", "Account API token", "account_token"),
        _scannable("cfk", "Global API key (scannable)", "global_key"),
        Format(
            "cfoat",
            "Wrangler OAuth access token",
            "oauth",
            False,
            re.compile(
                _NOT_BEFORE
                + rb"(?P<value>cfoat_[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]{20,})?)"
                + _NOT_AFTER
            ),
            (b"cfoat_",),
            doc="cfoat_ + base64url (shape not documented; public samples are 43.43)",
        ),
        Format(
            "legacy_token",
            "Legacy API token",
            "user_or_account_token",
            False,
            None,
            (b"cloudflare", b"cf_"),
            keyword=True,
            doc="40 of [A-Za-z0-9_-] next to a keyword; all-hex values are left out (SHA-1 ids)",
        ),
        Format(
            "legacy_global_key",
            "Legacy global API key",
            "global_key",
            False,
            None,
            (b"cloudflare", b"cf_"),
            keyword=True,
            doc="37-45 lowercase hex (not 40: a SHA-1 commit id) next to a keyword",
        ),
        Format(
            "origin_ca_key",
            "Origin CA key",
            "origin_ca",
            False,
            re.compile(
                rb"(?<![A-Za-z0-9_.\-])(?P<value>v1\.0-(?:[a-z0-9]{24}-[a-f0-9]{146}"
                rb"|[a-f0-9]{64}-[a-f0-9]{128}-[a-f0-9]{64}))" + _NOT_AFTER
            ),
            (b"v1.0-",),
            doc="v1.0- + 24 + 146 hex (also the 64-128-64 hex shape some tools document)",
        ),
    )
}


def checksum(body: str | bytes) -> str:
    """The checksum a scannable token carries for this 40-character body."""
    raw = body.encode("ascii") if isinstance(body, str) else body
    return f"{zlib.crc32(raw):08x}"


def is_valid_checksum(value: str) -> bool:
    """True when ``value`` has a scannable shape and its last 8 characters are the CRC-32 of
    the 40-character body. Offline: the CRC only catches typos and lookalikes, it proves
    nothing about whether the token is live (``cfposture scan --verify`` asks the API)."""
    for prefix in SCANNABLE_PREFIXES.values():
        if value.startswith(prefix):
            rest = value[len(prefix) :]
            return (
                len(rest) == 48
                and rest[:40].isascii()
                and rest[:40].isalnum()
                and bool(re.fullmatch(r"[a-f0-9]{8}", rest[40:]))
                and checksum(rest[:40]) == rest[40:]
            )
    return False


def legacy_kind(value: bytes) -> str | None:
    """Which legacy format a keyword-anchored value is, or None (wrong length, a SHA-1)."""
    if _HEX.fullmatch(value):
        return "legacy_global_key" if 37 <= len(value) <= 45 and len(value) != 40 else None
    return "legacy_token" if len(value) == 40 else None


class Classification:
    """What ``classify`` says of a value: ``format``, a FORMATS id or None (no known
    credential); ``checksum_valid``, None for formats without a checksum. Equal, and hashed
    alike, when both are."""

    __slots__ = ("checksum_valid", "format")

    def __init__(self, format: str | None, checksum_valid: bool | None) -> None:
        self.format = format
        self.checksum_valid = checksum_valid

    def __repr__(self) -> str:
        return f"Classification(format={self.format!r}, checksum_valid={self.checksum_valid!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Classification):
            return NotImplemented
        return (self.format, self.checksum_valid) == (other.format, other.checksum_valid)

    def __hash__(self) -> int:
        return hash((self.format, self.checksum_valid))

    @property
    def is_credential(self) -> bool:
        return self.format is not None and self.checksum_valid is not False


def classify(value: str) -> Classification:
    """What credential ``value`` is, taken on its own (no keyword needed: the caller says it
    is a credential). A scannable shape with a wrong checksum keeps its format id with
    ``checksum_valid=False``: a lookalike, not a token."""
    raw = value.strip().encode("utf-8", "surrogateescape")
    for fid, prefix in SCANNABLE_PREFIXES.items():
        if value.startswith(prefix):
            m = FORMATS[fid].pattern.fullmatch(raw)  # type: ignore[union-attr]
            if m is None:
                return Classification(None, None)
            return Classification(fid, checksum(m["body"]) == m["crc"].decode())
    for fid in ("cfoat", "origin_ca_key"):
        if FORMATS[fid].pattern.fullmatch(raw):  # type: ignore[union-attr]
            return Classification(fid, None)
    if re.fullmatch(rb"[" + _TOKEN_CHARS + rb"]+", raw):
        return Classification(legacy_kind(raw), None)
    return Classification(None, None)


def fingerprint(value: str | bytes) -> str:
    """sha256 of the value: safe to store and compare, impossible to use. hashlib is
    imported here, not above: loading OpenSSL is ~3 ms of a scan's start-up, and a scan's
    first fingerprint comes after ripgrep has started (``cfposture.scan`` binds sha256 once
    a file). ``import hashlib``, not ``from hashlib import sha256``: 0.6 µs a call, not 1.2."""
    import hashlib

    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return hashlib.sha256(raw).hexdigest()


_SHOWN_PREFIXES = (*SCANNABLE_PREFIXES.values(), "cfoat_", "v1.0-")  # redact keeps them whole


def redact(value: str | bytes) -> str:
    """``cfut_ab…c3``: the prefix, two characters after it and the last two. Enough to tell
    tokens apart in a report, far too little to use."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    head = ""
    if text.startswith(_SHOWN_PREFIXES):  # one call; a legacy value has no prefix
        for prefix in _SHOWN_PREFIXES:
            if text.startswith(prefix):
                head, text = prefix, text[len(prefix) :]
                break
    if len(text) < 12:
        return head + "…"
    return f"{head}{text[:2]}…{text[-2:]}"


#: how much of a value ``redact`` shows before the ellipsis, by format: its prefix and two
_SHOWN_HEAD = {
    fid: len(SCANNABLE_PREFIXES.get(fid, "")) + 2
    for fid in (*SCANNABLE_PREFIXES, "legacy_token", "legacy_global_key")
}


def redact_decided(value: bytes, fmt: str) -> str:
    """``redact(value)`` for a value the scanner decided was a ``fmt`` from ripgrep's line
    (a whole token, a legacy value: ASCII, longer than 12 after its prefix), in a third of
    the time: a scan makes thousands (a test holds the two equal)."""
    text = value.decode()
    return f"{text[: _SHOWN_HEAD[fmt]]}…{text[-2:]}"
