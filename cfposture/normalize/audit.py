"""audit_events frame from audit logs v2.

Audit events are the one large input (millions of rows at enterprise scale), so they are read
by pyarrow's C++ JSON reader with an explicit schema: only the fields cfposture uses are parsed,
unknown and free-form fields (``resource.request``, ``resource.response``) are skipped. If a
field comes back with an unexpected type, a slower pure-Python path reads the same fields
leniently, so schema drift never loses a snapshot.

Accounts are read in a few threads: checking, decompressing and parsing one account's logs
release the GIL (hashlib, zlib, Arrow's reader), so on two cores the 100 accounts of the
enterprise sample (1.1 GB of NDJSON) read in 9–10 s instead of 13–16 s (benchmarks/README.md).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.json as pj

from ..errors import NormalizeError
from ..rawsnapshot import RawSnapshot, json_objects
from ..schemas import AuditEvents, columns, validate
from ._util import dig, text, to_ts

# column -> path in the audit log v2 item
FIELDS: dict[str, tuple[str, ...]] = {
    "event_id": ("id",),
    "when": ("action", "time"),
    "account_id": ("account", "id"),
    "actor_type": ("actor", "type"),
    "actor_context": ("actor", "context"),
    "actor_id": ("actor", "id"),
    "actor_email": ("actor", "email"),
    "actor_ip": ("actor", "ip_address"),
    "token_id": ("actor", "token_id"),
    "token_name": ("actor", "token_name"),
    "action_type": ("action", "type"),
    "result": ("action", "result"),
    "product": ("resource", "product"),
    "resource_type": ("resource", "type"),
    "resource_id": ("resource", "id"),
    "zone_id": ("zone", "id"),
    "method": ("raw", "method"),
    "uri": ("raw", "uri"),
}


def _arrow_schema() -> pa.Schema:
    tops: dict[str, list[str]] = {}
    for path in FIELDS.values():
        if len(path) == 2:
            tops.setdefault(path[0], []).append(path[1])

    def kind(top: str, sub: str) -> pa.DataType:
        # Parsing timestamps in C++ saves seconds per million events over pandas.
        return pa.timestamp("us", tz="UTC") if (top, sub) == ("action", "time") else pa.string()

    fields = [pa.field("id", pa.string())]
    fields += [pa.field(t, pa.struct([(s, kind(t, s)) for s in subs])) for t, subs in tops.items()]
    return pa.schema(fields)


_SCHEMA = _arrow_schema()


#: Arrow's unit of parsing; an event larger than this is read again with one block (below)
BLOCK = 8 << 20
#: at most this many accounts read at once, one per core (each holds its decompressed logs:
#: ~11 MB per 20,000 events); more threads than cores measured slower
READERS = 4


def _read_arrow(data: bytes) -> pd.DataFrame:
    parse = pj.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(pa.BufferReader(data), pj.ReadOptions(block_size=BLOCK), parse)
    except pa.ArrowInvalid as e:
        if "straddl" not in str(e):  # "straddling object": an event larger than a block
            raise
        table = pj.read_json(pa.BufferReader(data), pj.ReadOptions(block_size=len(data)), parse)
    table = table.flatten()
    dotted = {".".join(p): c for c, p in FIELDS.items()}
    table = table.rename_columns([dotted.get(n, n) for n in table.column_names])
    df = table.select(list(FIELDS)).to_pandas()
    df["when"] = df["when"].astype("datetime64[us, UTC]")
    return df


def _read_python(data: bytes, where: str) -> pd.DataFrame:
    cols: dict[str, list[Any]] = {c: [] for c in FIELDS}
    for item, _, _ in json_objects(data, where, NormalizeError, "pull again"):
        for c, path in FIELDS.items():
            cols[c].append(text(dig(item, *path)))
    df = pd.DataFrame(cols, dtype="str")
    df["when"] = to_ts(df["when"], "audit_events.when")
    return df


def _account_events(raw: RawSnapshot, aid: str) -> pd.DataFrame | None:
    data = raw.read_bytes("audit_logs", account_id=aid)
    if not data.strip():
        return None
    try:
        df = _read_arrow(data)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        df = _read_python(data, f"{raw.path}/accounts/{aid}/logs/audit")
    df["account_id"] = df["account_id"].fillna(aid)
    return df


def audit_events(raw: RawSnapshot, account_ids: list[str]) -> pd.DataFrame:
    """Every account's audit events in account order (the first copy of an event id wins)."""
    readers = min(READERS, os.cpu_count() or 1, len(account_ids))
    if readers > 1:
        # map cancels the accounts not yet started when one raises (a damaged file, Ctrl-C)
        with ThreadPoolExecutor(readers, thread_name_prefix="cfposture-audit") as pool:
            read = list(pool.map(lambda aid: _account_events(raw, aid), account_ids))
    else:
        read = [_account_events(raw, aid) for aid in account_ids]
    parts = [df for df in read if df is not None]
    if not parts:
        return validate(AuditEvents, pd.DataFrame({c: [] for c in columns(AuditEvents)}))
    df = pd.concat(parts, ignore_index=True)
    missing = df["event_id"].isna() | df["when"].isna()
    if missing.any():
        raise NormalizeError(
            f"{int(missing.sum())} audit events have no id or no action.time; the audit log"
            " API answered in an unexpected shape: report it with the snapshot's manifest.json"
        )
    df = df.drop_duplicates("event_id", keep="first").reset_index(drop=True)
    return validate(AuditEvents, df)
