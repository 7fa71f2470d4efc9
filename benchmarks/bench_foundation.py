"""Benchmark the foundation: generating the samples and loading them into frames.

Ratios are against a floor measured in the same run: for loading, the time to only decompress
and parse the snapshot's audit events with pyarrow (what any reader has to pay).

    python benchmarks/bench_foundation.py            # full: the design's enterprise scale
    python benchmarks/bench_foundation.py --smoke    # 1 account instead of 100 (CI)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _harness import meta, stage, table

GENERATE = """
from pathlib import Path
from cfposture.sample import generate
from cfposture.sample.enterprise import write_enterprise
if sys.argv[2] == "small":
    generate(sys.argv[1])
else:
    source = {"kind": "sample", "scale": "enterprise"}
    write_enterprise(Path(sys.argv[1]), 2026, source, int(sys.argv[2]))
extra = {}
"""
LOAD = """
import cfposture
s = cfposture.load(sys.argv[1])
extra = {"rows": s.summary()["rows"]}
"""
FLOOR = """
import gzip, pyarrow as pa, pyarrow.json as pj
from cfposture.rawsnapshot import RawSnapshot
from cfposture.load import history
raw = RawSnapshot.open(history(sys.argv[1])[-1])
n = 0
for e in raw.entries("audit_logs"):
    data = gzip.decompress((raw.path / e["file"]).read_bytes())
    n += pj.read_json(pa.BufferReader(data)).num_rows
extra = {"events": n}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="1 enterprise account instead of 100")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    accounts = "1" if args.smoke else "100"
    with tempfile.TemporaryDirectory() as tmp:
        small, ent = Path(tmp) / "small", Path(tmp) / "enterprise"
        r = {
            "gen_small": stage(GENERATE, str(small), "small"),
            "gen_enterprise": stage(GENERATE, str(ent), accounts),
            "load_small": stage(LOAD, str(small)),
            "floor_enterprise": stage(FLOOR, str(ent)),
            "load_enterprise": stage(LOAD, str(ent)),
        }
    r["meta"] = meta(enterprise_accounts=int(accounts))
    print(
        table(
            r, ["gen_small", "gen_enterprise", "load_small", "floor_enterprise", "load_enterprise"]
        )
    )
    le, fl = r["load_enterprise"], r["floor_enterprise"]
    print(f"\nload / floor (enterprise): {le['wall_s'] / fl['wall_s']:.2f}x")
    print(f"rows: {le['rows']}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
