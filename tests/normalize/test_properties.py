"""Property tests: API-shaped random JSON never crashes normalize.

Whatever the API sends, ``load`` returns frames that pass their schemas or raises a
``CfPostureError`` subclass with a one-line message; never a KeyError, TypeError or a
half-valid frame.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from covering import cover
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import cfposture
from cfposture.errors import CfPostureError
from cfposture.rawsnapshot import SnapshotWriter
from cfposture.schemas import FRAMES

A = "a" * 32
scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8))
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
timestamp = st.sampled_from(
    [None, "2026-05-01T00:00:00Z", "2024-01-01", "2025-07-01T10:11:12.123456Z", "garbage"]
)
resource_key = st.sampled_from(
    [
        f"com.cloudflare.api.account.{A}",
        "com.cloudflare.api.account.*",
        "com.cloudflare.api.account.zone.*",
        "com.cloudflare.api.account.zone.z1",
        "com.cloudflare.api.user.u1",
        "com.cloudflare.edge.r2.bucket.x_default_y",
        "weird",
    ]
)
resources = st.dictionaries(
    resource_key, st.one_of(st.just("*"), st.dictionaries(resource_key, st.just("*"))), max_size=3
)
permission_group = st.one_of(
    st.fixed_dictionaries({"id": st.text(max_size=4), "name": st.text(max_size=12)}),
    st.fixed_dictionaries({"id": st.just("c8fed203ed3043cba015a93ad1616f1f")}),
    json_value,
)
policy = st.fixed_dictionaries(
    {"id": st.text(max_size=4)},
    optional={
        "effect": st.sampled_from(["allow", "deny", "ALLOW", ""]),
        "access": st.sampled_from(["allow", "deny"]),
        "resources": st.one_of(resources, json_value),
        "permission_groups": st.lists(permission_group, max_size=3),
        "resource_groups": json_value,
    },
)
token = st.fixed_dictionaries(
    {"id": st.one_of(st.text(min_size=1, max_size=6), st.integers(0, 99))},
    optional={
        "name": scalar,
        "status": st.sampled_from(["active", "disabled", "expired", "exposed", None]),
        "issued_on": timestamp,
        "modified_on": timestamp,
        "last_used_on": timestamp,
        "expires_on": timestamp,
        "condition": json_value,
        "policies": st.one_of(st.lists(policy, max_size=3), json_value),
        "surprise": json_value,
    },
)
member = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=6)},
    optional={
        "status": scalar,
        "email": scalar,
        "user": st.one_of(
            json_value,
            st.fixed_dictionaries(
                {"two_factor_authentication_enabled": scalar, "email": scalar, "id": scalar}
            ),
        ),
        "roles": st.one_of(st.lists(json_value, max_size=2), json_value),
        "policies": st.lists(policy, max_size=2),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    account_tokens=st.lists(token, max_size=4),
    user_tokens=st.lists(token, max_size=3),
    members=st.lists(member, max_size=3),
)
def test_random_api_shapes_give_valid_frames_or_a_clear_error(account_tokens, user_tokens, members):
    tmp = Path(tempfile.mkdtemp())
    try:
        with SnapshotWriter(tmp / "snap", source={"kind": "test"}) as w:
            w.write("accounts", [{"id": A}])
            w.write("account_tokens", account_tokens, account_id=A)
            w.write("user_tokens", user_tokens)
            w.write("members", members, account_id=A)
            cover(w, [A])
        try:
            snap = cfposture.load(tmp / "snap")
        except CfPostureError as e:
            assert "\n" not in str(e)
            event(f"clear error: {str(e).split(':')[0]}")
            return
        event("loaded")
        for name, model in FRAMES.items():
            model.validate(getattr(snap, name))
    finally:
        shutil.rmtree(tmp)
