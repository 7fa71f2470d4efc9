"""The data that ships with cfposture: permission catalog, audit mapping, embedded sample.

It lives in the repository's top-level ``data/``; a wheel carries the same folder as
``cfposture/_data`` (see pyproject.toml), so both an editable and a regular install find it.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pandas as pd

from .errors import CfPostureError
from .schemas import PermissionCatalog, validate

LEVEL_FACTOR = {"read": 1, "edit": 3, "admin": 5}
"""risk_weight = LEVEL_FACTOR[access_level] × product_risk (documented in data/README.md)."""


def data_dir() -> Path:
    """The folder holding the shipped data; ``CFPOSTURE_DATA`` overrides it (tests, forks)."""
    override = os.environ.get("CFPOSTURE_DATA")
    candidates = [Path(override)] if override else []
    here = Path(__file__).resolve().parent
    candidates += [here / "_data", here.parent / "data"]
    for c in candidates:
        if (c / "permission_catalog.csv").is_file():
            return c
    raise CfPostureError(
        "cfposture's data folder is missing (permission_catalog.csv not found);"
        " reinstall with pip install -e . from a full clone"
    )


def sample_dir() -> Path:
    return data_dir() / "sample"


@cache
def _catalog_cached(path: str) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"permission_group_id": str})
    return validate(PermissionCatalog, df)


def load_catalog(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The permission catalog as a validated frame (a copy: callers may change it)."""
    p = Path(path) if path else data_dir() / "permission_catalog.csv"
    try:
        return _catalog_cached(str(p)).copy()
    except FileNotFoundError:
        raise CfPostureError(f"permission catalog {p} not found") from None


def load_audit_map() -> pd.DataFrame:
    """Audit-log (product, resource_type) → the permission groups that allow it."""
    return pd.read_csv(data_dir() / "audit_permission_map.csv")


def infer_access_level(name: str) -> str:
    """Access level of a permission group the catalog does not list, from its name."""
    lowered = name.lower()
    if "admin" in lowered or "all privileges" in lowered:
        return "admin"
    if any(w in lowered for w in ("write", "edit", "purge", "provisioning")):
        return "edit"
    if any(w in lowered for w in ("read", "view", "viewer")):
        return "read"
    return "edit"  # unknown: assume it can change things, the safer error for an audit
