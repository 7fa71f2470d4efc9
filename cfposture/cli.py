"""The ``cfposture`` command line.

Exit codes: 0 fine; 1 findings at or above ``--fail-on``; 2 bad usage or bad input, with a
one-line reason that says how to fix it (never a traceback for an expected error).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .__about__ import __version__
from .errors import CfPostureError


def _cmd_sample(args: argparse.Namespace) -> int:
    from .sample import generate

    out = generate(args.out, scale=args.scale, seed=args.seed)
    if not args.quiet:
        print(f"wrote {args.scale} sample (seed {args.seed}) to {out}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from .load import load

    snap = load(args.snapshot)
    print(json.dumps(snap.summary(), indent=2, default=str))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    index = write_report(args.snapshot, Path(args.out))
    if not args.quiet:
        print(f"report written to {index}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cfposture",
        description="Audit the security posture of Cloudflare accounts.",
    )
    p.add_argument("--version", action="version", version=f"cfposture {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sample", help="write the synthetic sample organisation as raw snapshots")
    s.add_argument("out", help="new folder to write (a history of dated snapshots)")
    s.add_argument("--scale", choices=["small", "enterprise"], default="small")
    s.add_argument("--seed", type=int, default=2026, help="same seed, same bytes (default 2026)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_sample)

    s = sub.add_parser("summary", help="print a snapshot's headline counts as JSON")
    s.add_argument("snapshot", nargs="?", default="sample", help="folder, or 'sample' (default)")
    s.set_defaults(func=_cmd_summary)

    s = sub.add_parser("report", help="write the posture report for a snapshot")
    s.add_argument("snapshot", nargs="?", default="sample", help="folder, or 'sample' (default)")
    s.add_argument("--out", default="cfposture-report", help="output folder")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CfPostureError as e:
        print(f"cfposture: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a path the user gave cannot be read or written
        where = f" {e.filename}" if e.filename else ""
        print(
            f"cfposture: error: {e.strerror or e}:{where}; check the path and its permissions",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("cfposture: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
