"""Small helpers that make normalize tolerant of real-world API shapes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..errors import NormalizeError


def dig(obj: Any, *path: str) -> Any:
    """``obj[a][b]...`` or None when any step is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string"}


def item_id(item: dict[str, Any], where: str) -> str:
    """The id of an API item; an item without one is a one-line error, not a silent skip
    (Cloudflare always sends ids, so a missing one means a damaged or foreign snapshot)."""
    ident = text(item.get("id"))
    if ident is None:
        raise NormalizeError(f"{where} has no id; pull the snapshot again")
    return ident


def typed(item: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """``item[key]`` if absent (None) or of JSON type ``kind``; a value of another type is a
    one-line error: read as empty, it would hide the grants or the user behind it."""
    if key not in item:
        return None
    value = item[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        got = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
        raise NormalizeError(
            f"{where}: {key!r} is {got}, not {_JSON_TYPES[kind]}; pull the snapshot again"
        )
    return value


def as_list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (null, a bool, an object) as an empty list."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A string column value: None stays None, scalars become str, empty becomes None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return None


def flag(value: Any) -> bool | None:
    """A nullable boolean; the API sometimes sends "true"/"false" strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def joined(values: Any, sep: str = ",") -> str | None:
    """A list of strings as one cell (CIDR lists, scopes); None when empty."""
    if isinstance(values, str):
        return values or None
    if not isinstance(values, list | tuple):
        return None
    parts = [str(v) for v in values if v not in (None, "")]
    return sep.join(parts) if parts else None


def to_ts(values: Iterable[Any], field: str) -> pd.Series:
    """RFC 3339 strings (or None) → ``datetime64[us, UTC]``; a malformed one is a clear error."""
    s = pd.Series(list(values), dtype=object)
    s = s.where(s.notna() & (s != ""), None)
    try:
        out = pd.to_datetime(s, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        for v in s.dropna():
            try:
                pd.to_datetime(v, utc=True, format="ISO8601")
            except (ValueError, TypeError):
                raise NormalizeError(
                    f"{field}: {str(v)[:40]!r} is not an RFC 3339 timestamp; the API returned"
                    " an unexpected value: report it with the snapshot's manifest.json"
                ) from None
        raise
    return out.astype("datetime64[us, UTC]")


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows → frame with exactly ``columns`` (missing keys become nulls)."""
    return pd.DataFrame.from_records(rows, columns=columns)
