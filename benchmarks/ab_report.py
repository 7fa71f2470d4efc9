"""Interleaved A/B of ``cfposture report`` on the sample: another git revision against this
checkout, alternating runs, so a slow hour of a shared VM slows both sides alike.

Best-of-N tables from different hours moved by about a second on the 2-core machine of
benchmarks/README.md, more than most single changes gain; alternating runs in one sitting
compare like with like. The other revision is checked out into a temporary git worktree and
imported through PYTHONPATH (its kernels inherit it); each side keeps its own trend cache,
primed once for the warm runs (less the newest snapshot's parsed frames, which a
scheduled run parses afresh) and fresh for every cold run. Each run's CPU seconds (the
command's and its kernels') are tabled too: they move less than wall time on a shared VM, and
on 2 cores they bound it.

    python benchmarks/ab_report.py REV [--warm 8] [--cold 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import meta

ROOT = Path(__file__).resolve().parent.parent


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(src: Path | None, cache: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one report: the CPU of the command and of its kernels
    (reaped by it, so counted in its children's usage), less noisy than wall time on a
    shared VM and, on 2 cores, what bounds the wall."""
    env = {**os.environ, "CFPOSTURE_CACHE_DIR": str(cache)}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, "-m", "cfposture.cli", "report", "--quiet", "--out", str(out)]
    cpu, start = _children_cpu(), time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=600)
    return time.monotonic() - start, _children_cpu() - cpu


def newest_frames(src: Path | None) -> list[str]:
    """The cache file names of the sample's newest snapshot's frames in that revision (its
    audit events; from this revision on, its inventory too), which each warm run forgets: a
    scheduled run's newest snapshot is new. Empty before such a cache."""
    env = {**os.environ, **({"PYTHONPATH": str(src)} if src is not None else {})}
    code = (
        "import importlib, cfposture; from cfposture import cache\n"
        "kinds = ('audit_events', *getattr(importlib.import_module('cfposture.load'),"
        " 'INVENTORY', ()))\n"
        "for k in kinds: print(cache.frame_key(k, cfposture.history('sample')[-1]))"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return [f"{key}.parquet" for key in got.stdout.split()] if got.returncode == 0 else []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rev", help="the git revision to compare this checkout against")
    ap.add_argument("--warm", type=int, default=8)
    ap.add_argument("--cold", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        other = work / "other"
        got = subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.rev],
            capture_output=True,
            text=True,
        )
        if got.returncode:
            raise SystemExit(f"cannot check out {args.rev}: {got.stderr.strip()}")
        try:
            sides = {args.rev: other, "this checkout": None}
            times: dict[str, dict[str, list[float]]] = {k: {"warm": [], "cold": []} for k in sides}
            cpu: dict[str, dict[str, list[float]]] = {k: {"warm": [], "cold": []} for k in sides}
            forget = {name: newest_frames(src) for name, src in sides.items()}
            for i, src in enumerate(sides.values()):
                run(src, work / f"warm{i}", work / "out")  # prime the warm cache
            for kind, n in (("warm", args.warm), ("cold", args.cold)):
                for r in range(n):
                    for i, (name, src) in enumerate(sides.items()):
                        cache = work / (f"warm{i}" if kind == "warm" else f"cold{i}-{r}")
                        for frame in forget[name]:
                            (cache / frame).unlink(missing_ok=True)
                        wall, used = run(src, cache, work / "out")
                        times[name][kind].append(wall)
                        cpu[name][kind].append(used)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                capture_output=True,
            )
    for label, table in (("wall", times), ("CPU", cpu)):
        heads = " | ".join(f"{k}: {label} s (mean, range)" for k in sides)
        print(f"| cache | runs | {heads} |")
        print("|---|---:|" + "---:|" * len(sides))
        for kind in ("warm", "cold"):
            cells = [
                f"{statistics.mean(t[kind]):.2f} ({min(t[kind]):.2f}–{max(t[kind]):.2f})"
                for t in table.values()
                if t[kind]
            ]
            if cells:
                print(f"| {kind} | {len(table[args.rev][kind])} + {len(table[args.rev][kind])} | "
                      + " | ".join(cells) + " |")  # fmt: skip
        print()
    if args.json:
        args.json.write_text(json.dumps({"times": times, "cpu": cpu, "meta": meta()}, indent=1))


if __name__ == "__main__":
    main()
