"""A hostile or broken API cannot make a pull write outside its folder (issue: trust nothing).

Ids from the API become file names (``accounts/<id>/tokens.ndjson.gz``); a fake API that sends
path-like ids must get a one-line refusal and no file anywhere but the pull's own folder."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_pull import opts

from cfposture.endpoints import UnsafeIdError
from cfposture.fakeapi import FakeCloudflare, base_url, make_server
from cfposture.sources.pull import pull


class HostileIds(FakeCloudflare):
    """Adds an item with a hostile id to one list."""

    key = "accounts"
    ident: object = "../../escaped"

    def _list(self, key, q, ids, style):
        out = super()._list(key, q, ids, style)
        if key == self.key and isinstance(out, dict) and out.get("result"):
            out["result"] = [*out["result"], {**out["result"][0], "id": self.ident}]
        return out


@pytest.mark.parametrize(
    ("key", "ident"),
    [
        ("accounts", "../../escaped"),
        ("accounts", "/tmp/abs"),
        ("accounts", 12),
        ("accounts", None),
        ("user_groups", "../../../escaped"),
    ],
)
def test_path_like_ids_from_the_api_are_refused(tmp_path: Path, key, ident) -> None:
    fake = type("Fake", (HostileIds,), {"key": key, "ident": ident})("sample")
    server = make_server(fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    inside = tmp_path / "a" / "b"
    inside.mkdir(parents=True)
    try:
        with pytest.raises(UnsafeIdError, match=r"refusing .*id") as info:
            pull(opts(inside / "snap", base_url(server), workers=1))
    finally:
        server.shutdown()
        server.server_close()
    assert "\n" not in str(info.value)
    outside = [p for p in tmp_path.rglob("*") if not p.is_relative_to(inside)]
    assert [p for p in outside if p.is_file()] == []
    assert not (inside / "snap").exists()  # nothing loads as a snapshot
