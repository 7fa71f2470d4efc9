"""Conformance with the real API's shapes (reference §0), over real HTTP with the official SDK.

Each case is a shape Cloudflare documents or was seen to send, which our own picture of the API
once disagreed with: the docs' audit cursor envelope, empty pages that still carry a cursor,
``"result": null`` for an empty list, lists without ``total_pages``, member resource groups
whose ``scope`` is one object, permission groups sent by id and ``meta`` only.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fakeserver import serve
from test_pull import assert_same_frames, opts

import cfposture
from cfposture.fakeapi import FakeCloudflare
from cfposture.remediate.apply import member_policy_key
from cfposture.sources.pull import pull


def _pull_with(tmp_path: Path, name: str, **limits) -> tuple[cfposture.Snapshot, dict]:
    with serve("sample", **limits) as (fake, url):
        result = pull(opts(tmp_path / name, url))
        requests = dict(fake.stats.requests)
    return cfposture.load(result.path), requests


def test_the_docs_audit_envelope_pulls_the_same_events(tmp_path, sample_snap):
    """``{"count": "1", "cursor": "…"}`` (a string count, no ``cursors``) as the docs show."""
    snap, _ = _pull_with(tmp_path, "docs", audit_envelope="docs")
    assert_same_frames(snap, sample_snap)


def test_null_results_for_empty_lists_are_empty_lists(tmp_path, sample_snap):
    snap, _ = _pull_with(tmp_path, "null", null_empty=True)
    assert_same_frames(snap, sample_snap)


def test_lists_without_total_pages_stop_on_total_count(tmp_path):
    """Token and member lists send no ``total_pages``: one page of 21 tokens is one request,
    not a second request for an empty page."""
    snap, requests = _pull_with(tmp_path, "counted")
    aid = snap.accounts["account_id"].iloc[0]
    assert requests[f"GET /client/v4/accounts/{aid}/tokens"] == 1
    assert requests[f"GET /client/v4/accounts/{aid}/members"] == 1


class EmptyPagesWithCursors(FakeCloudflare):
    """After the events, empty pages that each carry a cursor: the same one, or a fresh one
    every time (a never-ending run of them was seen on another Cloudflare cursor endpoint)."""

    fresh = False

    def _audit(self, q, account_id):
        out = super()._audit(q, account_id)
        if isinstance(out, tuple) or out["result"]:
            return out
        n = int(q.get("cursor", "0").split("-")[-1] or 0) if self.fresh else 0
        out["result_info"] = {"count": 0, "cursors": {"after": f"empty-{n + 1}"}}
        return out


@pytest.mark.parametrize("fresh", [False, True])
def test_an_empty_page_ends_the_audit_logs_whatever_cursor_it_carries(tmp_path, fresh):
    import threading

    from cfposture.fakeapi import base_url, make_server

    fake = type("Fake", (EmptyPagesWithCursors,), {"fresh": fresh})("sample")
    server = make_server(fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # a window the sample has no events in: the first page is already empty
        since, before = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2020-01-02", tz="UTC")
        result = pull(opts(tmp_path / "s", base_url(server), since=since, before=before))
    finally:
        server.shutdown()
        server.server_close()
    snap = cfposture.load(result.path)
    assert snap.audit_events.empty
    audit = {k: v for k, v in fake.stats.requests.items() if k.endswith("/logs/audit")}
    assert audit and set(audit.values()) == {1}  # one request per account, no more


def test_member_resource_groups_with_an_object_scope(sample_snap):
    """SDK 5.9 reads ``scope`` as one object; the sample's members carry it so, and member
    grants are still scoped to their zones."""
    zoned = sample_snap.grants[
        (sample_snap.grants["principal_type"] == "member")
        & (sample_snap.grants["scope_type"] == "zone")
    ]
    assert not zoned.empty
    one = {
        "key": "com.cloudflare.api.account.a",
        "objects": [{"key": "com.cloudflare.api.account.zone.z"}],
    }
    as_object = [
        {"access": "allow", "permission_groups": [{"id": "r"}], "resource_groups": [{"scope": one}]}
    ]
    as_list = [
        {
            "access": "allow",
            "permission_groups": [{"id": "r"}],
            "resource_groups": [{"scope": [one]}],
        }
    ]
    assert member_policy_key(as_object) == member_policy_key(as_list) != []


@pytest.mark.parametrize(
    "info, page, got, last",
    [
        ({"page": 1, "per_page": 50, "total_count": 50}, 1, 50, True),  # full page, no more
        ({"page": 1, "per_page": 50, "total_count": 51}, 1, 50, False),
        ({"page": 2, "per_page": 50, "total_count": "51"}, 2, 1, True),
        ({"page": 1, "per_page": 50, "total_pages": 2, "total_count": 60}, 1, 50, False),
        ({"page": 1, "per_page": 50}, 1, 50, False),  # nothing said: a full page may go on
        ({"page": 1, "per_page": 50}, 1, 7, True),  # a short page ends it
        ({}, 3, 0, True),  # an empty page ends it
    ],
)
def test_last_page_without_total_pages(info, page, got, last):
    from cfposture.sources.pull import _last_page

    assert _last_page(info, page, got) is last


def test_tokens_an_oauth_app_minted_are_tied_to_it(sample_snap):
    """provisioner_type com.cloudflare.api.oauthtoken + provisioner_id (the OAuth client): the
    token is the app's, its audit activity (context oauth) is the app's and the token's use,
    and the token rules leave it to the app's review."""
    t = sample_snap.tokens.set_index("token_id")
    minted = t[t["oauth_client_id"].notna()]
    assert len(minted) == 1
    app = sample_snap.oauth_apps.set_index("app_id").loc[minted["oauth_client_id"].iloc[0]]
    app = app.iloc[0] if isinstance(app, pd.DataFrame) else app
    assert app["app_name"] == "Wrangler" and app["minted_tokens"] == 1
    ctx = cfposture.rules.Context(sample_snap, cfposture.rules.Params())
    g = ctx.grants[ctx.grants["principal_id"] == minted.index[0]]
    assert "used" in set(g["usage_state"])  # Workers Scripts Write, from the app's events
    f = cfposture.findings(sample_snap)
    assert minted.index[0] not in set(f.loc[f["rule_id"].str.startswith("CFP-T"), "principal_id"])
    # creator_email_at_creation is kept for the tokens that have it
    assert t.loc[t["inventoried"], "creator_email"].notna().sum() >= 50
