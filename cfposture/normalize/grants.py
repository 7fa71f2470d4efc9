"""Policies → grant rows: one row per (principal, policy, permission group, scope).

Tokens, members and user groups all express access as policies; only the field names differ
(``effect`` on tokens, ``access`` on members; ``resources`` map vs resource groups). This module
is the one place that turns any of them into rows of the grants frame.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..catalog import infer_access_level
from ..schemas import Grants, columns
from ..scopes import Scope, member_scopes, token_scopes
from ._util import text

GRANT_COLUMNS = columns(Grants)


class GrantBuilder:
    """Collects grant rows, resolving permission groups against the catalog."""

    def __init__(
        self,
        catalog: pd.DataFrame,
        zone_accounts: dict[str, str],
        pulled: dict[str, str] | None = None,
    ) -> None:
        """``pulled``: id → name from the snapshot's own permission-group lists, which name
        groups newer than the catalog (the catalog wins where both know an id)."""
        self._by_id = {**(pulled or {})}
        self._by_id.update(zip(catalog["permission_group_id"], catalog["name"], strict=True))
        self._level_by_id = dict(
            zip(catalog["permission_group_id"], catalog["access_level"], strict=True)
        )
        self._level = dict(zip(catalog["name"], catalog["access_level"], strict=False))
        self._zone_accounts = zone_accounts
        self.rows: list[dict[str, Any]] = []

    def _group(self, pg: Any) -> tuple[str | None, str]:
        if isinstance(pg, str):  # some exports list bare ids or names
            return (pg, self._by_id[pg]) if pg in self._by_id else (None, pg)
        if not isinstance(pg, dict):
            return None, str(pg)
        pid = text(pg.get("id"))
        meta = pg.get("meta") if isinstance(pg.get("meta"), dict) else {}
        # the id names the group; meta.label is a slug (zone_waf_write), a last resort
        name = text(pg.get("name")) or self._by_id.get(pid or "") or text(meta.get("label"))
        return pid, name or pid or "(unnamed permission group)"

    def access_level(self, name: str, pid: str | None = None) -> str:
        return self._level_by_id.get(pid or "") or self._level.get(name) or infer_access_level(name)

    def add_policy(
        self,
        policy: dict[str, Any],
        scopes: list[Scope],
        *,
        principal_type: str,
        principal_id: str,
        principal_name: str | None,
        default_account: str | None,
        via_group_id: str | None = None,
    ) -> None:
        effect = str(policy.get("effect") or policy.get("access") or "allow").lower()
        effect = "deny" if effect == "deny" else "allow"
        groups = policy.get("permission_groups") or []
        for pg in groups if isinstance(groups, list) else [groups]:
            pid, name = self._group(pg)
            level = self.access_level(name, pid)
            for scope in scopes:
                account = scope.account_id
                if account is None and scope.scope_type == "zone":
                    account = self._zone_accounts.get(scope.scope_id or "")
                if account is None and scope.scope_type not in ("all_accounts", "all_zones"):
                    account = default_account
                if scope.scope_type == "all_zones" and scope.scope_id == "*":
                    account = None
                self.rows.append(
                    {
                        "principal_type": principal_type,
                        "principal_id": principal_id,
                        "principal_name": principal_name,
                        "account_id": account,
                        "policy_id": text(policy.get("id")),
                        "effect": effect,
                        "permission_group_id": pid,
                        "permission_group_name": name,
                        "access_level": level,
                        "scope_type": scope.scope_type,
                        "scope_id": scope.scope_id,
                        "via_group_id": via_group_id,
                    }
                )

    def add_token_policies(
        self, token: dict[str, Any], principal_type: str, default_account: str | None
    ) -> int:
        policies = token.get("policies") or []
        if not isinstance(policies, list):
            policies = [policies]
        n = 0
        for policy in policies:
            if not isinstance(policy, dict):
                continue
            n += 1
            self.add_policy(
                policy,
                token_scopes(policy.get("resources")),
                principal_type=principal_type,
                principal_id=str(token["id"]),
                principal_name=text(token.get("name")),
                default_account=default_account,
            )
        return n

    def add_member_policy(
        self,
        policy: dict[str, Any],
        *,
        principal_type: str,
        principal_id: str,
        principal_name: str | None,
        account_id: str,
        via_group_id: str | None = None,
    ) -> None:
        self.add_policy(
            policy,
            member_scopes(policy.get("resource_groups"), account_id),
            principal_type=principal_type,
            principal_id=principal_id,
            principal_name=principal_name,
            default_account=account_id,
            via_group_id=via_group_id,
        )


PERMISSION_GROUP_LISTS = (
    "user_token_permission_groups",
    "account_token_permission_groups",
    "permission_groups",
)


def pulled_groups(raw: Any, account_ids: list[str]) -> dict[str, str]:
    """id → name of every permission group the pull's own lists name (the token lists of the
    user and of each account, and IAM's): real, current names for ids the catalog lacks."""
    out: dict[str, str] = {}
    lists = [raw.items("user_token_permission_groups")]
    for aid in account_ids:
        lists += [raw.items(k, account_id=aid) for k in PERMISSION_GROUP_LISTS[1:]]
    for items in lists:
        for g in items:
            if not isinstance(g, dict):
                continue
            gid, name = text(g.get("id")), text(g.get("name"))
            if gid and name:
                out.setdefault(gid, name)
    return out
