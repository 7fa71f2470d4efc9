"""Client-side request budget for the Cloudflare API.

Cloudflare allows 1,200 requests per 5 minutes per user (more on request for enterprises) and,
once that is exceeded, refuses *every* call for the next 5 minutes. A pull must therefore never
reach the limit on its own: it spends at most ``headroom`` of the budget in any sliding window,
and it also listens to the server (both header families: ``x-ratelimit-remaining`` /
``x-ratelimit-reset`` and the IETF draft ``Ratelimit: "default";r=…;t=…``) because the
dashboard and other tools draw from the same per-user budget.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

DEFAULT_LIMIT = 1200
DEFAULT_WINDOW = 300.0
RATELIMIT_R = re.compile(r"\br=(\d+)")
RATELIMIT_T = re.compile(r"\bt=(\d+)")


class RateBudget:
    """A sliding-window budget shared by every worker thread of a pull."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        headroom: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("rate limit and window must be positive")
        self.capacity = max(1, math.floor(limit * headroom))
        self.window = window
        self._clock, self._sleep = clock, sleep
        self._calls: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0
        self.requests = 0

    def acquire(self) -> None:
        """Block until one more request fits in the budget, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and self._calls[0] <= now - self.window:
                    self._calls.popleft()
                wait = max(self._paused_until - now, 0.0)
                if not wait and len(self._calls) < self.capacity:
                    self._calls.append(now)
                    self.requests += 1
                    return
                if not wait:
                    wait = self._calls[0] + self.window - now
            self.waited += wait
            self._sleep(min(wait, 5.0))

    def pause(self, seconds: float) -> None:
        """Hold every worker for ``seconds`` (a 429, or the server saying the budget is spent)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Pause when the server says no requests remain before its reset."""
        remaining, reset = server_budget(headers)
        if remaining is not None and remaining <= 0:
            self.pause(reset if reset is not None else self.window)


def server_budget(headers: Mapping[str, str]) -> tuple[int | None, float | None]:
    """(remaining requests, seconds until reset) from either header family, when present."""
    h = {k.lower(): v for k, v in headers.items()}
    remaining: int | None = None
    reset: float | None = None
    if "x-ratelimit-remaining" in h:
        with contextlib.suppress(ValueError):
            remaining = int(h["x-ratelimit-remaining"])
    if "x-ratelimit-reset" in h:
        reset = _seconds_until(h["x-ratelimit-reset"])
    if "ratelimit" in h:
        r, t = RATELIMIT_R.search(h["ratelimit"]), RATELIMIT_T.search(h["ratelimit"])
        remaining = int(r.group(1)) if r else remaining
        reset = float(t.group(1)) if t else reset
    return remaining, reset


def retry_after(headers: Mapping[str, str], default: float) -> float:
    """How long a 429 asks us to wait: retry-after-ms, Retry-After (seconds or HTTP date),
    the reset of either header family, else ``default``."""
    h = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in h:
        try:
            return max(0.0, float(h["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    if "retry-after" in h:
        value = h["retry-after"].strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        until = _seconds_until(value)
        if until is not None:
            return until
    _, reset = server_budget(headers)
    return reset if reset is not None else default


def _seconds_until(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():  # some send epoch seconds, some a delta
        n = float(value)
        return max(0.0, n - time.time()) if n > 1e9 else n
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
