"""``cfposture plan`` and ``apply`` against the fake API over loopback: applied findings are
resolved on the next pull, a second apply changes nothing, a change made between plan and
apply is detected and skipped, and rolled values exist only in the file the user named."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import cfposture
from cfposture.cli import main
from cfposture.load import history
from cfposture.rawsnapshot import RawSnapshot


@pytest.fixture
def hist(tmp_path: Path) -> Path:
    """The sample's whole history (the usage window needs it); the latest is ``s1``."""
    h = tmp_path / "hist"
    for snap in history("sample")[:-1]:
        shutil.copytree(snap, h / snap.name)
    shutil.copytree(history("sample")[-1], h / "s1")
    return h


def _actions(plan: dict, kind: str) -> list[dict]:
    """The plan's actions of one kind by target id (the plan lists them most urgent first)."""
    return sorted(
        (a for a in plan["actions"] if a["kind"] == kind), key=lambda a: a["target"]["id"]
    )


def test_plan_apply_pull(
    fake_api, hist: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    s1 = hist / "s1"
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(s1), "--out", str(plan_file)]) == 0
    review = capsys.readouterr().out
    plan = json.loads(plan_file.read_text())
    kinds = {a["kind"] for a in plan["actions"]}
    assert kinds == {
        "narrow_token",
        "set_expiry",
        "restrict_ip",
        "roll_token",
        "delete_token",
        "narrow_member",
    }
    assert "## Without an API remedy" in review and "CFP-O01" in review  # OAuth: dashboard only
    for a in plan["actions"]:
        assert a["finding_id"] and a["risk"] and a["guard"]["version"] and a["evidence"]
    for a in _actions(plan, "narrow_token"):  # each narrowed group says what it rests on
        assert all(c["group"] and c["change"] and c["evidence"] for c in a["evidence"])
    for a in _actions(plan, "narrow_member"):  # every role is sent by a known id
        assert all(g["id"] for p in a["after"]["policies"] for g in p["permission_groups"])
    assert "rests on" in review

    rolls = _actions(plan, "roll_token")
    me = rolls[0]["target"]  # the token doing the apply: never cut off
    victim = _actions(plan, "set_expiry")[-1]["target"]  # changed between plan and apply
    values_file = tmp_path / "secrets" / "rolled.tsv"
    values_file.parent.mkdir()
    with fake_api(s1) as (fake, base):
        apply_token = fake.state.issue_value(me["account_id"], me["id"])
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", apply_token)
        fake.state.update_token(
            victim["account_id"], victim["id"], {"name": victim["name"] + " (edited)"}
        )
        fake.state.changes.clear()

        # dry run: nothing changes
        assert main(["apply", str(plan_file), "--api-base", base]) == 0
        dry = capsys.readouterr()
        assert fake.state.changes == [] and "dry run" in dry.err and "would" in dry.out

        assert main(["apply", str(plan_file), "--api-base", base, "--yes",
                     "--values-file", str(values_file)]) == 0  # fmt: skip
        first = capsys.readouterr()
        changes = list(fake.state.changes)
        log = [json.loads(x) for x in plan_file.with_suffix(".log.ndjson").read_text().splitlines()]
        outcome = {e["action_id"]: e["outcome"] for e in log}
        assert {outcome[a["id"]] for a in plan["actions"] if a["target"]["id"] == me["id"]} == {
            "refused"
        }
        assert {outcome[a["id"]] for a in plan["actions"] if a["target"]["id"] == victim["id"]} == {
            "skipped"
        }
        done = [a for a in plan["actions"] if outcome[a["id"]] == "done"]
        assert {a["kind"] for a in done} == kinds
        members = [a for a in done if a["kind"] == "narrow_member"]
        groups = sum(len(p["resource_groups"]) for a in members for p in a["after"]["policies"])
        assert len(changes) == len(done) + groups
        assert {c["action"] for c in changes} == {
            "update_token",
            "roll_token",
            "delete_token",
            "update_member",
            "create_resource_group",
        }

        # rolled values: in the file asked for (0600), nowhere else
        assert stat.S_IMODE(values_file.stat().st_mode) == 0o600
        rolled = [line.split("\t")[2] for line in values_file.read_text().splitlines()]
        assert len(rolled) == sum(1 for a in done if a["kind"] == "roll_token") > 0
        assert all(v.startswith(("cfut_", "cfat_")) for v in rolled)

        # a second apply is a no-op
        assert main(["apply", str(plan_file), "--api-base", base, "--yes",
                     "--values-file", str(values_file)]) == 0  # fmt: skip
        second = capsys.readouterr()
        assert fake.state.changes == changes
        assert " 0 done" not in second.err and "done" not in second.err.split(":", 2)[-1]

        # the next pull into the same history folder: those findings are resolved
        window = RawSnapshot.open(s1).manifest["audit_window"]
        assert main(["pull", str(hist / "s2"), "--api-base", base, "--quiet",
                     "--since", window["since"], "--before", window["before"]]) == 0  # fmt: skip
        capsys.readouterr()
    after = cfposture.findings(cfposture.load(hist / "s2"))
    still = set(after["finding_id"])
    # usage rules are still judged on s2 (the window is covered), so their absence means fixed:
    # members whose account-wide role comes from a user group keep CFP-M04 (planned as manual)
    assert "CFP-M04" in set(after["rule_id"])
    assert any(m["rule_id"] == "CFP-M04" for m in plan["manual"])
    for a in done:
        assert a["finding_id"] not in still, a["kind"]
    tokens = cfposture.load(hist / "s2").tokens.set_index("token_id")
    for a in done:
        if a["kind"] == "roll_token":
            assert tokens.loc[a["target"]["id"], "format"] == "scannable"
            assert tokens.loc[a["target"]["id"], "format_source"] == "observed"

    everything = first.out + first.err + second.out + second.err + dry.out + dry.err
    for p in tmp_path.rglob("*"):
        if p.is_file() and p != values_file:
            everything += p.read_bytes().decode("latin-1")
    for v in [*rolled, apply_token]:
        assert v not in everything


def test_an_unsafe_values_file_stops_apply_before_any_roll(
    fake_api, hist: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    plan_file = tmp_path / "plan.json"
    main(["plan", str(hist / "s1"), "--out", str(plan_file), "--rules", "CFP-T01", "--quiet"])
    loose = tmp_path / "rolled.tsv"
    loose.write_text("")
    loose.chmod(0o644)
    with fake_api(hist / "s1") as (fake, base):
        args = ["apply", str(plan_file), "--api-base", base, "--yes"]
        assert main([*args, "--values-file", str(loose)]) == 2
        assert fake.state.changes == []
    assert "readable by others" in capsys.readouterr().err


def test_apply_rejects_a_bad_plan(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{nope")
    assert main(["apply", str(bad)]) == 2
    bad.write_text(json.dumps({"version": 99}))
    assert main(["apply", str(bad)]) == 2
    assert "not a cfposture plan" in capsys.readouterr().err


def test_delete_of_a_recently_used_token_is_refused(fake_api, hist: Path, tmp_path: Path, capsys):
    s1 = hist / "s1"
    plan_file = tmp_path / "plan.json"
    main(["plan", str(s1), "--out", str(plan_file), "--rules", "CFP-T04", "--quiet"])
    plan = json.loads(plan_file.read_text())
    target = next(a["target"] for a in plan["actions"] if a["target"]["type"] == "account_token")
    with fake_api(s1) as (fake, base):
        t = fake.state.find_token(target["account_id"], target["id"])
        t["last_used_on"] = "2099-01-01T00:00:00Z"  # "just used" (the fake keeps modified_on)
        # the apply runs as another token of the same account, which verify names
        other = next(
            x["id"]
            for x in fake.state.items("account_tokens", account_id=target["account_id"])
            if x["id"] != target["id"]
        )
        os.environ["CLOUDFLARE_API_TOKEN"] = fake.state.issue_value(target["account_id"], other)
        assert main(["apply", str(plan_file), "--api-base", base, "--yes"]) == 0
        assert not any(c["action"] == "delete_token" and c["token_id"] == target["id"]
                       for c in fake.state.changes)  # fmt: skip
    assert "within 7 days" in capsys.readouterr().out


def test_a_member_role_without_a_known_id_is_left_to_a_person(hist: Path, monkeypatch) -> None:
    """Without the account's IAM permission groups, a zone role whose id Cloudflare does not
    publish cannot be named by id: the member's narrowing is a manual step, never a request
    with a made-up id."""
    from cfposture.remediate import plan as planning

    with_ids = planning.build_plan(cfposture.load(hist / "s1"), rules=["CFP-M04"])
    assert _actions(with_ids, "narrow_member")  # the pull's own IAM groups name every role
    # a pull that could not read iam/permission_groups knows no unpublished role id
    monkeypatch.setattr(planning, "_role_ids", lambda raw, account_id: {})
    plan = planning.build_plan(cfposture.load(hist / "s1"), rules=["CFP-M04"])
    assert not _actions(plan, "narrow_member")
    unknown = [m for m in plan["manual"] if "is not known" in m["recommendation"]]
    assert len(unknown) == len(_actions(with_ids, "narrow_member"))


def test_a_plan_lists_the_most_urgent_actions_first(hist: Path, tmp_path: Path) -> None:
    """The targets of the most severe findings first, then the principals that reach the
    most (not token ids); a target's actions together, a roll after its other changes."""
    from cfposture.errors import SEVERITY_RANK

    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(hist / "s1"), "--out", str(plan_file), "--quiet"]) == 0
    plan = json.loads(plan_file.read_text())
    found = cfposture.findings(cfposture.load(hist / "s1")).set_index("finding_id")
    reach = cfposture.scores(cfposture.load(hist / "s1")).groupby("principal_id")["reach"].max()
    worst: dict[str, int] = {}
    for a in plan["actions"]:
        sev = SEVERITY_RANK[found.loc[a["finding_id"], "severity"]]
        worst[a["target"]["id"]] = max(worst.get(a["target"]["id"], 0), sev)
    targets = list(dict.fromkeys(a["target"]["id"] for a in plan["actions"]))
    keys = [(-worst[t], -reach.get(t, 0)) for t in targets]
    assert keys == sorted(keys) and len(set(keys)) > 1
    assert targets != sorted(targets)
    runs = [a["target"]["id"] for a in plan["actions"]]
    assert len(targets) == len([t for i, t in enumerate(runs) if i == 0 or runs[i - 1] != t])
    for t in targets:  # a roll comes after the target's other changes
        kinds = [a["kind"] for a in plan["actions"] if a["target"]["id"] == t]
        assert "roll_token" not in kinds[:-1]
