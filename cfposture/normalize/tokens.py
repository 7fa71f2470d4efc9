"""tokens frame (and the token half of grants).

Token *format* is never in the API: list and get responses have no value. It is ``observed``
when a scan or a roll recorded it (``observed/token_formats`` or ``observed.json``) and the
token was not modified after that, else ``inferred`` from dates
around the scannable rollout (see ``infer_format``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import NormalizeError
from ..rawsnapshot import RawSnapshot, read_observations
from ..schemas import Tokens, columns, validate
from ._util import dig, frame, item_id, joined, text, to_ts, typed
from .grants import GrantBuilder

SCANNABLE_ROLLOUT = pd.Timestamp("2026-04-10", tz="UTC")
"""Every token issued or rolled from this day on has the scannable cfut_/cfat_ format."""

TS_FIELDS = ("issued_on", "modified_on", "last_used_on", "expires_on", "not_before")


def infer_format(issued_on: pd.Series, modified_on: pd.Series) -> pd.Series:
    """legacy: issued and last modified before the rollout; scannable: issued on/after it;
    unknown: issued before but modified after (a roll or a policy edit look the same), or no
    dates at all."""
    out = pd.Series("unknown", index=issued_on.index, dtype=object)
    modified = modified_on.fillna(issued_on)
    out[(issued_on < SCANNABLE_ROLLOUT) & (modified < SCANNABLE_ROLLOUT)] = "legacy"
    out[issued_on >= SCANNABLE_ROLLOUT] = "scannable"
    return out


OAUTH_PROVISIONER = "com.cloudflare.api.oauthtoken"
"""``provisioner_type`` of a token an OAuth app minted; ``provisioner_id`` is its client."""


def _ip_list(token: dict[str, Any], key: str) -> str | None:
    cond = token.get("condition")
    # The create-via-API how-to spells it "request.ip"; the API reference says "request_ip".
    ip = dig(cond, "request_ip") or dig(cond, "request.ip")
    return joined(dig(ip, key))


def _row(token: dict[str, Any], **owner: str | None) -> dict[str, Any]:
    policies = token.get("policies")
    return {
        "token_id": str(token["id"]),
        **owner,
        "name": text(token.get("name")),
        "creator_email": text(token.get("creator_email_at_creation")),
        "oauth_client_id": text(token.get("provisioner_id"))
        if token.get("provisioner_type") == OAUTH_PROVISIONER
        else None,
        "status": text(token.get("status")) or "unknown",
        **{f: text(token.get(f)) for f in TS_FIELDS},
        "ip_allow": _ip_list(token, "in"),
        "ip_deny": _ip_list(token, "not_in"),
        "inventoried": True,
        "policy_count": len(policies) if isinstance(policies, list) else 0,
    }


def tokens(
    raw: RawSnapshot, account_ids: list[str], audit: pd.DataFrame, grants: GrantBuilder
) -> pd.DataFrame:
    user = next(iter(raw.items("user")), {})
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(
        token: dict[str, Any], where: str, principal_type: str, account: str | None, **owner: Any
    ) -> None:
        ident = item_id(token, where)
        policies = typed(token, "policies", list, where) or []
        if not all(isinstance(p, dict) for p in policies):
            raise NormalizeError(f"{where}: a policy is not an object; pull the snapshot again")
        if ident in seen:  # pages can overlap when the list changes mid-pull
            return
        seen.add(ident)
        rows.append(_row(token, **owner))
        grants.add_token_policies(token, principal_type, account)

    # one pull: the caller's own tokens; a merge (cfposture merge): each member's, by owner
    owned = [(user, raw.items("user_tokens"))]
    for e in raw.entries("owner_user_tokens"):
        uid = e["ids"]["user_id"]
        who = next(iter(raw.items("owner_user", user_id=uid)), {"id": uid})
        owned.append((who, raw.items("owner_user_tokens", user_id=uid)))
    for who, listed in owned:
        for n, t in enumerate(listed, start=1):
            add(
                t,
                f"user token {n}",
                "user_token",
                None,
                owner_type="user",
                owner_id=text(who.get("id")),
                owner_email=text(who.get("email")),
                account_id=None,
            )
    for aid in account_ids:
        for n, t in enumerate(raw.items("account_tokens", account_id=aid), start=1):
            add(
                t,
                f"account {aid} token {n}",
                "account_token",
                aid,
                owner_type="account",
                owner_id=aid,
                owner_email=None,
                account_id=aid,
            )

    rows.extend(_seen_in_audit(audit, seen))
    df = frame(rows, columns(Tokens))
    for f in TS_FIELDS:
        df[f] = to_ts(df[f], f"tokens.{f}")
    df["status"] = df["status"].where(
        df["status"].isin(["active", "disabled", "expired"]), "unknown"
    )
    df["format"] = infer_format(df["issued_on"], df["modified_on"])
    df["format_source"] = "inferred"
    observed = _observed(raw)
    if not observed.empty:
        o = df[["token_id", "modified_on"]].merge(observed, on="token_id", how="inner")
        # a token modified after the observation may have been rolled since: back to inferred
        o = o[o["modified_on"].isna() | (o["modified_on"] <= o["observed_at"])]
        hit = df["token_id"].isin(o["token_id"])
        df.loc[hit, "format"] = df.loc[hit, "token_id"].map(o.set_index("token_id")["format"])
        df.loc[hit, "format_source"] = "observed"
    df["inventoried"] = df["inventoried"].astype(bool)
    df["policy_count"] = df["policy_count"].astype("Int64")
    return validate(Tokens, df)


def _observed(raw: RawSnapshot) -> pd.DataFrame:
    """The newest observation per token: stored in the manifest (``observed/token_formats``)
    or beside the snapshot (``observed.json``, written by scan --verify and apply)."""
    rows = [
        {
            "token_id": str(o["token_id"]),
            "format": o.get("format"),
            "observed_at": o.get("observed_at") or raw.created_at,
        }
        for o in [*raw.items("observed_token_formats"), *read_observations(raw.path)]
        if o.get("token_id") and o.get("format") in ("legacy", "scannable")
    ]
    df = pd.DataFrame(rows, columns=["token_id", "format", "observed_at"])
    df["observed_at"] = pd.to_datetime(df["observed_at"], utc=True, errors="coerce")
    df = df.dropna(subset=["observed_at"]).sort_values("observed_at", kind="stable")
    return df.drop_duplicates("token_id", keep="last")


_SEEN_COLUMNS = [
    "actor_context", "token_id", "actor_type", "account_id", "actor_id", "actor_email",
    "token_name", "when",
]  # fmt: skip


def _seen_in_audit(audit: pd.DataFrame, inventoried: set[str]) -> list[dict[str, Any]]:
    """Tokens that acted on an account but were not listed: other members' user tokens
    (only their owners can list them), or tokens of accounts we could not list."""
    by_token = (audit["actor_context"] == "api_token") & audit["token_id"].notna()
    # which tokens, from one column first: filtering all 18 columns of millions of events
    # was most of this function's second at 100 enterprise accounts, mostly for nothing
    unseen = set(audit.loc[by_token, "token_id"].unique()) - inventoried
    if not unseen:
        return []
    acted = audit.loc[by_token & audit["token_id"].isin(list(unseen)), _SEEN_COLUMNS]
    last = acted.sort_values("when").groupby("token_id", sort=True).last()
    rows = []
    for token_id, ev in last.iterrows():
        account_owned = ev["actor_type"] == "account"
        rows.append(
            {
                "token_id": str(token_id),
                "owner_type": "account" if account_owned else "user",
                "owner_id": ev["account_id"] if account_owned else ev["actor_id"],
                "owner_email": None if account_owned else ev["actor_email"],
                "account_id": ev["account_id"],
                "name": ev["token_name"],
                "status": "unknown",
                "last_used_on": ev["when"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "inventoried": False,
                "policy_count": None,
            }
        )
    return rows
