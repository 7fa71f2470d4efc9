"""``cfposture import-audit`` of a Logpush export against the floor of reading it.

The export is the enterprise generator's audit events (10 and 100 accounts: 200k and 2M events)
rewritten as Logpush writes the ``audit_logs_v2`` dataset, one gzip NDJSON file per account (the
dataset is account-scoped: one job per account). The floor, measured in the same run:
decompress every file and parse every line, which any import must do; the import adds the
rewrite into the API's shape, the per-account deduplication and sort, and writing the folder.

    python benchmarks/bench_import.py                # ~8 minutes, 2 cores
    python benchmarks/bench_import.py --smoke        # 1 account (CI)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _harness import meta, stage
from bench_scale import GENERATE

EXPORT = """
import gzip, json
from pathlib import Path
from cfposture.rawsnapshot import RawSnapshot
raw, out = RawSnapshot.open(sys.argv[1]), Path(sys.argv[2])
out.mkdir()
events = 0
for entry in raw.entries("audit_logs"):
    lines = []
    for e in raw.iter_items("audit_logs", **entry["ids"]):
        a, r, z = e.get("actor") or {}, e.get("resource") or {}, e.get("zone") or {}
        lines.append(json.dumps({
            "AuditLogID": e["id"], "AccountID": e["account"]["id"],
            "ActionTimestamp": e["action"]["time"], "ActionType": e["action"].get("type"),
            "ActionResult": e["action"].get("result"), "ActorID": a.get("id"),
            "ActorType": a.get("type"), "ActorContext": a.get("context"),
            "ActorEmail": a.get("email"), "ActorIPAddress": a.get("ip_address"),
            "ActorTokenDetails": {"id": a.get("token_id"), "name": a.get("token_name")},
            "ResourceID": r.get("id"), "ResourceProduct": r.get("product"),
            "ResourceType": r.get("type"), "ZoneID": z.get("id"), "Raw": e.get("raw")}))
    (out / f"{entry['ids']['account_id']}.log.gz").write_bytes(
        gzip.compress(("\\n".join(lines) + "\\n").encode(), 6))
    events += len(lines)
extra = {"events": events}
"""
FLOOR = """
import gzip, json
from pathlib import Path
events = 0
for f in sorted(Path(sys.argv[1]).glob("*.log.gz")):
    for line in gzip.decompress(f.read_bytes()).splitlines():
        json.loads(line)
        events += 1
extra = {"events": events}
"""
IMPORT = """
import resource, subprocess
from pathlib import Path
files = sorted(str(f) for f in Path(sys.argv[1]).glob("*.log.gz"))
done = subprocess.run([sys.executable, "-m", "cfposture.cli", "import-audit", sys.argv[2], *files,
                       "--quiet"], capture_output=True, text=True)
if done.returncode:
    raise SystemExit(done.stderr)
extra = {"children_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="1 account")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    scales = {"1 account": 1} if args.smoke else {"10 accounts": 10, "100 accounts": 100}
    r: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, accounts in scales.items():
            root = Path(tmp) / name.replace(" ", "-")
            stage(GENERATE, str(root / "gen"), str(accounts))
            made = stage(EXPORT, str(root / "gen"), str(root / "logpush"))
            floor = stage(FLOOR, str(root / "logpush"))
            done = stage(IMPORT, str(root / "logpush"), str(root / "imported"))
            done["peak_mib"] = done.pop("children_peak_mib")
            manifest = json.loads((root / "imported" / "manifest.json").read_text())
            if manifest["counts"]["audit_logs"] != made["events"]:  # each event once, none lost
                raise SystemExit(f"imported {manifest['counts']['audit_logs']} of {made['events']}")
            r[name] = {"floor": floor, "import": done, "events": made["events"]}
    print("| scale | events | floor s (parse) | import s (peak MiB) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, x in r.items():
        f, i = x["floor"], x["import"]
        print(
            f"| {name} | {x['events']:,} | {f['wall_s']:.1f} | {i['wall_s']:.1f}"
            f" ({i['peak_mib']:.0f}) | {i['wall_s'] / f['wall_s']:.2f}× |"
        )
    if args.json:
        args.json.write_text(json.dumps({"results": r, "meta": meta(scales=scales)}, indent=1))


if __name__ == "__main__":
    main()
