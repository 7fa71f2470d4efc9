"""Usage from audit logs v2: which permission group, at which scope, each principal exercised.

Each event's ``(product, resource_type)`` is looked up in ``data/audit_permission_map.csv``:
``view`` actions exercise the row's ``read_group``, anything else its ``write_group``. The event's
scope is its zone (zone-level products) or its account. A grant counts as *used* when some
event of the same principal exercised a permission group the grant's group covers (see
``covers``) inside the grant's scope. Everything is joins and group-bys: no Python loop runs per
event, because enterprise audit logs hold millions of them.
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
        parts.append(audit_events_of(raw))
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
unbroken history. Audit logs v2 keep 30 days, so monthly pulls on the same date lose a day in
31-day months (the sample's history has such holes); pulls further apart lose more, and then
the history before the hole no longer counts."""


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
    further apart than the 30 days audit logs are kept, covers only the part after the hole."""
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
    ev = events[list(EXERCISED_INPUT)].merge(amap, on=["product", "resource_type"], how="left")
    ev["group"] = ev["read_group"].where(ev["action_type"] == "view", ev["write_group"])
    ev["level"] = ev["scope_level"]
    tokens = snap.tokens.set_index("token_id")["owner_type"]
    is_token = ev["token_id"].notna() & (ev["actor_context"] == "api_token")
    ev["principal_type"] = None
    ev["principal_id"] = None
    ev.loc[is_token, "principal_type"] = (
        ev.loc[is_token, "token_id"]
        .map(tokens)
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
