"""Fixtures for the API tests: the fake Cloudflare API (see fakeserver), a token in the
environment, and a one-account enterprise snapshot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fakeserver import CANARY, serve

from cfposture.sample.enterprise import write_enterprise


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
