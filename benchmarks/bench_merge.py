"""``cfposture merge`` of two members' pulls against the floor of any merge that keeps the format.

The two pulls hold the same accounts (the enterprise generator at 10 and 100 accounts: 200k and
2M audit events each); the second is the first taken an hour later by another member, so every
event is in both and the merge must find each one twice. The floor, measured in the same run:
decompress both pulls' audit files and compress one copy of the events into a new file, which
any merge writing gzip NDJSON must do; the merge adds parsing each event for its id and time,
and everything else.

    python benchmarks/bench_merge.py                 # ~6 minutes, 2 cores
    python benchmarks/bench_merge.py --smoke         # 1 account (CI)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _harness import meta, stage

GENERATE = """
from pathlib import Path
from cfposture.sample.enterprise import write_enterprise
write_enterprise(Path(sys.argv[1]), 2026, {"kind": "sample"}, int(sys.argv[2]))
extra = {}
"""
FLOOR = """
import gzip
from pathlib import Path
a, b, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
out.mkdir()
events = 0
for n, f in enumerate(sorted(a.glob("accounts/*/logs/audit.ndjson.gz"))):
    lines = gzip.decompress(f.read_bytes())
    gzip.decompress((b / f.relative_to(a)).read_bytes())
    with gzip.GzipFile("", "wb", 6, open(out / f"{n}.gz", "wb"), mtime=0) as gz:
        gz.write(lines)
    events += lines.count(b"\\n")
extra = {"events": events}
"""
MERGE = """
import subprocess
done = subprocess.run([sys.executable, "-m", "cfposture.cli", "merge", sys.argv[3], sys.argv[1],
                       sys.argv[2], "--quiet"], capture_output=True, text=True)
if done.returncode:
    raise SystemExit(done.stderr)
import resource
extra = {"children_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
"""


def second_pull(first: Path, dest: Path) -> None:
    """The same accounts pulled an hour later by another member (another /user)."""
    shutil.copytree(first, dest)
    m = json.loads((dest / "manifest.json").read_text())
    m["created_at"] = m["created_at"].replace("T06:", "T07:")
    m["source"] = {"kind": "bench", "member": 2}
    (dest / "manifest.json").write_text(json.dumps(m))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="1 account")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scales = {"1 account": 1} if args.smoke else {"10 accounts": 10, "100 accounts": 100}
    r: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, accounts in scales.items():
            root = Path(tmp) / name
            stage(GENERATE, str(root / "gen"), str(accounts))
            a = root / "gen"
            b = root / "second"
            second_pull(a, b)
            floor = stage(FLOOR, str(a), str(b), str(root / "floor"))
            merged = stage(MERGE, str(a), str(b), str(root / "merged"))
            merged["peak_mib"] = merged.pop("children_peak_mib")
            check = subprocess.run(
                [sys.executable, "-m", "cfposture.cli", "summary", str(root / "merged")],
                capture_output=True,
                text=True,
                check=True,
            )
            rows = json.loads(check.stdout)["rows"]
            if rows["audit_events"] != floor["events"]:  # each event once, none lost
                raise SystemExit(
                    f"merged {rows['audit_events']} events, expected {floor['events']}"
                )
            r[name] = {"floor": floor, "merge": merged, "rows": rows}
            shutil.rmtree(root)
    print("| scale | audit events per pull | floor s | merge s (peak MiB) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, x in r.items():
        f, m = x["floor"], x["merge"]
        print(
            f"| {name} | {f['events']:,} | {f['wall_s']:.1f} | {m['wall_s']:.1f}"
            f" ({m['peak_mib']:.0f}) | {m['wall_s'] / f['wall_s']:.2f}× |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": r, "meta": meta(scales=scales)}, indent=1))


if __name__ == "__main__":
    main()
