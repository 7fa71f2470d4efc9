"""Text from the API or a file, made safe for where cfposture writes it.

Names of tokens, members and apps are chosen by whoever created them. In a CSV file a cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (OWASP "CSV injection"); in a Markdown table a ``|`` or a line
break ends the cell or the row; on a terminal an escape sequence can rewrite what was printed.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# a file name that is not UTF-8 reaches Python as lone surrogates (os.fsdecode), which no
# UTF-8 file or terminal can hold: written as the byte they stand for, \xe9
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def escaped(text: str) -> str:
    """``text`` with backslashes, tabs, line breaks and other control characters escaped: one
    line, safe in a tab-separated file and on a terminal."""
    out = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\\", "\\\\"))
    return _bytes_escaped(out)


def _bytes_escaped(text: str) -> str:
    return _UNDECODABLE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text starting with one of
    ``= + - @``, a tab or a carriage return gets a leading ``'`` (OWASP's advice). Other values
    are left as they are."""
    if not isinstance(value, str):
        return value
    value = _bytes_escaped(value)
    return "'" + value if value.startswith(_FORMULA) else value


def md_cell(value: Any) -> str:
    """A Markdown table cell: one line, no control characters, ``|`` escaped."""
    return escaped("" if value is None else str(value)).replace("|", "\\|")
