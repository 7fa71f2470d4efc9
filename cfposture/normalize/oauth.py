"""oauth_apps frame from three sources.

* ``export``: a connected-apps export (no public API lists a user's authorized apps);
* ``published_client``: OAuth clients the accounts publish (``/accounts/{id}/oauth_clients``);
* ``audit``: apps seen acting through audit logs v2 (``actor.context == "oauth"``) that the
  export does not list.

Activity from audit logs sets ``last_seen_on`` on the matching export rows (by app id or name,
or through the token the app minted: its ``provisioner_id`` is the app's client id), and
``minted_tokens`` counts the tokens each app minted that the pull could list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pandas as pd

from ..rawsnapshot import RawSnapshot
from ..schemas import OAuthApps, columns, validate
from ._util import dig, flag, frame, joined, text, to_ts

ALL_ACCOUNTS = "*"


def _scopes(value: Any) -> str | None:
    if isinstance(value, str):
        return " ".join(value.replace(",", " ").split()) or None
    return joined(value, " ")


def _export_rows(raw: RawSnapshot) -> list[dict[str, Any]]:
    rows = []
    for app in raw.items("connected_apps"):
        app_id = text(app.get("app_id")) or text(app.get("client_id"))
        if not app_id:
            continue
        accounts = app.get("accounts")
        if isinstance(accounts, str):
            accounts = [a.strip() for a in accounts.replace(";", ",").split(",") if a.strip()]
        if not accounts or "all" in accounts or ALL_ACCOUNTS in accounts:
            accounts = [ALL_ACCOUNTS]
        for aid in accounts:
            rows.append(
                {
                    "app_id": app_id,
                    "app_name": text(app.get("app_name")) or text(app.get("name")),
                    "publisher": text(app.get("publisher")),
                    "verified": flag(app.get("verified")),
                    "account_id": aid,
                    "user_email": text(app.get("user_email")),
                    "scopes": _scopes(app.get("scopes")),
                    "granted_on": text(app.get("granted_on")),
                    "last_seen_on": text(app.get("last_used_on")),
                    "source": "export",
                }
            )
    return rows


def _published_rows(raw: RawSnapshot, account_ids: list[str]) -> list[dict[str, Any]]:
    rows = []
    for aid in account_ids:
        for c in raw.items("oauth_clients", account_id=aid):
            cid = text(c.get("client_id")) or text(c.get("id"))
            if not cid:
                continue
            uri = text(c.get("client_uri"))
            rows.append(
                {
                    "app_id": cid,
                    "app_name": text(c.get("client_name")),
                    "publisher": urlparse(uri).hostname if uri else None,
                    "verified": dig(c, "client_uri_verification", "status") == "verified",
                    "account_id": aid,
                    "user_email": None,
                    "scopes": _scopes(c.get("scopes")),
                    "granted_on": text(c.get("created_at")),
                    "last_seen_on": None,
                    "source": "published_client",
                }
            )
    return rows


def oauth_apps(
    raw: RawSnapshot, account_ids: list[str], audit: pd.DataFrame, tokens: pd.DataFrame
) -> pd.DataFrame:
    df = frame(_export_rows(raw) + _published_rows(raw, account_ids), columns(OAuthApps))
    for col in ("granted_on", "last_seen_on"):
        df[col] = to_ts(df[col], f"oauth_apps.{col}")
    df["verified"] = df["verified"].astype("boolean")
    minted = minted_by(tokens)
    df["minted_tokens"] = df["app_id"].map(minted["oauth_client_id"].value_counts())
    df["minted_tokens"] = df["minted_tokens"].fillna(0).astype("Int64")
    return validate(OAuthApps, merge_activity(df, audit, minted))


def minted_by(tokens: pd.DataFrame) -> pd.DataFrame:
    """(token_id, oauth_client_id) of the tokens an OAuth app minted."""
    return tokens.loc[tokens["oauth_client_id"].notna(), ["token_id", "oauth_client_id"]]


def merge_activity(
    df: pd.DataFrame, audit: pd.DataFrame, minted: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Set ``last_seen_on`` of export rows from the OAuth activity in ``audit`` (matched by app
    id or name, in the same account or an all-accounts grant); activity nobody exported
    becomes ``audit`` rows. Idempotent (``audit`` rows already there are matched, not added
    again), so the rules can merge the history's wider window into a snapshot's frame.
    Vectorised: enterprise audit logs carry hundreds of thousands of OAuth events."""
    oauth = audit["actor_context"] == "oauth"
    acts = audit.loc[oauth, ["token_id", "token_name", "account_id", "when"]]  # what is read
    if acts.empty:
        return df
    df = df.copy()  # the caller's frame (a snapshot's, for the rules) stays as it was
    # an event of a token an app minted is the app's: key it by the app's client id
    key = acts["token_id"].fillna(acts["token_name"])
    if minted is not None and not minted.empty:
        client = acts["token_id"].map(minted.set_index("token_id")["oauth_client_id"])
        key = client.where(client.notna(), key)
    # a groupby per column: named aggregations over the frame took three times as long
    per = acts.assign(key=key).groupby(["key", "account_id"], dropna=False)
    seen = pd.DataFrame({"last": per["when"].max(), "name": per["token_name"].last()})
    seen = seen.reset_index()
    # only what the match reads: the merges copy every column of both sides (the rules merge
    # the window's activity into every snapshot they judge)
    known = df.loc[df["source"].isin(["export", "audit"]), ["app_id", "app_name", "account_id"]]
    known = known.reset_index(names="row")
    # an account's published client is matched by its client id only (a minted token's
    # provisioner_id): a name is the publisher's to choose and may repeat elsewhere
    published = df.loc[df["source"] == "published_client", ["app_id", "app_name", "account_id"]]
    published = published.reset_index(names="row")
    cands = pd.concat(
        [
            known.merge(seen, left_on="app_id", right_on="key", suffixes=("", "_ev")),
            known.merge(seen, left_on="app_name", right_on="name", suffixes=("", "_ev")),
            published.merge(seen, left_on="app_id", right_on="key", suffixes=("", "_ev")),
        ]
    )
    cands = cands[
        cands["account_id"].isin([ALL_ACCOUNTS]) | (cands["account_id"] == cands["account_id_ev"])
    ]
    latest = cands.groupby("row")["last"].max()
    prior = df.loc[latest.index, "last_seen_on"]
    df.loc[latest.index, "last_seen_on"] = prior.where(prior >= latest, latest)
    matched = pd.MultiIndex.from_frame(cands[["key", "account_id_ev"]])
    unmatched = seen[~pd.MultiIndex.from_frame(seen[["key", "account_id"]]).isin(matched)]
    if unmatched.empty:
        return df
    extra = pd.DataFrame(
        {
            "app_id": unmatched["key"],
            "app_name": unmatched["name"],
            "account_id": unmatched["account_id"],
            "last_seen_on": unmatched["last"],
            "source": "audit",
            "minted_tokens": 0,
        }
    ).reindex(columns=columns(OAuthApps))
    extra["verified"] = extra["verified"].astype("boolean")
    extra["minted_tokens"] = extra["minted_tokens"].astype("Int64")
    return pd.concat([df, extra], ignore_index=True)
