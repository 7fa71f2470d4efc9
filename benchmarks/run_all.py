"""Every benchmark in one command, results collected in one JSON file.

    python benchmarks/run_all.py --smoke          # tiny scales, a minute or two (CI runs this)
    python benchmarks/run_all.py                  # the figures in README.md: about an hour
    python benchmarks/run_all.py --only scan scale --out results.json

Each script runs in its own process (``--json`` into a temporary file) and prints its own
tables; a failing script fails the run after the others have run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import meta

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "foundation",
    "findings",
    "scale",
    "pull",
    "merge",
    "import",
    "history",
    "notebook",
    "report",
    "scan",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", nargs="+", choices=SCRIPTS, default=SCRIPTS)
    ap.add_argument("--out", type=Path, help="combined JSON results")
    args = ap.parse_args()
    results: dict = {"meta": meta(smoke=args.smoke)}
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only:
            out = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(out)]
            cmd += ["--smoke"] if args.smoke else []
            print(f"\n## bench_{name}\n", flush=True)
            t0 = time.perf_counter()
            rc = subprocess.run(cmd).returncode
            results[name] = {
                "returncode": rc,
                "wall_s": round(time.perf_counter() - t0, 1),
                **(json.loads(out.read_text()) if out.exists() else {}),
            }
            if rc:
                failed.append(name)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    if failed:
        raise SystemExit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
