"""Test-session settings shared by tests/ and notebooks/ (nbval collects the notebooks)."""

from __future__ import annotations

import os
import shutil
import tempfile

_made: list[str] = []


def pytest_configure(config) -> None:
    # the trend cache (cfposture.cache) must not read or fill the user's ~/.cache during tests:
    # one private folder per session, removed at the end (kernels inherit the variable)
    if "CFPOSTURE_CACHE_DIR" not in os.environ:
        _made.append(tempfile.mkdtemp(prefix="cfposture-test-cache-"))
        os.environ["CFPOSTURE_CACHE_DIR"] = _made[-1]


def pytest_unconfigure(config) -> None:
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("CFPOSTURE_CACHE_DIR", None)
