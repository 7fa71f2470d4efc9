"""The ``cfposture`` command line.

Exit codes: 0 fine; 1 findings at or above ``--fail-on``; 2 bad usage or bad input, with a
one-line reason that says how to fix it (never a traceback for an expected error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .__about__ import __version__
from .errors import SEVERITIES, CfPostureError

# typing, json and datetime are imported where needed: ``cfposture scan`` starts ripgrep sooner
# without them (benchmarks/README, Scanner, sixteenth session); ``if TYPE_CHECKING`` blocks are
# read by type checkers, never run
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from typing import Any, NoReturn

    from .window import Window

    AddArguments = Callable[[argparse.ArgumentParser], None]


def _cmd_sample(args: argparse.Namespace) -> int:
    from .sample import generate

    out = generate(args.out, scale=args.scale, seed=args.seed)
    if not args.quiet:
        print(f"wrote {args.scale} sample (seed {args.seed}) to {out}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .merge import describe, merge

    out = merge(args.snapshots, args.out, max_apart=timedelta(hours=args.max_apart))
    if not args.quiet:
        print(describe(out))
    return 0


def _cmd_import_audit(args: argparse.Namespace) -> int:
    from .sources.logpush import import_audit

    out, events = import_audit(args.out, args.files, since=args.since, before=args.before)
    if not args.quiet:
        from .rawsnapshot import RawSnapshot

        window = RawSnapshot.open(out).manifest["audit_window"]
        print(
            f"imported {events} audit event(s) ({window['since']}..{window['before']}) into {out}"
        )
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    import json

    from .load import load

    snap = load(args.snapshot)
    print(json.dumps(snap.summary(), indent=2, default=str))
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from . import cache

    folder = cache.cache_dir()
    if folder is None:
        print("cache: off (CFPOSTURE_CACHE_DIR); nothing is kept between runs")
        return 0
    if args.clear:
        n, size = cache.clear()
        print(f"cache: {folder}: deleted {n} entries, {size / 1e6:.1f} MB")
        return 0
    files = cache.entry_sizes()
    frames = sum(size for p, size in files.items() if p.suffix == ".parquet")
    budget = cache.budget_bytes() / 1024 / 1024
    print(f"cache: {folder}")
    print(
        f"entries: {len(files)}, {sum(files.values()) / 1e6:.1f} MB (frames {frames / 1e6:.1f}"
        f" MB; budget {budget:.0f} MiB, CFPOSTURE_CACHE_MAX_MB)"
    )
    print("clear it with: cfposture cache --clear (frames hold members' emails and IP addresses)")
    return 0


def _write(text: str | bytes, out: str | None) -> None:
    """Write an output to ``out`` or standard output; bytes are UTF-8 already (orjson's)."""
    if isinstance(text, bytes):
        if out:
            Path(out).write_bytes(text)
            return
        stdout = getattr(sys.stdout, "buffer", None)
        if stdout is None:  # a stand-in without bytes (a notebook's stream)
            sys.stdout.write(text.decode("utf-8"))
            return
        sys.stdout.flush()  # anything printed as text before comes first
        stdout.write(text)
        stdout.flush()
    elif out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _cmd_findings(args: argparse.Namespace) -> int:
    from .baseline import accepted_risks, load_baseline
    from .export import render
    from .findings import at_or_above, judge
    from .load import load

    # a gate reads nothing from the cache: anyone who could replace a cached frame would
    # decide the exit code
    snap = load(args.snapshot, cached=not args.fail_on)
    baseline = load_baseline(args.baseline) if args.baseline else None
    df, window = judge(snap, **_rule_params(args), rules=args.rules, baseline=baseline)
    if baseline:
        _note_baseline(accepted_risks(df, baseline, snap.created_at), args.snapshot, args.baseline)
    _note_window(window, args.rules)
    meta = {"path": str(snap.path), "created_at": snap.manifest.get("created_at")}
    _write(render(df, args.format, meta, window, snap.account_names), args.output)
    if args.fail_on and not at_or_above(df, args.fail_on).empty:
        n = len(at_or_above(df, args.fail_on))
        print(f"cfposture: {n} open finding(s) at or above {args.fail_on}", file=sys.stderr)
        return 1
    return 0


def _rule_params(args: argparse.Namespace) -> dict[str, int]:
    """The rule thresholds ``findings`` and ``accept`` both take (ids must match the same
    findings)."""
    keys = ("stale_days", "usage_days", "rotate_days", "max_super_admins")
    return {k: getattr(args, k) for k in keys}


def _cmd_accept(args: argparse.Namespace) -> int:
    from .baseline import record, resolve_ids
    from .findings import judge
    from .load import load

    snap = load(args.snapshot)
    df, _ = judge(snap, **_rule_params(args))
    ids = resolve_ids(df, args.finding_ids)
    expires = _expiry(args.expires)
    done = record(args.baseline, ids, reason=args.reason, owner=args.owner, expires=expires)
    until = f"until {expires.date()}" if expires is not None else "with no expiry"
    rows = df.drop_duplicates("finding_id").set_index("finding_id")
    for fid in ids:
        f = rows.loc[fid]
        who = f["principal_name"] if isinstance(f["principal_name"], str) else f["principal_id"]
        print(f"{done[fid]}: {fid} {f['rule_id']} {who} ({f['severity']}), {until}")
    print(f"baseline written: {args.baseline}")
    return 0


def _expiry(value: str | None) -> Any:
    """``--expires``: a date still to come, ``never`` (None), or by default ACCEPT_DAYS from
    today (UTC midnight)."""
    import pandas as pd

    from .baseline import ACCEPT_DAYS

    today = pd.Timestamp.now(tz="UTC").normalize()
    if value is None:
        return today + pd.Timedelta(days=ACCEPT_DAYS)
    if value.strip().lower() == "never":
        return None
    try:
        when = pd.Timestamp(value, tz="UTC")
    except ValueError:
        raise CfPostureError(f"--expires {value!r} is not a date (YYYY-MM-DD) or 'never'") from None
    if when <= today:
        raise CfPostureError(f"--expires {value} has passed; give a date still to come")
    return when


def _note_window(window: Window, rules: list[str] | None) -> None:
    """Say on standard error why the usage rules are silent, when they are: silence must not
    read as "all used"."""
    from .window import USAGE_RULES

    asked = USAGE_RULES if rules is None else [r for r in rules if r in USAGE_RULES]
    if asked and not window.sufficient:
        print(f"cfposture: note: {window.sentence()}", file=sys.stderr)


def _note_baseline(risks: Any, snapshot: str = "SNAPSHOT", baseline: str = "FILE") -> None:
    """What a scheduled run's log should show about accepted risks: the ones that need their
    owner (reopened, expiring), with the command that renews one, and the entries that match
    nothing any more."""
    from .baseline import EXPIRING_DAYS

    for state, says in (
        ("reopened", "accepted risk(s) expired; their findings are open again"),
        ("expiring", f"accepted risk(s) expire within {EXPIRING_DAYS} days"),
        ("no finding", "baseline id(s) match no current finding (fixed, or a typo)"),
    ):
        rows = risks[risks["state"] == state]
        if len(rows):
            who = ", ".join(f"{r.finding_id} ({r.owner})" for r in rows.head(5).itertuples())
            more = " …" if len(rows) > 5 else ""
            print(f"cfposture: warning: {len(rows)} {says}: {who}{more}", file=sys.stderr)
    if risks["state"].isin(["reopened", "expiring"]).any():
        print(
            "cfposture: fix those findings, or renew an acceptance with a fresh reason:"
            f" cfposture accept {snapshot} FINDING_ID --baseline {baseline}"
            " --reason TEXT --owner WHO",
            file=sys.stderr,
        )


def _cmd_scores(args: argparse.Namespace) -> int:
    from .export import account_column, printable, to_csv
    from .findings import context
    from .load import load
    from .scoring import scores_from

    ctx = context(load(args.snapshot), usage_days=args.usage_days)
    df = scores_from(ctx)
    if not ctx.window.sufficient:
        print(f"cfposture: note: {ctx.window.sentence()}", file=sys.stderr)
    if args.format == "json":
        text = df.to_json(orient="records", indent=1, date_format="iso") + "\n"
    elif args.format == "csv":
        text = to_csv(df)
    else:
        view = df.assign(account=account_column(df["account_id"], ctx.snap.account_names))
        cols = ["principal_type", "principal_name", "account"]
        view = view[
            cols + [c for c in df.columns if c not in (*cols, "principal_id", "account_id")]
        ]
        view = printable(view)
        text = view.to_string(index=False) + "\n"
    _write(text, args.output)
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    import logging

    from .sources.pull import PullOptions, pull

    if not args.quiet:
        logging.basicConfig(level=logging.WARNING, format="cfposture: %(message)s")
    result = pull(
        PullOptions(
            out=Path(args.out),
            api_base=args.api_base,
            accounts=args.account,
            audit_days=args.audit_days,
            since=args.since,
            before=args.before,
            since_last=args.since_last,
            oauth_export=Path(args.oauth_export) if args.oauth_export else None,
            rate_limit=args.rate_limit,
            rate_window=args.rate_window_seconds,
            workers=args.workers,
            resume=args.resume,
            restart=args.restart,
            quiet=args.quiet,
            allow_hosts=tuple(args.allow_host or ()),
        )
    )
    if not args.quiet:
        for d in result.denied:
            print(
                f"cfposture: coverage gap: {d['path']} (HTTP {d['http_status']}); the token "
                f"needs {d['needs']}",
                file=sys.stderr,
            )
        print(
            f"pulled {result.counts.get('accounts', 0)} account(s) in {result.requests} requests "
            f"({result.rate_limited} rate-limited, {result.retries} retried) into {result.path}",
            file=sys.stderr,
        )
    print(result.path)
    return 0


def _cmd_fake_api(args: argparse.Namespace) -> int:
    from .fakeapi import FakeCloudflare, Limits, base_url, make_server

    fake = FakeCloudflare(
        args.snapshot,
        Limits(
            token=args.token,
            latency_ms=args.latency_ms,
            rate_limit=args.rate_limit,
            rate_window=args.rate_window,
            lockout=args.lockout,
            fail_rate=args.fail_rate,
            header_family=args.ratelimit_headers,
            garble_rate=args.garble_rate,
            spike_rate=args.spike_rate,
            spike_ms=args.spike_ms,
        ),
    )
    server = make_server(fake, args.port)
    print(base_url(server), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    """``cfposture scan``, with the cyclic garbage collector paused until it ends.

    A scan makes several objects per credential and no reference cycle, so reference
    counting frees everything; the collector would only walk them, again and again as they
    pile up (on the benchmark corpus a full pass over 9,216 findings' records came during the
    write, ~4 ms, and ~5 ms in all: benchmarks/README, Scanner, seventeenth session)."""
    import gc

    if not gc.isenabled():  # the caller's choice (a profiler, a test): left as it is
        return _scan_command(args)
    gc.disable()
    try:
        return _scan_command(args)
    finally:
        if getattr(args, "hold", None):  # kept to the process's end: never to be collected
            gc.freeze()
        gc.enable()


def _scan_command(args: argparse.Namespace) -> int:
    # what runs before ripgrep starts is kept light: the baseline's reader (json, datetime)
    # only with --baseline, the output's writers (orjson, csv) once ripgrep has started
    from importlib import import_module

    from .scan import scan

    if args.update_baseline and not args.baseline:
        raise CfPostureError("--update-baseline needs --baseline FILE")
    if args.verify:  # refuse a stranger's host before any value is found, let alone sent
        from .sources.pull import checked_base

        checked_base(args.api_base, tuple(args.allow_host or ()))
    if args.snapshot and not args.verify:
        raise CfPostureError("--snapshot joins verified tokens: add --verify")
    if args.no_record and not args.snapshot:
        raise CfPostureError("--no-record only applies with --snapshot")
    if args.snapshot == "sample" and args.verify and not args.no_record:
        raise CfPostureError(
            "the embedded sample is read-only: copy it (cfposture sample DIR) and pass"
            " --snapshot DIR, or add --no-record"
        )
    known = None
    if args.baseline:
        from .scan import baseline as scan_baseline

        known = scan_baseline.load(args.baseline)  # a bad file fails before anything is read
    from .scan.engine import Engine

    result = scan(
        args.paths,
        git=args.git,
        gitignore=args.gitignore,
        exclude=args.exclude or (),
        commits=args.commits,
        workers=args.workers,
        engine=Engine(use_hyperscan=args.engine != "re"),
        use_rg={"auto": None, "rg": True}.get(args.engine, False),
        log=False,  # printed here instead, once each (at most twenty), with the prefix
        # the writers (orjson alone brings ~12 ms of imports) load while ripgrep searches
        on_start=lambda: import_module("cfposture.scan.output"),
        hold_values=args.verify,  # nothing else sends a value anywhere
    )
    for w in result.stats.warnings[:20]:
        print(f"cfposture: warning: {w}", file=sys.stderr)
    snap_path = None
    if args.snapshot:
        from .load import history

        snap_path = history(args.snapshot)[-1]
    try:
        if args.verify:
            from .scan.verify import verify

            accounts = list(args.account or [])
            if snap_path is not None:
                from .rawsnapshot import RawSnapshot

                raw = RawSnapshot.open(snap_path)
                accounts += [str(a["id"]) for a in raw.items("accounts") if a.get("id")]
            n = verify(
                result.findings,
                result.values,
                accounts=accounts,
                api_base=args.api_base,
                allow_hosts=tuple(args.allow_host or ()),
            )
            if not args.quiet:
                print(f"cfposture: asked the API about {n} value(s)", file=sys.stderr)
    finally:
        result.forget()
    if snap_path is not None:  # --snapshot implies --verify (checked above)
        from .rawsnapshot import add_observations
        from .scan.inventory import join, observations

        join(result.findings, str(snap_path))
        seen = observations(result.findings)
        if seen and not args.no_record:
            add_observations(snap_path, seen)
            if not args.quiet:
                print(
                    f"cfposture: recorded {len(seen)} observed token format(s) beside "
                    f"{args.snapshot} (CFP-T09 now fires for them)",
                    file=sys.stderr,
                )
    if args.baseline:
        scan_baseline.apply(result.findings, known or set())
        if args.update_baseline:
            n = scan_baseline.write(args.baseline, result.findings)
            print(
                f"cfposture: baseline {args.baseline} now holds {n} fingerprint(s)", file=sys.stderr
            )
    from .scan.output import render as render_scan

    summary = result.summary()
    _write(render_scan(args.format, result.findings, summary), args.output)
    if getattr(args, "hold", None) is not None:  # see main: not freed one by one for nothing
        args.hold.append(result)
    if args.fail_on_found and summary["new"]:
        print(
            f"cfposture: {summary['new']} credential(s) found that are not in the baseline",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    import json

    from .baseline import load_baseline
    from .load import load
    from .remediate import build_plan, render_plan

    snap = load(args.snapshot)
    plan = build_plan(
        snap,
        rules=args.rules,
        baseline=load_baseline(args.baseline) if args.baseline else None,
        expires_in_days=args.expires_in_days,
    )
    out = Path(args.out)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(plan, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    if not args.quiet:
        sys.stdout.write(render_plan(plan, args.format))
        print(f"cfposture: wrote {out}; review it, then: cfposture apply {out}", file=sys.stderr)
    return 0


def _cmd_apply(args: argparse.Namespace) -> int:
    from .bounded import load_file
    from .remediate import apply_plan
    from .textsafe import escaped

    plan = load_file(args.plan, CfPostureError, "make it with cfposture plan")
    log = Path(args.log) if args.log else Path(args.plan).with_suffix(".log.ndjson")
    outcomes = apply_plan(
        plan,
        api_base=args.api_base,
        yes=args.yes,
        log_path=log,
        values_file=args.values_file,
        source=str(args.plan),
        allow_hosts=tuple(args.allow_host or ()),
    )
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
        if not args.quiet:
            t = o.action["target"]
            name = escaped(str(t.get("name")))
            print(f"{o.outcome:8} {o.action['kind']:13} {name} ({t['id']}): {o.reason}")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to do"
    mode = "applied" if args.yes else "dry run (add --yes to apply)"
    # a dry run logs only what it refused or could not check (apply_plan)
    logged = args.yes or counts.get("refused") or counts.get("failed")
    where = f"; log {log}" if logged else "; nothing logged"
    print(f"cfposture: {mode}: {summary}{where}", file=sys.stderr)
    return 1 if counts.get("failed") else 0


def _timestamp(value: str) -> datetime:
    from datetime import UTC, datetime

    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("use an RFC 3339 date or timestamp") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _hours(value: str) -> float:
    try:
        n = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of hours") from None
    if not 0 <= n <= 24 * 365:
        raise argparse.ArgumentTypeError("must be between 0 and 8760 hours")
    return n


def _allow_host_option(s: argparse.ArgumentParser) -> None:
    """``--allow-host``, shared by the commands that send the token (see ``checked_base``)."""
    s.add_argument(
        "--allow-host",
        action="append",
        metavar="HOST",
        help="an API host besides Cloudflare's and this machine that may receive the token"
        " (repeat; https only)",
    )


def _audit_days(value: str) -> int:
    n = int(value) if value.strip().isdigit() else 0
    if not 1 <= n <= 548:
        raise argparse.ArgumentTypeError(
            "must be between 1 and 548 days (audit logs are kept 18 months); import older"
            " logs from Logpush with cfposture import-audit"
        )
    return n


def _in_range(cast: type[int] | type[float], lo: float, hi: float, what: str):
    """An argparse type: a number of ``cast`` between ``lo`` and ``hi``, else a one-line error
    (argparse's own says only "invalid value")."""

    def parse(value: str) -> int | float:
        try:
            n = cast(value)
        except ValueError:
            n = None
        if n is None or n != n or not lo <= n <= hi:  # n != n: NaN
            kind = "a whole number" if cast is int else "a number"
            span = " to ".join(f"{x:,.0f}" if x == int(x) else f"{x:g}" for x in (lo, hi))
            raise argparse.ArgumentTypeError(f"must be {kind} from {span} ({what})")
        return n

    return parse


_share = _in_range(float, 0, 1, "a share of the requests")
_days = _in_range(int, 1, 3650, "days")
_admins = _in_range(int, 0, 10_000, "super administrators")
_requests = _in_range(int, 1, 1_000_000, "requests")
_window = _in_range(float, 1, 86400, "seconds")
_pull_workers = _in_range(int, 1, 64, "workers")
_scan_workers = _in_range(int, 0, 256, "threads")
_port = _in_range(int, 0, 65535, "port")
_millis = _in_range(int, 0, 600_000, "milliseconds")
_seconds = _in_range(float, 0.001, 86400, "seconds")


def _kernels(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("must be a whole number of kernels between 1 and 64")
    return n


def _param(value: str) -> int | float | bool | str:
    """A -p value typed the way papermill's command line types it."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import skip_slow_imports, write_report  # light: kernels start before pandas

    skip_slow_imports()  # this process is the command's own (see report.kernels)

    params = {name: _param(value) for name, value in args.parameter or []}
    if args.baseline:
        params["baseline"] = args.baseline
    index, view = write_report(
        args.snapshot,
        Path(args.out),
        params,
        workers=args.kernels,
        progress=not args.quiet,
        cached=not args.fail_on,  # a gate rests on the snapshots, not on the cache
    )
    from .findings import at_or_above

    df = view.findings
    if not args.quiet:
        print(f"report written to {index}")
    if view.window is not None:
        _note_window(view.window, None)
    if view.baseline is not None:
        _note_baseline(view.extras["accepted_risks"], str(args.snapshot), view.baseline.path)
    if args.fail_on and not at_or_above(df, args.fail_on).empty:
        n = len(at_or_above(df, args.fail_on))
        print(f"cfposture: {n} open finding(s) at or above {args.fail_on}", file=sys.stderr)
        return 1
    return 0


#: The subcommands: name → (what ``add_parser`` is told, the function adding its arguments).
#: ``main`` builds the one it runs only: all fourteen with their hundred arguments took 4–8 ms,
#: a scan's time before ripgrep can start (benchmarks/README, Scanner, sixteenth session).
_COMMANDS: dict[str, tuple[dict[str, str], AddArguments]] = {}


def _command(
    name: str, help: str, description: str | None = None
) -> Callable[[AddArguments], AddArguments]:
    def register(add_arguments: AddArguments) -> AddArguments:
        kw = {"help": help} if description is None else {"help": help, "description": description}
        _COMMANDS[name] = (kw, add_arguments)
        return add_arguments

    return register


@_command("sample", help="write the synthetic sample organisation as raw snapshots")
def _args_sample(s: argparse.ArgumentParser) -> None:
    s.add_argument("out", help="new folder to write (a history of dated snapshots)")
    s.add_argument("--scale", choices=["small", "enterprise"], default="small")
    s.add_argument("--seed", type=int, default=2026, help="same seed, same bytes (default 2026)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_sample)


@_command("summary", help="print a snapshot's headline counts as JSON")
def _args_summary(s: argparse.ArgumentParser) -> None:
    s.add_argument("snapshot", nargs="?", default="sample", help="folder, or 'sample' (default)")
    s.set_defaults(func=_cmd_summary)


@_command("findings", help="run the rules; table, JSON, CSV or SARIF")
def _args_findings(s: argparse.ArgumentParser) -> None:
    s.add_argument("snapshot", nargs="?", default="sample", help="folder, or 'sample' (default)")
    s.add_argument("--format", choices=["table", "json", "csv", "sarif"], default="table")
    s.add_argument("-o", "--output", help="write to this file instead of standard output")
    s.add_argument("--baseline", help="YAML/JSON file of accepted finding ids")
    s.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 if an open finding is at or above")
    s.add_argument("--stale-days", type=_days, default=90, help="CFP-T04 window (default 90)")
    s.add_argument("--usage-days", type=_days, default=90, help="usage window (default 90)")
    s.add_argument("--rotate-days", type=_days, default=365, help="CFP-T05 period (default 365)")
    s.add_argument("--max-super-admins", type=_admins, default=3, help="CFP-M03 threshold")
    s.add_argument("--rules", nargs="+", metavar="ID", help="only these rule ids (CFP-T01 …)")
    s.set_defaults(func=_cmd_findings)


@_command(
    "accept",
    help="record accepted risks in a baseline file (reason, owner, expiry)",
    description="Accept findings of SNAPSHOT by id (or the start of one, as the findings"
    " table shows it): each is added to the baseline file, or renewed if it is there."
    " Accepted findings stay in every output, marked accepted, until they expire.",
)
def _args_accept(s: argparse.ArgumentParser) -> None:
    s.add_argument("snapshot", help="folder, or 'sample': the findings the ids must match")
    s.add_argument(
        "finding_ids", nargs="+", metavar="FINDING_ID", help="an id, or its first 6+ characters"
    )
    s.add_argument("--baseline", required=True, help="YAML or JSON file (created if missing)")
    s.add_argument("--reason", required=True, help="why the risk is accepted")
    s.add_argument("--owner", required=True, help="who answers for it (an email)")
    s.add_argument(
        "--expires",
        metavar="YYYY-MM-DD|never",
        help="when the finding opens again (default: 90 days from today)",
    )
    s.add_argument("--stale-days", type=_days, default=90, help="as for findings")
    s.add_argument("--usage-days", type=_days, default=90, help="as for findings")
    s.add_argument("--rotate-days", type=_days, default=365, help="as for findings")
    s.add_argument("--max-super-admins", type=_admins, default=3, help="as for findings")
    s.set_defaults(func=_cmd_accept)


@_command("scores", help="least-privilege gap and exposure per principal")
def _args_scores(s: argparse.ArgumentParser) -> None:
    s.add_argument("snapshot", nargs="?", default="sample", help="folder, or 'sample' (default)")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.add_argument("-o", "--output", help="write to this file instead of standard output")
    s.add_argument("--usage-days", type=_days, default=90, help="usage window (default 90)")
    s.set_defaults(func=_cmd_scores)


@_command(
    "pull",
    help="pull a raw snapshot from the API (token: CLOUDFLARE_API_TOKEN)",
)
def _args_pull(s: argparse.ArgumentParser) -> None:
    s.add_argument("out", help="new folder for the snapshot")
    s.add_argument("--api-base", help="API base URL (default: CLOUDFLARE_BASE_URL or Cloudflare)")
    _allow_host_option(s)
    s.add_argument("--account", action="append", metavar="ID", help="only this account (repeat)")
    s.add_argument(
        "--audit-days",
        type=_audit_days,
        default=90,
        help="audit log days (default 90, the usage window; the API keeps 548)",
    )
    first = s.add_mutually_exclusive_group()
    first.add_argument(
        "--since", type=_timestamp, help="audit logs from (default: --audit-days ago)"
    )
    first.add_argument(
        "--since-last",
        action="store_true",
        help="audit logs from where the latest snapshot in OUT's folder ends (scheduled pulls)",
    )
    s.add_argument("--before", type=_timestamp, help="audit logs until (default: now)")
    s.add_argument("--oauth-export", metavar="FILE", help="connected-apps export (CSV or JSON)")
    s.add_argument(
        "--rate-limit",
        type=_requests,
        default=1200,
        help="your API budget per 5 minutes (default 1200; 90%% of it is used)",
    )
    s.add_argument(
        "--rate-window-seconds",
        type=_window,
        default=300.0,
        help="the window --rate-limit counts over (default 300)",
    )
    s.add_argument(
        "--workers",
        type=_pull_workers,
        default=4,
        help="concurrent requests (default 4)",
    )
    again = s.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted pull")
    again.add_argument(
        "--restart", action="store_true", help="discard an interrupted pull and start over"
    )
    s.add_argument("--quiet", action="store_true", help="no progress bar (for schedulers)")
    s.set_defaults(func=_cmd_pull)


@_command(
    "merge",
    help="merge several members' pulls of the same accounts into one snapshot",
)
def _args_merge(s: argparse.ArgumentParser) -> None:
    s.add_argument("out", help="new folder for the merged snapshot")
    s.add_argument("snapshots", nargs="+", metavar="SNAPSHOT", help="pull folders (two or more)")
    s.add_argument(
        "--max-apart",
        type=_hours,
        default=24.0,
        metavar="HOURS",
        help="refuse pulls further apart in time than this (default 24)",
    )
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_merge)


@_command(
    "import-audit",
    help="import a Logpush export of audit logs (audit_logs_v2) into a history folder",
)
def _args_import_audit(s: argparse.ArgumentParser) -> None:
    s.add_argument("out", help="new folder, inside the history folder of your pulls")
    s.add_argument("files", nargs="+", metavar="FILE", help="Logpush files: NDJSON, .gz, Parquet")
    s.add_argument("--since", type=_timestamp, help="start of the span the export covers")
    s.add_argument("--before", type=_timestamp, help="end of the span the export covers")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_import_audit)


@_command("fake-api", help="serve a snapshot as the Cloudflare API on 127.0.0.1")
def _args_fake_api(s: argparse.ArgumentParser) -> None:
    s.add_argument("snapshot", nargs="?", default="sample", help="folder, or 'sample' (default)")
    s.add_argument("--port", type=_port, default=8787, help="0 picks a free port")
    s.add_argument("--token", help="the only Bearer token accepted (default: any)")
    s.add_argument("--latency-ms", type=_millis, default=0)
    s.add_argument(
        "--rate-limit",
        type=_requests,
        help="requests per window, then 429 + lockout",
    )
    s.add_argument("--rate-window", type=_seconds, default=300.0, help="seconds (default 300)")
    s.add_argument("--lockout", type=_seconds, default=300.0, help="seconds refused after a 429")
    s.add_argument("--fail-rate", type=_share, default=0.0, help="share of random 5xx answers")
    s.add_argument(
        "--garble-rate", type=_share, default=0.0, help="share of 200s with a cut or non-JSON body"
    )
    s.add_argument("--spike-rate", type=_share, default=0.0, help="share of requests that stall")
    s.add_argument("--spike-ms", type=_millis, default=0, help="how long a stall lasts")
    s.add_argument(
        "--ratelimit-headers",
        choices=["a", "b"],
        default="a",
        help="a: x-ratelimit-*; b: IETF Ratelimit/Ratelimit-Policy",
    )
    s.set_defaults(func=_cmd_fake_api)


@_command(
    "scan",
    help="find Cloudflare credentials in files or git history (no pandas needed)",
)
def _args_scan(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files and folders (or repositories); - reads standard input",
    )
    s.add_argument("--git", action="store_true", help="scan every blob in each repo's history")
    s.add_argument(
        "--commits",
        metavar="RANGE",
        help="with --git: only what these commits introduced (e.g. origin/main..HEAD)",
    )
    s.add_argument("--gitignore", action="store_true", help="skip files .gitignore excludes")
    s.add_argument(
        "--exclude",
        action="append",
        metavar="PATTERN",
        help="skip paths matching (repeat): a name at any depth (node_modules, *.min.js) or a"
        " path under the scanned folder (tests/fixtures)",
    )
    s.add_argument(
        "--verify",
        action="store_true",
        help="ask the API which token each value is (sends the values to --api-base)",
    )
    s.add_argument("--api-base", help="API base URL for --verify (default: Cloudflare's)")
    _allow_host_option(s)
    s.add_argument("--account", action="append", help="account id for cfat_ verification")
    s.add_argument(
        "--snapshot", help="join verified tokens to this snapshot and record what was observed"
    )
    s.add_argument("--no-record", action="store_true", help="with --snapshot: do not record")
    s.add_argument("--format", choices=["table", "json", "csv", "sarif"], default="table")
    s.add_argument("--output", "-o", help="write here instead of stdout")
    s.add_argument("--baseline", help="fingerprints of known leaks (JSON); those are not new")
    s.add_argument("--update-baseline", action="store_true", help="rewrite --baseline")
    s.add_argument(
        "--fail-on-found",
        action="store_true",
        help="exit 1 on a credential neither in --baseline nor marked cfposture:allow",
    )
    s.add_argument(
        "--workers",
        type=_scan_workers,
        default=0,
        help="scanning threads (default: cores)",
    )
    s.add_argument(
        "--engine",
        choices=["auto", "rg", "hyperscan", "re"],
        default="auto",
        help="files: ripgrep if installed (auto), else Hyperscan; git history: Hyperscan",
    )
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_scan)


@_command("plan", help="write the remediation plan (JSON) and show it for review")
def _args_plan(s: argparse.ArgumentParser) -> None:
    s.add_argument("snapshot", help="snapshot folder (or 'sample')")
    s.add_argument("--out", required=True, help="plan file to write, e.g. PLAN.json")
    s.add_argument("--rules", nargs="+", metavar="ID", help="only findings of these rules")
    s.add_argument("--baseline", help="accepted findings (YAML/JSON) get no action")
    s.add_argument("--expires-in-days", type=_days, default=90, help="expiry set by CFP-T02 fixes")
    s.add_argument("--format", choices=["markdown", "table"], default="markdown")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_plan)


@_command("apply", help="carry out a plan through the API (dry run unless --yes)")
def _args_apply(s: argparse.ArgumentParser) -> None:
    s.add_argument("plan", help="PLAN.json from cfposture plan")
    s.add_argument("--api-base", help="API base URL (default: Cloudflare's)")
    _allow_host_option(s)
    s.add_argument("--yes", action="store_true", help="really change things")
    s.add_argument("--log", help="append-only log (default: PLAN.log.ndjson beside the plan)")
    s.add_argument("--values-file", help="append rolled values here (mode 0600), not the terminal")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_apply)


@_command(
    "cache",
    help="show cfposture's cache (parsed snapshots, judgements, trend rows), or clear it",
    description="Where cfposture keeps what it derived from snapshots between runs, and how"
    " much. Entries are keyed by the snapshots' contents and cfposture's code, so nothing"
    " stale is ever read; clear them when you delete snapshots, since parsed frames hold"
    " members' emails and IP addresses.",
)
def _args_cache(s: argparse.ArgumentParser) -> None:
    s.add_argument("--clear", action="store_true", help="delete every entry")
    s.set_defaults(func=_cmd_cache)


@_command("report", help="write the posture report for a snapshot")
def _args_report(s: argparse.ArgumentParser) -> None:
    s.add_argument("snapshot", nargs="?", default="sample", help="folder, or 'sample' (default)")
    s.add_argument("--out", default="cfposture-report", help="output folder")
    s.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="notebook parameter (repeat), e.g. -p stale_days 30",
    )
    s.add_argument(
        "--baseline",
        metavar="FILE",
        help="accepted risks (YAML/JSON): marked accepted, not gated (same as -p baseline FILE)",
    )
    s.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 if an open finding is at or above")
    s.add_argument(
        "--kernels",
        type=_kernels,
        metavar="N",
        help="kernels running the notebooks (default: one per core but one, at least one)",
    )
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_report)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``command``, that subcommand's alone (what ``main``
    needs to run it: the same usage, help and errors as in the full parser)."""
    p = argparse.ArgumentParser(
        prog="cfposture",
        description="Audit the security posture of Cloudflare accounts.",
    )
    p.add_argument("--version", action="version", version=f"cfposture {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (kw, add_arguments) in _COMMANDS.items():
        if command is None or name == command:
            add_arguments(sub.add_parser(name, **kw))
    return p


def main(argv: Sequence[str] | None = None, *, hold: list[object] | None = None) -> int:
    """Run the command ``argv`` names; its exit code. ``hold``: a list a command may leave
    what it made in, to outlive it. The console script (``run``) passes one and then ends
    the process at once: the records of a large scan are not freed one object at a time
    for nothing (the benchmark corpus's 9,216 findings: ~3 ms; benchmarks/README, Scanner,
    seventeenth session)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # a command named first: its parser alone; anything else (--help, a typo): all of them
    command = argv[0] if argv and argv[0] in _COMMANDS else None
    args = build_parser(command).parse_args(argv)
    args.hold = hold
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


def run() -> NoReturn:
    """The ``cfposture`` console script: ``main``, then a fast exit (see ``exit_fast``), with
    what the command made held here until the process ends."""
    held: list[object] = []
    exit_fast(main(hold=held))


def exit_fast(code: int) -> NoReturn:
    """Exit with ``code`` as the interpreter would, but without tearing it down.

    After the atexit handlers, Python frees every module and object the command loaded, one
    by one: 0.2 s after a report or ``findings`` on the sample (benchmarks/README, Report,
    seventh session), for nothing a user can see. So, as mypy's ``--fast-exit`` does: the
    atexit handlers run (logging is flushed, temporary folders removed), standard output and
    error are flushed, and the process ends. A non-daemon thread still running (work the
    command left to finish) gets the ordinary exit, which waits for it."""
    import atexit
    import contextlib
    import os
    import threading

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if run_exitfuncs is None or any(not t.daemon for t in others):
        sys.exit(code)
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`| head`) or a closed stream: nothing left to deliver
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
