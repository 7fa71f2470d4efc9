"""Make a hand-built snapshot cover its accounts the way a pull does."""

from __future__ import annotations

from collections.abc import Iterable

from cfposture.endpoints import COVERED
from cfposture.rawsnapshot import SnapshotWriter


def cover(w: SnapshotWriter, accounts: Iterable[str]) -> None:
    """Store an empty list for each ``COVERED`` endpoint of ``accounts`` the test did not
    write or deny: a real pull always records them, and ``RawSnapshot.open`` refuses a
    snapshot that lacks one."""
    have = {(e["endpoint"], e["ids"].get("account_id")) for e in w.entries}
    for account in accounts:
        for key in COVERED:
            if (key, account) not in have:
                w.write(key, [], account_id=account)
