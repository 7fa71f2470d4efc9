"""The embedded sample: deterministic, equal to what the command writes, and rich enough."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

import cfposture
from cfposture.catalog import sample_dir
from cfposture.sample import generate
from cfposture.sources.oauth_export import read_export


def _files(root: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "manifest.json":  # the version stamp moves with releases
                m = json.loads(data)
                m.pop("cfposture_version")
                data = json.dumps(m, sort_keys=True).encode()
            out[str(p.relative_to(root))] = data
    return out


def test_committed_sample_is_what_the_command_writes(fresh_sample):
    committed, fresh = _files(sample_dir()), _files(fresh_sample)
    assert sorted(committed) == sorted(fresh)
    changed = [k for k in fresh if committed[k] != fresh[k]]
    assert changed == [], "regenerate with: rm -rf data/sample && cfposture sample data/sample"


def test_same_seed_same_bytes_other_seed_other_org(tmp_path, fresh_sample):
    again = generate(tmp_path / "again")
    assert _files(again) == _files(fresh_sample)
    other = generate(tmp_path / "other", seed=7)
    a, b = cfposture.load(fresh_sample), cfposture.load(other)
    assert set(a.tokens["token_id"]).isdisjoint(b.tokens["token_id"])
    assert len(a.tokens) == len(b.tokens)  # same organisation, other ids and timings


def test_loading_sample_equals_loading_a_fresh_one(sample_snap, fresh_sample):
    fresh = cfposture.load(fresh_sample)
    for name in cfposture.Snapshot.FRAMES:
        pd.testing.assert_frame_equal(getattr(sample_snap, name), getattr(fresh, name))


def test_generate_refuses_existing_folder_and_unknown_scale(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(cfposture.CfPostureError, match="already exists"):
        generate(tmp_path / "x")
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
    with pytest.raises(cfposture.CfPostureError, match="unknown scale"):
        generate(tmp_path / "y", scale="galactic")


def test_sample_history_has_six_monthly_snapshots_covering_90_days():
    snaps = cfposture.history("sample")
    assert len(snaps) >= 6
    loaded = [cfposture.load(p) for p in snaps]
    created = [s.created_at for s in loaded]
    assert all(25 <= (b - a).days <= 35 for a, b in itertools.pairwise(created))
    last3 = pd.concat([s.audit_events for s in loaded[-3:]])
    assert (last3["when"].max() - last3["when"].min()).days >= 89
    assert last3["event_id"].is_unique  # windows do not overlap
    # trends have something to show: legacy tokens go down as the team rolls them
    legacy = [
        int(((s.tokens["format"] == "legacy") & (s.tokens["status"] == "active")).sum())
        for s in loaded
    ]
    assert legacy[-1] < legacy[0]


def test_sample_org_plants_what_the_review_must_find(sample_snap):
    s = sample_snap
    assert len(s.accounts) == 3
    assert 12 <= len(s.zones) <= 18
    assert 50 <= len(s.tokens) <= 70
    assert 35 <= len(s.members) <= 45
    assert set(s.tokens["owner_type"]) == {"user", "account"}
    assert set(s.tokens["format"]) == {"legacy", "scannable", "unknown"}
    assert {"active", "disabled", "expired"} <= set(s.tokens["status"])
    assert (~s.tokens["inventoried"]).sum() >= 3  # other members' tokens, from audit logs
    listed = s.tokens[s.tokens["inventoried"]]
    assert listed["last_used_on"].isna().sum() >= 2  # never used
    assert listed["expires_on"].isna().sum() >= 10
    assert listed["ip_allow"].isna().sum() >= 10
    g = s.grants
    assert {"all_accounts", "all_zones", "account", "zone", "resource", "user"} <= set(
        g["scope_type"]
    )
    assert g["via_group_id"].notna().any()
    assert (g["effect"] == "deny").any()
    m = s.members
    assert (m["status"] == "pending").sum() >= 2
    assert ((m["two_factor"] == False) & (m["status"] == "accepted")).sum() >= 3  # noqa: E712
    admins = m[m["is_super_admin"]].groupby("account_id").size()
    assert admins.max() > 3 and admins.min() == 1
    assert 7 <= len(s.oauth_apps["app_id"].unique()) <= 12
    assert set(s.oauth_apps["source"]) == {"export", "published_client", "audit"}
    assert not s.coverage_gaps.empty


def test_sample_ships_a_connected_apps_export_matching_the_latest_snapshot(sample_snap):
    from cfposture.rawsnapshot import RawSnapshot

    items = read_export(sample_dir() / "connected-apps.csv")
    assert items == RawSnapshot.open(sample_snap.path).items("connected_apps")


def test_coverage_notes_say_what_a_snapshot_cannot_show(sample_snap, write_snapshot):
    import cfposture

    notes = sample_snap.coverage_notes
    assert any("OAuth Client Read" in n for n in notes)  # the sample's one refused endpoint
    assert not any("connected-apps export" in n for n in notes)  # the sample has one
    bare = cfposture.load(write_snapshot({"accounts": [{"id": "a" * 32, "name": "A"}]}))
    assert any("--oauth-export" in n for n in bare.coverage_notes)
    assert bare.summary()["coverage_notes"] == bare.coverage_notes
