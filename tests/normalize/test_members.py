"""normalize → members and member / user-group grants."""

from __future__ import annotations

import pandas as pd
import pytest

from cfposture.errors import NormalizeError

A = "a" * 32
Z = "1" * 32
SA = {"id": "sa" * 16, "name": "Super Administrator - All Privileges"}
DNS = {"id": "dn" * 16, "name": "Domain DNS"}
WORKER = {"id": "wk" * 16, "name": "Worker Admin"}


def rg(*objects: str) -> dict:
    return {
        "id": "rg",
        "scope": [
            {"key": f"com.cloudflare.api.account.{A}", "objects": [{"key": o} for o in objects]}
        ],
    }


def member(mid: str, *policies: dict, two_factor=True, status="accepted", **extra) -> dict:
    return {
        "id": mid,
        "status": status,
        "user": {
            "id": "u" + mid,
            "email": f"{mid}@example.com",
            "two_factor_authentication_enabled": two_factor,
        },
        "policies": list(policies),
        **extra,
    }


def policy(pid: str, group: dict, *rgs: dict, access="allow") -> dict:
    return {"id": pid, "access": access, "permission_groups": [group], "resource_groups": list(rgs)}


def load(load_payloads, members, groups=(), group_members=None):
    payloads = {
        "accounts": [{"id": A, "name": "Acme", "settings": {"enforce_twofactor": False}}],
        f"members:{A}": members,
        f"user_groups:{A}": list(groups),
    }
    for gid, who in (group_members or {}).items():
        payloads[f"user_group_members:{A}:{gid}"] = who
    return load_payloads(payloads)


def test_several_policies_at_account_zone_and_resource_scope(load_payloads):
    m = member(
        "m1",
        policy("p1", SA, rg("*")),
        policy("p2", DNS, rg(f"com.cloudflare.api.account.zone.{Z}")),
        policy("p3", WORKER, rg(f"com.cloudflare.api.account.worker.{'w' * 32}")),
    )
    snap = load(load_payloads, [m])
    g = snap.grants
    assert g[["permission_group_name", "scope_type", "scope_id"]].values.tolist() == [
        ["Super Administrator - All Privileges", "account", A],
        ["Domain DNS", "zone", Z],
        ["Worker Admin", "resource", f"com.cloudflare.api.account.worker.{'w' * 32}"],
    ]
    assert g["access_level"].tolist() == ["admin", "edit", "admin"]
    assert set(g["account_id"]) == {A}
    row = snap.members.iloc[0]
    assert bool(row["is_super_admin"]) is True
    assert row["roles"] == "Domain DNS; Super Administrator - All Privileges; Worker Admin"
    assert snap.accounts["enforce_twofactor"].tolist() == [False]


def test_policies_inherited_from_user_groups_are_tagged(load_payloads):
    gp = policy("gp1", DNS, rg(f"com.cloudflare.api.account.zone.{Z}"))
    group = {"id": "g1", "name": "DNS team", "policies": [gp]}
    listed = member("m1", gp)  # the API repeats inherited policies in the member's list
    implicit = member("m2")  # ...or, in older shapes, only the group membership says it
    outsider = member("m3", policy("p3", SA))
    snap = load(
        load_payloads,
        [listed, implicit, outsider],
        [group],
        {"g1": [{"id": "m1"}, {"email": "m2@example.com"}]},
    )
    g = snap.grants
    members = g[g["principal_type"] == "member"].set_index("principal_id")
    assert members.loc["m1", "via_group_id"] == "g1"
    assert members.loc["m2", "via_group_id"] == "g1"
    assert members.loc["m2", "permission_group_name"] == "Domain DNS"
    assert pd.isna(members.loc["m3", "via_group_id"])
    groups = g[g["principal_type"] == "user_group"]
    assert groups[["principal_id", "principal_name", "scope_type"]].values.tolist() == [
        ["g1", "DNS team", "zone"]
    ]
    # m3's policy has no resource groups: account-wide
    assert members.loc["m3", "scope_type"] == "account"


def test_legacy_roles_only_member(load_payloads):
    m = member("m1", roles=[{"id": "r1", "name": "Administrator", "permissions": {}}])
    m.pop("policies")
    snap = load(load_payloads, [m])
    assert snap.grants[["permission_group_name", "scope_type", "access_level"]].values.tolist() == [
        ["Administrator", "account", "admin"]
    ]


def test_member_fields_and_top_level_email(load_payloads):
    pending = member("m2", policy("p", SA), two_factor=False, status="pending")
    pending["email"] = "top@example.com"
    unknown_2fa = member("m3", policy("p3", DNS, rg("*")))
    del unknown_2fa["user"]["two_factor_authentication_enabled"]
    snap = load(load_payloads, [member("m1", policy("p1", DNS, rg("*"))), pending, unknown_2fa])
    m = snap.members.set_index("member_id")
    assert m.loc["m2", ["email", "status"]].tolist() == ["top@example.com", "pending"]
    assert m["two_factor"].tolist() == [True, False, pd.NA]
    assert m["is_super_admin"].tolist() == [False, True, False]


def test_deny_access_is_kept(load_payloads):
    snap = load(load_payloads, [member("m1", policy("p1", DNS, rg("*"), access="deny"))])
    assert snap.grants["effect"].tolist() == ["deny"]
    assert pd.isna(snap.members.loc[0, "roles"])  # roles lists what is allowed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "member 1 has no id"),
        ({"user": None}, "'user' is null, not an object"),
        ({"user": "dana"}, "'user' is a string, not an object"),
        ({"policies": "x"}, "'policies' is a string, not a list"),
        ({"policies": [1]}, "a policy is not an object"),
        ({"roles": {}}, "'roles' is an object, not a list"),
    ],
)
def test_wrong_types_in_a_member_are_one_line_errors(load_payloads, change, message):
    with pytest.raises(NormalizeError, match=message) as info:
        load(load_payloads, [{**member("m1"), **change}])
    assert "\n" not in str(info.value)
