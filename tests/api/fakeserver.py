"""The fake Cloudflare API served on 127.0.0.1 for a test, and the canary token.

A module of its own (not conftest) so that test files import it by a unique name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cfposture.fakeapi import FakeCloudflare, Limits, base_url, make_server

CANARY = "cfut_CanaryCanaryCanaryCanaryCanaryCanary1234e3a1b2c4"


@contextmanager
def serve(snapshot: str | Path, **limits) -> Iterator[tuple[FakeCloudflare, str]]:
    fake = FakeCloudflare(str(snapshot), Limits(**limits))
    server = make_server(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, base_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
