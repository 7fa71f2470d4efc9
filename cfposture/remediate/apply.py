"""``cfposture apply``: carry a plan out through the API, safely.

* A plan is data: the whole plan is checked first (``checks``), and every request is rebuilt
  from an action's kind and its target's ids; anything wrong refuses the plan before any
  request.
* Dry run unless ``yes``: every action is checked against the live API and reported as what
  it would do; nothing changes.
* No lost updates: each token is read again first; if its ``modified_on`` is neither what the
  plan saw nor what this apply itself wrote, someone changed it since: skipped.
* Idempotent: an action whose result already holds (an expiry set, an allow-list present, the
  narrowed policies in place, the token gone) or that the log records as done is a no-op.
* Refusals, unless the action says ``"force": true``: anything on the token doing the apply
  (it would cut itself off), and deleting a token used in the last 7 days.
* An append-only log (NDJSON, fsync'd per line) records every outcome, never a value. A
  rolled token's new value is printed once, or appended to a file the user names (mode 0600),
  and recorded beside the plan's snapshot only as "observed: scannable".
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cloudflare

from ..errors import CfPostureError
from ..rawsnapshot import add_observations
from ..sources.pull import TOKEN_ENV, make_client
from ..textsafe import escaped
from .against import check_against_snapshot
from .checks import checked_plan

RECENT = timedelta(days=7)
FIELDS = ("name", "policies", "status", "condition", "expires_on", "not_before")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _policy_key(policies: Any) -> list:
    """Policies compared by meaning: effect, permission group ids and resources (not ids)."""
    out = []
    for p in policies or []:
        groups = sorted(str(g.get("id") or g.get("name")) for g in p.get("permission_groups", []))
        out.append(
            (
                p.get("effect") or p.get("access"),
                groups,
                json.dumps(p.get("resources"), sort_keys=True),
            )
        )
    return sorted(out)


def _scope_entries(scope: Any) -> list[dict[str, Any]]:
    """A resource group's scope entries: one object (SDK 5.9) or a list (older answers)."""
    entries = scope if isinstance(scope, list) else [scope]
    return [e for e in entries if isinstance(e, dict)]


def member_policy_key(policies: Any, skip: Any = ()) -> list:
    """Member policies compared by meaning: access, permission groups and the scope keys of
    their resource groups (inline or expanded by the API), ignoring ids and names."""
    out = []
    for p in policies or []:
        if not isinstance(p, dict) or p.get("id") in set(skip):
            continue
        groups = sorted(str(g.get("id") or g.get("name")) for g in p.get("permission_groups", []))
        scopes = sorted(
            f"{s.get('key')}>{','.join(sorted(str(o.get('key')) for o in s.get('objects') or []))}"
            for rg in p.get("resource_groups") or []
            for s in _scope_entries(rg.get("scope"))
        )
        out.append((p.get("access") or p.get("effect"), groups, scopes))
    return sorted(out)


def version(target: dict[str, Any], current: dict[str, Any]) -> str | None:
    """What tells that a target changed: a token's ``modified_on``; for a member (which has
    none), a hash of its policies by meaning."""
    if target["type"] == "member":
        key = json.dumps(member_policy_key(current.get("policies")), sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]
    return current.get("modified_on")


def holds(kind: str, after: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Whether the action's result is already true of the live token."""
    if kind == "delete_token":
        return current is None
    if current is None:
        return False
    if kind == "set_expiry":
        return bool(current.get("expires_on"))
    if kind == "restrict_ip":
        return bool(((current.get("condition") or {}).get("request_ip") or {}).get("in"))
    if kind == "narrow_token":
        return _policy_key(current.get("policies")) == _policy_key(after["policies"])
    if kind == "narrow_member":
        mine = member_policy_key(current.get("policies"), after.get("keep_policy_ids", []))
        return mine == member_policy_key(after["policies"])
    return False  # a roll cannot be seen in the API: the log says whether it was done


@dataclass
class Outcome:
    action: dict[str, Any]
    outcome: str  # done, would, noop, skipped, refused, failed
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Log:
    """Append-only NDJSON; reading it tells which actions are already done."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def done(self) -> set[str]:
        if not self.path.exists():
            return set()
        out = set()
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a crash
            if e.get("outcome") == "done":
                out.add(e["action_id"])
        return out

    def write(self, o: Outcome) -> None:
        a = o.action
        entry = {
            "at": _now(),
            "action_id": a["id"],
            "finding_id": a["finding_id"],
            "kind": a["kind"],
            "target": a["target"]["id"],
            "outcome": o.outcome,
            "reason": o.reason,
            **o.extra,
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _values_writer(path: str | None) -> Callable[[dict[str, Any], str], None]:
    """Where rolled values go. The file is checked *before* anything is rolled: a value that
    cannot be stored safely must not be created. It must not be a symbolic link, and if it
    exists it must be a regular file of the user's, with one link, that nobody else can read
    (a later apply appends to the file an earlier one wrote); it is opened without following
    links and created 0600. Names are escaped, so a tab or newline in one cannot forge a line."""
    if path is not None:
        p = Path(path)
        if not p.parent.is_dir():
            raise CfPostureError(f"--values-file: folder {p.parent} does not exist; create it")
        if p.is_symlink():
            raise CfPostureError(f"--values-file: {path} is a symbolic link; name the file itself")
        if p.exists():
            st = p.lstat()
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid != os.getuid():
                raise CfPostureError(
                    f"--values-file: {path} is not a plain file of yours; pick a new file"
                )
            if st.st_mode & 0o077:
                raise CfPostureError(
                    f"{path} is readable by others; chmod 600 it or pick a new file"
                )

    def show(target: dict[str, Any], value: str) -> None:
        name = escaped(str(target["name"]))
        if path is None:
            print(
                f"rolled {name} ({target['id']}): new value {value}\n"
                "  shown once: store it in your secret manager now; cfposture keeps no copy",
                file=sys.stdout,
                flush=True,
            )
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, f"{target['id']}\t{name}\t{value}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    return show


def _whoami(client: cloudflare.Cloudflare, accounts: list[str]) -> str | None:
    """The id of the token doing the apply (so no action cuts it off)."""
    for path in ["/user/tokens/verify", *(f"/accounts/{a}/tokens/verify" for a in accounts)]:
        try:
            return str(client.get(path, cast_to=object)["result"]["id"])
        except cloudflare.APIStatusError:
            continue
    return None


def _put_body(current: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    body = {k: current[k] for k in FIELDS if current.get(k) is not None}
    body.update(after)
    return body


def _member_body(
    client: cloudflare.Cloudflare, t: dict[str, Any], current: dict[str, Any], a: dict[str, Any]
) -> dict[str, Any]:
    """Create the narrowed policies' resource groups, then the member's new policy list: the
    policies the plan keeps, as they are now, plus the narrowed ones referencing the groups."""
    keep = set(a["after"].get("keep_policy_ids", []))
    policies = [_by_id(p) for p in current.get("policies") or [] if p.get("id") in keep]
    for p in a["after"]["policies"]:
        ids = []
        for rg in p.get("resource_groups") or []:
            path = f"/accounts/{t['account_id']}/iam/resource_groups"
            ids.append({"id": client.post(path, cast_to=object, body=rg)["result"]["id"]})
        policies.append({**_by_id(p), "resource_groups": ids})
    return {"policies": policies}


def _by_id(p: dict[str, Any]) -> dict[str, Any]:
    """A policy as a PUT body wants it: groups referenced by id only."""
    return {
        **({"id": p["id"]} if p.get("id") else {}),
        "access": p.get("access", "allow"),
        "permission_groups": [{"id": g.get("id")} for g in p.get("permission_groups", [])],
        "resource_groups": [{"id": rg.get("id")} for rg in p.get("resource_groups") or []],
    }


def apply_plan(
    plan: dict[str, Any],
    *,
    api_base: str | None,
    yes: bool,
    log_path: Path,
    values_file: str | None = None,
    source: str = "the plan",
    allow_hosts: tuple[str, ...] = (),
) -> list[Outcome]:
    if not isinstance(plan, dict) or plan.get("version") != 1:
        raise CfPostureError("not a cfposture plan (version 1); make one with cfposture plan")
    plan = checked_plan(plan, source)  # the whole plan, before any request
    check_against_snapshot(plan, source)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise CfPostureError(f"set {TOKEN_ENV} to a token that may edit the plan's tokens")
    show = _values_writer(values_file)
    client = make_client(api_base, token, 30.0, allow_hosts).with_options(max_retries=3)
    accounts = sorted(
        {a["target"]["account_id"] for a in plan["actions"] if a["target"]["account_id"]}
    )
    me = _whoami(client, accounts)
    if me is None:  # fail closed: without it, an action could cut off the token applying
        raise CfPostureError(
            "could not tell which token is doing the apply (/tokens/verify answered no id);"
            " nothing was applied. Check the token and --api-base"
        )
    log = Log(log_path)
    done = log.done()
    written: dict[str, str | None] = {}  # target id → its version after this apply's change
    observed: list[dict[str, Any]] = []
    outcomes = []
    for a in plan["actions"]:
        o = _one(client, a, me, done, written, yes, show, observed)
        outcomes.append(o)
        if yes or o.outcome in ("refused", "failed"):
            log.write(o)
    snap = plan.get("snapshot")
    if observed and snap and Path(snap, "manifest.json").is_file() and not _is_sample(snap):
        try:
            add_observations(snap, observed)
        except CfPostureError as e:  # the rolls happened; say why the record did not
            print(
                f"cfposture: warning: could not record the rolls beside {snap}: {e}",
                file=sys.stderr,
            )
    return outcomes


def _is_sample(path: str) -> bool:
    from ..catalog import sample_dir

    return Path(path).resolve().is_relative_to(sample_dir().resolve())


def _one(client, a, me, done, written, yes, show, observed) -> Outcome:
    kind, t = a["kind"], a["target"]
    if a["id"] in done:
        return Outcome(a, "noop", "already done (apply log)")
    if t["id"] == me and not a.get("force"):
        return Outcome(a, "refused", "this is the token doing the apply; set force: true to allow")
    try:
        current = client.get(t["path"], cast_to=object)["result"]
    except cloudflare.NotFoundError:
        current = None
    except cloudflare.APIStatusError as e:
        return Outcome(a, "failed", f"reading the {t['type']}: HTTP {e.status_code}")
    if holds(kind, a["after"], current):
        return Outcome(a, "noop", "already in place")
    if current is None:
        return Outcome(a, "skipped", f"the {t['type'].replace('_', ' ')} no longer exists")
    expected = written.get(t["id"], a["guard"].get("version"))
    if version(t, current) != expected:
        return Outcome(
            a,
            "skipped",
            f"changed since the plan (now {version(t, current)}, planned against {expected});"
            " plan again",
        )
    if kind == "delete_token" and not a.get("force") and current.get("last_used_on"):
        last = datetime.fromisoformat(str(current["last_used_on"]).replace("Z", "+00:00"))
        if datetime.now(UTC) - last < RECENT:
            return Outcome(a, "refused", f"used {current['last_used_on']}, within 7 days")
    if not yes:
        return Outcome(a, "would", a["request"])
    try:
        if kind == "delete_token":
            client.delete(t["path"], cast_to=object)
        elif kind == "roll_token":
            value = client.put(t["path"] + "/value", cast_to=object, body={})["result"]
            show(t, value)
            del value
            observed.append(
                {
                    "token_id": t["id"],
                    "account_id": t["account_id"],
                    "format": "scannable",
                    "source": "roll",
                    "observed_at": _now(),
                }
            )
        elif kind == "narrow_member":
            client.put(t["path"], cast_to=object, body=_member_body(client, t, current, a))
        else:
            client.put(t["path"], cast_to=object, body=_put_body(current, a["after"]))
    except cloudflare.APIStatusError as e:
        return Outcome(a, "failed", f"HTTP {e.status_code}")
    if kind == "delete_token":
        return Outcome(a, "done", a["request"])
    # the change is made (a rolled value is already shown or stored): it is done, whatever
    # reading it back says; a failed read only means the next action on it cannot be guarded
    try:
        written[t["id"]] = version(t, client.get(t["path"], cast_to=object)["result"])
    except cloudflare.APIStatusError as e:
        written[t["id"]] = "(unknown: read back failed)"
        return Outcome(
            a, "done", f"{a['request']}; reading it back failed (HTTP {e.status_code}): pull and"
            " plan again before changing it further"
        )  # fmt: skip
    return Outcome(a, "done", a["request"])
