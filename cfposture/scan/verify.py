"""``--verify``: ask Cloudflare whether a found token is live, and which token id it is.

Opt-in, because it sends the found value to the API (that is what verifying means): to
``GET /user/tokens/verify`` for ``cfut_`` and legacy tokens, to ``GET /accounts/{id}/tokens/verify``
for ``cfat_`` and legacy tokens that are not user tokens, for the accounts you name (``--account``,
``CLOUDFLARE_ACCOUNT_ID``) or the snapshot's. Global keys need the account e-mail, so they are
not verified. The answers never include a value, and no value is logged.
"""

from __future__ import annotations

import os
from typing import Any

import cloudflare

from ..errors import CfPostureError
from ..sources.pull import make_client

Answer = dict[str, Any]


def _ask(call: Any) -> Answer | None:
    """One verify call: the token's id and status, None when the API says it is not valid."""
    try:
        r = call()
    except cloudflare.AuthenticationError:
        return None
    except cloudflare.APIConnectionError as e:
        raise CfPostureError(
            f"--verify could not reach the API ({type(e).__name__}); check --api-base and the"
            " network, or scan without --verify"
        ) from None
    except cloudflare.APIStatusError as e:
        return {"live": None, "error": f"HTTP {e.status_code}"}
    return {"live": r.status == "active", "token_id": r.id, "token_status": r.status}


def verify_value(
    value: bytes,
    fmt: str,
    accounts: list[str],
    api_base: str | None,
    allow_hosts: tuple[str, ...] = (),
) -> Answer:
    client = make_client(api_base, value.decode("ascii", "replace"), 15.0, allow_hosts)
    client = client.with_options(max_retries=3)  # the SDK waits out 429s (Retry-After)
    if fmt in ("cfut", "legacy_token"):
        ans = _ask(client.user.tokens.verify)
        if ans is not None and ans.get("token_id"):
            return {**ans, "owner_type": "user", "account_id": None}
    if fmt in ("cfat", "legacy_token"):
        if not accounts:
            return {
                "live": None,
                "token_id": None,
                "error": "account tokens verify per account: pass --account or --snapshot",
            }
        for aid in accounts:
            ans = _ask(lambda aid=aid: client.accounts.tokens.verify(account_id=aid))
            if ans is not None and ans.get("token_id"):
                return {**ans, "owner_type": "account", "account_id": aid}
    return {"live": False, "token_id": None, "token_status": "invalid"}


def verify(
    findings: list[dict[str, Any]],
    values: dict[str, bytes],
    *,
    accounts: list[str],
    api_base: str | None,
    allow_hosts: tuple[str, ...] = (),
) -> int:
    """Annotate ``findings`` with the API's answer (one call set per distinct value)."""
    env_account = os.environ.get("CLOUDFLARE_ACCOUNT_ID", "").strip()
    accounts = list(dict.fromkeys([*accounts, *([env_account] if env_account else [])]))
    answers: dict[str, Answer] = {}
    for f in findings:
        fp = f["fingerprint"]
        if fp not in values:
            continue
        if fp not in answers:
            answers[fp] = verify_value(values[fp], f["format"], accounts, api_base, allow_hosts)
        f.update(answers[fp])
    return len(answers)
