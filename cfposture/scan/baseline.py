"""A baseline of known leaks, like detect-secrets: fingerprints (sha256) only, never values.

CI runs ``cfposture scan . --baseline .cfposture-scan-baseline.json --fail-on-found`` and
fails only on a credential that is not in the baseline. ``--update-baseline`` rewrites it
(atomically) with everything the scan found.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..bounded import load_file
from ..errors import CfPostureError


def load(path: str | Path) -> set[str]:
    p = Path(path)
    if not p.exists():
        return set()
    advice = "regenerate it with --update-baseline"
    doc = load_file(p, CfPostureError, advice)
    try:
        entries = doc["fingerprints"]
        out = {str(e["fingerprint"]) for e in entries}
    except (KeyError, TypeError) as e:
        raise CfPostureError(
            f"{p}: not a cfposture scan baseline ({e}); regenerate it with --update-baseline"
        ) from None
    if any(len(f) != 64 for f in out):
        raise CfPostureError(f"{p}: fingerprints must be sha256 hex; regenerate it")
    return out


def apply(findings: list[dict[str, Any]], known: set[str]) -> None:
    for f in findings:
        f["baselined"] = f["fingerprint"] in known


def write(path: str | Path, findings: list[dict[str, Any]]) -> int:
    seen: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f["status"] == "credential":
            seen.setdefault(
                f["fingerprint"],
                {"fingerprint": f["fingerprint"], "format": f["format"], "first": f["location"]},
            )
    doc = {
        "version": 1,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fingerprints": sorted(seen.values(), key=lambda e: e["fingerprint"]),
    }
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent if str(p.parent) else ".")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, p)
    return len(seen)
