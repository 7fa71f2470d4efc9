"""Findings on the embedded sample: ground truth, narrowed-policy replay, stability, drift."""

from __future__ import annotations

import csv
import json

import jsonschema
import pandas as pd
import pytest

import cfposture
from cfposture.catalog import sample_dir
from cfposture.narrow import allows
from cfposture.rules import Context, Params
from cfposture.sample import org
from cfposture.sample.api import Ids
from cfposture.usage import exercised

ACCOUNT_KEYS = {Ids(2026)("account", k): k for k in org.ACCOUNTS}


@pytest.fixture(scope="module")
def sample_findings(sample_snap):
    return cfposture.findings(sample_snap)


@pytest.fixture(scope="module")
def ctx(sample_snap):
    return Context(sample_snap, Params())


def _key(scope: str) -> str:
    kind, _, value = scope.partition(":")
    return f"{kind}:{ACCOUNT_KEYS.get(value, value)}" if value else scope


def test_precision_and_recall_on_the_sample_are_one(sample_findings):
    with open(sample_dir() / "ground-truth.csv", newline="") as f:
        truth = {tuple(r.values()) for r in csv.DictReader(f)}
    got = set(
        zip(
            sample_findings["rule_id"],
            sample_findings["principal_type"],
            sample_findings["principal_name"],
            sample_findings["scope"].map(_key),
            strict=True,
        )
    )
    assert len(truth) > 150
    assert got - truth == set(), "false positives"
    assert truth - got == set(), "missed planted problems"
    # every rule that can fire without scan results fires somewhere in the sample
    assert set(sample_findings["rule_id"]) == set(cfposture.rules.RULES) - {"CFP-T09"}


def test_ground_truth_is_what_the_generator_derives():
    from cfposture.sample.truth import ground_truth

    with open(sample_dir() / "ground-truth.csv", newline="") as f:
        assert sorted(tuple(r.values()) for r in csv.DictReader(f)) == sorted(
            tuple(r.values()) for r in ground_truth()
        )


# The body of PUT /user/tokens/{id} and /accounts/{account_id}/tokens/{id}, from the API
# reference's token object (reference/cloudflare-api.md §2.4): name and policies required; a
# policy needs effect, resources (values "*" or a nested map) and permission groups with ids.
TOKEN_UPDATE = {
    "type": "object",
    "required": ["name", "policies"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "status": {"enum": ["active", "disabled", "expired"]},
        "expires_on": {"type": "string", "format": "date-time"},
        "not_before": {"type": "string", "format": "date-time"},
        "condition": {
            "type": "object",
            "properties": {
                "request_ip": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "in": {"type": "array", "items": {"type": "string"}},
                        "not_in": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
        },
        "policies": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["effect", "resources", "permission_groups"],
                "properties": {
                    "effect": {"enum": ["allow", "deny"]},
                    "resources": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {
                            "oneOf": [
                                {"const": "*"},
                                {"type": "object", "additionalProperties": {"const": "*"}},
                            ]
                        },
                    },
                    "permission_groups": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {"id": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
                        },
                    },
                },
            },
        },
    },
}


def test_narrowed_token_policies_allow_every_event_and_validate(sample_findings, ctx, sample_snap):
    t07 = sample_findings[sample_findings["rule_id"] == "CFP-T07"]
    assert len(t07) >= 5
    zone_accounts = dict(
        zip(sample_snap.zones["zone_id"], sample_snap.zones["account_id"], strict=True)
    )
    catalog = sample_snap.permission_catalog
    real = set(catalog.loc[catalog["id_source"] == "api", "permission_group_id"])
    used = exercised(sample_snap, ctx.events)
    g = sample_snap.grants
    replayed = 0
    for f in t07.itertuples():
        remedy = json.loads(f.remedy)
        jsonschema.validate(remedy["body"], TOKEN_UPDATE)
        policies = remedy["body"]["policies"]
        mine = g[g["principal_id"] == f.principal_id]
        # every id is a real one: the token's own (from the API) or a published catalogue id
        ids = {x["id"] for p in policies for x in p["permission_groups"]}
        assert ids <= real | set(mine["permission_group_id"]), f.principal_name
        for ev in used[used["principal_id"] == f.principal_id].itertuples():
            zone = None if pd.isna(ev.zone_id) else ev.zone_id
            assert allows(policies, ev.group, ev.account_id, zone, zone_accounts), (
                f.principal_name,
                ev.group,
                zone,
            )
            replayed += ev.events
        # every read the token held it still holds, wherever it held it
        for r in mine[mine["access_level"] == "read"].itertuples():
            zones = _places(r, sample_snap.zones)
            for zone in zones:
                assert allows(policies, r.permission_group_name, r.account_id, zone, zone_accounts)
        # and narrower: some write group is gone from somewhere it was
        writes = mine[mine["access_level"] != "read"]
        assert any(
            not allows(policies, w.permission_group_name, w.account_id, zone, zone_accounts)
            for w in writes.itertuples()
            for zone in _places(w, sample_snap.zones)
        ), f.principal_name
    assert replayed > 50


def _places(grant, zones: pd.DataFrame) -> list[str | None]:
    """The zones a zone-level grant reaches (None: an account-level one)."""
    if grant.scope_type == "zone":
        return [grant.scope_id]
    if grant.scope_type in ("all_zones", "account") and grant.scope_id != "*":
        inside = zones.loc[zones["account_id"] == grant.scope_id, "zone_id"].tolist()
        return inside if grant.permission_group_name.startswith(("DNS", "Zone", "Logs")) else [None]
    return [None]


def test_the_read_only_audit_token_is_never_called_unused(sample_findings, ctx):
    """cfposture's own token reads every day and writes nothing: nothing of it is unused."""
    name = "cfposture-audit (read-only)"
    assert name not in set(
        sample_findings.loc[sample_findings["rule_id"] == "CFP-T07", "principal_name"]
    )
    states = ctx.grants.loc[ctx.grants["principal_name"] == name, "usage_state"]
    assert len(states) >= 5 and set(states) == {"unobservable"}


def test_the_sample_logs_what_the_real_api_logs(sample_snap, ctx):
    """Writes only; account-token, system and Cloudflare-staff actors; some failures."""
    ev = ctx.events
    assert "view" not in set(ev["action_type"])
    assert {"user", "account", "system", "cloudflare_admin"} <= set(ev["actor_type"])
    assert {"success", "failure"} == set(ev["result"])
    # staging's tokens name their groups by id and meta only; normalize names them from the id
    by_id = sample_snap.grants[sample_snap.grants["principal_name"] == "terraform-staging"]
    assert not by_id.empty and not by_id["permission_group_name"].str.contains("_").any()


def test_narrowed_member_policies_allow_every_event(sample_findings, ctx, sample_snap):
    m04 = sample_findings[sample_findings["rule_id"] == "CFP-M04"]
    assert len(m04) >= 5
    zone_accounts = dict(
        zip(sample_snap.zones["zone_id"], sample_snap.zones["account_id"], strict=True)
    )
    used = exercised(sample_snap, ctx.events)
    cat = sample_snap.permission_catalog
    read_roles = set(cat.loc[(cat["kind"] == "role") & (cat["access_level"] == "read"), "name"])
    with_remedy = m04[m04["remedy"].notna()]
    assert len(with_remedy) >= 3
    # no automatic narrowing of a super administrator, or of a role whose reads no read-only
    # role would keep: the finding says why instead
    for f in m04[m04["remedy"].isna()].itertuples():
        roles = json.loads(f.evidence)["account_wide_roles"]
        assert "Super Administrator - All Privileges" in roles or "No read-only role" in (
            f.recommendation
        )
    for f in with_remedy.itertuples():
        policies = json.loads(f.remedy)["steps"][-1]["body"]["policies"]
        for ev in used[used["principal_id"] == f.principal_id].itertuples():
            assert allows(policies, ev.group, ev.account_id, ev.zone_id, zone_accounts)
        # nothing account-wide is left in what replaces the role, but read-only roles
        for p in policies:
            wide = any(
                o["key"] == "*" for rg in p["resource_groups"] for o in rg["scope"]["objects"]
            )
            assert not wide or p["permission_groups"][0]["name"] in read_roles


def test_allows_denies_what_is_outside():
    policies = [
        {
            "effect": "allow",
            "resources": {"com.cloudflare.api.account.zone.z1": "*"},
            "permission_groups": [{"name": "DNS Write"}],
        },
        {
            "effect": "deny",
            "resources": {"com.cloudflare.api.account.zone.z2": "*"},
            "permission_groups": [{"name": "DNS Write"}],
        },
    ]
    zones = {"z1": "a", "z2": "a"}
    assert allows(policies, "DNS Read", "a", "z1", zones)  # write covers read
    assert not allows(policies, "DNS Write", "a", "z3", zones)
    assert not allows(policies, "Zone Settings Write", "a", "z1", zones)
    assert not allows(
        [
            *policies,
            {
                "effect": "allow",
                "resources": {"com.cloudflare.api.account.zone.*": "*"},
                "permission_groups": [{"name": "DNS Write"}],
            },
        ],
        "DNS Write",
        "a",
        "z2",
        zones,
    )  # explicit deny wins


def test_same_problem_keeps_its_id_across_snapshots():
    snaps = [cfposture.load(p) for p in cfposture.history("sample")[-2:]]
    old, new = (cfposture.findings(s, rules=["CFP-T01"]) for s in snaps)
    ids_old = dict(zip(old["principal_name"], old["finding_id"], strict=True))
    ids_new = dict(zip(new["principal_name"], new["finding_id"], strict=True))
    common = set(ids_old) & set(ids_new)
    assert len(common) >= 10
    assert all(ids_old[n] == ids_new[n] for n in common)


def test_drift_between_the_last_two_months():
    old, new = (cfposture.load(p) for p in cfposture.history("sample")[-2:])
    d = cfposture.drift(old, new)
    by = d.findings.groupby("change")["principal_name"].apply(set)
    # events-dns was rolled on 2026-11-02: no longer legacy
    resolved = d.findings[(d.findings["change"] == "resolved")]
    assert ("CFP-T01", "events-dns") in set(
        zip(resolved["rule_id"], resolved["principal_name"], strict=True)
    )
    assert {"new", "resolved", "unchanged"} <= set(by.index)
    assert set(d.scores.columns) == {
        "principal_type",
        "principal_id",
        "principal_name",
        "lp_gap_old",
        "lp_gap_new",
        "delta",
    }
    assert len(d.findings) == d.findings["finding_id"].nunique()
