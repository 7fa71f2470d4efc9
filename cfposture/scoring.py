"""The published least-privilege gap, and legacy-token exposure.

lp_gap = 100 × Σ w(g)·r(g)·unused(g) / Σ w(g)·r(g) over a principal's *observable* allow
grants g (usage state ``used`` or ``unused``: write-level grants in a window audit logs cover),
with w the catalog's risk weight and r the reach factor (see ``privilege``). unused(g) is 1 for
an unused grant and, for a used one, the share of its reach that saw no use (a write group used
on 2 of 40 zones is 95% unused reach). Read grants never count as unused (audit logs do not
record reads); their breadth is ``read_reach``, Σ w·r over read grants. Without usage data
(no covered window, or a token younger than it) a principal's write grants fall back to *static
breadth*, unused(g) = 1 − min_reach(g)/r(g). ``basis`` says which was used: ``usage``,
``static``, or ``unobservable`` for a principal holding only reads (lp_gap 0: see read_reach).

Token exposure (0–100) combines privilege, reach, format, expiry, IP restriction, age and recent
use; see ``EXPOSURE`` and the README.
"""

from __future__ import annotations

import pandas as pd

from .load import Snapshot, history, load
from .privilege import principal_privilege, weighted_grants, zones_reached
from .rules import Context, Params
from .schemas import Scores, validate
from .usage import USAGE_STATES

EXPOSURE = {
    "format": {"legacy": 1.0, "unknown": 0.5, "scannable": 0.0},  # × (1 + this)
    "no_expiry": 0.5,  # × (1 + this) when expires_on is empty
    "no_ip": 0.5,  # × (1 + this) without condition.request_ip
    "age_years_cap": 4,  # × (1 + min(age, cap)/cap)
    "unused_factor": 0.75,  # × this when not used in the last 90 days
}
EXPOSURE_MAX = 20 * 8 * 2 * 1.5 * 1.5 * 2  # the largest raw value: scales exposure to 0–100


def token_exposure(snap: Snapshot, privilege: pd.DataFrame) -> pd.Series:
    """Exposure index per token id (0 for tokens that are not active)."""
    t = snap.tokens.set_index("token_id")
    ptype = t["owner_type"].map({"user": "user_token", "account": "account_token"})
    key = pd.MultiIndex.from_arrays([ptype, t.index])
    priv = privilege.reindex(key)
    weight = pd.Series(priv["max_weight"].to_numpy(), index=t.index).fillna(0)
    reach = pd.Series(priv["max_reach"].to_numpy(), index=t.index).fillna(0)
    age = ((snap.created_at - t["issued_on"]).dt.days / 365.25).fillna(0).clip(lower=0)
    cap = EXPOSURE["age_years_cap"]
    recent = t["last_used_on"] >= snap.created_at - pd.Timedelta(days=90)
    raw = (
        weight
        * reach
        # float: mapping an empty string column keeps its string dtype (no tokens readable)
        * (1 + t["format"].map(EXPOSURE["format"]).astype(float))
        * (1 + EXPOSURE["no_expiry"] * t["expires_on"].isna())
        * (1 + EXPOSURE["no_ip"] * t["ip_allow"].isna())
        * (1 + age.clip(upper=cap) / cap)
        * recent.fillna(False).map({True: 1.0, False: EXPOSURE["unused_factor"]}).astype(float)
    )
    raw = raw.where(t["status"] == "active", 0.0)
    return (100 * raw / EXPOSURE_MAX).round(2)


def scores_from(ctx: Context) -> pd.DataFrame:
    g = ctx.grants[ctx.grants["effect"] == "allow"].copy()
    key = ["principal_type", "principal_id"]
    state = g["usage_state"]
    observable = state.isin(["used", "unused"])
    write = g["access_level"] != "read"
    # Usage judges the observable grants (write-level, in a covered window); reads are
    # invisible in audit logs and show as read_reach. Without usage data a principal's write
    # grants fall back to static breadth: the reach above the narrowest scope possible.
    unused = (state == "unused").astype(float) + (state == "used") * (1 - g["used_share"])
    static = 1 - g["min_reach"] / g["reach_factor"]
    judged = observable.groupby([g[k] for k in key]).transform("any")
    counted = observable | (~judged & write & (state == "unknown"))
    unused = unused.where(judged, static)
    wr = g["weight"] * g["reach_factor"]
    g = g.assign(
        granted=wr.where(counted, 0.0),
        used_w=(wr * (1 - unused)).where(counted, 0.0),
        read_w=wr.where(g["access_level"] == "read", 0.0),
        judged=judged,
        counted=counted,
    )
    agg = g.groupby(key).agg(
        principal_name=("principal_name", "first"),
        account_id=("account_id", "first"),
        granted_weight=("granted", "sum"),
        used_weight=("used_w", "sum"),
        read_reach=("read_w", "sum"),
        judged=("judged", "any"),
        counted=("counted", "any"),
    )
    states = pd.crosstab([g[k] for k in key], state).reindex(columns=list(USAGE_STATES))
    for name in USAGE_STATES:
        agg[f"grants_{name}"] = states[name].reindex(agg.index).fillna(0).astype(int)
    gap = 100 * (1 - agg["used_weight"] / agg["granted_weight"])
    agg["lp_gap"] = gap.where(agg["granted_weight"] > 0, 0.0).fillna(0).clip(0, 100)
    agg["reach"] = zones_reached(ctx.grants, ctx.snap.zones).reindex(agg.index).fillna(0)
    exp = token_exposure(ctx.snap, ctx.privilege)
    pid = agg.index.get_level_values("principal_id")
    is_token = agg.index.get_level_values("principal_type").isin(["user_token", "account_token"])
    agg["exposure"] = pd.Series(pid, index=agg.index).map(exp).where(is_token)
    agg["basis"] = "static"
    agg.loc[agg["judged"], "basis"] = "usage"
    agg.loc[~agg["counted"], "basis"] = "unobservable"
    agg["window_days"] = agg["judged"] * ctx.window.covered_days
    out = agg.drop(columns=["judged", "counted"]).reset_index()
    out["reach"] = out["reach"].astype(int)
    out["lp_gap"] = out["lp_gap"].round(1)
    out["read_reach"] = out["read_reach"].round(1)
    out = out.sort_values(["lp_gap", "granted_weight"], ascending=False, ignore_index=True)
    return validate(Scores, out)


def scores(snap: Snapshot, *, usage_days: int = 90) -> pd.DataFrame:
    """The scores frame: one row per principal with grants."""
    return scores_from(Context(snap, Params(usage_days=usage_days)))


def exposure_summary(snap: Snapshot, privilege: pd.DataFrame | None = None) -> pd.DataFrame:
    """Active tokens by format and privilege tier: count and summed exposure (one snapshot).
    ``privilege``: the rules' context's (``Context.privilege``), when the caller judged the
    snapshot already; else computed here."""
    priv = privilege
    if priv is None:
        priv = principal_privilege(weighted_grants(snap.grants, snap.permission_catalog))
    t = snap.tokens[snap.tokens["status"] == "active"].copy()
    ptype = t["owner_type"].map({"user": "user_token", "account": "account_token"})
    tiers = priv["tier"].reindex(pd.MultiIndex.from_arrays([ptype, t["token_id"]]))
    t["tier"] = pd.Series(tiers.to_numpy(), index=t.index).fillna("unknown")
    t["exposure"] = t["token_id"].map(token_exposure(snap, priv))
    out = (
        t.groupby(["format", "tier"])
        .agg(tokens=("token_id", "size"), exposure=("exposure", "sum"))
        .reset_index()
    )
    out.insert(0, "snapshot", snap.created_at)
    return out


def exposure_trend(path: str = "sample") -> pd.DataFrame:
    """``exposure_summary`` for every snapshot of a history, oldest first (for the charts)."""
    return pd.concat([exposure_summary(load(p)) for p in history(path)], ignore_index=True)
