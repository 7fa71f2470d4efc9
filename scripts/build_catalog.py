"""Write data/permission_catalog.csv from Cloudflare's own permission-group list.

    python scripts/build_catalog.py [PERMISSION_GROUPS_JSON]

The input is the answer of ``GET /accounts/{id}/tokens/permission_groups`` (the default path is
the project's shared reference copy). The user-scoped groups, which only
``GET /user/tokens/permission_groups`` returns, and the member roles are listed here with the
ids Cloudflare publishes. Levels, products and risk come from ``cfposture.catalog.classify``
for token groups; roles carry theirs below because their names follow no convention.
A role whose id is not published keeps a placeholder id (``id_source = placeholder``):
cfposture never writes such an id into a request, and a pull's own permission-group lists
replace it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

from cfposture.catalog import LEVEL_FACTOR, classify, product_risk

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = ROOT.parent / "shared/reference/permission-groups.json"
USER = "com.cloudflare.api.user"
ACCOUNT = "com.cloudflare.api.account"
ZONE = "com.cloudflare.api.account.zone"
RESOURCE = "com.cloudflare.api.account.resource"

USER_GROUPS = {
    # Cloudflare's API token permissions page (user permissions)
    "API Tokens Read": "0cc3a61731504c89b99ec1be78b77aa0",
    "API Tokens Write": "686d18d5ac6c441c867cbf6771e58a0a",
    "Memberships Read": "3518d0f75557482e952c6762d3e64903",
    "Memberships Write": "9201bc6f42d440968aaab0c6f17ebb1d",
    "User Details Read": "8acbe5bb0d54464ab867149d7f7cf8ac",
    "User Details Write": "55a5e17cc99e4a3fa1f3432d262f2e55",
}

# name: (scopes, access level, product, published role id or None)
ROLES = {
    "Super Administrator - All Privileges": (
        ACCOUNT,
        "admin",
        "all_privileges",
        "33666b9c79b9a5273fc7344ff42f953d",
    ),
    "Administrator": (ACCOUNT, "admin", "all_products", "05784afa30c1afe1440e79d9351c7430"),
    "Administrator Read Only": (
        ACCOUNT,
        "read",
        "all_products",
        "f2b20eaa1a5d4af42b53ac16238c99c7",
    ),
    "Minimal Account Access": (ACCOUNT, "read", "account", None),
    "Audit Logs Viewer": (ACCOUNT, "read", "audit logs", "9dfa4d1b73034f70ad896bf1c26d78f3"),
    "Billing": (ACCOUNT, "edit", "billing", "298ce8e7a2ba08b9d18ce0a32bb458ee"),
    "API Token Provisioning": (ACCOUNT, "edit", "account api tokens", None),
    "Analytics": (ACCOUNT, "read", "analytics", "6ddc5f80969d01105b5a0931e0079365"),
    "Cache Purge": (ACCOUNT, "edit", "cache", "d1c17a97abf0aa371338074955877ba0"),
    "DNS": (ACCOUNT, "edit", "dns", "069fe803647ed3609e93d041d5df6050"),
    "Firewall": (ACCOUNT, "edit", "firewall services", None),
    "Load Balancer": (ACCOUNT, "edit", "load balancers", None),
    "Log Share": (ACCOUNT, "edit", "logs", None),
    "Cloudflare Access": (ACCOUNT, "edit", "access apps and policies", None),
    "Cloudflare Zero Trust Read Only": (
        ACCOUNT,
        "read",
        "zero trust",
        "156a872fa6df06e0e9b85d32afce6990",
    ),
    "Cloudflare Zero Trust Reporting": (
        ACCOUNT,
        "read",
        "zero trust",
        "b525e80fc64a4323a9ea666467d1865c",
    ),
    "SSL/TLS, Caching, Performance, Page Rules, and Customization": (
        ACCOUNT,
        "edit",
        "zone settings",
        "75f36071fa06ebfac6da0c3f8ddbc4df",
    ),
    "Workers Platform Admin": (ACCOUNT, "admin", "workers", None),
    "Workers Platform (Read-only)": (ACCOUNT, "read", "workers", None),
    "Domain Administrator": (ZONE, "admin", "all_products", None),
    "Domain Administrator Read Only": (ZONE, "read", "all_products", None),
    "Domain DNS": (ZONE, "edit", "dns", None),
    "Cache Domain Purge": (ZONE, "edit", "cache", None),
    "Cloudflare Access App Admin": (RESOURCE, "admin", "access apps and policies", None),
    "Cloudflare Access Identity Provider Admin": (
        RESOURCE,
        "admin",
        "access organizations, identity providers, and groups",
        None,
    ),
    "Cloudflare Access policy admin": (RESOURCE, "admin", "access apps and policies", None),
    "Cloudflare Access service token admin": (RESOURCE, "admin", "access service tokens", None),
    "Access for Infrastructure Target Admin": (RESOURCE, "admin", "access infrastructure", None),
    "Worker Admin": (RESOURCE, "admin", "workers scripts", None),
    "Worker Edit (Versions & Deployments)": (RESOURCE, "edit", "workers scripts", None),
    "Worker Read": (RESOURCE, "read", "workers scripts", None),
}

COLUMNS = [
    "permission_group_id",
    "name",
    "kind",
    "scopes",
    "access_level",
    "product",
    "product_risk",
    "risk_weight",
    "id_source",
]


def _row(gid: str, name: str, kind: str, scopes: str, level: str, product: str, source: str):
    """One catalogue row; risk and weight follow from the level and product by the rule."""
    risk = product_risk(product)
    values = [gid, name, kind, scopes, level, product, risk, float(LEVEL_FACTOR[level] * risk)]
    return dict(zip(COLUMNS, [*values, source], strict=True))


def rows(groups: list[dict]) -> list[dict]:
    out = []
    for g in [*groups, *({"id": i, "name": n, "scopes": [USER]} for n, i in USER_GROUPS.items())]:
        level, product, _, _ = classify(g["name"])
        out.append(_row(g["id"], g["name"], "token", ",".join(g["scopes"]), level, product, "api"))
    for name, (scopes, level, product, rid) in ROLES.items():
        gid = rid or hashlib.md5(f"role:{name}".encode()).hexdigest()
        out.append(_row(gid, name, "role", scopes, level, product, "api" if rid else "placeholder"))
    return out


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else DEFAULT_INPUT
    groups = json.loads(src.read_text())["groups"]
    out = ROOT / "data/permission_catalog.csv"
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows(groups))
    tmp.replace(out)
    print(f"wrote {out} from {src}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
