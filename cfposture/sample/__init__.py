"""``cfposture sample``: write the synthetic organisation as raw snapshots.

``small`` is the embedded sample (six monthly snapshots of Kestrel Outfitters, committed in
``data/sample``); ``enterprise`` is one snapshot at the design's scale, for benchmarks. Output is
a pure function of (scale, seed): same bytes every run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import CfPostureError
from ..rawsnapshot import PARTIAL_SUFFIX, SnapshotWriter
from ..sources.oauth_export import write_export_csv
from .timeline import SnapshotData, build
from .truth import write_truth

DEFAULT_SEED = 2026
SCALES = ("small", "enterprise")


def write_snapshot(data: SnapshotData, dest: Path, source: dict[str, object]) -> None:
    with SnapshotWriter(dest, source=source, created_at=data.created_at) as w:
        w.audit_window = {
            "since": data.audit_since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "before": data.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for (key, ids), items in data.items.items():
            w.write(key, items, **dict(ids))
        for key, ids in data.denied:
            w.deny(
                key,
                http_status=403,
                code=10000,
                message="Forbidden",
                documentation_url="https://developers.cloudflare.com/api/resources/iam/",
                **ids,
            )


def generate(out: str | os.PathLike[str], scale: str = "small", seed: int = DEFAULT_SEED) -> Path:
    """Write the sample history to ``out`` (a new folder) atomically; returns its path."""
    if scale not in SCALES:
        raise CfPostureError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    dest = Path(out)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise CfPostureError(f"{dest} already exists; give a new folder or remove it first")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=PARTIAL_SUFFIX, dir=dest.parent))
    try:
        source = {"kind": "sample", "scale": scale, "seed": seed}
        if scale == "small":
            snaps = build(seed)
            for data in snaps:
                write_snapshot(data, tmp / data.created_at.strftime("%Y-%m-%d"), source)
            latest = snaps[-1].items[("connected_apps", ())]
            write_export_csv(latest, tmp / "connected-apps.csv")
            if seed == DEFAULT_SEED:  # the truth is about the default organisation's timings
                write_truth(tmp / "ground-truth.csv")
        else:
            from .enterprise import write_enterprise

            write_enterprise(tmp / "enterprise", seed, source)
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
