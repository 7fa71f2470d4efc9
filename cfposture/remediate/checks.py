"""What ``apply`` accepts from a plan file: a plan is data, not instructions.

A plan may be edited in a pull request or come from anywhere, so ``apply`` trusts none of it.
The whole plan is checked before any request: its shape against ``plan.schema.json`` (known
kinds only, the fields each kind may change, 32-hex ids, real-looking resource keys), then
its meaning. Every path and request string is rebuilt from the action's kind and its target's
ids, never taken from the plan; a plan whose own path disagrees is refused, since someone
edited it. Anything wrong refuses the whole plan with one line, before any request.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import CfPostureError
from ..textsafe import escaped

SCHEMA = Path(__file__).with_name("plan.schema.json")


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def target_path(target: dict[str, Any]) -> str:
    """The API path of a (schema-checked) target, from its type and ids alone."""
    if target["type"] == "user_token":
        return f"/user/tokens/{target['id']}"
    if target["type"] == "account_token":
        return f"/accounts/{target['account_id']}/tokens/{target['id']}"
    return f"/accounts/{target['account_id']}/members/{target['id']}"


def request_for(kind: str, path: str, after: dict[str, Any]) -> str:
    """What apply will send for an action, as it prints it in a dry run and logs it."""
    if kind == "roll_token":
        return f"PUT {path}/value"
    if kind == "delete_token":
        return f"DELETE {path}"
    if kind == "narrow_member":
        groups = sum(len(p["resource_groups"]) for p in after["policies"])
        return f"POST {groups} resource group(s), then PUT {path}"
    return f"PUT {path}"


def _printable(text: str, limit: int = 160) -> str:
    """A one-line, control-free excerpt of text that came from the plan file."""
    text = escaped(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def checked_plan(plan: Any, source: str) -> dict[str, Any]:
    """``plan`` with every action's path and request rebuilt, or ``CfPostureError`` naming
    the first problem (``source``: the file, for the message)."""
    import jsonschema

    errors = list(_validator().iter_errors(plan))
    if errors:
        e = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(p) for p in e.absolute_path) or "the plan"
        raise CfPostureError(
            f"{source}: {_printable(where, 80)}: {_printable(e.message)}; nothing was applied."
            " Make the plan again with cfposture plan"
        )
    seen: set[str] = set()
    actions = []
    for i, a in enumerate(plan["actions"]):
        path = target_path(a["target"])
        if a["target"].get("path", path) != path:
            raise CfPostureError(
                f"{source}: actions/{i}/target/path is not the path of its target"
                f" ({path}); nothing was applied. Make the plan again with cfposture plan"
            )
        if a["id"] in seen:
            raise CfPostureError(f"{source}: actions/{i}: a second action with id {a['id']}")
        if not a["id"].startswith(a["finding_id"] + ":") or not a["id"].endswith(a["kind"]):
            raise CfPostureError(
                f"{source}: actions/{i}: its id does not name its finding and kind"
            )
        seen.add(a["id"])
        target = {**a["target"], "path": path}
        actions.append({**a, "target": target, "request": request_for(a["kind"], path, a["after"])})
    return {**plan, "actions": actions}
