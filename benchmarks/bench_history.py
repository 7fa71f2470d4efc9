"""Reading a snapshot's audit events: parsed, or from the cache.

Every run of the usage rules (``findings``, ``report``, each notebook) reads the audit events of
every snapshot its window covers, and every notebook an analyst opens loads the same snapshot;
``cfposture.load.audit_events_of`` keeps what it parsed as Parquet in ``cfposture.cache``.
Three stages per scale, each in a fresh process on the enterprise generator's snapshot (10 and
100 accounts: 200k and 2M events):

* *off*: the cache turned off, i.e. decompress, parse, normalise and validate (the baseline);
* *first*: an empty cache: the same, plus writing the frame;
* *cached*: the frame read back and validated.

Imports are outside the timed part (they are the same in all three).

    python benchmarks/bench_history.py            # ~6 minutes, 2 cores
    python benchmarks/bench_history.py --smoke    # 1 account (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _harness import meta, stage
from bench_scale import GENERATE

SETUP = """
from cfposture.rawsnapshot import RawSnapshot
from cfposture.load import audit_events_of
"""
READ = """
events = audit_events_of(RawSnapshot.open(sys.argv[1]))
extra = {"events": len(events)}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="1 account")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scales = {"1 account": 1} if args.smoke else {"10 accounts": 10, "100 accounts": 100}
    r: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:  # the stages inherit this process's environment
        for name, accounts in scales.items():
            root = Path(tmp) / name.replace(" ", "-")
            stage(GENERATE, str(root / "gen"), str(accounts))
            os.environ["CFPOSTURE_CACHE_DIR"] = "off"
            off = stage(READ, str(root / "gen"), setup=SETUP)
            os.environ["CFPOSTURE_CACHE_DIR"] = str(root / "cache")
            first = stage(READ, str(root / "gen"), setup=SETUP)
            cached = stage(READ, str(root / "gen"), setup=SETUP)
            if not off["events"] == first["events"] == cached["events"]:
                raise SystemExit(f"events differ: {off}, {first}, {cached}")
            size = sum(p.stat().st_size for p in (root / "cache").glob("*.parquet"))
            r[name] = {"off": off, "first": first, "cached": cached, "frame_bytes": size}
    print("| scale | events | off s | first s | cached s (peak MiB) | cached / off | frame MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, x in r.items():
        o, f, c = x["off"], x["first"], x["cached"]
        print(
            f"| {name} | {o['events']:,} | {o['wall_s']:.2f} | {f['wall_s']:.2f} |"
            f" {c['wall_s']:.2f} ({c['peak_mib']:.0f}) | {c['wall_s'] / o['wall_s']:.2f}× |"
            f" {x['frame_bytes'] / 1e6:.1f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": r, "meta": meta(scales=scales)}, indent=1))


if __name__ == "__main__":
    main()
