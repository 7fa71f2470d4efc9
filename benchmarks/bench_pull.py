"""Benchmark ``cfposture pull`` against the fake API: requests vs the minimum, wall vs the floor.

The fake API (its own process, ``--latency-ms``) serves the enterprise sample; the pull (another
process, default budget 1,200 requests per 5 minutes, 90 % of it spent) fetches everything.
Reported: requests issued vs the minimum (Σ ceil(items/50) per list, audit pages of 1,000),
wall time vs the floor the rate budget sets (window × ⌊(n−1)/capacity⌋, or the latency floor
n × latency / workers if that is larger), and 429s received (goal: requests = minimum,
wall ≤ 1.1 × floor, zero 429s).

    python benchmarks/bench_pull.py                 # 100 accounts, 2M events: ~16 minutes
    python benchmarks/bench_pull.py --smoke         # 1 account, budget 30 per 3 s (CI)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import meta

from cfposture.sample.enterprise import write_enterprise
from cfposture.sources.pull import minimum_requests


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    accounts, limit, window = (1, 30, 3.0) if args.smoke else (args.accounts, 1200, 300.0)
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "ent"
        write_enterprise(snap, 2026, {"kind": "sample"}, accounts)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cfposture.cli",
                "fake-api",
                str(snap),
                "--port",
                "0",
                "--latency-ms",
                str(args.latency_ms),
                "--rate-limit",
                str(limit),
                "--rate-window",
                str(window),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = server.stdout.readline().strip()
            env = {**os.environ, "CLOUDFLARE_API_TOKEN": "benchmark-token"}
            cmd = [
                sys.executable,
                "-m",
                "cfposture.cli",
                "pull",
                str(Path(tmp) / "out"),
                "--api-base",
                url,
                "--since",
                "2026-10-01",
                "--before",
                "2026-12-01",
                "--workers",
                str(args.workers),
                "--rate-limit",
                str(limit),
            ]
            if args.smoke:
                cmd += ["--rate-window-seconds", str(window)]
            start = time.monotonic()
            run = subprocess.run(cmd, capture_output=True, text=True, env=env)
            wall = time.monotonic() - start
        finally:
            server.terminate()
            server.wait(10)
            server.stdout.close()
        if run.returncode:
            raise SystemExit(run.stderr)
        m = re.search(r"in (\d+) requests \((\d+) rate-limited, (\d+) retried\)", run.stderr)
        requests, limited, retried = (int(x) for x in m.groups())
        manifest = json.loads((Path(tmp) / "out" / "manifest.json").read_text())
    minimum = minimum_requests(manifest)
    capacity = math.floor(limit * 0.9)
    floor = max(
        window * ((requests - 1) // capacity), requests * args.latency_ms / 1000 / args.workers
    )
    r = {
        "accounts": accounts,
        "requests": requests,
        "minimum": minimum,
        "rate_limited": limited,
        "retried": retried,
        "wall_s": wall,
        "floor_s": floor,
        "limit": limit,
        "window_s": window,
        "meta": meta(),
    }
    print("| accounts | requests | minimum | 429s | wall s | floor s | wall / floor |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {accounts} | {requests} | {minimum} | {limited} | {wall:.1f} | {floor:.1f} | "
        f"{wall / floor:.2f}x |"
    )
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
