"""Shared fixtures: the embedded sample, a freshly generated one, hand-written snapshots."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from covering import cover

import cfposture
from cfposture.rawsnapshot import SnapshotWriter
from cfposture.sample import generate

Payload = dict[str, Any]

# hypothesis's pytest plugin imports this after each test's call, before fixtures are torn
# down: loaded now, ``skip_slow_imports`` (a report run in this process) leaves it in place,
# and a run of only report tests no longer fails in the plugin (the fixture below cannot
# restore it in time).
with contextlib.suppress(ImportError):  # the extras without hypothesis: no plugin either
    import hypothesis.internal.observability  # noqa: F401


@pytest.fixture(autouse=True)
def _slow_imports_restored() -> Iterator[None]:
    """``cfposture report`` run in this process makes its SKIPPED_IMPORTS unimportable
    (``skip_slow_imports``), hypothesis among them: undo that after each test, or every
    later test using hypothesis (and its pytest plugin) fails in a run of a few tests."""
    from cfposture.report.kernels import SKIPPED_IMPORTS

    before = {name: name in sys.modules for name in SKIPPED_IMPORTS}
    yield
    for name, present in before.items():
        if not present and sys.modules.get(name, 0) is None:
            del sys.modules[name]


@pytest.fixture(scope="session")
def sample_snap() -> cfposture.Snapshot:
    return cfposture.load("sample")


@pytest.fixture(scope="session")
def fresh_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("fresh") / "sample")


@pytest.fixture
def sample_history(tmp_path: Path) -> Path:
    """A private copy of the sample's history (tests may edit it)."""
    dest = tmp_path / "history"
    dest.mkdir()
    for p in cfposture.history("sample"):
        shutil.copytree(p, dest / p.name)
    return dest


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Callable[[object, str], list[Path]]:
    """``spy(owner, name)`` wraps ``owner.name`` (a function whose first argument is a snapshot,
    raw or loaded) and returns the list of the snapshot paths it is called with: which
    snapshots were parsed, normalised or judged rather than read from a cache."""

    def install(owner: object, name: str) -> list[Path]:
        seen: list[Path] = []
        real = getattr(owner, name)

        def recording(first, *args, **kwargs):
            seen.append(first.path)
            return real(first, *args, **kwargs)

        monkeypatch.setattr(owner, name, recording)
        return seen

    return install


@pytest.fixture
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cfposture's cache in a folder of this test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def write_snapshot(tmp_path: Path) -> Callable[..., Path]:
    """Write a raw snapshot from ``{"endpoint": items}``; per-account endpoints are keyed
    ``"endpoint:ACCOUNT_ID"`` (``"user_group_members:ACCOUNT_ID:GROUP_ID"`` for group members)."""
    counter = iter(range(1000))

    def _write(payloads: dict[str, list[Payload]], denied: list[tuple[str, dict]] = ()) -> Path:
        dest = tmp_path / f"snap{next(counter)}"
        with SnapshotWriter(dest, source={"kind": "test"}) as w:
            for key, items in payloads.items():
                name, *parts = key.split(":")
                ids = dict(zip(("account_id", "group_id"), parts, strict=False))
                w.write(name, items, **ids)
            for name, ids in denied:
                w.deny(name, http_status=403, message="Forbidden", code=10000, **ids)
            cover(w, [str(a.get("id")) for a in payloads.get("accounts", [])])
        return dest

    return _write


@pytest.fixture
def load_payloads(write_snapshot: Callable[..., Path]) -> Callable[..., cfposture.Snapshot]:
    def _load(payloads: dict[str, list[Payload]], **kw: Any) -> cfposture.Snapshot:
        return cfposture.load(write_snapshot(payloads, **kw))

    return _load
