"""Drift between two snapshots: which findings are new, resolved or unchanged, and how each
principal's least-privilege gap moved. Keys are the stable finding ids and principal ids."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from .findings import context, run_rules
from .load import Snapshot
from .scoring import scores_from


class Drift(NamedTuple):
    findings: pd.DataFrame
    scores: pd.DataFrame


def drift(old: Snapshot, new: Snapshot, **params: int) -> Drift:
    """Compare ``old`` to ``new`` (parameters as for ``findings``)."""
    c_old, c_new = context(old, **params), context(new, **params)
    f_old, f_new = run_rules(c_old), run_rules(c_new)
    cols = [
        "finding_id",
        "rule_id",
        "severity",
        "principal_type",
        "principal_id",
        "principal_name",
        "scope",
        "title",
    ]
    merged = f_old[cols].merge(
        f_new[cols], on="finding_id", how="outer", suffixes=("_old", "_new"), indicator=True
    )
    change = (
        merged["_merge"]
        .map({"left_only": "resolved", "right_only": "new", "both": "unchanged"})
        .astype(str)
    )
    out = pd.DataFrame({"finding_id": merged["finding_id"], "change": change})
    for c in cols[1:]:
        out[c] = merged[f"{c}_new"].fillna(merged[f"{c}_old"])
    out["severity_old"] = merged["severity_old"]
    order = {"new": 0, "resolved": 1, "unchanged": 2}
    out = out.sort_values(
        ["change", "rule_id"], key=lambda s: s.map(order) if s.name == "change" else s
    ).reset_index(drop=True)

    key = ["principal_type", "principal_id"]
    s = scores_from(c_old)[[*key, "principal_name", "lp_gap"]].merge(
        scores_from(c_new)[[*key, "principal_name", "lp_gap"]],
        on=key,
        how="outer",
        suffixes=("_old", "_new"),
    )
    s["principal_name"] = s["principal_name_new"].fillna(s["principal_name_old"])
    s["delta"] = s["lp_gap_new"] - s["lp_gap_old"]
    s = s[[*key, "principal_name", "lp_gap_old", "lp_gap_new", "delta"]]
    return Drift(
        out,
        s.sort_values(
            "delta", key=lambda d: d.abs(), ascending=False, na_position="first", ignore_index=True
        ),
    )
