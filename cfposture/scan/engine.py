"""Find credentials in a buffer: a literal prefilter, then exact patterns anchored at hits.

The prefilter looks only for the literals each format starts with (``cfut_``, ``v1.0-``, the
keywords ``cloudflare``/``cf_`` case-insensitively). With Hyperscan (Vectorscan's API, the
``hyperscan`` wheel) that runs at gigabytes per second and releases the GIL, so threads scan
files in parallel; without it a single ``re`` alternation does the same job, slower. Each
literal hit is then checked by the exact pattern of :mod:`cfposture.formats` *anchored* where
the literal starts (``Pattern.match(buf, pos)``, which still sees the byte before it for the
boundary check), so Python's regex engine never searches: its cost is per hit, not per byte.
"""

from __future__ import annotations

import mmap
import re
import threading
import zlib
from collections.abc import Callable

from ..formats import (
    _TOKEN_CHARS,
    ASSIGN_OPERATOR_CHARS,
    FORMATS,
    checksum,
    legacy_kind,
    legacy_match,
)

TYPE_CHECKING = False  # not typing's: see cfposture.cli
if TYPE_CHECKING:
    from typing import Any

Buffer = bytes | memoryview | mmap.mmap
Matcher = Callable[[Buffer, int], "re.Match[bytes] | None"]


_HS: list[Any] = []
SEEN_AT_MOST = 4096  # distinct matches literals_in remembers (a few hundred KB at most)


def _hyperscan() -> Any:
    """The hyperscan module, imported on first use (a ripgrep scan never loads it), or None
    where the wheel is not installed."""
    if not _HS:
        try:
            import hyperscan
        except ImportError:  # pragma: no cover - platforms without the wheel
            hyperscan = None
        _HS.append(hyperscan)
    return _HS[0]


class Hit:
    """One credential (or lookalike) at ``[start, end)`` of the buffer. ``value`` is held for
    the fingerprint and ``--verify``, never shown: not in the repr, never written anywhere.

    The scanner's records are plain classes with slots, not dataclasses: importing
    dataclasses and decorating seven classes took ~10 ms of a scan's start-up, before ripgrep
    can start (benchmarks/README, Scanner, sixteenth session)."""

    __slots__ = ("checksum_valid", "end", "format", "start", "value")

    def __init__(
        self, format: str, start: int, end: int, checksum_valid: bool | None, value: bytes
    ) -> None:
        self.format = format
        self.start = start
        self.end = end
        self.checksum_valid = checksum_valid
        self.value = value

    def __repr__(self) -> str:
        return f"Hit({self.format!r}, {self.start}, {self.end}, {self.checksum_valid})"


def _literals() -> list[tuple[bytes, bool]]:
    seen: dict[bytes, bool] = {}
    for f in FORMATS.values():
        for lit in f.literals:
            seen[lit] = f.keyword
    return sorted(seen.items())


class Engine:
    """Compiled once, shared by threads (each gets its own Hyperscan scratch space)."""

    def __init__(self, *, use_hyperscan: bool = True) -> None:
        self._lits = _literals()
        # the scannable formats' prefixes, whose whole run ``run_token`` decides
        self._prefixes = {lit: f.id for f in FORMATS.values() if f.scannable for lit in f.literals}
        self._run_rx = re.compile(
            b"(%s)([A-Za-z0-9]{40})([a-f0-9]{8})" % b"|".join(map(re.escape, self._prefixes))
        )
        self._chunk_rx: re.Pattern[bytes] | None = None
        # what literals_in found in a match, by the match: a tree that holds the Cloudflare SDK
        # prints ``cloudflare`` 28,000 times and ``cloudflare-python`` 4,000 (site-packages)
        self._seen: dict[bytes, tuple[tuple[int, int], ...]] = {
            lit: ((i, 0),) for i, (lit, _) in enumerate(self._lits)
        }
        self._whole_kw = {lit: ((i, 0),) for i, (lit, kw) in enumerate(self._lits) if kw}
        #: the bytes a keyword may start with, in either case (rg_patterns' assignments)
        self.keyword_first = bytes(
            sorted({c for lit, kw in self._lits if kw for c in lit[:1].lower() + lit[:1].upper()})
        )
        # which exact patterns to try where a literal starts: one match per hit, no search
        self._check: list[list[tuple[str | None, Matcher]]] = []
        for lit, keyword in self._lits:
            if keyword:
                self._check.append([(None, legacy_match)])
            else:
                self._check.append(
                    [
                        (f.id, f.pattern.match)
                        for f in FORMATS.values()
                        if lit in f.literals and f.pattern
                    ]
                )
        self._want_hs = use_hyperscan
        self._db: Any = None  # compiled on first use: a ripgrep scan never needs it
        self._rx: re.Pattern[bytes] | None = None
        self._local = threading.local()
        self._compile_lock = threading.Lock()

    @property
    def backend(self) -> str:
        """``hyperscan`` where the wheel is installed (and wanted), else ``re``."""
        return "hyperscan" if (self._want_hs and _hyperscan() is not None) else "re"

    def _compile(self) -> None:
        with self._compile_lock:
            if self._db is not None or self._rx is not None:
                return
            hs = _hyperscan()
            if self.backend == "hyperscan":
                db = hs.Database(mode=hs.HS_MODE_BLOCK)
                db.compile(
                    expressions=[re.escape(lit) for lit, _ in self._lits],
                    ids=list(range(len(self._lits))),
                    elements=len(self._lits),
                    flags=[hs.HS_FLAG_CASELESS if kw else 0 for _, kw in self._lits],
                )
                self._db = db
            else:
                self._rx = self._alternation()

    def _alternation(self) -> re.Pattern[bytes]:
        """Every literal in one ``re`` alternation; group ``l<i>`` is literal ``i``."""
        alts = [
            b"(?P<l%d>%s%s)" % (i, b"(?i:" if kw else b"(?:", re.escape(lit) + b")")
            for i, (lit, kw) in enumerate(self._lits)
        ]
        return re.compile(b"|".join(alts))

    def literal_starts(self, buf: Buffer) -> list[tuple[int, int]]:
        """(literal index, start offset) of every prefilter literal in ``buf``."""
        if self._db is None and self._rx is None:
            self._compile()
        if self._rx is not None:
            return [(int(m.lastgroup[1:]), m.start()) for m in self._rx.finditer(buf)]
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hyperscan().Scratch(self._db)
        lits = self._lits
        out: list[tuple[int, int]] = []
        self._db.scan(
            buf,
            match_event_handler=lambda i, _f, to, _fl, _c: out.append((i, to - len(lits[i][0]))),
            scratch=scratch,
        )
        return out

    def rg_patterns(self) -> list[str]:
        """The prefilter as ripgrep patterns, each literal widened to the run of token
        characters around it (``[A-Za-z0-9_-]``, where every format's boundary check looks).

        A scannable prefix takes in the whole run, from its first byte: a run that is exactly
        a token's shape is then decided from ripgrep's line alone, with no read of the file
        (``run_token``). Every other literal takes in the rest of its run, so that no match
        ends inside a run and the next match always starts where a run starts. The literals
        inside a match are found again in Python (``literals_in``) and checked as before.

        A keyword's run takes in, where its line goes on with an operator (``=``, ``:`` …),
        what an assignment's value would be: the characters up to the next run, that run, and
        the character after it unless that is a dot (``v1.0-`` could start there) or the
        line's end. Such a line is then decided from what ripgrep printed
        (``formats.legacy_on_line``), with no read of the file. Only where an operator follows:
        most keywords in code are names (``from cloudflare import …``), and checking those
        twice cost a tree holding the Cloudflare SDK 50 ms (benchmarks/README)."""
        chars = _TOKEN_CHARS.decode()
        run = f"[{chars}]*"
        lits = [(re.escape(lit.decode()), kw, lit in self._prefixes) for lit, kw in self._lits]
        scannable = "|".join(lit for lit, _, pre in lits if pre)
        cased = "|".join(lit for lit, kw, pre in lits if not kw and not pre)
        caseless = "|".join(lit for lit, kw, _ in lits if kw)
        # (?-u): any byte but those, as Python's bytes patterns read them, even where the
        # file is not UTF-8
        ops = re.escape(ASSIGN_OPERATOR_CHARS)
        value = (
            rf"(?:(?-u:[^{chars}\n{ops}])*[{ops}](?-u:[^{chars}\n])*"
            rf"[{chars}]+(?-u:[^{chars}.\n]|$))?"
        )
        return [
            f"{run}(?:{scannable}){run}",
            f"(?:{cased}){run}",
            f"(?i:{caseless}){run}{value}",
        ]

    def literals_in(self, text: bytes) -> tuple[tuple[int, int], ...]:
        """(literal index, offset) of each literal in a match ripgrep printed: a run may hold
        more than one (``CLOUDFLARE_cfut_…``), and each is checked, as the in-process engines
        check every literal they find."""
        got = self._seen.get(text)
        if got is not None:
            return got
        got = self._whole_kw.get(text.lower())  # a keyword alone, in another case
        if got is None:
            if self._chunk_rx is None:
                self._chunk_rx = self._alternation()
            got = tuple((int(m.lastgroup[1:]), m.start()) for m in self._chunk_rx.finditer(text))
        if len(self._seen) < SEEN_AT_MOST:
            self._seen[text] = got
        return got

    def run_token(self, text: bytes) -> tuple[str, bool] | None:
        """(format id, checksum valid) of the scannable token or lookalike that ``text``, a
        whole run of token characters, is; None if it is none. A token's boundaries are its
        run's, so matching the run whole is the same test as the format's exact pattern
        anchored in the file (a test holds the two to it)."""
        m = self._run_rx.fullmatch(text)
        if m is None:
            return None
        prefix, body, crc = m.groups()
        return self._prefixes[prefix], zlib.crc32(body) == int(crc, 16)

    def check(self, buf: Buffer, start: int, i: int, base: int = 0) -> list[Hit]:
        """The credentials whose literal ``i`` starts at ``start`` (anchored matches), placed
        at ``base`` + their offset in ``buf`` (a window's place in its file)."""
        out = []
        for fid, match in self._check[i]:
            m = match(buf, start)
            if m is None:
                continue
            value = m["value"]
            kind: str | None = fid
            if kind is None:
                kind = legacy_kind(value)
                if kind is None:
                    continue
                valid = None
            elif FORMATS[kind].scannable:
                valid = checksum(m["body"]) == m["crc"].decode()
            else:
                valid = None
            start_at, end_at = m.span("value")
            out.append(Hit(kind, base + start_at, base + end_at, valid, bytes(value)))
        return out

    def find(self, buf: Buffer, size: int | None = None) -> list[Hit]:
        """Every credential in ``buf``, in order of position. ``size`` is accepted for callers
        that know it; the exact patterns run on the whole buffer, anchored at each literal."""
        hits: dict[tuple[int, int], Hit] = {}
        for i, start in self.literal_starts(buf):
            for h in self.check(buf, start, i):
                hits.setdefault((h.start, h.end), h)
        return sorted(hits.values(), key=lambda h: h.start)


def scan_text(text: str | bytes, engine: Engine | None = None) -> list[Hit]:
    """Convenience for one string (tests, notebooks)."""
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return (engine or Engine()).find(raw, len(raw))
