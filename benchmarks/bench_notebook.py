"""A notebook's set-up, as an analyst's kernel runs it: ``cfposture.notebook.setup`` in a
fresh process, imports included (the first cell of every notebook).

An analyst opens the notebooks one after another on the same snapshot. Three stages per
scale, each in a fresh process with the snapshot's audit events already in the cache
(``cfposture.load.audit_events_of``, measured by bench_history.py):

* *before*: what every notebook paid before the inventory and judgement caches and the
  skipped grammar: the inventory normalised, the rules and scores run, and rfc3987_syntax
  imported first, as plotly → nbformat → jsonschema imported it (the baseline, measured in
  the same run);
* *first*: the first notebook now: normalised and judged afresh (and both stored), no grammar;
* *next*: every further notebook: inventory, findings and scores read back from the cache.

    python benchmarks/bench_notebook.py            # the sample, 10 and 100 accounts: ~4 min
    python benchmarks/bench_notebook.py --smoke    # the sample only, once (CI)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
from pathlib import Path

from _harness import meta, stage
from bench_scale import GENERATE

SETUP = """
from cfposture.notebook import setup
view = setup(sys.argv[1])
extra = {"findings": len(view.findings), "scores": len(view.scores)}
"""
GRAMMAR = "import rfc3987_syntax\n"
PARAMS = {"stale_days": 90, "usage_days": 90}  # setup's defaults


def _forget(snapshot: Path) -> None:
    """Remove the snapshot's judgement and inventory frames from the cache (not its audit
    events): the next set-up normalises, judges and scores afresh."""
    from cfposture import cache
    from cfposture.load import INVENTORY, forget_frames
    from cfposture.notebook import _judged_key

    forget_frames(snapshot, INVENTORY)
    key, folder = _judged_key(snapshot, PARAMS), cache.cache_dir()
    for name in (f"{key}.json", f"{key}-findings.parquet", f"{key}-scores.parquet"):
        (folder / name).unlink(missing_ok=True)


def _best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="the sample, once")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scales = {"sample": 0} if args.smoke else {"sample": 0, "10 accounts": 10, "100 accounts": 100}
    grammar = GRAMMAR if importlib.util.find_spec("rfc3987_syntax") else ""
    r: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:  # the stages inherit this process's environment
        os.environ["CFPOSTURE_CACHE_DIR"] = str(Path(tmp) / "cache")
        for name, accounts in scales.items():
            if accounts:
                snapshot = Path(tmp) / name.replace(" ", "-")
                stage(GENERATE, str(snapshot), str(accounts))
            else:
                import cfposture

                snapshot = cfposture.history("sample")[-1]
            repeats = 1 if args.smoke or accounts >= 100 else 3
            stage(SETUP, str(snapshot))  # audit events parsed into the cache, not timed
            before, first, nxt = [], [], []
            for _ in range(repeats):
                _forget(snapshot)
                before.append(stage(grammar + SETUP, str(snapshot)))
                _forget(snapshot)
                first.append(stage(SETUP, str(snapshot)))
                nxt.append(stage(SETUP, str(snapshot)))
            b, f, n = _best(before), _best(first), _best(nxt)
            if not b["findings"] == f["findings"] == n["findings"]:
                raise SystemExit(f"findings differ: {b}, {f}, {n}")
            r[name] = {"before": b, "first": f, "next": n, "repeats": repeats}
    print("| scale | findings | before s | first s | next s (peak MiB) | next / before |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, x in r.items():
        b, f, n = x["before"], x["first"], x["next"]
        print(
            f"| {name} | {b['findings']:,} | {b['wall_s']:.2f} | {f['wall_s']:.2f} |"
            f" {n['wall_s']:.2f} ({n['peak_mib']:.0f}) | {n['wall_s'] / b['wall_s']:.2f}× |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": r, "meta": meta(grammar=bool(grammar))}))


if __name__ == "__main__":
    main()
