"""How much a grant, and a principal, can do: weight × reach, tiers, zones reached.

``weight`` is the permission group's ``risk_weight`` from the catalog (access level × product
risk). ``reach_factor`` follows the design: resource or user 1 < zone 2 < all zones of one account
4 = account 4 < all zones of every account 8 = all accounts 8. ``min_reach`` is the narrowest
scope that kind of permission can have (zone-level groups 2, account-level 4, resource roles
1): the static-breadth fallback measures how far a grant is above it.
"""

from __future__ import annotations

import pandas as pd

from .catalog import classify

REACH = {"resource": 1, "user": 1, "zone": 2, "all_zones": 4, "account": 4, "all_accounts": 8}


def weighted_grants(grants: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """``grants`` plus weight, reach_factor, min_reach and ``catalogued`` columns.

    A group is looked up by its id, then by its name (names repeat across scopes, but not
    their weight). A group the catalog does not hold is weighed by ``catalog.classify`` on its
    name, as its siblings are; ``catalogued`` is False for those (the report counts them).
    """
    by_id = catalog.set_index("permission_group_id")
    by_name = catalog.drop_duplicates("name").set_index("name")
    g = grants.copy()
    gid, name = g["permission_group_id"], g["permission_group_name"]
    known = gid.isin(by_id.index) | name.isin(by_name.index)
    weight = gid.map(by_id["risk_weight"]).fillna(name.map(by_name["risk_weight"]))
    guessed = name[~known].map(lambda n: classify(n)[3]).astype(float)
    # a guessed group is weighed at its own level: the grant's level may come from the API
    g["weight"] = weight.fillna(guessed).astype(float)
    g["catalogued"] = known
    reach = g["scope_type"].map(REACH)
    reach = reach.where(~((g["scope_type"] == "all_zones") & (g["scope_id"] == "*")), 8)
    g["reach_factor"] = reach.astype(float)
    scopes = gid.map(by_id["scopes"]).fillna(name.map(by_name["scopes"])).fillna("")
    g["min_reach"] = 4.0
    g.loc[scopes.str.contains("account.zone"), "min_reach"] = 2.0
    g.loc[scopes.str.contains("resource|r2.bucket|api.user"), "min_reach"] = 1.0
    g["min_reach"] = g[["min_reach", "reach_factor"]].min(axis=1)
    return g


def zones_reached(grants: pd.DataFrame, zones: pd.DataFrame) -> pd.Series:
    """Distinct zones each principal's allow grants reach, indexed by (type, id)."""
    key = ["principal_type", "principal_id"]
    g = grants[grants["effect"] == "allow"]
    total = len(zones)
    per_account = zones.groupby("account_id").size()
    wide = g[
        (g["scope_type"] == "all_accounts")
        | ((g["scope_type"] == "all_zones") & (g["scope_id"] == "*"))
    ]
    acct = g[g["scope_type"].isin(["account", "all_zones"]) & (g["scope_id"] != "*")]
    acct = acct[[*key, "scope_id"]].drop_duplicates().rename(columns={"scope_id": "acct"})
    n = pd.to_numeric(acct["acct"].map(per_account), errors="coerce").fillna(0)
    acct_sum = acct.assign(n=n.astype(float)).groupby(key)["n"].sum()
    single = g[g["scope_type"] == "zone"][[*key, "scope_id"]].drop_duplicates()
    single = single.assign(acct=single["scope_id"].map(zones.set_index("zone_id")["account_id"]))
    single = single.merge(acct, on=[*key, "acct"], how="left", indicator=True)
    single = single[single["_merge"] == "left_only"].groupby(key).size().astype(float)
    everyone = g[key].drop_duplicates().set_index(key).index
    out = pd.Series(0.0, index=everyone)
    out = out.add(acct_sum, fill_value=0).add(single, fill_value=0)
    wide_idx = wide[key].drop_duplicates().set_index(key).index
    out[out.index.isin(wide_idx)] = total
    return out.astype(int)


def principal_privilege(weighted: pd.DataFrame) -> pd.DataFrame:
    """Per principal: tier (admin / write / read), max weight, max reach factor."""
    g = weighted[weighted["effect"] == "allow"]
    key = ["principal_type", "principal_id"]
    # one max over four columns: named aggregations took twice as long, and this runs for
    # every snapshot judged (twice: the rules' context and the exposure summary)
    agg = (
        pd.DataFrame(
            {
                "principal_type": g["principal_type"],
                "principal_id": g["principal_id"],
                "max_weight": g["weight"],
                "max_reach": g["reach_factor"],
                "has_admin": g["access_level"] == "admin",
                "has_edit": g["access_level"] == "edit",
            }
        )
        .groupby(key)
        .max()
    )
    agg["tier"] = "read"
    agg.loc[agg["has_edit"], "tier"] = "write"
    agg.loc[agg["has_admin"] | (agg["max_weight"] >= 15), "tier"] = "admin"
    agg["privileged"] = (agg["tier"] == "admin") | (
        (agg["tier"] == "write") & (agg["max_reach"] >= 4)
    )
    return agg[["tier", "max_weight", "max_reach", "privileged"]]
