"""The Cloudflare API endpoints a snapshot holds, and where each one is stored.

One registry shared by every source (sample, live pull, fake API) and by normalize, so that a file
name, an API path and the permission a token needs to read it are written down exactly once.
A stored file mirrors the API path: ``/accounts/{account_id}/tokens`` for account ``abc`` is
``accounts/abc/tokens.ndjson.gz``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import CfPostureError

Pagination = Literal["single", "page", "cursor", "none"]

SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""What an id from the API or a file may look like before it becomes part of a path or URL.
Cloudflare's ids are 32 hex characters; the set is a little wider for ids we have not seen, and
narrow enough that no value can name a parent folder, an absolute path or another URL."""


class UnsafeIdError(CfPostureError):
    """An id from the API or a file that cannot safely become a file name or an API path."""


def safe_id(value: object, what: str = "id") -> str:
    """``value`` if it is a safe id, else a one-line error that shows it escaped."""
    if isinstance(value, str) and SAFE_ID.fullmatch(value):
        return value
    raise UnsafeIdError(
        f"refusing {what} {value!r}: ids are 1-128 letters, digits, '-' or '_'; the API response"
        " or file it came from is not what Cloudflare sends"
    )


@dataclass(frozen=True)
class Endpoint:
    """One API endpoint as cfposture reads it.

    ``pagination``: ``page`` for V4 page/per_page lists, ``cursor`` for audit logs v2, ``single``
    for unpaginated lists and ``none`` for single objects (stored as one line).
    ``needs`` is the API token permission that reads it, shown when a pull is denied.
    """

    key: str
    path: str
    pagination: Pagination
    needs: str

    def api_path(self, **ids: str) -> str:
        """The concrete API path, e.g. ``/accounts/abc/tokens``. Every id is checked first
        (``safe_id``): ids come from API responses and files, and become paths on disk."""
        return self.path.format(**{k: safe_id(v, k) for k, v in ids.items()})

    def file(self, **ids: str) -> str:
        """The stored file, relative to the snapshot folder."""
        return self.api_path(**ids).lstrip("/") + ".ndjson.gz"


ENDPOINTS: dict[str, Endpoint] = {
    e.key: e
    for e in [
        Endpoint("user", "/user", "none", "User Details Read"),
        Endpoint("accounts", "/accounts", "page", "Account Settings Read"),
        Endpoint("user_tokens", "/user/tokens", "page", "API Tokens Read"),
        Endpoint(
            "user_token_permission_groups",
            "/user/tokens/permission_groups",
            "single",
            "API Tokens Read",
        ),
        Endpoint("account", "/accounts/{account_id}", "none", "Account Settings Read"),
        Endpoint(
            "account_tokens", "/accounts/{account_id}/tokens", "page", "Account API Tokens Read"
        ),
        Endpoint(
            "account_token_permission_groups",
            "/accounts/{account_id}/tokens/permission_groups",
            "single",
            "Account API Tokens Read",
        ),
        Endpoint("members", "/accounts/{account_id}/members", "page", "Account Settings Read"),
        Endpoint(
            "permission_groups",
            "/accounts/{account_id}/iam/permission_groups",
            "page",
            "Account Settings Read",
        ),
        Endpoint(
            "resource_groups",
            "/accounts/{account_id}/iam/resource_groups",
            "single",
            "Account Settings Read",
        ),
        Endpoint(
            "user_groups", "/accounts/{account_id}/iam/user_groups", "page", "Account Settings Read"
        ),
        Endpoint(
            "user_group_members",
            "/accounts/{account_id}/iam/user_groups/{group_id}/members",
            "page",
            "Account Settings Read",
        ),
        # The API lists zones at /zones?account.id=...; stored per account like the rest.
        Endpoint("zones", "/accounts/{account_id}/zones", "page", "Zone Read"),
        Endpoint(
            "oauth_clients", "/accounts/{account_id}/oauth_clients", "single", "OAuth Client Read"
        ),
        # Cloudflare's docs name Account Settings Read for the audit history endpoint; for the
        # list endpoint that is a third party's word ("Access: Audit Logs Read" reads Access's
        # own logs): the hint says so
        Endpoint(
            "audit_logs",
            "/accounts/{account_id}/logs/audit",
            "cursor",
            "Account Settings Read (documented for the audit history endpoint; if it is"
            " granted, also try Access: Audit Logs Read)",
        ),
        # Not API endpoints: a connected-apps export given with --oauth-export, and token formats
        # observed by a scan (--verify) or a roll (apply): stored alike, so one reader serves all.
        Endpoint("connected_apps", "/oauth/connected_apps", "none", "(export file)"),
        Endpoint("observed_token_formats", "/observed/token_formats", "none", "(scan or apply)"),
        # Not API paths either: a merged snapshot (cfposture merge) keeps each pull's /user and
        # /user/tokens under its owner, because user tokens can only be listed by their owner.
        Endpoint("owner_user", "/owners/{user_id}", "none", "User Details Read"),
        Endpoint("owner_user_tokens", "/owners/{user_id}/tokens", "page", "API Tokens Read"),
    ]
}


PER_ACCOUNT = [
    "account",
    "account_tokens",
    "account_token_permission_groups",
    "members",
    "permission_groups",
    "resource_groups",
    "user_groups",
    "zones",
    "oauth_clients",
    "audit_logs",
]
"""What a pull fetches for each account."""

COVERED = ("account_tokens", "members", "audit_logs")
"""What a snapshot must hold, fetched or denied, for every account it covers: the inventories
every rule reads and the usage evidence. A manifest without them for one account would quietly
drop that account's findings, so it is refused (``RawSnapshot.open``)."""
