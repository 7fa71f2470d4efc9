"""A plan checked against the snapshot it was made from: it may only narrow what is there.

The JSON Schema (``checks.checked_plan``) says what a plan may look like; this says whether it
is one ``cfposture plan`` could have made from its snapshot. A plan edited in a pull request
can name real permission groups in a well-formed body and still widen a token. So, before any
request:

* the snapshot the plan names is there and unchanged (its manifest's sha256 is in the plan);
* every target is a token or member of that snapshot, of the type and account the plan says;
* a narrowed token or member is allowed nothing its current grants do not already allow:
  every permission group (or role) of the new policies covers only what a current grant on a
  scope at least as wide covers, and weighs no more in the catalogue (a role can hold powers
  no token group names); every current deny is kept;
* an expiry only comes sooner, and an IP restriction is only added where there was none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CfPostureError
from ..normalize.grants import pulled_groups
from ..rawsnapshot import RawSnapshot
from ..scopes import Scope, member_scopes, token_scopes
from ..textsafe import escaped

ADVICE = "nothing was applied. Make the plan again with cfposture plan"


class _Refused(Exception):
    """Why one action is not what its snapshot allows (turned into a one-line error)."""


def check_against_snapshot(plan: dict[str, Any], source: str) -> None:
    """``CfPostureError`` naming the first action the plan's snapshot does not allow."""
    from ..load import load
    from ..merge import manifest_digest

    where = plan.get("snapshot")
    if not where or not Path(where, "manifest.json").is_file():
        raise CfPostureError(
            f"{source}: its snapshot {escaped(str(where))} is not there to check the plan"
            f" against; {ADVICE} on a snapshot you have"
        )
    if manifest_digest(where) != plan.get("snapshot_digest"):
        raise CfPostureError(
            f"{source}: the snapshot {escaped(str(where))} is not the one the plan was made"
            f" from (its manifest's sha256 differs); {ADVICE}"
        )
    snap = load(where, cached=False)
    # ids → names: the catalogue's, then the pull's own permission-group lists (IAM's roles
    # included: a role whose id Cloudflare does not publish takes its id from there)
    pulled = pulled_groups(RawSnapshot.open(where), list(snap.accounts["account_id"]))
    judge = _Judge(snap, pulled)
    for i, a in enumerate(plan["actions"]):
        try:
            judge.action(a)
        except _Refused as e:
            raise CfPostureError(f"{source}: actions/{i} ({a['kind']}): {e}; {ADVICE}") from None


class _Judge:
    def __init__(self, snap: Any, pulled: dict[str, str]) -> None:
        from ..narrow import _covers

        self.snap = snap
        self.covers = _covers()
        self.zone_account = dict(zip(snap.zones["zone_id"], snap.zones["account_id"], strict=True))
        cat = snap.permission_catalog
        # what a group or role allows, as the token groups it covers (a role covers itself
        # too, which no other role's set holds)
        token_groups = frozenset(cat.loc[cat["kind"] == "token", "name"])
        self.allows_of = lambda name: (self.covers.get(name, frozenset()) & token_groups) or {name}
        # and how much it weighs: a role can hold powers no token group names (Super
        # Administrator manages members), so a new role may not outweigh the one it replaces
        self.weight = cat.groupby("name")["risk_weight"].max().to_dict()
        self.names = dict(zip(cat["permission_group_id"], cat["name"], strict=False))
        for gid, name in pulled.items():
            self.names.setdefault(gid, name)
        # and the groups the principals hold today, as normalize named them
        held = snap.grants.dropna(subset=["permission_group_id"])
        for gid, name in zip(
            held["permission_group_id"], held["permission_group_name"], strict=True
        ):
            self.names.setdefault(gid, name)

    def action(self, a: dict[str, Any]) -> None:
        t, kind, after = a["target"], a["kind"], a["after"]
        if t["type"] == "member":
            m = self.snap.members
            hit = m[(m["member_id"] == t["id"]) & (m["account_id"] == t.get("account_id"))]
            if hit.empty:
                raise _Refused(f"member {t['id']} of account {t.get('account_id')} is not in it")
            scopes = lambda p: member_scopes(p.get("resource_groups"), t["account_id"])  # noqa: E731
            self._narrower(t["id"], after["policies"], "access", scopes)
            return
        token = self._token(t)
        if kind == "narrow_token":
            scopes = lambda p: token_scopes(p.get("resources"))  # noqa: E731
            self._narrower(t["id"], after["policies"], "effect", scopes)
        elif kind == "set_expiry":
            now = token["expires_on"]
            new = pd.Timestamp(after["expires_on"])
            if not pd.isna(now) and new > now:
                raise _Refused(f"it moves the expiry from {now:%Y-%m-%d} to {new:%Y-%m-%d}")
        elif kind == "restrict_ip" and not pd.isna(token["ip_allow"]):
            raise _Refused("the token already has an IP restriction; it would replace it")

    def _token(self, t: dict[str, Any]) -> pd.Series:
        tok = self.snap.tokens
        owner = {"account_token": "account", "user_token": "user"}[t["type"]]
        hit = tok[(tok["token_id"] == t["id"]) & (tok["owner_type"] == owner) & tok["inventoried"]]
        if owner == "account":
            hit = hit[hit["account_id"] == t.get("account_id")]
        if hit.empty:
            raise _Refused(f"{t['type'].replace('_', ' ')} {t['id']} is not in it")
        return hit.iloc[0]

    def _narrower(self, principal: str, policies: list, effect_key: str, scopes: Any) -> None:
        g = self.snap.grants
        mine = g[g["principal_id"] == principal]
        rows = zip(
            mine["permission_group_id"],
            mine["permission_group_name"],
            mine["effect"],
            mine["scope_type"],
            mine["scope_id"],
            mine["account_id"],
            strict=True,
        )
        allows: list[tuple[frozenset[str], float, Scope]] = []
        denies_before = set()
        for gid, name, effect, st, sid, acc in rows:
            if effect == "allow":
                w = self.weight.get(name, 0.0)
                allows.append((self.allows_of(name), w, Scope(st, sid, acc)))
            else:
                denies_before.add((gid, st, sid))
        denies_after: set[tuple[Any, str, Any]] = set()
        for p in policies:
            effect = p.get(effect_key)
            for ref in p.get("permission_groups", []):
                gid = ref.get("id")
                name = self.names.get(gid)
                if name is None:
                    raise _Refused(f"permission group {gid} is not one the snapshot or the"
                                   " catalogue knows")  # fmt: skip
                for s in scopes(p):
                    if effect == "deny":
                        denies_after.add((gid, s.scope_type, s.scope_id))
                        continue
                    need = self.allows_of(name)
                    reach = [(c, w) for c, w, orig in allows if self._contains(orig, s)]
                    held = frozenset().union(*(c for c, _ in reach))
                    heaviest = max((w for _, w in reach), default=0.0)
                    if not need <= held or self.weight.get(name, 0.0) > heaviest:
                        raise _Refused(
                            f"it allows {escaped(name)} on {s.scope_type} {s.scope_id}, which"
                            " the current grants do not"
                        )
        if not denies_before <= denies_after:
            raise _Refused("it drops a deny policy the current grants have")

    def _contains(self, outer: Scope, s: Scope) -> bool:
        """Whether a grant on ``outer`` reaches everything a grant on ``s`` would."""
        kind = outer.scope_type
        if kind == "all_accounts":
            return s.scope_type != "user"
        if kind == "account":
            a = outer.scope_id
            if s.scope_type == "account" or s.scope_type == "all_zones":
                return s.scope_id == a
            if s.scope_type == "zone":
                return self.zone_account.get(s.scope_id) == a
            return s.scope_type == "resource" and s.account_id == a
        if kind == "all_zones":
            if s.scope_type == "all_zones":
                return outer.scope_id in ("*", s.scope_id)
            if s.scope_type == "zone":
                return outer.scope_id == "*" or self.zone_account.get(s.scope_id) == outer.scope_id
            return False
        return s.scope_type == kind and s.scope_id == outer.scope_id
