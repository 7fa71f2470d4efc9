"""Benchmark findings + scores against plain loading, at two scales 10× apart.

For each scale, one process loads the snapshot (timed: the baseline), then runs all rules and
the scores on it (timed separately). Goals from the findings issue: findings + scores ≤ 3× the
load, and cost growing linearly with input (×10 accounts ⇒ about ×10 time).

    python benchmarks/bench_findings.py             # 10 and 100 enterprise accounts (2M events)
    python benchmarks/bench_findings.py --smoke     # 1 and 2 accounts (CI)
    python benchmarks/bench_findings.py --days 90   # a 90-day audit window: 6M events at 100
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _harness import meta, stage

GENERATE = """
from pathlib import Path
from cfposture.sample.enterprise import write_enterprise
write_enterprise(Path(sys.argv[1]), 2026, {"kind": "sample"}, int(sys.argv[2]), int(sys.argv[3]))
extra = {}
"""
SETUP = """
import cfposture
"""
RUN = """
snap = cfposture.load(sys.argv[1])
t_load = time.perf_counter() - t0
t1 = time.perf_counter()
f = cfposture.findings(snap)
s = cfposture.scores(snap)
t_analysis = time.perf_counter() - t1
extra = {"load_s": t_load, "analysis_s": t_analysis, "findings": len(f), "principals": len(s),
         "events": len(snap.audit_events)}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="1 and 2 accounts instead of 10 and 100")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--days", type=int, default=30, help="audit window of the snapshot (default 30: 2M events)"
    )
    args = ap.parse_args()
    scales = (1, 2) if args.smoke else (10, 100)
    r: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in scales:
            path = Path(tmp) / f"ent{n}"
            stage(GENERATE, str(path), str(n), str(args.days))
            r[n] = stage(RUN, str(path), setup=SETUP)
    print(f"audit window: {args.days} days")
    print("| accounts | audit events | load s | findings+scores s | ratio | peak MiB | findings |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in scales:
        x = r[n]
        print(
            f"| {n} | {x['events']:,} | {x['load_s']:.2f} | {x['analysis_s']:.2f} | "
            f"{x['analysis_s'] / x['load_s']:.2f}x | {x['peak_mib']:.0f} | {x['findings']:,} |"
        )
    lo, hi = r[scales[0]], r[scales[1]]
    growth = hi["analysis_s"] / lo["analysis_s"]
    print(f"\nfindings+scores time grows {growth:.1f}x for {scales[1] // scales[0]}x the input")
    if args.json:
        args.json.write_text(json.dumps({"results": r, "meta": meta(scales=scales)}, indent=1))


if __name__ == "__main__":
    main()
