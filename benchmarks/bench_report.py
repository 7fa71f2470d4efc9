"""Benchmark ``cfposture report`` on the embedded sample against the papermill floor.

The floor is papermill running an empty notebook as many times as the report runs notebooks,
with the same parallelism, in the same run: kernel start-up and papermill's own cost, which no
notebook report can avoid. Goal from the report issue: report ≤ 1.5 × floor.

    python benchmarks/bench_report.py [--json OUT]     best of 3 (--smoke: 1)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill as pm
from _harness import meta

from cfposture.report.run import NOTEBOOKS


def floor(workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_code_cell("pass")]
        nbformat.write(nb, empty)
        start = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(
                pool.map(
                    lambda i: pm.execute_notebook(
                        str(empty),
                        str(Path(tmp) / f"out{i}.ipynb"),
                        kernel_name="python3",
                        progress_bar=False,
                    ),
                    range(len(NOTEBOOKS)),
                )
            )
        return time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="one repetition instead of three")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    workers = max(1, min(len(NOTEBOOKS), os.cpu_count() or 1))
    repeats = 1 if args.smoke else 3
    base = min(floor(workers) for _ in range(repeats))  # kernel start-up is noisy: best of N
    cmd = [sys.executable, "-m", "cfposture.cli", "report", "--quiet", "--out"]
    walls = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.monotonic()
            subprocess.run([*cmd, str(Path(tmp) / "r")], check=True, capture_output=True)
            walls.append(time.monotonic() - start)
    wall = min(walls)
    r = {
        "notebooks": len(NOTEBOOKS),
        "workers": workers,
        "floor_s": base,
        "report_s": wall,
        "ratio": wall / base,
        "meta": meta(),
    }
    print("| notebooks | workers | floor s (empty notebooks) | report s | ratio |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {len(NOTEBOOKS)} | {workers} | {base:.1f} | {wall:.1f} | {wall / base:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
