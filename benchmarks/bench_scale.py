"""The scale series in one command: load, findings, scores and report at 1×, 10× and 100×.

Scales: the embedded sample (3 accounts, its latest snapshot), then the enterprise generator at
1, 10 and 100 accounts (20k, 200k and 2M audit events: 1×, 10× and the design's enterprise
org), so growth is measured over two clean 10× steps. Every stage runs in a fresh process and
reports wall time and peak memory; ``load`` is timed alone, ``findings`` and ``scores`` after
a load (their own time only), ``report`` as the command a scheduler runs (peak memory of the
process tree). The last table is the cost growth per 10× of input.

    python benchmarks/bench_scale.py                 # ~15 minutes, 2 cores
    python benchmarks/bench_scale.py --no-report     # skip the report stage
    python benchmarks/bench_scale.py --smoke         # sample, 1 and 2 accounts, no report (CI)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from itertools import pairwise
from pathlib import Path

from _harness import meta, stage

GENERATE = """
from pathlib import Path
from cfposture.sample.enterprise import write_enterprise
write_enterprise(Path(sys.argv[1]), 2026, {"kind": "sample"}, int(sys.argv[2]))
extra = {}
"""
SETUP = "import cfposture"
LOAD = """
snap = cfposture.load(sys.argv[1])
extra = {"events": len(snap.audit_events), "tokens": len(snap.tokens)}
"""
SETUP_LOADED = """
import cfposture
snap = cfposture.load(sys.argv[1])
"""
FINDINGS = """
f = cfposture.findings(snap)
extra = {"findings": len(f)}
"""
SCORES = """
s = cfposture.scores(snap)
extra = {"principals": len(s)}
"""
REPORT = """
import os, resource, subprocess
out = subprocess.run(
    [sys.executable, "-m", "cfposture.cli", "report", sys.argv[1], "--out", sys.argv[2],
     "--quiet"], capture_output=True, text=True,
    env={**os.environ, "CFPOSTURE_CACHE_DIR": sys.argv[3]})  # empty: the full (cold) work
if out.returncode:
    raise SystemExit(out.stderr[-2000:])
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
extra = {"children_peak_mib": kids}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="sample, 1 and 2 accounts, no report")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scales = {"sample": None, "1 account": 1, "10 accounts": 10, "100 accounts": 100}
    if args.smoke:
        scales = {"sample": None, "1 account": 1, "2 accounts": 2}
    stages = ["load", "findings", "scores"] + ([] if args.no_report or args.smoke else ["report"])
    r: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, accounts in scales.items():
            path = "sample" if accounts is None else str(Path(tmp) / name)
            if accounts is not None:
                stage(GENERATE, path, str(accounts))
            r[name] = {
                "load": stage(LOAD, path, setup=SETUP),
                "findings": stage(FINDINGS, path, setup=SETUP_LOADED),
                "scores": stage(SCORES, path, setup=SETUP_LOADED),
            }
            if "report" in stages:
                r[name]["report"] = stage(
                    REPORT, path, str(Path(tmp) / f"report-{name}"), str(Path(tmp) / f"c-{name}")
                )
                kids = r[name]["report"]["children_peak_mib"]
                r[name]["report"]["peak_mib"] = max(r[name]["report"]["peak_mib"], kids)
    print("| scale | audit events | " + " | ".join(f"{s} s (MiB)" for s in stages) + " |")
    print("|---|---:|" + "---:|" * len(stages))
    for name, x in r.items():
        cells = [f"{x[s]['wall_s']:.2f} ({x[s]['peak_mib']:.0f})" for s in stages]
        print(f"| {name} | {x['load']['events']:,} | " + " | ".join(cells) + " |")
    names = [n for n in r if n != "sample"]
    print("\n| growth | input × | " + " | ".join(stages) + " |")
    print("|---|---:|" + "---:|" * len(stages))
    for a, b in pairwise(names):
        inp = r[b]["load"]["events"] / r[a]["load"]["events"]
        cells = [f"{r[b][s]['wall_s'] / r[a][s]['wall_s']:.1f}×" for s in stages]
        print(f"| {a} → {b} | {inp:.1f} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"results": r, "meta": meta(scales=scales)}, indent=1))


if __name__ == "__main__":
    main()
