"""Usage from audit logs v2: which permission group, at which scope, each principal exercised.

Audit logs v2 record create, update and delete actions, never reads (GET requests are not
logged). So only write use is observable: each grant gets a *usage state*, ``used``,
``unused``, ``unobservable`` (read-level grants, and user-level ones, which account logs never
show) or ``unknown`` (the history does not cover the window, or the token is younger than it).

Each event's ``(product, resource_type)`` is looked up in ``data/audit_permission_map.csv``:
``view`` actions (which Cloudflare plans for some sensitive reads) exercise the row's
``read_group``, anything else its ``write_group``. Failed writes count as use: the actor held
the group and tried to use it. Only actions of users and account tokens are attributed;
``system`` and ``cloudflare_admin`` actors are Cloudflare's own. The event's scope is its zone
(zone-level products) or its account. A grant counts as *used* when some event of the same
principal exercised a permission group the grant's group covers (see ``covers``) inside the
grant's scope. Everything is joins and group-bys: no Python loop runs per event, because
enterprise audit logs hold millions of them.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from .catalog import load_audit_map, load_catalog
from .load import Snapshot, audit_events_of, folder_listing
from .rawsnapshot import RawSnapshot
from .window import Window

LEVEL_ORDER = {"read": 1, "edit": 2, "admin": 3}
WIDE_PRODUCTS = {"all_products", "all_privileges"}


@cache
def _default_covers() -> pd.DataFrame:
    return covers_table(load_catalog())


def covers_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """(group, covered) pairs: which token permission groups a group or role allows.

    A group covers the token groups of the same product (any product for ``all_products`` and
    ``all_privileges``) at the same or a lower access level; zone-scoped roles cover only
    zone-level groups. Every group covers itself.
    """
    tokens = list(catalog[catalog["kind"] == "token"].itertuples())  # once, not per group
    rows = []
    for g in catalog.itertuples():
        lvl = LEVEL_ORDER[g.access_level]
        for t in tokens:
            if g.name == t.name:
                continue
            if LEVEL_ORDER[t.access_level] > lvl:
                continue
            if g.product not in WIDE_PRODUCTS and g.product != t.product:
                continue
            if g.product not in WIDE_PRODUCTS and g.kind == "token" and g.scopes != t.scopes:
                continue
            if "account.zone" in g.scopes and g.kind == "role" and "zone" not in t.scopes:
                continue
            rows.append((g.name, t.name))
    pairs = pd.DataFrame(rows, columns=["group", "covered"])
    self_pairs = pd.DataFrame({"group": catalog["name"], "covered": catalog["name"]})
    return pd.concat([self_pairs, pairs], ignore_index=True).drop_duplicates()


def usage_events(snap: Snapshot, days: int) -> tuple[pd.DataFrame, Window]:
    """Audit events of the window ending where the snapshot's audit logs end (its
    ``audit_window``'s ``before``, else when it was taken), from it and the older snapshots of
    its history folder (deduplicated by event id), plus the span they cover unbroken."""
    own = _span(snap.manifest)
    denied = _audit_denied(snap.manifest)
    windowed = bool(snap.manifest.get("audit_window")) or denied
    # "unused" can only be said up to where the audit logs were read: a pull with an earlier
    # --before, or a merge (whose window is what every pull read), ends there
    as_of = min(snap.created_at, own[1]) if own else snap.created_at
    start = as_of - pd.Timedelta(days=days)
    parts = [snap.audit_events]
    manifests = [snap.manifest]
    siblings, listed = folder_listing(snap.path.parent)
    exports = set(listed)
    for p in [*siblings, *sorted(exports)]:
        if p == snap.path:
            continue
        raw = RawSnapshot.open(p)
        created = pd.Timestamp(raw.created_at)
        if p in exports:  # imported audit logs count wherever their span meets the window
            span = _span(raw.manifest)
            if span is None or span[0] >= as_of or span[1] <= start:
                continue
        elif created >= snap.created_at or created < start:
            continue
        parts.append(audit_events_of(raw, cached=snap.cached))
        manifests.append(raw.manifest)
        windowed = windowed or bool(raw.manifest.get("audit_window"))
    events = pd.concat(parts, ignore_index=True).drop_duplicates("event_id")
    events = events[(events["when"] > start) & (events["when"] <= as_of)]
    if own is not None:
        covered = covered_since(as_of, [_span(m) for m in manifests])
    elif windowed:  # this snapshot's audit logs were not (all) read: nothing is covered
        covered = None
    else:  # hand-made snapshots without a window: the events are all there is
        covered = None if events.empty else events["when"].min()
    return events.reset_index(drop=True), Window(as_of, days, covered, denied)


GAP_TOLERANCE = pd.Timedelta(days=2)
"""The largest hole between one snapshot's audit span and the next that still counts as
unbroken history. Pulls chained with ``--since-last`` leave none; pulls that each read a fixed
number of days leave one when they are further apart than that, and then the history before
the hole no longer counts."""


def _audit_denied(manifest: dict) -> bool:
    return any(
        e.get("endpoint") == "audit_logs" and e.get("status") != "ok"
        for e in manifest.get("endpoints") or []
    )


def _span(manifest: dict) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The audit span a snapshot read in full: its ``audit_window``, provided the audit logs
    of every account in it were read. A token without audit access leaves a window in the
    manifest and no events: that span proves no disuse, so it counts as not covered."""
    window = manifest.get("audit_window") or {}
    read = [e for e in manifest.get("endpoints") or [] if e.get("endpoint") == "audit_logs"]
    if not read or _audit_denied(manifest) or not window.get("since") or not window.get("before"):
        return None
    return pd.Timestamp(window["since"]), pd.Timestamp(window["before"])


def covered_since(
    as_of: pd.Timestamp, spans: list[tuple[pd.Timestamp, pd.Timestamp] | None]
) -> pd.Timestamp | None:
    """Where the unbroken audit history ending at ``as_of`` begins, or None when the latest
    events are not covered. Spans are chained from the newest back while each one reaches the
    start of the next (within ``GAP_TOLERANCE``): a history with a hole in it, such as pulls
    that left days unread between them, covers only the part after the hole."""
    edge = as_of
    for since, before in sorted((s for s in spans if s), key=lambda s: s[1], reverse=True):
        if before + GAP_TOLERANCE < edge:
            break
        edge = min(edge, since)
    return None if edge == as_of else edge


def exercised(snap: Snapshot, events: pd.DataFrame) -> pd.DataFrame:
    """One row per (principal, account, zone, permission group) exercised, with counts.

    Principals: API tokens by ``token_id``; dashboard users by (account, email) → member.
    Events whose (product, resource_type) the map does not know are counted as ``unmapped``.
    """
    amap = load_audit_map().drop(columns="uri")
    # only the columns read below: every merge, mask and filter copies all the columns it has
    ev = events.loc[events["actor_type"].isin(ATTRIBUTED).to_numpy(), list(EXERCISED_INPUT)]
    ev = ev.merge(amap, on=["product", "resource_type"], how="left")
    ev["group"] = ev["read_group"].where(ev["action_type"] == "view", ev["write_group"])
    ev["level"] = ev["scope_level"]
    tokens = snap.tokens.set_index("token_id")["owner_type"]
    # an OAuth app acts through the token it minted: when the pull listed that token, its
    # events are the token's use (its grants are what the app may do)
    minted = snap.tokens.loc[snap.tokens["oauth_client_id"].notna(), "token_id"]
    is_token = ev["token_id"].notna() & (
        (ev["actor_context"] == "api_token")
        | ((ev["actor_context"] == "oauth") & ev["token_id"].isin(minted))
    )
    ev["principal_type"] = None
    ev["principal_id"] = None
    ev.loc[is_token, "principal_type"] = (
        ev.loc[is_token, "token_id"]
        .map(tokens)
        .astype(object)  # all-missing (no token listed) maps to float NaN
        .fillna("user")
        .map({"user": "user_token", "account": "account_token"})
    )
    ev.loc[is_token, "principal_id"] = ev.loc[is_token, "token_id"]
    members = snap.members[["member_id", "account_id", "email"]].rename(
        columns={"email": "actor_email"}
    )
    dash = ~is_token & ev["actor_context"].isin(["dash", "api_key"])
    merged = ev.loc[dash, ["account_id", "actor_email"]].merge(
        members, on=["account_id", "actor_email"], how="left"
    )
    ev.loc[dash, "principal_id"] = merged["member_id"].to_numpy()
    ev.loc[dash & ev["principal_id"].notna(), "principal_type"] = "member"
    ev = ev[ev["principal_id"].notna()]
    ev = ev.assign(
        zone_id=ev["zone_id"].where(ev["level"] == "zone"),
        group=ev["group"].fillna("(unmapped)"),
    )
    # one column's size and max: named aggregations over the frame took twice as long
    keys = ["principal_type", "principal_id", "account_id", "zone_id", "group"]
    return ev.groupby(keys, dropna=False)["when"].agg(events="size", last="max").reset_index()


ATTRIBUTED = ("user", "account")
"""Actor types whose actions belong to a principal of the inventory (audit logs also hold
``system`` and ``cloudflare_admin`` actions)."""

USAGE_STATES = ("used", "unused", "unobservable", "unknown")

EXERCISED_INPUT = (
    "when",
    "account_id",
    "actor_context",
    "actor_email",
    "token_id",
    "action_type",
    "product",
    "resource_type",
    "zone_id",
)
"""The audit events' columns ``exercised`` reads."""


def grant_usage(snap: Snapshot, used: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """For each row of ``snap.grants``, whether observed use falls inside it; and the pairs
    (grant row ``grant``, exercised ``covered`` group, ``ev_account``, ``zone_id``) that match.
    Only allow grants count as used."""
    g = snap.grants.reset_index(names="grant")
    cols = ["grant", "principal_type", "principal_id", "covered", "ev_account", "zone_id"]
    if g.empty or used.empty:
        return pd.Series(False, index=snap.grants.index), pd.DataFrame(columns=cols)
    pairs = g.merge(_default_covers(), left_on="permission_group_name", right_on="group").merge(
        used.rename(columns={"group": "covered", "account_id": "ev_account"}),
        on=["principal_type", "principal_id", "covered"],
    )
    pairs = pairs[in_scope(pairs, snap.zones) & (pairs["effect"] == "allow")]
    # When a grant of exactly the exercised group covers an event, only that grant used it:
    # a token holding Logs Read and Logs Write that only read logs did not use Logs Write.
    exact = pairs["permission_group_name"] == pairs["covered"]
    ev_key = ["principal_type", "principal_id", "covered", "ev_account", "zone_id"]
    has_exact = exact.groupby([pairs[k].fillna("") for k in ev_key]).transform("max")
    pairs = pairs[exact | ~has_exact.astype(bool)]
    flags = pd.Series(snap.grants.index.isin(pairs["grant"].unique()), index=snap.grants.index)
    return flags, pairs[cols].reset_index(drop=True)


def in_scope(pairs: pd.DataFrame, zones: pd.DataFrame) -> pd.Series:
    """Whether each (grant scope, event account/zone) pair lies inside the grant's scope.

    Resource- and user-scoped grants cannot be matched to events precisely; an event of a
    covered group in the same account counts (they are the narrowest scopes there are).
    """
    st, sid = pairs["scope_type"], pairs["scope_id"]
    acct, zone = pairs["ev_account"], pairs["zone_id"]
    zone_account = zone.map(zones.set_index("zone_id")["account_id"]).fillna(acct)
    return (
        (st == "all_accounts")
        | ((st == "account") & (sid == acct))
        | ((st == "all_zones") & zone.notna() & ((sid == "*") | (sid == zone_account)))
        | ((st == "zone") & (sid == zone))
        | ((st == "resource") & (pairs["account_id"] == acct))
        | (st == "user")
    ).fillna(False)


def read_observable(events: pd.DataFrame) -> frozenset[str]:
    """The read groups whose use the window's logs can show: those a ``view`` event of the
    window exercised. Empty today (audit logs v2 log no reads); Cloudflare plans to log some
    sensitive reads, and a read group becomes observable once its product's views appear."""
    views = events[events["action_type"] == "view"]
    if views.empty:
        return frozenset()
    amap = load_audit_map()
    seen = views[["product", "resource_type"]].drop_duplicates()
    return frozenset(seen.merge(amap, on=["product", "resource_type"])["read_group"])


def usage_states(
    g: pd.DataFrame, window: Window, young: set[str], observable_reads: frozenset[str]
) -> pd.Series:
    """Each grant's usage state (see the module's docstring). ``g``: weighted grants with a
    ``used`` column; ``young``: ids of tokens issued after the window began."""
    state = pd.Series("unused", index=g.index, dtype=object)
    read = g["access_level"] == "read"
    blind = (read & ~g["permission_group_name"].isin(observable_reads)) | (
        g["scope_type"] == "user"
    )
    state[blind] = "unobservable"
    state[g["used"].astype(bool)] = "used"
    if not window.sufficient:
        state[~blind | g["used"].astype(bool)] = "unknown"
    else:
        state[g["principal_id"].isin(young) & (state != "unobservable")] = "unknown"
    return state.astype("str")


def used_share(g: pd.DataFrame, pairs: pd.DataFrame, zones: pd.DataFrame) -> pd.Series:
    """For each used grant, the share of its reach that saw use: zones used over the zones
    its scope covers (zone-level use), accounts used over accounts covered (account-level use
    on all accounts); 1 where the scope is a single zone, account or resource. A write group
    used on 2 of 40 zones is mostly unused reach. 0 for grants never used."""
    out = pd.Series(0.0, index=g.index)
    used = g.index[g["used"].astype(bool)]
    out[used] = 1.0
    if pairs.empty:
        return out
    per_account = zones.groupby("account_id").size()
    n_accounts = max(1, zones["account_id"].nunique())
    p = pairs[pairs["grant"].isin(used)]
    zone_level = p["zone_id"].notna().groupby(p["grant"]).all()
    n_zones = p.groupby("grant")["zone_id"].nunique()
    n_accts = p.groupby("grant")["ev_account"].nunique()
    rows = g.loc[zone_level.index]
    st, sid = rows["scope_type"], rows["scope_id"]
    covered = pd.Series(1.0, index=rows.index)
    wide = (st == "all_accounts") | ((st == "all_zones") & (sid == "*"))
    acct = st.isin(["account", "all_zones"]) & (sid != "*")
    covered[wide & zone_level] = float(len(zones))
    covered[acct & zone_level] = sid[acct & zone_level].map(per_account).astype(float)
    covered[(st == "all_accounts") & ~zone_level] = float(n_accounts)
    got = n_zones.where(zone_level, n_accts).astype(float)
    got[~zone_level & (st != "all_accounts")] = covered[~zone_level & (st != "all_accounts")]
    share = (got / covered.fillna(1.0).clip(lower=1.0)).clip(upper=1.0)
    out[share.index] = share
    return out
