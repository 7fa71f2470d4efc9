"""``cfposture pull``: a raw snapshot of every account an API token can see, via the official SDK.

* Every call goes through ``with_raw_response`` so the stored JSON is exactly what the API sent.
* Lists are read page by page (``per_page=50``) and stop on ``result_info.total_pages`` without
  spending a request on an empty page; audit logs v2 follow ``result_info.cursors.after``.
* The SDK's own retries are off (``max_retries=0``): this module owns the policy so the request
  budget counts every attempt. 429: wait what the server says (any header family) and retry;
  5xx, timeouts and broken bodies: exponential backoff, then a clear error with ``--resume``.
* 403 / 404 on one endpoint is a coverage gap recorded in the manifest, not a failed pull.
* The API token is read from ``CLOUDFLARE_API_TOKEN`` and only ever handed to the SDK: it is
  never written, logged or put in an error message.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cloudflare
import httpx
from tqdm import tqdm

from ..bounded import gunzip, read_file
from ..endpoints import ENDPOINTS, PER_ACCOUNT, safe_id
from ..errors import CfPostureError
from ..formats import fingerprint
from ..rawsnapshot import (
    OBSERVED,
    RawSnapshot,
    SnapshotWriter,
    add_observations,
    isoformat,
    json_objects,
    read_observations,
)
from .oauth_export import read_export
from .ratelimit import DEFAULT_LIMIT, DEFAULT_WINDOW, RateBudget, retry_after

log = logging.getLogger("cfposture.pull")
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
PER_PAGE = 50
AUDIT_LIMIT = 1000
MAX_PAGES = 100_000  # a pagination that never ends is stopped with an error
LOCAL_ENDPOINTS = {"connected_apps", "observed_token_formats"}  # files, not API calls

Ids = dict[str, str]
RawCall = Callable[[cloudflare.Cloudflare, Ids, dict[str, Any]], Any]

CALLS: dict[str, RawCall] = {
    "user": lambda c, ids, p: c.user.with_raw_response.get(),
    "accounts": lambda c, ids, p: c.accounts.with_raw_response.list(**p),
    "user_tokens": lambda c, ids, p: c.user.tokens.with_raw_response.list(
        include_expired=True, **p
    ),
    "user_token_permission_groups": lambda c, ids, p: (
        c.user.tokens.permission_groups.with_raw_response.list()
    ),
    "account": lambda c, ids, p: c.accounts.with_raw_response.get(account_id=ids["account_id"]),
    "account_tokens": lambda c, ids, p: c.accounts.tokens.with_raw_response.list(
        account_id=ids["account_id"], include_expired=True, **p
    ),
    "account_token_permission_groups": lambda c, ids, p: (
        c.accounts.tokens.permission_groups.with_raw_response.list(account_id=ids["account_id"])
    ),
    "members": lambda c, ids, p: c.accounts.members.with_raw_response.list(
        account_id=ids["account_id"], **p
    ),
    "permission_groups": lambda c, ids, p: c.iam.permission_groups.with_raw_response.list(
        account_id=ids["account_id"], **p
    ),
    "resource_groups": lambda c, ids, p: c.iam.resource_groups.with_raw_response.list(
        account_id=ids["account_id"]
    ),
    "user_groups": lambda c, ids, p: c.iam.user_groups.with_raw_response.list(
        account_id=ids["account_id"], **p
    ),
    "user_group_members": lambda c, ids, p: c.iam.user_groups.members.with_raw_response.list(
        ids["group_id"], account_id=ids["account_id"], **p
    ),
    "zones": lambda c, ids, p: c.zones.with_raw_response.list(
        account={"id": ids["account_id"]}, **p
    ),
    "oauth_clients": lambda c, ids, p: c.iam.oauth_clients.with_raw_response.list(
        account_id=ids["account_id"]
    ),
    "audit_logs": lambda c, ids, p: c.accounts.logs.audit.with_raw_response.list(
        account_id=ids["account_id"], **p
    ),
}


CONNECT_ATTEMPTS = 3
"""Tries when the server refuses the connection (or its name does not resolve): a wrong
--api-base should fail in about a second, not after the retries a flaky answer gets."""


class PullError(CfPostureError):
    """The pull cannot go on; what was fetched is kept for ``--resume``."""


class Denied(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        err = (body or {}).get("errors", [{}])[0] if isinstance(body, dict) else {}
        self.code = err.get("code") if isinstance(err, dict) else None
        self.message = str(err.get("message") or f"HTTP {status}") if isinstance(err, dict) else ""
        self.documentation_url = err.get("documentation_url") if isinstance(err, dict) else None


@dataclass
class PullOptions:
    out: Path
    api_base: str | None = None
    accounts: list[str] | None = None
    audit_days: int = 90  # the default usage window: one pull covers it (logs keep 18 months)
    since: datetime | None = None
    before: datetime | None = None
    since_last: bool = False  # audit logs from where the history's latest snapshot's end
    oauth_export: Path | None = None
    rate_limit: int = DEFAULT_LIMIT
    rate_window: float = DEFAULT_WINDOW
    workers: int = 4
    resume: bool = False
    restart: bool = False  # discard an interrupted pull's partial folder and start over
    quiet: bool = False
    allow_hosts: tuple[str, ...] = ()  # --allow-host: API hosts besides Cloudflare's and loopback
    max_attempts: int = 6
    timeout: float = 60.0


@dataclass
class PullResult:
    path: Path
    requests: int
    rate_limited: int
    retries: int
    denied: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def redact_url(url: str) -> str:
    """A URL without user:password (never store credentials someone put in --api-base)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


CLOUDFLARE_API = "api.cloudflare.com"


def checked_base(api_base: str | None, allow_hosts: tuple[str, ...] = ()) -> str | None:
    """The API base a token may be sent to (None: the SDK's default, Cloudflare's API).

    ``--api-base`` or ``CLOUDFLARE_BASE_URL`` may name Cloudflare's API over https, this
    machine (the fake API; http allowed), or a host the user allowed with ``--allow-host``
    (a proxy of theirs; https only, said on stderr). Anything else would hand the token, and
    for ``scan --verify`` the values found, to a stranger: refused."""
    base = api_base or os.environ.get("CLOUDFLARE_BASE_URL")
    if not base:
        return None
    parts = urlsplit(base)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise CfPostureError(f"--api-base {redact_url(base)!r} is not an http(s) URL")
    if _loopback(host):
        return base
    if parts.scheme != "https":
        raise CfPostureError(
            f"--api-base {redact_url(base)}: plain http only to this machine; use https"
        )
    if host == CLOUDFLARE_API:
        return base
    if host in {h.lower() for h in allow_hosts}:
        print(f"cfposture: note: sending the API token to {redact_url(base)} (--allow-host)",
              file=sys.stderr)  # fmt: skip
        return base
    raise CfPostureError(
        f"--api-base {host} is neither Cloudflare's API nor this machine, and the token would be"
        f" sent to it; if it is yours (a proxy), add --allow-host {host}"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_client(
    api_base: str | None, token: str, timeout: float, allow_hosts: tuple[str, ...] = ()
) -> cloudflare.Cloudflare:
    base = checked_base(api_base, allow_hosts)
    client = cloudflare.Cloudflare(
        api_token=token,
        # user:password in a URL would be sent as Basic auth and logged by httpx: drop it
        base_url=redact_url(base) if base else None,
        max_retries=0,
        timeout=timeout,
    )
    # CLOUDFLARE_EMAIL / CLOUDFLARE_API_KEY in the environment would make the SDK send the
    # legacy global key instead of the token; cfposture only ever authenticates with a token.
    client.api_email = None
    client.api_key = None
    return client


class Puller:
    def __init__(self, client: cloudflare.Cloudflare, budget: RateBudget, opts: PullOptions):
        self.client, self.budget, self.opts = client, budget, opts
        self.stop = threading.Event()
        self.rate_limited = 0
        self.retries = 0
        self._lock = threading.Lock()

    def call(self, key: str, ids: Ids, params: dict[str, Any]) -> dict[str, Any]:
        """One API request with the pull's retry policy; returns the JSON envelope."""
        path = ENDPOINTS[key].api_path(**ids)
        attempt = hits = 0
        while True:
            if self.stop.is_set():
                raise PullError("pull interrupted")
            self.budget.acquire()
            try:
                raw = CALLS[key](self.client, ids, params)
                self.budget.observe(raw.headers)
                env = raw.json()
                if not isinstance(env, dict) or "result" not in env:
                    raise ValueError("no result in the response envelope")
                return env
            except cloudflare.RateLimitError as e:
                hits += 1
                with self._lock:
                    self.rate_limited += 1
                self.budget.pause(retry_after(e.response.headers, self.budget.window))
                if hits > 20:
                    raise PullError(
                        f"{path}: still rate-limited after {hits} waits; "
                        "try later or lower --rate-limit"
                    ) from None
                continue
            except (cloudflare.PermissionDeniedError, cloudflare.NotFoundError) as e:
                raise Denied(e.status_code, e.body) from None
            except cloudflare.AuthenticationError:
                raise PullError(
                    f"the API rejected the token (401) on {path}; check that {TOKEN_ENV} holds "
                    "a valid API token (not a global API key)"
                ) from None
            except (
                cloudflare.InternalServerError,
                cloudflare.APIConnectionError,
                cloudflare.ConflictError,
                ValueError,
            ) as e:
                reason = (
                    f"HTTP {e.status_code}"
                    if isinstance(e, cloudflare.APIStatusError)
                    else type(e).__name__
                )
                # refused, or a name that does not resolve: not worth the full retries
                unreachable = e.__cause__ if isinstance(e.__cause__, httpx.ConnectError) else None
            except cloudflare.APIStatusError as e:
                raise PullError(f"{path}: HTTP {e.status_code} {_message(e.body)}") from None
            attempt += 1
            with self._lock:
                self.retries += 1
            if unreachable is not None and attempt >= CONNECT_ATTEMPTS:
                raise PullError(
                    f"cannot connect to {redact_url(str(self.client.base_url))} ({unreachable});"
                    " is --api-base right, and the network up?"
                )
            if attempt >= self.opts.max_attempts:
                raise PullError(
                    f"{path}: {reason} after {attempt} attempts; what was fetched is "
                    "kept: run the same command with --resume"
                )
            delay = min(8.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.75, 1.0)
            log.info("%s: %s, retrying in %.1fs", path, reason, delay)
            time.sleep(delay)

    def fetch(self, key: str, ids: Ids) -> list[dict[str, Any]]:
        ep = ENDPOINTS[key]
        path = ep.api_path(**ids)
        if ep.pagination in ("none", "single"):
            env = self.call(key, ids, {})
            if ep.pagination == "none":
                result = env["result"]
                return [result] if isinstance(result, dict) else []
            return _list(env, path)
        items: list[dict[str, Any]] = []
        if ep.pagination == "cursor":
            params: dict[str, Any] = {
                **self.audit_params(),
                "limit": AUDIT_LIMIT,
                "direction": "asc",
            }
            seen: set[str] = set()
            for _ in range(MAX_PAGES):
                env = self.call(key, ids, params)
                chunk = _list(env, path)
                items += chunk
                info = _info(env)
                # the SDK's envelope (cursors.after) or the docs' ({"count": "1", "cursor"});
                # an empty page ends the list whatever cursor it carries, as the SDK's
                # paginator does (a run of empty pages with fresh cursors has been seen)
                cursors = info.get("cursors")
                after = (cursors.get("after") if isinstance(cursors, dict) else None) or info.get(
                    "cursor"
                )
                if not chunk or not after:
                    return items
                if after in seen:
                    raise PullError(f"{path}: the API repeated cursor {after[:12]}…; stopped")
                seen.add(after)
                params["cursor"] = after
        else:
            for page in range(1, MAX_PAGES):
                env = self.call(key, ids, {"page": page, "per_page": PER_PAGE})
                chunk = _list(env, path)
                items += chunk
                if _last_page(_info(env), page, len(chunk)):
                    return items
        raise PullError(f"{path}: pagination did not end after {MAX_PAGES} pages; stopped")

    def audit_params(self) -> dict[str, str]:
        return {"since": self.since, "before": self.before}


def minimum_requests(manifest: dict[str, Any]) -> int:
    """The fewest requests that can fetch what a manifest lists: Σ ceil(items / page size) per
    list endpoint (at least one), one per unpaginated endpoint and one per refusal."""
    total = 0
    for e in manifest["endpoints"]:
        if e["endpoint"] in LOCAL_ENDPOINTS:
            continue
        size = {"page": PER_PAGE, "cursor": AUDIT_LIMIT}.get(ENDPOINTS[e["endpoint"]].pagination)
        if e["status"] != "ok" or size is None:
            total += 1
        else:
            total += max(1, -(-e["count"] // size))
    return total


def _list(env: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """A list endpoint's items; ``"result": null`` is how some endpoints say "none"."""
    result = env.get("result")
    if result is None:
        return []
    if not isinstance(result, list):
        raise PullError(f"{path}: expected a list result, got {type(result).__name__}")
    return result


def _info(env: dict[str, Any]) -> dict[str, Any]:
    info = env.get("result_info")
    return info if isinstance(info, dict) else {}


def _count(value: Any) -> int | None:
    """A count from ``result_info``: an int, or a string of digits (the audit docs send
    ``"count": "1"``); anything else is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _last_page(info: dict[str, Any], page: int, got: int) -> bool:
    """Whether page ``page`` (holding ``got`` items) is the last. Tokens, members and
    permission groups document only ``page, per_page, count, total_count``; ``/accounts`` also
    sends ``total_pages``. So: an empty page ends it; else ``total_pages`` when present; else
    ``total_count``; else a page shorter than asked."""
    if got == 0:
        return True
    total_pages = _count(info.get("total_pages"))
    if total_pages is not None:
        return page >= total_pages
    per_page = _count(info.get("per_page")) or PER_PAGE
    total_count = _count(info.get("total_count"))
    if total_count is not None:
        return page * per_page >= total_count
    return got < per_page


def _message(body: Any) -> str:
    try:
        return str(body["errors"][0]["message"])
    except (TypeError, KeyError, IndexError):
        return ""


def pull(opts: PullOptions) -> PullResult:
    """Pull a raw snapshot into ``opts.out``; see the module docstring."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise CfPostureError(
            f"set {TOKEN_ENV} to a read-only API token (see the README's permissions table),"
            " or try the kit on the embedded sample: cfposture report"
        )
    if opts.since and opts.before and opts.since >= opts.before:
        raise PullError(
            f"--since {isoformat(opts.since)} is not before --before {isoformat(opts.before)};"
            " give a window that ends after it starts"
        )
    export = read_export(opts.oauth_export) if opts.oauth_export else None
    client = make_client(opts.api_base, token, opts.timeout, opts.allow_hosts)
    budget = RateBudget(opts.rate_limit, opts.rate_window)
    puller = Puller(client, budget, opts)
    source = {"kind": "api", "api_base": redact_url(str(client.base_url))}
    writer = SnapshotWriter(opts.out, source, resumable=True, resume=opts.resume)
    if opts.restart:
        _discard(writer.partial_path)
    try:
        with writer as w:
            _bind(w, {"api_base": source["api_base"], "token": fingerprint(token)})
            now = datetime.now(UTC).replace(microsecond=0)
            if "audit_window" not in w.state:
                before = opts.before or now
                since = opts.since or before - timedelta(days=opts.audit_days)
                if opts.since_last:
                    since = since_last(opts.out, before, opts.audit_days)
                w.state["audit_window"] = {"since": isoformat(since), "before": isoformat(before)}
                w.save_state()
            w.audit_window = w.state["audit_window"]
            puller.since, puller.before = w.audit_window["since"], w.audit_window["before"]
            _run(puller, w, opts, export)
            source["accounts"] = w.state.get("accounts", [])
    except KeyboardInterrupt:
        puller.stop.set()
        raise PullError(
            f"interrupted; the endpoints already fetched are kept in {writer.partial_path}: "
            "run the same command with --resume to continue"
        ) from None
    finally:
        client.close()
    manifest = json.loads((opts.out / "manifest.json").read_text())
    carry_observations(opts.out)
    return PullResult(
        opts.out,
        budget.requests,
        puller.rate_limited,
        puller.retries,
        [e for e in manifest["endpoints"] if e["status"] == "denied"],
        manifest["counts"],
    )


def _discard(partial: Path) -> None:
    """Remove an interrupted pull's folder (``--restart``): only a real folder named as the
    writer names it, never what a link points to."""
    if partial.is_symlink():
        raise PullError(f"{partial} is a symbolic link, not a partial pull; remove it yourself")
    if partial.is_dir():
        shutil.rmtree(partial)
        log.info("discarded the interrupted pull in %s", partial)


def _bind(w: SnapshotWriter, binding: dict[str, str]) -> None:
    """Tie a resumable pull to its server and token (by fingerprint): a resumed pull that
    finished from another server, or with another token, would mix two organisations."""
    bound = w.state.setdefault("binding", binding)
    if bound != binding:
        what = "server" if bound.get("api_base") != binding["api_base"] else "token"
        raise PullError(
            f"{w.partial_path} was started with another {what}; resume it with the --api-base"
            " and token it began with, or add --restart to start over"
        )
    w.save_state()


AUDIT_RETENTION = timedelta(days=548)
"""How long Cloudflare keeps audit logs v2: 18 months since GA (the API reads all of it; the
dashboard shows 90 days)."""


def since_last(out: Path, before: datetime, audit_days: int) -> datetime:
    """Where the audit logs of the latest snapshot in ``out``'s history folder end, so that a
    scheduled pull fetches only what is new and the history's audit spans chain without a
    hole (``--since-last``). Falls back to ``audit_days`` before ``before``, with a warning,
    when there is no earlier snapshot or its audit logs were not all read; starts at the
    retention limit, with a warning that the days between are gone, when it ended longer ago."""
    latest: RawSnapshot | None = None
    folder = out.parent
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if p == out or p.name.startswith(".") or not (p / "manifest.json").is_file():
            continue
        try:
            raw = RawSnapshot.open(p)
        except CfPostureError as e:
            log.warning("%s", e)
            continue
        if latest is None or raw.created_at > latest.created_at:
            latest = raw
    fallback = before - timedelta(days=audit_days)
    if latest is None:
        log.warning("--since-last: no earlier snapshot in %s; audit logs of the last %d days",
                    folder, audit_days)  # fmt: skip
        return fallback
    window = latest.manifest.get("audit_window") or {}
    read = latest.entries("audit_logs") and not latest.entries("audit_logs", "denied")
    if not read or not window.get("before"):
        log.warning("--since-last: %s holds no complete audit logs; audit logs of the last %d"
                    " days", latest.path, audit_days)  # fmt: skip
        return fallback
    end = datetime.fromisoformat(str(window["before"]).replace("Z", "+00:00"))
    if end >= before:
        raise PullError(
            f"--since-last: {latest.path}'s audit logs already reach {window['before']}, not"
            " before this pull's end; pull later, or give --before"
        )
    if end < before - AUDIT_RETENTION:
        log.warning(
            "--since-last: %s's audit logs end at %s, more than %d days ago; the days between"
            " are gone (the API keeps %d), so usage history starts again after them",
            latest.path, window["before"], AUDIT_RETENTION.days, AUDIT_RETENTION.days,
        )  # fmt: skip
        return before - AUDIT_RETENTION
    return end


def carry_observations(out: Path) -> int:
    """Bring the observed token formats of the other snapshots in ``out``'s history folder
    (what scans and rolls saw: the API cannot say) into the new snapshot. normalize drops an
    observation once its token is modified after it, so carrying them is always safe."""
    seen: list[dict[str, Any]] = []
    for sibling in sorted(out.parent.iterdir()) if out.parent.is_dir() else []:
        if sibling != out and (sibling / OBSERVED).is_file():
            try:
                seen += read_observations(sibling)
            except CfPostureError as e:
                log.warning("%s", e)
    return add_observations(out, seen) if seen else 0


def _run(puller: Puller, w: SnapshotWriter, opts: PullOptions, export: list | None) -> None:
    counts: Counter[str] = Counter()
    bar = tqdm(total=0, unit="endpoint", disable=opts.quiet, desc="pull", leave=False)
    lock = threading.Lock()

    def task(key: str, ids: Ids) -> tuple[str, Ids, list[dict[str, Any]] | None]:
        if w.done(key, **ids):
            return key, ids, _done_items(w, key, ids)
        try:
            items = puller.fetch(key, ids)
        except Denied as d:
            w.deny(
                key,
                http_status=d.status,
                code=d.code,
                message=d.message,
                documentation_url=d.documentation_url,
                **ids,
            )
            log.info(
                "%s denied (HTTP %s); needs %s",
                ENDPOINTS[key].api_path(**ids),
                d.status,
                ENDPOINTS[key].needs,
            )
            return key, ids, None
        w.write(key, items, **ids)
        return key, ids, items

    def done(key: str, items: list | None) -> None:
        with lock:
            counts[key] += len(items or [])
            bar.update(1)
            bar.set_postfix({k: v for k, v in counts.most_common(4)}, refresh=False)

    # identity and accounts first: everything else hangs off them
    for key in ("user", "accounts"):
        bar.total += 1
        k, _, items = task(key, {})
        done(k, items)
    stored = _done_items(w, "accounts", {})
    if stored is None:
        w.keep_partial = False  # nothing to resume from: the next run starts over anyway
        denied = next(e for e in w.entries if e["endpoint"] == "accounts")
        if denied.get("http_status") == 404:
            raise PullError(
                f"{redact_url(str(puller.client.base_url))}accounts answered 404: is --api-base"
                " right? Cloudflare's is https://api.cloudflare.com/client/v4"
            )
        raise PullError(
            f"the token cannot list accounts ({denied.get('http_status')} on /accounts); it"
            f" needs {ENDPOINTS['accounts'].needs}: see the README's permissions table"
        )
    listed = [safe_id(a.get("id"), "account id") for a in stored]
    if "accounts" not in w.state:
        wanted = opts.accounts or listed
        missing = sorted(set(wanted) - set(listed))
        if missing:
            raise PullError(
                f"account(s) {', '.join(missing)} are not visible to this token; "
                "check --account or the token's account resources"
            )
        w.state["accounts"] = wanted
        w.save_state()
    accounts = w.state["accounts"]
    if export is not None and not w.done("connected_apps"):
        w.write("connected_apps", export)

    jobs = [("user_tokens", {}), ("user_token_permission_groups", {})]
    jobs += [(key, {"account_id": a}) for a in accounts for key in PER_ACCOUNT]
    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        pending: set[Future] = set()
        for key, ids in jobs:
            bar.total += 1
            pending.add(pool.submit(task, key, ids))
        bar.refresh()
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    key, ids, items = fut.result()
                    done(key, items)
                    if key == "user_groups" and items:
                        for g in items:
                            group = {**ids, "group_id": safe_id(g.get("id"), "user group id")}
                            bar.total += 1
                            pending.add(pool.submit(task, "user_group_members", group))
        except BaseException:
            puller.stop.set()
            for fut in pending:
                fut.cancel()
            raise
    bar.close()


def _done_items(w: SnapshotWriter, key: str, ids: Ids) -> list[dict[str, Any]] | None:
    """Items of an endpoint this pull (or the run it resumes) already stored."""
    path = ENDPOINTS[key].api_path(**ids)
    entry = next((e for e in w.entries if e["path"] == path), None)
    if entry is None or entry["status"] != "ok":
        return None
    f = w.partial_path / ENDPOINTS[key].file(**ids)
    advice = f"delete {w.partial_path} and pull again"
    data = gunzip(read_file(f, PullError, advice), f, PullError, advice)
    return [item for item, _, _ in json_objects(data, f, PullError, advice)]
