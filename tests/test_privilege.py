"""principal_privilege: each principal's tier, from its allow grants only."""

from __future__ import annotations

import pandas as pd

from cfposture.privilege import principal_privilege


def _grant(pid: str, level: str, weight: float, reach: float, effect: str = "allow") -> dict:
    return {
        "principal_type": "account_token",
        "principal_id": pid,
        "access_level": level,
        "weight": weight,
        "reach_factor": reach,
        "effect": effect,
    }


def test_tiers_follow_the_strongest_allow_grant():
    g = pd.DataFrame(
        [
            _grant("admin", "admin", 9.0, 2.0),
            _grant("admin", "read", 1.0, 8.0),
            _grant("wide-writer", "edit", 6.0, 4.0),
            _grant("zone-writer", "edit", 6.0, 2.0),
            _grant("heavy-reader", "read", 15.0, 1.0),  # weight alone makes it admin
            _grant("reader", "read", 3.0, 8.0),
            _grant("reader", "admin", 20.0, 8.0, effect="deny"),  # a deny grants nothing
            _grant("denied", "admin", 20.0, 8.0, effect="deny"),
        ]
    )
    p = principal_privilege(g)
    assert list(p.columns) == ["tier", "max_weight", "max_reach", "privileged"]
    got = {pid: (r.tier, r.max_weight, r.max_reach, r.privileged) for (_, pid), r in p.iterrows()}
    assert got == {
        "admin": ("admin", 9.0, 8.0, True),
        "heavy-reader": ("admin", 15.0, 1.0, True),
        "reader": ("read", 3.0, 8.0, False),
        "wide-writer": ("write", 6.0, 4.0, True),
        "zone-writer": ("write", 6.0, 2.0, False),
    }
    assert p["privileged"].dtype == bool and p["max_weight"].dtype == "float64"


def test_no_allow_grant_means_no_row():
    g = pd.DataFrame([_grant("denied", "admin", 20.0, 8.0, effect="deny")])
    p = principal_privilege(g)
    assert p.empty and list(p.columns) == ["tier", "max_weight", "max_reach", "privileged"]
