"""The ``org`` fixture: a snapshot written from hand-made payloads (see orgbuilder)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from covering import cover
from orgbuilder import AS_OF, USER, Z1, Z2, A, B

import cfposture
from cfposture.rawsnapshot import SnapshotWriter


@pytest.fixture
def org(tmp_path: Path) -> Callable[..., cfposture.Snapshot]:
    counter = iter(range(1000))

    def build(
        *,
        account_tokens=(),
        user_tokens=(),
        members=(),
        events=(),
        apps=(),
        enforce_twofactor=True,
        history_days: int = 120,
        account_tokens_b=(),
        audit_denied_b: bool = False,
        permission_groups=(),
    ) -> cfposture.Snapshot:
        dest = tmp_path / f"org{next(counter)}"
        with SnapshotWriter(dest, source={"kind": "test"}, created_at=AS_OF) as w:
            since = AS_OF.timestamp() - history_days * 86400
            w.audit_window = {
                "since": datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "before": AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            w.write("user", [USER])
            w.write(
                "accounts",
                [
                    {"id": A, "name": "Acme", "settings": {"enforce_twofactor": enforce_twofactor}},
                    {"id": B, "name": "Beta", "settings": {"enforce_twofactor": True}},
                ],
            )
            w.write(
                "zones",
                [{"id": Z1, "name": "one.example"}, {"id": Z2, "name": "two.example"}],
                account_id=A,
            )
            w.write("account_tokens", list(account_tokens), account_id=A)
            w.write("account_tokens", list(account_tokens_b), account_id=B)
            w.write("user_tokens", list(user_tokens))
            w.write("members", list(members), account_id=A)
            w.write("audit_logs", list(events), account_id=A)
            if audit_denied_b:  # the token could not read account B's audit logs
                w.deny("audit_logs", http_status=403, message="Forbidden", account_id=B)
            w.write("connected_apps", list(apps))
            cover(w, [A, B])
            if permission_groups:  # the account's token permission groups, as the API lists them
                w.write("account_token_permission_groups", list(permission_groups), account_id=A)
        return cfposture.load(dest)

    return build
