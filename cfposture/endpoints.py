"""The Cloudflare API endpoints a snapshot holds, and where each one is stored.

One registry shared by every source (sample, live pull, fake API) and by normalize, so that a file
name, an API path and the permission a token needs to read it are written down exactly once.
A stored file mirrors the API path: ``/accounts/{account_id}/tokens`` for account ``abc`` is
``accounts/abc/tokens.ndjson.gz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Pagination = Literal["single", "page", "cursor", "none"]


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
        """The concrete API path, e.g. ``/accounts/abc/tokens``."""
        return self.path.format(**ids)

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
