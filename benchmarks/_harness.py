"""Run one benchmark stage in a fresh interpreter and collect its wall time and peak RSS.

A stage is a snippet that sets ``extra`` (a dict) and whose timed part is everything after
``t0``. Fresh processes keep caches, imports and memory of one stage out of the next.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

TEMPLATE = """
import json, resource, sys, time
{setup}
t0 = time.perf_counter()
{body}
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"wall_s": wall, "peak_mib": peak, **extra}}))
"""


def stage(body: str, *args: str, setup: str = "") -> dict:
    code = TEMPLATE.format(setup=textwrap.dedent(setup), body=textwrap.dedent(body))
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"benchmark stage failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def meta(**more: object) -> dict:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        **more,
    }


def table(results: dict[str, dict], keys: list[str]) -> str:
    lines = ["| stage | wall s | peak MiB |", "|---|---:|---:|"]
    lines += [f"| {k} | {results[k]['wall_s']:.2f} | {results[k]['peak_mib']:.0f} |" for k in keys]
    return "\n".join(lines)
