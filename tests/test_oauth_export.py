"""Connected-apps export files (--oauth-export): CSV and JSON, with clear errors."""

from __future__ import annotations

import json

import pytest

from cfposture.errors import CfPostureError
from cfposture.sources.oauth_export import read_export, write_export_csv

ITEM = {
    "app_id": "a1",
    "app_name": "Grafana",
    "publisher": "grafana.example",
    "verified": True,
    "user_email": "me@example.com",
    "accounts": ["x", "y"],
    "scopes": ["a.read", "b.write"],
    "granted_on": "2025-01-01T00:00:00Z",
    "last_used_on": None,
}


def test_csv_roundtrip(tmp_path):
    p = tmp_path / "apps.csv"
    write_export_csv([ITEM], p)
    assert read_export(p) == [ITEM]


def test_json_with_strings_and_defaults(tmp_path):
    p = tmp_path / "apps.json"
    p.write_text(
        json.dumps(
            [
                {
                    "app_id": "a1",
                    "app_name": "X",
                    "accounts": "",
                    "scopes": "a b",
                    "verified": "false",
                }
            ]
        )
    )
    (item,) = read_export(p)
    assert item["accounts"] == ["all"] and item["scopes"] == ["a", "b"]
    assert item["verified"] is False


@pytest.mark.parametrize(
    "name, body, message",
    [
        ("a.csv", "name,scopes\nX,a\n", "no app_id, app_name column"),
        ("a.csv", "app_id,app_name\n,X\n", "line 2: app_id is empty"),
        ("a.json", "{broken", "is not JSON"),
        ("a.json", "[" * 100_000, "nested too deeply"),
        ("a.json", '{"app_id": "x"}', "JSON list of objects"),
    ],
)
def test_malformed_exports_fail_with_one_line(tmp_path, name, body, message):
    p = tmp_path / name
    p.write_text(body)
    with pytest.raises(CfPostureError, match=message) as info:
        read_export(p)
    assert "\n" not in str(info.value)


def test_unreadable_file(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CfPostureError, match=r"OAuth export .* is not UTF-8"):
        read_export(p)
    with pytest.raises(CfPostureError, match=r"cannot read .*missing.csv"):
        read_export(tmp_path / "missing.csv")
