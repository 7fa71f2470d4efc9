"""The data that ships with cfposture: permission catalog, audit mapping, embedded sample.

It lives in the repository's top-level ``data/``; a wheel carries the same folder as
``cfposture/_data`` (see pyproject.toml), so both an editable and a regular install find it.

The catalog holds Cloudflare's real permission-group ids (``scripts/build_catalog.py`` writes
it from the API's own list). Risk is a rule, not a table of hand-typed numbers: ``classify``
derives a group's access level and product from its name, and ``product_risk`` rates the
product by a few keyword lists. The same rule judges a group the catalog does not know, so a
group Cloudflare adds tomorrow is weighed the way its siblings are.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pandas as pd

from .errors import CfPostureError
from .schemas import PermissionCatalog, validate

LEVEL_FACTOR = {"read": 1, "edit": 3, "admin": 5}
"""risk_weight = LEVEL_FACTOR[access_level] × product_risk (documented in data/README.md)."""

ADMIN_WORDS = frozenset({"admin", "administrator"})
EDIT_WORDS = frozenset(
    {"write", "edit", "revoke", "run", "send", "bind", "purge", "provisioning", "engine"}
)
READ_WORDS = frozenset({"read", "report", "viewer", "view"})
LEVEL_WORDS = ADMIN_WORDS | EDIT_WORDS | READ_WORDS

HIGH_RISK = (
    "access",
    "account settings",
    "api tokens",
    "billing",
    "bot",
    "certificate",
    "ddos",
    "dns",
    "firewall",
    "load balanc",
    "magic",
    "memberships",
    "pages",
    "r2",
    "secrets",
    "ssl",
    "tunnel",
    "waf",
    "worker",
    "zero trust",
    "zone",
)
"""Products whose change can take a site down, expose traffic or grant more access: risk 3."""
LOW_RISK = ("analytics", "audit", "cache", "insights", "observability", "radar")
"""Products whose use reveals or disturbs little: risk 1 (checked first: ``Access: Audit Logs``
is low). Everything else is 2."""


def _words(name: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", name.lower())


def classify_level(name: str) -> str:
    """Access level from a group's name: admin, edit or read. A name with no level word is
    taken as ``edit`` (it can change something): the safer error for an audit."""
    words = set(_words(name))
    if words & ADMIN_WORDS:
        return "admin"
    if words & EDIT_WORDS:
        return "edit"
    if words & READ_WORDS:
        return "read"
    return "edit"


def classify_product(name: str) -> str:
    """The product a group acts on: its name without the level words (``DNS Write`` and
    ``DNS Read`` are both ``dns``), lower case."""
    kept = [w for w in name.replace(":", " ").split() if w.lower() not in LEVEL_WORDS]
    return " ".join(kept).lower().strip(" -") or name.lower()


def product_risk(product: str) -> int:
    """1 low, 2 medium, 3 high, by keyword (see ``LOW_RISK``, ``HIGH_RISK``); 4 is kept for
    the roles that hold everything, members and billing included."""
    if product == "all_privileges":
        return 4
    if product == "all_products":
        return 3
    if any(k in product for k in LOW_RISK):
        return 1
    if any(k in product for k in HIGH_RISK):
        return 3
    return 2


def classify(name: str) -> tuple[str, str, int, float]:
    """(access_level, product, product_risk, risk_weight) of a token permission group."""
    level, product = classify_level(name), classify_product(name)
    risk = product_risk(product)
    return level, product, risk, float(LEVEL_FACTOR[level] * risk)


def infer_access_level(name: str) -> str:
    """Access level of a permission group the catalog does not list, from its name."""
    return classify_level(name)


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


def group_ids(catalog: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(name, scope) → real permission-group id, for every group whose id Cloudflare
    publishes. ``scope`` is ``zone``, ``account``, ``user`` or ``r2``: seven names exist at
    both zone and account scope, with different ids."""
    real = catalog[catalog["id_source"] == "api"]
    out: dict[tuple[str, str], str] = {}
    for name, scopes, gid in zip(
        real["name"], real["scopes"], real["permission_group_id"], strict=True
    ):
        out.setdefault((name, scope_kind(scopes)), gid)
    return out


def group_id_of(
    ids: dict[tuple[str, str], str], name: str, prefer: tuple[str, ...] = ()
) -> str | None:
    """The real id of the group named ``name`` in ``group_ids``' map, trying the scope kinds
    in ``prefer`` first, then zone, account and user (a name at two scopes has two ids)."""
    for kind in (*prefer, "zone", "account", "user"):
        if (name, kind) in ids:
            return ids[(name, kind)]
    return None


def scope_kind(scopes: str) -> str:
    """The kind of resource a group's first scope names: zone, account, user or r2."""
    first = str(scopes).split(",")[0]
    if first.endswith("account.zone"):
        return "zone"
    if first.endswith("api.user"):
        return "user"
    if "r2.bucket" in first:
        return "r2"
    return "account"
