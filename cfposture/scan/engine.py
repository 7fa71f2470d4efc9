"""Find credentials in a buffer: a literal prefilter, then the exact patterns on small windows.

The prefilter looks only for the literals each format starts with (``cfut_``, ``v1.0-``, the
keywords ``cloudflare``/``cf_`` case-insensitively). With Hyperscan (Vectorscan's API, the
``hyperscan`` wheel) that runs at gigabytes per second and releases the GIL, so threads scan
files in parallel; without it a single ``re`` alternation does the same job, slower. Only the
windows around literal hits (a few hundred bytes each) meet the exact patterns of
:mod:`cfposture.formats`, so the cost of Python regexes is paid per hit, not per byte.
"""

from __future__ import annotations

import mmap
import re
import threading
from dataclasses import dataclass, field

from ..formats import FORMATS, LEGACY, checksum, legacy_kind

Buffer = bytes | memoryview | mmap.mmap

BEFORE = 96  # bytes of context kept before a literal (lookbehinds, the keyword itself)
AFTER = 640  # after it: the longest pattern (an Origin CA key, a header 160 bytes on) fits

try:  # pragma: no cover - exercised whenever the wheel is installed (Linux x86_64)
    import hyperscan
except ImportError:  # pragma: no cover
    hyperscan = None


@dataclass(frozen=True)
class Hit:
    """One credential (or lookalike) at ``[start, end)`` of the buffer."""

    format: str
    start: int
    end: int
    checksum_valid: bool | None
    value: bytes = field(repr=False, compare=False)  # never written anywhere; see scan.report


def _literals() -> list[tuple[bytes, bool]]:
    seen: dict[bytes, bool] = {}
    for f in FORMATS.values():
        for lit in f.literals:
            seen[lit] = f.keyword
    return sorted(seen.items())


class Engine:
    """Compiled once, shared by threads (each gets its own Hyperscan scratch space)."""

    def __init__(self, *, use_hyperscan: bool = True) -> None:
        lits = _literals()
        self.backend = "hyperscan" if (use_hyperscan and hyperscan is not None) else "re"
        if self.backend == "hyperscan":
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._db.compile(
                expressions=[re.escape(lit) for lit, _ in lits],
                ids=list(range(len(lits))),
                elements=len(lits),
                flags=[hyperscan.HS_FLAG_CASELESS if kw else 0 for _, kw in lits],
            )
            self._local = threading.local()
        else:
            cased = [re.escape(lit) for lit, kw in lits if not kw]
            caseless = [re.escape(lit) for lit, kw in lits if kw]
            self._rx = re.compile(b"|".join([*cased, b"(?i:" + b"|".join(caseless) + b")"]))
        self._exact = [(f.id, f.pattern) for f in FORMATS.values() if f.pattern is not None]

    def literal_ends(self, buf: Buffer) -> list[int]:
        """End offsets of every prefilter literal in ``buf`` (bytes, mmap or memoryview)."""
        if self.backend == "re":
            return [m.end() for m in self._rx.finditer(buf)]
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        ends: list[int] = []
        self._db.scan(
            buf, match_event_handler=lambda _id, _f, to, _fl, _c: ends.append(to), scratch=scratch
        )
        return ends

    def find(self, buf: Buffer, size: int) -> list[Hit]:
        """Every credential in ``buf`` (of ``size`` bytes), in order of position."""
        ends = self.literal_ends(buf)
        if not ends:
            return []
        hits: dict[tuple[int, int], Hit] = {}
        for lo, hi in _windows(sorted(ends), size):
            chunk = bytes(buf[lo:hi])
            for hit in self._in_window(chunk):
                if hit.end == len(chunk) and hi < size:
                    continue  # cut by the window edge: not delimited in the real text
                h = Hit(hit.format, hit.start + lo, hit.end + lo, hit.checksum_valid, hit.value)
                hits.setdefault((h.start, h.end), h)
        return sorted(hits.values(), key=lambda h: h.start)

    def _in_window(self, chunk: bytes) -> list[Hit]:
        out = []
        for fid, rx in self._exact:
            for m in rx.finditer(chunk):
                valid = checksum(m["body"]) == m["crc"].decode() if FORMATS[fid].scannable else None
                out.append(Hit(fid, m.start("value"), m.end("value"), valid, m["value"]))
        for m in LEGACY.finditer(chunk):
            kind = legacy_kind(m["value"])
            if kind is not None:
                out.append(Hit(kind, m.start("value"), m.end("value"), None, m["value"]))
        return out


def _windows(ends: list[int], size: int) -> list[tuple[int, int]]:
    """Merge ``[end-BEFORE, end+AFTER)`` around each literal into disjoint windows."""
    out: list[tuple[int, int]] = []
    for e in ends:
        lo, hi = max(0, e - BEFORE), min(size, e + AFTER)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def scan_text(text: str | bytes, engine: Engine | None = None) -> list[Hit]:
    """Convenience for one string (tests, notebooks)."""
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return (engine or Engine()).find(raw, len(raw))
