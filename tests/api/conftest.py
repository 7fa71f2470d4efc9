"""A fake Cloudflare API on 127.0.0.1 for tests, spoken to with the official SDK."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cfposture.fakeapi import FakeCloudflare, Limits, base_url, make_server
from cfposture.sample.enterprise import write_enterprise

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


@pytest.fixture
def fake_api() -> Callable:
    return serve


@pytest.fixture(autouse=True)
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token in the environment, and none of the variables that would override it."""
    for var in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", CANARY)


@pytest.fixture(scope="session")
def one_account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One enterprise account: 250 tokens (5 pages), 100 members, 20,000 audit events."""
    path = tmp_path_factory.mktemp("ent") / "one"
    write_enterprise(path, 2026, {"kind": "sample", "scale": "enterprise"}, accounts=1)
    return path
