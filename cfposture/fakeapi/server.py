"""``cfposture fake-api``: serve a raw snapshot as the Cloudflare API v4, on 127.0.0.1 only.

It behaves like the real API where a client can tell: the envelope (``success``, ``errors``,
``messages``, ``result``, ``result_info``), ``page``/``per_page`` clamped to 5–50 with
``result: []`` past the last page and ``total_pages`` only where the API sends it, cursor pages
for audit logs v2 (the SDK's ``result_info.cursors.after`` or the docs' ``cursor``),
Bearer auth (401, code 1000), 403 with ``documentation_url`` for endpoints the snapshot records
as denied, and a request budget per window (429 + ``Retry-After``, then every call refused until
the lockout ends, as Cloudflare does for 5 minutes). Faults for tests: latency, random 5xx.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from .state import SnapshotState

PREFIX = "/client/v4"
Response = tuple[int, dict[str, str], dict[str, Any]]


def envelope(result: Any, result_info: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def error(status: int, code: int, message: str, **extra: Any) -> Response:
    err = {"code": code, "message": message, **extra}
    return status, {}, {"success": False, "errors": [err], "messages": [], "result": None}


def paged(items: list[dict], q: dict[str, str], *, total_pages: bool = False) -> dict[str, Any]:
    """A page of a list. ``total_pages`` only where the API sends it (``/accounts``, ``/zones``):
    token, member and permission-group lists document ``page, per_page, count, total_count``."""
    try:
        page = max(1, int(q.get("page", 1)))
        per_page = min(50, max(5, int(q.get("per_page", 20))))
    except ValueError:
        page, per_page = 1, 20
    chunk = items[(page - 1) * per_page : page * per_page]
    info: dict[str, Any] = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
    }
    if total_pages:
        info["total_pages"] = max(1, math.ceil(len(items) / per_page))
    return envelope(chunk, info)


def cursored(items: list[dict], q: dict[str, str], style: str = "sdk") -> dict[str, Any] | None:
    """Audit logs v2: ``since``/``before`` required, ``limit`` 1–1000, opaque ``cursor``.
    ``style``: ``sdk`` answers ``result_info.cursors.after`` (what SDK 5.9 reads); ``docs`` the
    API reference's example, ``{"count": "1", "cursor": …}`` with the count as a string."""
    if "since" not in q or "before" not in q:
        return None
    since, before = pd.Timestamp(q["since"]), pd.Timestamp(q["before"])
    if since.tzinfo is None:
        since, before = since.tz_localize("UTC"), before.tz_localize("UTC")
    window = [e for e in items if since <= pd.Timestamp(e.get("action", {}).get("time")) < before]
    if q.get("direction", "desc") == "desc":
        window.reverse()
    limit = min(1000, max(1, int(q.get("limit", 100))))
    start = int(q["cursor"]) if q.get("cursor", "").isdigit() else 0
    chunk = window[start : start + limit]
    after = str(start + limit) if start + limit < len(window) else None
    if style == "docs":
        return envelope(chunk, {"count": str(len(chunk)), "cursor": after})
    return envelope(chunk, {"count": len(chunk), "cursors": {"after": after}})


@dataclass
class Limits:
    """Fault and rate settings (all off by default)."""

    token: str | None = None
    latency_ms: int = 0
    rate_limit: int | None = None
    rate_window: float = 300.0
    lockout: float = 300.0
    fail_rate: float = 0.0
    header_family: str = "a"  # "a": x-ratelimit-*; "b": IETF Ratelimit / Ratelimit-Policy
    seed: int = 0
    garble_rate: float = 0.0  # a 200 whose body is cut short or is not JSON at all (GETs)
    spike_rate: float = 0.0  # a request that stalls for spike_ms on top of latency_ms
    spike_ms: int = 0
    audit_envelope: str = "sdk"  # "sdk": result_info.cursors.after; "docs": {count: "1", cursor}
    null_empty: bool = False  # an empty list answered as "result": null, as some endpoints do


@dataclass
class Stats:
    requests: Counter = field(default_factory=Counter)
    status: Counter = field(default_factory=Counter)


class FakeCloudflare:
    """Routing and behaviour, independent of the HTTP server (so tests can call it directly)."""

    def __init__(self, snapshot: str, limits: Limits | None = None) -> None:
        self.state = SnapshotState(snapshot)
        self.limits = limits or Limits()
        self.stats = Stats()
        self._calls: deque[float] = deque()
        self._locked_until = 0.0
        self._lock = threading.Lock()
        self._rng = random.Random(self.limits.seed)
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Response | dict]]] = []
        self._route_table()

    # -- routing -------------------------------------------------------------------------

    def _route(self, method: str, pattern: str, fn: Callable[..., Response | dict]) -> None:
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append((method, rx, fn))

    def _route_table(self) -> None:
        r = self._route
        single = lambda key: lambda q, **ids: self._list(key, q, ids, "single")  # noqa: E731
        pages = lambda key: lambda q, **ids: self._list(key, q, ids, "page")  # noqa: E731
        r("GET", "/user", lambda q: self._one("user", {}))
        r("GET", "/accounts", lambda q: self._list("accounts", q, {}, "counted"))
        r("GET", "/user/tokens/permission_groups", single("user_token_permission_groups"))
        r("GET", "/user/tokens", pages("user_tokens"))
        r("GET", "/accounts/{account_id}", self._account)
        r(
            "GET",
            "/accounts/{account_id}/tokens/permission_groups",
            single("account_token_permission_groups"),
        )
        r("GET", "/accounts/{account_id}/tokens", pages("account_tokens"))
        r("GET", "/accounts/{account_id}/members", pages("members"))
        r("GET", "/accounts/{account_id}/iam/permission_groups", pages("permission_groups"))
        r("GET", "/accounts/{account_id}/iam/resource_groups", single("resource_groups"))
        r("GET", "/accounts/{account_id}/iam/user_groups", pages("user_groups"))
        r(
            "GET",
            "/accounts/{account_id}/iam/user_groups/{group_id}/members",
            pages("user_group_members"),
        )
        r("GET", "/accounts/{account_id}/oauth_clients", single("oauth_clients"))
        r("GET", "/accounts/{account_id}/logs/audit", self._audit)
        r("GET", "/zones", self._zones)
        r("GET", "/user/tokens/verify", lambda q, bearer: self._verify(bearer, None))
        r(
            "GET",
            "/accounts/{account_id}/tokens/verify",
            lambda q, account_id, bearer: self._verify(bearer, account_id),
        )
        r("GET", "/user/tokens/{token_id}", lambda q, token_id: self._token(None, token_id))
        r(
            "GET",
            "/accounts/{account_id}/tokens/{token_id}",
            lambda q, account_id, token_id: self._token(account_id, token_id),
        )
        for prefix, acct in (
            ("/user/tokens/{token_id}", False),
            ("/accounts/{account_id}/tokens/{token_id}", True),
        ):
            r(
                "PUT",
                prefix,
                self._put_token
                if acct
                else (lambda q, token_id, body: self._put_token(q, None, token_id, body)),
            )
            r(
                "PUT",
                prefix + "/value",
                self._roll
                if acct
                else (lambda q, token_id, body: self._roll(q, None, token_id, body)),
            )
            r(
                "DELETE",
                prefix,
                self._delete
                if acct
                else (lambda q, token_id, body: self._delete(q, None, token_id, body)),
            )
        r("GET", "/accounts/{account_id}/members/{member_id}", self._member)
        r("PUT", "/accounts/{account_id}/members/{member_id}", self._put_member)
        r("POST", "/accounts/{account_id}/iam/resource_groups", self._post_resource_group)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """One request → (status, extra headers, JSON body)."""
        url = urlsplit(target)
        path = url.path[len(PREFIX) :] if url.path.startswith(PREFIX) else None
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.stats.requests[f"{method} {url.path}"] += 1
        if self.limits.latency_ms:
            time.sleep(self.limits.latency_ms / 1000)
        if self.limits.spike_rate and self._chance(self.limits.spike_rate):
            time.sleep(self.limits.spike_ms / 1000)
        limited = self._rate()
        if limited is not None:
            return self._finish(limited)
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not bearer:
            return self._finish(error(401, 10000, "Authentication error"))
        verifying = path is not None and path.endswith("/tokens/verify")
        if (
            not verifying  # verify judges the bearer itself
            and self.limits.token is not None
            and bearer != self.limits.token
            and not self._live(bearer)
        ):
            return self._finish(error(401, 1000, "Invalid API Token"))
        if self.limits.fail_rate and self._rng.random() < self.limits.fail_rate:
            return self._finish(
                error(self._rng.choice([500, 502, 503]), 10002, "Internal server error (injected)")
            )
        if path is None:
            return self._finish(error(404, 7000, "No route for that URI"))
        for m, rx, fn in self.routes:
            match = rx.match(path)
            if m == method and match:
                kwargs = match.groupdict()
                if verifying:
                    kwargs["bearer"] = bearer
                if method in ("PUT", "DELETE", "POST"):
                    try:
                        kwargs["body"] = json.loads(body or b"{}")
                    except json.JSONDecodeError:
                        return self._finish(error(400, 6003, "Invalid request: malformed JSON"))
                out = fn(q, **kwargs)
                return self._finish(out if isinstance(out, tuple) else (200, {}, out))
        return self._finish(error(404, 7003, "Could not route to " + path))

    # -- behaviour -----------------------------------------------------------------------

    def _chance(self, rate: float) -> bool:
        with self._lock:
            return self._rng.random() < rate

    def garble(self, method: str, status: int, data: bytes) -> bytes:
        """Maybe break a successful GET's body the way proxies and dropped connections do."""
        if method != "GET" or status != 200 or not self._chance(self.limits.garble_rate):
            return data
        with self._lock:
            self.stats.status["garbled"] += 1
            cut = self._rng.random() < 0.5
        return data[: len(data) // 2] if cut else b"<html><body>502 Bad Gateway</body></html>"

    def _rate(self) -> Response | None:
        lim = self.limits
        now = time.monotonic()
        with self._lock:
            if now < self._locked_until:
                return self._too_many(self._locked_until - now)
            if lim.rate_limit is None:
                return None
            while self._calls and self._calls[0] <= now - lim.rate_window:
                self._calls.popleft()
            if len(self._calls) >= lim.rate_limit:
                self._locked_until = now + lim.lockout
                return self._too_many(lim.lockout)
            self._calls.append(now)
        return None

    def _too_many(self, wait: float) -> Response:
        status, _, body = error(
            429,
            10100,
            f"More than {self.limits.rate_limit} requests per "
            f"{int(self.limits.rate_window)} seconds reached. Please wait "
            "and consider throttling your request speed",
        )
        secs = max(1, math.ceil(wait))
        headers = {
            "Retry-After": str(secs),
            "x-ratelimit-reset": formatdate(time.time() + secs, usegmt=True),
        }
        return status, headers, body

    def _ratelimit_headers(self) -> dict[str, str]:
        lim = self.limits
        if lim.rate_limit is None:
            return {}
        remaining = max(0, lim.rate_limit - len(self._calls))
        if lim.header_family == "b":
            return {
                "Ratelimit": f'"default";r={remaining};t={int(lim.rate_window)}',
                "Ratelimit-Policy": f'"default";q={lim.rate_limit};w={int(lim.rate_window)}',
            }
        return {"x-ratelimit-limit": str(lim.rate_limit), "x-ratelimit-remaining": str(remaining)}

    def _finish(self, resp: Response) -> Response:
        status, headers, body = resp
        with self._lock:
            self.stats.status[status] += 1
            headers = {**self._ratelimit_headers(), **headers}
        return status, headers, body

    def _denied(self, key: str, ids: dict[str, str]) -> Response | None:
        entry = self.state.denied.get(self.state.key(key, **ids))
        if entry is None:
            return None
        return error(
            int(entry.get("http_status") or 403),
            int(entry.get("code") or 10000),
            entry.get("message") or "Forbidden",
            documentation_url=entry.get("documentation_url")
            or "https://developers.cloudflare.com/api/",
        )

    def _known_account(self, ids: dict[str, str]) -> bool:
        aid = ids.get("account_id")
        return aid is None or aid in self.state.account_ids()

    def _list(self, key: str, q: dict, ids: dict[str, str], style: str) -> Response | dict:
        if not self._known_account(ids):
            return error(403, 9109, "Unauthorized to access requested resource")
        denied = self._denied(key, ids)
        if denied:
            return denied
        items = self.state.items(key, **ids)
        if style == "single":
            return envelope(None if self.limits.null_empty and not items else items)
        out = paged(items, q, total_pages=style == "counted")
        if self.limits.null_empty and not out["result"]:
            out["result"] = None
        return out

    def _one(self, key: str, ids: dict[str, str]) -> Response | dict:
        denied = self._denied(key, ids)
        if denied:
            return denied
        items = self.state.items(key, **ids)
        return envelope(items[0]) if items else error(404, 7003, "Not found")

    def _account(self, q: dict, account_id: str) -> Response | dict:
        if not self._known_account({"account_id": account_id}):
            return error(403, 9109, "Unauthorized to access requested resource")
        if self.state.known("account", account_id=account_id):
            return self._one("account", {"account_id": account_id})
        listed = [a for a in self.state.items("accounts") if a.get("id") == account_id]
        return envelope(listed[0])

    def _zones(self, q: dict) -> Response | dict:
        aid = q.get("account.id")
        if aid:
            return self._list("zones", q, {"account_id": aid}, "page")
        every = [
            z for a in self.state.account_ids() for z in self.state.items("zones", account_id=a)
        ]
        return paged(every, q, total_pages=True)

    def _audit(self, q: dict, account_id: str) -> Response | dict:
        ids = {"account_id": account_id}
        if not self._known_account(ids):
            return error(403, 9109, "Unauthorized to access requested resource")
        denied = self._denied("audit_logs", ids)
        if denied:
            return denied
        out = cursored(self.state.items("audit_logs", **ids), q, self.limits.audit_envelope)
        return out if out is not None else error(400, 10001, "since and before are required")

    def _live(self, value: str) -> bool:
        hit = self.state.who(value)
        return hit is not None and hit[1].get("status") == "active"

    def _verify(self, bearer: str, account_id: str | None) -> Response | dict:
        """``/user/tokens/verify`` and ``/accounts/{id}/tokens/verify``: which token the bearer
        is. A value of another kind (a cfat_ at the user endpoint) is invalid there, as on
        Cloudflare."""
        hit = self.state.who(bearer)
        if hit is None or hit[0] != account_id:
            return error(401, 1000, "Invalid API Token")
        t = hit[1]
        result = {"id": t["id"], "status": t.get("status", "active")}
        for f in ("expires_on", "not_before"):
            if t.get(f):
                result[f] = t[f]
        out = envelope(result)
        out["messages"] = [
            {"code": 10000, "message": "This API Token is valid and active", "type": None}
        ]
        return out

    def _token(self, account_id: str | None, token_id: str) -> Response | dict:
        t = self.state.find_token(account_id, token_id)
        return envelope(t) if t else error(404, 7003, "Token not found")

    def _put_token(
        self, q: dict, account_id: str | None, token_id: str, body: dict
    ) -> Response | dict:
        if not isinstance(body, dict) or "name" not in body or "policies" not in body:
            return error(400, 6003, "Invalid request: name and policies are required")
        t = self.state.update_token(account_id, token_id, body)
        return envelope(t) if t else error(404, 7003, "Token not found")

    def _roll(self, q: dict, account_id: str | None, token_id: str, body: dict) -> Response | dict:
        value = self.state.roll_token(account_id, token_id)
        return envelope(value) if value else error(404, 7003, "Token not found")

    def _delete(
        self, q: dict, account_id: str | None, token_id: str, body: dict
    ) -> Response | dict:
        ok = self.state.delete_token(account_id, token_id)
        return envelope({"id": token_id}) if ok else error(404, 7003, "Token not found")

    def _member(self, q: dict, account_id: str, member_id: str) -> Response | dict:
        m = self.state.find_member(account_id, member_id)
        return envelope(m) if m else error(404, 7003, "Member not found")

    def _put_member(self, q: dict, account_id: str, member_id: str, body: dict) -> Response | dict:
        if not isinstance(body.get("policies"), list):
            return error(400, 6003, "Invalid request: policies are required")
        m = self.state.update_member(account_id, member_id, body)
        return envelope(m) if m else error(404, 7003, "Member not found")

    def _post_resource_group(self, q: dict, account_id: str, body: dict) -> Response | dict:
        if not self._known_account({"account_id": account_id}):
            return error(404, 7003, "Account not found")
        # the scope is one object {key, objects} (SDK 5.9); older clients send a list of them
        if not isinstance(body.get("scope"), dict | list) or not body.get("name"):
            return error(400, 6003, "Invalid request: name and scope are required")
        return envelope(self.state.create_resource_group(account_id, body))


def _handler(fake: FakeCloudflare) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, body)
            data = fake.garble(self.command, status, json.dumps(payload).encode())
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_DELETE = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines carry no secrets, but schedulers want quiet servers

    return Handler


def make_server(fake: FakeCloudflare, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 only (never another interface)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(fake))
    server.daemon_threads = True
    return server


def base_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_port}{PREFIX}"
