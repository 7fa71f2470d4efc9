"""Reading what came from a file or the network, within limits.

A 200 KB gzip file can hold gigabytes of zeros, a line can be a gigabyte long and a JSON value
can nest deeper than Python's stack. Snapshots, Logpush exports, plans and the other files
cfposture reads are read through here, so each of those ends in a one-line error that names the
file instead of exhausting memory or the stack.

The limit on what one file may hold (decompressed) is ``CFPOSTURE_MAX_FILE_MB`` megabytes,
1024 unless set: generous for the largest per-account audit file we have measured (an
enterprise account's 18 months is a few hundred MB), and small enough to keep a bomb's cost
within a laptop's memory.
"""

from __future__ import annotations

import json
import os
import stat
import zlib
from pathlib import Path
from typing import Any

from .errors import CfPostureError

MAX_FILE_ENV = "CFPOSTURE_MAX_FILE_MB"
DEFAULT_MAX_FILE_MB = 1024
MAX_LINE_BYTES = 16 << 20
"""No API item or export record comes near this; a token with every permission group is
under 100 KB."""

_CHUNK = 16 << 20  # decompressed bytes produced per step, so a bomb stops at the limit


def max_file_bytes() -> int:
    """The limit on what one file may hold, from ``CFPOSTURE_MAX_FILE_MB``."""
    raw = os.environ.get(MAX_FILE_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_FILE_MB << 20
    if not raw.isdigit() or int(raw) < 1:
        raise CfPostureError(f"{MAX_FILE_ENV}={raw!r} is not a whole number of megabytes (>= 1)")
    return int(raw) << 20


def too_big(where: object, limit: int, error: type[CfPostureError]) -> CfPostureError:
    return error(
        f"{where} holds more than {limit >> 20} MB; if it is genuine, raise {MAX_FILE_ENV},"
        " else it is not a file cfposture wrote or Cloudflare sent"
    )


def read_file(
    path: str | os.PathLike[str], error: type[CfPostureError], advice: str, limit: int | None = None
) -> bytes:
    """The bytes of a regular file, refusing anything else (a FIFO or a device would block
    or never end) and anything over the limit."""
    limit = max_file_bytes() if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise error(f"cannot read {path} ({e.strerror or e}); {advice}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path} is not a regular file; {advice}")
        if st.st_size > limit:
            raise too_big(path, limit, error)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise too_big(path, limit, error)
    return data


def gunzip(
    data: bytes, where: object, error: type[CfPostureError], advice: str, limit: int | None = None
) -> bytes:
    """Decompress gzip ``data`` (one member or several, as concatenated exports are), at most
    ``limit`` bytes of output; a bomb costs the limit in memory, not what it expands to."""
    limit = max_file_bytes() if limit is None else limit
    out: list[bytes] = []
    total = 0
    try:
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = data
            while True:
                chunk = d.decompress(pending, _CHUNK)
                total += len(chunk)
                if total > limit:
                    raise too_big(where, limit, error)
                out.append(chunk)
                pending = d.unconsumed_tail
                if d.eof or (not pending and not chunk):
                    break
            if not d.eof:
                raise error(f"{where} is not valid gzip (truncated); {advice}")
            data = d.unused_data
    except zlib.error as e:
        raise error(f"{where} is not valid gzip ({e}); {advice}") from None
    return b"".join(out)


def loads(text: str | bytes, where: object, error: type[CfPostureError], advice: str) -> Any:
    """``json.loads`` whose failures, nesting too deep for the stack included, are one line."""
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except RecursionError:
        raise error(f"{where} is nested too deeply to read; {advice}") from None
    except UnicodeDecodeError:
        raise error(f"{where} is not UTF-8 text; {advice}") from None
    except json.JSONDecodeError as e:
        raise error(f"{where} is not JSON ({e.msg}); {advice}") from None


def load_file(path: str | os.PathLike[str], error: type[CfPostureError], advice: str) -> Any:
    """A whole JSON document from a file, read within the limits."""
    return loads(read_file(Path(path), error, advice), path, error, advice)
