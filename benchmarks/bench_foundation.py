"""Benchmark the foundation: generating the samples and loading them into frames.

Each stage runs in a fresh subprocess that reports its own wall time and peak RSS, so stages
do not share caches or memory. Ratios are against a floor measured in the same run: for
loading, the time to only decompress and parse the snapshot's audit events with pyarrow
(what any reader has to pay), for generation, the small sample.

    python benchmarks/bench_foundation.py            # full: the design's enterprise scale
    python benchmarks/bench_foundation.py --smoke    # 1 account instead of 100 (CI)
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

STAGE = """
import json, resource, sys, time
t0 = time.perf_counter()
{body}
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"wall_s": wall, "peak_mib": peak, **extra}}))
"""

BODIES = {
    "generate": """
from pathlib import Path
from cfposture.sample import generate
from cfposture.sample.enterprise import write_enterprise
if sys.argv[2] == "small":
    generate(sys.argv[1])
else:
    source = {{"kind": "sample", "scale": "enterprise"}}
    write_enterprise(Path(sys.argv[1]), 2026, source, int(sys.argv[2]))
extra = {{}}
""",
    "load": """
import cfposture
s = cfposture.load(sys.argv[1])
extra = {{"rows": s.summary()["rows"]}}
""",
    "floor": """
import gzip, pyarrow as pa, pyarrow.json as pj
from cfposture.rawsnapshot import RawSnapshot
from cfposture.load import history
raw = RawSnapshot.open(history(sys.argv[1])[-1])
n = 0
for e in raw.entries("audit_logs"):
    data = gzip.decompress((raw.path / e["file"]).read_bytes())
    n += pj.read_json(pa.BufferReader(data)).num_rows
extra = {{"events": n}}
""",
}


def stage(name: str, *args: str) -> dict:
    code = STAGE.format(body=textwrap.dedent(BODIES[name]).format())
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"stage {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="1 enterprise account instead of 100")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    accounts = "1" if args.smoke else "100"
    with tempfile.TemporaryDirectory() as tmp:
        small, ent = Path(tmp) / "small", Path(tmp) / "enterprise"
        r = {
            "gen_small": stage("generate", str(small), "small"),
            "gen_enterprise": stage("generate", str(ent), accounts),
            "load_small": stage("load", str(small)),
            "floor_enterprise": stage("floor", str(ent)),
            "load_enterprise": stage("load", str(ent)),
        }
    r["meta"] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "enterprise_accounts": int(accounts),
    }
    le, fl = r["load_enterprise"], r["floor_enterprise"]
    print("| stage | wall s | peak MiB |\n|---|---:|---:|")
    for k in ("gen_small", "gen_enterprise", "load_small", "floor_enterprise", "load_enterprise"):
        print(f"| {k} | {r[k]['wall_s']:.2f} | {r[k]['peak_mib']:.0f} |")
    print(f"\nload / floor (enterprise): {le['wall_s'] / fl['wall_s']:.2f}x")
    print(f"rows: {le['rows']}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
