"""The fake Cloudflare API behaves like the real one where a client can tell."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from datetime import UTC, datetime

import cloudflare
import httpx
import pytest
from fakeserver import serve

from cfposture.errors import CfPostureError
from cfposture.fakeapi import FakeCloudflare
from cfposture.sources.pull import PullOptions, pull


def client(url: str, token: str = "t") -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(api_token=token, base_url=url, max_retries=0)


@pytest.fixture(scope="module")
def fake() -> FakeCloudflare:
    return FakeCloudflare("sample")


def call(fake, path, method="GET", token="t", body=b""):
    status, headers, payload = fake.handle(
        method, "/client/v4" + path, {"authorization": f"Bearer {token}"}, body
    )
    return status, headers, payload


def account(fake) -> str:
    return fake.state.account_ids()[0]


@pytest.mark.parametrize(
    "query, page, per_page, count",
    [
        ("", 1, 20, 20),
        ("?per_page=1", 1, 5, 5),
        ("?per_page=500", 1, 50, 21),
        ("?page=2&per_page=20", 2, 20, 1),
        ("?page=9&per_page=50", 9, 50, 0),
    ],
)
def test_pages_are_clamped_and_empty_past_the_end(fake, query, page, per_page, count):
    status, _, body = call(fake, f"/accounts/{account(fake)}/tokens{query}")
    assert status == 200 and body["success"] is True and body["errors"] == []
    assert len(body["result"]) == count
    info = body["result_info"]
    assert (info["page"], info["per_page"], info["total_count"]) == (page, per_page, 21)


def test_auth_errors(fake):
    status, _, body = fake.handle("GET", "/client/v4/accounts", {}, b"")
    assert status == 401 and body["success"] is False
    locked = FakeCloudflare("sample")
    locked.limits.token = "right"
    status, _, body = call(locked, "/accounts", token="wrong")
    assert status == 401 and body["errors"][0]["code"] == 1000
    assert body["errors"][0]["message"] == "Invalid API Token"


def test_denied_endpoint_has_a_documentation_url(fake):
    mkt = fake.state.account_ids()[2]
    status, _, body = call(fake, f"/accounts/{mkt}/oauth_clients")
    assert status == 403
    assert body["errors"][0]["documentation_url"].startswith("https://developers.cloudflare.com/")


def test_audit_logs_need_a_window_and_page_by_cursor(fake):
    path = f"/accounts/{account(fake)}/logs/audit"
    assert call(fake, path)[0] == 400
    q = "?since=2026-10-26T06:00:00Z&before=2026-11-26T00:00:00Z&limit=1000&direction=asc"
    _, _, first = call(fake, path + q)
    after = first["result_info"]["cursors"]["after"]
    _, _, second = call(fake, path + q + f"&cursor={after}")
    times = [e["action"]["time"] for e in first["result"] + second["result"]]
    assert times == sorted(times) and len(first["result"]) == 1000


def test_unknown_account_and_route(fake):
    assert call(fake, "/accounts/" + "f" * 32 + "/members")[0] == 403
    assert call(fake, "/nothing/here")[0] == 404


def test_rate_limit_headers_and_lockout():
    fake = FakeCloudflare("sample")
    fake.limits.rate_limit, fake.limits.rate_window, fake.limits.lockout = 3, 60, 30
    heads = [call(fake, "/accounts")[1] for _ in range(3)]
    assert [h["x-ratelimit-remaining"] for h in heads] == ["2", "1", "0"]
    status, headers, body = call(fake, "/accounts")
    assert status == 429 and int(headers["Retry-After"]) == 30 and "x-ratelimit-reset" in headers
    assert body["errors"][0]["code"] == 10100
    assert call(fake, "/user")[0] == 429  # locked out for everything


def test_writes_change_what_is_served_and_are_recorded(tmp_path):
    fake = FakeCloudflare("sample")
    aid = account(fake)
    token = fake.state.items("account_tokens", account_id=aid)[0]
    tid = token["id"]
    body = json.dumps({"name": "narrowed", "policies": token["policies"][:1]}).encode()
    status, _, out = call(fake, f"/accounts/{aid}/tokens/{tid}", "PUT", body=body)
    assert status == 200 and out["result"]["name"] == "narrowed"
    assert call(fake, f"/accounts/{aid}/tokens/{tid}")[2]["result"]["name"] == "narrowed"
    status, _, rolled = call(fake, f"/accounts/{aid}/tokens/{tid}/value", "PUT", body=b"{}")
    value = rolled["result"]
    assert value.startswith("cfat_") and len(value) == 53
    assert f"{zlib.crc32(value[5:45].encode()):08x}" == value[45:]
    assert call(fake, f"/accounts/{aid}/tokens/{tid}", "DELETE")[0] == 200
    assert call(fake, f"/accounts/{aid}/tokens/{tid}")[0] == 404
    assert [c["action"] for c in fake.state.changes] == [
        "update_token",
        "roll_token",
        "delete_token",
    ]
    assert value not in json.dumps(fake.state.changes)
    assert call(fake, f"/accounts/{aid}/tokens/x", "PUT", body=b"{bad")[0] == 400
    member = fake.state.items("members", account_id=aid)[0]["id"]
    status, _, m = call(
        fake, f"/accounts/{aid}/members/{member}", "PUT", body=json.dumps({"policies": []}).encode()
    )
    assert status == 200 and m["result"]["policies"] == []


def test_sdk_auto_pagination_ends(tmp_path):
    with serve("sample") as (fake, url):
        c = client(url)
        try:
            aid = fake.state.account_ids()[0]
            tokens = list(c.accounts.tokens.list(account_id=aid, per_page=5))
            events = list(
                c.accounts.logs.audit.list(
                    account_id=aid,
                    since="2026-10-25T00:00:00Z",
                    before="2026-11-26T00:00:00Z",
                    limit=500,
                )
            )
        finally:
            c.close()
    assert len(tokens) == 21
    assert len(events) == len(fake.state.items("audit_logs", account_id=aid))


def test_cli_prints_the_base_url_first_and_binds_loopback():
    proc = subprocess.Popen(
        [sys.executable, "-m", "cfposture.cli", "fake-api", "sample", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/client/v4")
        r = httpx.get(url + "/accounts", headers={"Authorization": "Bearer x"})
        assert r.status_code == 200 and len(r.json()["result"]) == 3
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


class EndlessCursor(FakeCloudflare):
    """Pages that hold events and always name the same next cursor."""

    def _audit(self, q, account_id):
        return {
            "success": True,
            "errors": [],
            "messages": [],
            "result": self.state.items("audit_logs", account_id=account_id)[:1],
            "result_info": {"cursors": {"after": "same"}},
        }


class BrokenBody(FakeCloudflare):
    def handle(self, method, target, headers, body):
        status, h, payload = super().handle(method, target, headers, body)
        if "/members" in target:
            return 200, h, {"unexpected": "shape"}
        return status, h, payload


@pytest.mark.parametrize(
    "cls, message",
    [
        (EndlessCursor, "repeated cursor"),
        (BrokenBody, "no result in the response envelope|after 2 attempts"),
    ],
)
def test_misbehaving_api_stops_the_pull_with_a_clear_error(tmp_path, monkeypatch, cls, message):
    import threading

    from cfposture.fakeapi import base_url, make_server

    fake = cls("sample")
    server = make_server(fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(CfPostureError, match=message) as info:
            pull(
                PullOptions(
                    out=tmp_path / "s",
                    api_base=base_url(server),
                    quiet=True,
                    max_attempts=2,
                    since=datetime(2026, 10, 1, tzinfo=UTC),
                )
            )
        assert "\n" not in str(info.value)
    finally:
        server.shutdown()
        server.server_close()
