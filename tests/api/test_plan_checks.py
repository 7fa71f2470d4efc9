"""A plan is data, not instructions: apply checks the whole plan before any request and
rebuilds every request from an action's kind and its target's ids.

Over real HTTP on 127.0.0.1 against the fake API, which counts every request it receives."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest
from fakeserver import serve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfposture.cli import main
from cfposture.fakeapi import FakeCloudflare
from cfposture.load import history

LATEST = history("sample")[-1]


@pytest.fixture(scope="module")
def hist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = tmp_path_factory.mktemp("plans") / "hist"
    for snap in history("sample")[:-1]:
        shutil.copytree(snap, h / snap.name)
    shutil.copytree(LATEST, h / "s1")
    return h


@pytest.fixture(scope="module")
def plan(hist: Path) -> dict:
    out = hist.parent / "plan.json"
    assert main(["plan", str(hist / "s1"), "--out", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    _PLANNED[:] = [a["target"]["id"] for a in doc["actions"]]
    return doc


def _kinds(plan: dict) -> dict[str, dict]:
    return {a["kind"]: a for a in plan["actions"]}


def _edit(plan: dict, kind: str, fn) -> dict:
    bad = copy.deepcopy(plan)
    # the same action whatever order the plan lists them in: the lowest target id
    a = min((a for a in bad["actions"] if a["kind"] == kind), key=lambda a: a["target"]["id"])
    fn(a)
    return bad


def _apply(tmp_path: Path, doc, *, yes: bool = False, raw: bytes | None = None, verify=True):
    """Run apply against a fresh fake API; (exit code, requests the fake received). It runs as
    a token verify can name and no action of the sample's plan touches (``verify=False``: as
    the canary, which is no token's value)."""
    f = tmp_path / "p.json"
    f.write_bytes(raw if raw is not None else json.dumps(doc).encode())
    with serve(LATEST) as (fake, base):
        if verify:
            os.environ["CLOUDFLARE_API_TOKEN"] = fake.state.issue_value(*_bystander(fake))
        code = main(["apply", str(f), "--api-base", base, *(["--yes"] if yes else [])])
        requests = dict(fake.stats.requests)
    return code, requests


def _bystander(fake, account: str | None = None) -> tuple[str, str]:
    """(account id, token id) of an account token (in ``account``) the sample's plan has no
    action on: apply verifies its token in the plan's accounts."""
    touched = set(_PLANNED)
    return next(
        (aid, t["id"])
        for aid in fake.state.account_ids()
        if account in (None, aid)
        for t in fake.state.items("account_tokens", account_id=aid)
        if t["id"] not in touched
    )


_PLANNED: list[str] = []


CASES = {
    "absolute URL in the path": (
        "set_expiry",
        lambda a: a["target"].update(path="http://198.51.100.7/steal"),
        "is not the path of its target",
    ),
    "path naming another target": (
        "delete_token",
        lambda a: a["target"].update(path=a["target"]["path"].rsplit("/", 1)[0] + "/" + "0" * 32),
        "is not the path of its target",
    ),
    "dot segments in an id": (
        "set_expiry",
        lambda a: a["target"].update(id="../../settings"),
        "target/id",
    ),
    "an unknown kind": ("set_expiry", lambda a: a.update(kind="frobnicate"), "kind"),
    "a delete aimed at a member": (
        "delete_token",
        lambda a: a["target"].update(type="member"),
        "target",
    ),
    "extra policies in an expiry change": (
        "set_expiry",
        lambda a: a["after"].update(policies=[{"effect": "allow"}]),
        "after",
    ),
    "a permission group that is not an id": (
        "narrow_token",
        lambda a: a["after"]["policies"][0]["permission_groups"].append({"id": "super-admin"}),
        "permission_groups",
    ),
    "a resource that is not a Cloudflare key": (
        "narrow_token",
        lambda a: a["after"]["policies"][0]["resources"].update({"https://evil.example": "*"}),
        "resources",
    ),
    "a group the token does not hold": (
        "narrow_token",
        lambda a: a["after"]["policies"][0]["permission_groups"].append(
            {"id": "1af1fa2adc104452b74a9a3364202f20", "name": "Account Settings Write"}
        ),
        "allows Account Settings Write",
    ),
    "a scope wider than the token's": (
        "narrow_token",
        lambda a: a["after"]["policies"][0].update(resources={"com.cloudflare.api.account.*": "*"}),
        "on all_accounts",
    ),
    "a role the member does not hold": (
        "narrow_member",
        lambda a: a["after"]["policies"][0]["permission_groups"].append(
            {"id": "33666b9c79b9a5273fc7344ff42f953d", "name": "Super Administrator"}
        ),
        "which the current grants do not",
    ),
    "a token the snapshot does not hold": (
        "delete_token",
        lambda a: a["target"].update(
            id="0" * 32, path=a["target"]["path"].rsplit("/", 1)[0] + "/" + "0" * 32
        ),
        "is not in it",
    ),
    "a member of another account": (
        "narrow_member",
        lambda a: a["target"].update(
            account_id="f" * 32,
            path=a["target"]["path"].replace(a["target"]["account_id"], "f" * 32),
        ),
        "is not in it",
    ),
    "a missing guard": ("roll_token", lambda a: a.pop("guard"), "guard"),
    "force as a string": ("roll_token", lambda a: a.update(force="yes"), "force"),
}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(snapshot_digest="0" * 64), "is not the one the plan was made from"),
        (lambda p: p.update(snapshot="/nonexistent"), "is not there to check the plan against"),
    ],
)
def test_a_plan_whose_snapshot_changed_or_is_gone_is_refused(edit, message, plan, tmp_path, capsys):
    bad = copy.deepcopy(plan)
    edit(bad)
    code, requests = _apply(tmp_path, bad, yes=True)
    err = capsys.readouterr().err
    assert code == 2 and requests == {} and message in err and err.count("\n") == 1


@pytest.mark.parametrize("name", list(CASES))
def test_a_tampered_plan_is_refused_before_any_request(name, plan, tmp_path, capsys):
    kind, edit, where = CASES[name]
    code, requests = _apply(tmp_path, _edit(plan, kind, edit), yes=True)
    err = capsys.readouterr().err
    assert code == 2 and requests == {}, name
    assert where in err and "nothing was applied" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"{not json", "is not JSON"),
        (b'{"version": 2, "actions": []}', "not a cfposture plan"),
        (
            b'{"version": 1, "snapshot": "s", "snapshot_digest": "' + b"0" * 64 + b'",'
            b' "actions": "all"}',
            "actions",
        ),
        (b"[]", "not a cfposture plan"),
    ],
)
def test_a_broken_plan_file_is_one_line(raw, message, tmp_path, capsys):
    code, requests = _apply(tmp_path, None, raw=raw)
    err = capsys.readouterr().err
    assert code == 2 and requests == {} and message in err and err.count("\n") == 1


def test_the_dry_run_prints_the_request_it_would_make(plan, tmp_path, capsys, monkeypatch):
    """The printed request is rebuilt from the target, whatever the plan's own string says."""
    edited = _edit(plan, "set_expiry", lambda a: a.update(request="DELETE /user/tokens/harmless"))
    target = _kinds(plan)["set_expiry"]["target"]
    with serve(LATEST) as (fake, base):
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", fake.state.issue_value(*_bystander(fake)))
        f = tmp_path / "p.json"
        f.write_text(json.dumps(edited))
        assert main(["apply", str(f), "--api-base", base]) == 0
        assert not fake.state.changes
    out = capsys.readouterr().out
    target = _kinds(plan)["set_expiry"]["target"]
    assert "would    set_expiry" in out and f"PUT {target['path']}" in out
    assert "harmless" not in out


def test_self_protection_fails_closed_when_verify_fails(plan, tmp_path, capsys):
    """A token verify cannot name: apply cannot tell which action would cut it off."""
    code, requests = _apply(tmp_path, plan, yes=True, verify=False)
    err = capsys.readouterr().err
    assert code == 2 and "could not tell which token" in err
    assert not any(k.startswith(("PUT", "DELETE", "POST")) for k in requests)


# Mutations of a valid plan: any value anywhere replaced by a hostile or broken one.
HOSTILE = st.one_of(
    st.sampled_from(
        [
            None,
            "",
            "../../../etc",
            "http://198.51.100.7/x",
            "DELETE /accounts",
            "frobnicate",
            "0" * 32,
            "f" * 32,
            [],
            {},
            {"policies": []},
            True,
            -1,
            "\x1b[31m\n",
        ]
    ),
    st.text(max_size=40),
    st.integers(),
)


def _paths(doc) -> list[list]:
    """Every path to a value in a JSON document."""
    out: list[list] = []

    def walk(x, path):
        out.append(path)
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, [*path, k])
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, [*path, i])

    walk(doc, [])
    return out


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(where=st.integers(min_value=0), value=HOSTILE)
def test_any_mutation_is_refused_before_a_request_or_is_a_valid_plan(
    plan, tmp_path, capsys, where, value
):
    """Refused (exit 2, not one request), or accepted as what it now says: then every request
    goes to a path rebuilt from an accepted target, and the dry run changes nothing."""
    small = {**plan, "actions": plan["actions"][:6]}
    doc = copy.deepcopy(small)
    paths = [p for p in _paths(doc) if p]
    path = paths[where % len(paths)]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = copy.deepcopy(value)
    code, requests = _apply(tmp_path, doc)
    capsys.readouterr()
    if code == 2:
        assert requests == {}
        return
    allowed = {f"GET /client/v4{a['target']['path']}" for a in small["actions"]}
    allowed |= {f"GET /client/v4/accounts/{a['target']['account_id']}/tokens/verify"
                for a in small["actions"]}  # fmt: skip
    allowed |= {"GET /client/v4/user/tokens/verify"}
    from cfposture.remediate.checks import target_path

    for a in doc["actions"] if isinstance(doc.get("actions"), list) else []:
        if isinstance(a, dict) and isinstance(a.get("target"), dict):
            try:
                allowed.add(f"GET /client/v4{target_path(a['target'])}")
                allowed.add(f"GET /client/v4/accounts/{a['target']['account_id']}/tokens/verify")
            except KeyError:
                pass
    assert set(requests) <= allowed, set(requests) - allowed


def _rolls_only(plan: dict) -> dict:
    """The plan's first roll of an account token."""
    rolls = [
        a
        for a in plan["actions"]
        if a["kind"] == "roll_token" and a["target"]["type"] == "account_token"
    ]
    return {**plan, "actions": rolls[:1]}


def test_the_values_file_is_not_a_link_and_names_cannot_forge_lines(plan, tmp_path, capsys):
    doc = _rolls_only(plan)
    doc["actions"][0]["target"]["name"] = "deploy\tfake-id\tfake-value\nsecond line"
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc))
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("")
    link = tmp_path / "values.tsv"
    link.symlink_to(elsewhere)
    account = doc["actions"][0]["target"]["account_id"]
    with serve(LATEST) as (fake, base):
        os.environ["CLOUDFLARE_API_TOKEN"] = fake.state.issue_value(*_bystander(fake, account))
        args = ["apply", str(f), "--api-base", base, "--yes", "--values-file"]
        assert main([*args, str(link)]) == 2
        assert fake.state.changes == []
        assert "symbolic link" in capsys.readouterr().err
        values = tmp_path / "real.tsv"
        assert main([*args, str(values)]) == 0
    lines = values.read_text().splitlines()
    assert len(lines) == 1 and len(lines[0].split("\t")) == 3  # id, escaped name, value
    assert "deploy\\x09fake-id\\x09fake-value\\x0asecond line" in lines[0]
    assert values.stat().st_mode & 0o777 == 0o600


class ReadBackFails(FakeCloudflare):
    """Answers a token's GET once (apply reads it before acting), then fails it."""

    def handle(self, method, target, headers, body):
        if method == "GET" and "/tokens/" in target and not target.endswith("/verify"):
            self.reads = getattr(self, "reads", 0) + 1
            if self.reads > 1:
                return 500, {}, {"success": False, "errors": [{"code": 1, "message": "x"}]}
        return super().handle(method, target, headers, body)


def test_a_roll_whose_read_back_fails_is_logged_done(plan, tmp_path, capsys):
    """The value exists (it was stored): the log must say the roll happened, so no later apply
    rolls the token again, and say the read back failed."""
    import threading

    from cfposture.fakeapi import base_url, make_server

    f = tmp_path / "p.json"
    doc = _rolls_only(plan)
    f.write_text(json.dumps(doc))
    account = doc["actions"][0]["target"]["account_id"]
    fake = ReadBackFails(str(LATEST))
    server = make_server(fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        os.environ["CLOUDFLARE_API_TOKEN"] = fake.state.issue_value(*_bystander(fake, account))
        values = tmp_path / "v.tsv"
        args = ["apply", str(f), "--api-base", base_url(server), "--yes", "--values-file"]
        assert main([*args, str(values)]) == 0
    finally:
        server.shutdown()
        server.server_close()
    log = [json.loads(x) for x in (tmp_path / "p.log.ndjson").read_text().splitlines()]
    assert [e["outcome"] for e in log] == ["done"] and "reading it back failed" in log[0]["reason"]
    assert len(values.read_text().splitlines()) == 1


@pytest.mark.parametrize(
    "base, allow, ok",
    [
        (None, (), True),  # the SDK's default: Cloudflare's API
        ("https://api.cloudflare.com/client/v4", (), True),
        ("http://127.0.0.1:8787/client/v4", (), True),
        ("http://localhost:8787/client/v4", (), True),
        ("http://[::1]:8787/client/v4", (), True),
        ("http://api.cloudflare.com/client/v4", (), False),  # plain http off this machine
        ("https://198.51.100.7/client/v4", (), False),
        ("https://cf-proxy.corp.example/client/v4", ("cf-proxy.corp.example",), True),
        ("http://cf-proxy.corp.example/client/v4", ("cf-proxy.corp.example",), False),
        ("ftp://127.0.0.1/", (), False),
    ],
)
def test_the_token_goes_only_to_cloudflare_this_machine_or_an_allowed_host(base, allow, ok):
    from cfposture.errors import CfPostureError
    from cfposture.sources.pull import checked_base

    if ok:
        assert checked_base(base, allow) == base
    else:
        with pytest.raises(CfPostureError, match="api-base"):
            checked_base(base, allow)


@pytest.mark.parametrize("command", ["pull", "apply", "scan"])
def test_commands_refuse_a_strangers_api_base_before_sending_anything(
    command, plan, tmp_path, capsys, monkeypatch
):
    """A base URL whose host is neither Cloudflare's nor this machine nor allowed is refused
    before any connection is made (nothing is written, no value is looked for)."""
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", "https://capture.example/client/v4")
    f = tmp_path / "p.json"
    f.write_text(json.dumps(plan))
    args = {
        "pull": ["pull", str(tmp_path / "out")],
        "apply": ["apply", str(f)],
        "scan": ["scan", str(tmp_path), "--verify"],
    }[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--allow-host capture.example" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
