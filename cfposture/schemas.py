"""The frames' contract: one pandera model per frame.

The model attributes double as column-name constants (``Tokens.token_id == "token_id"``), so code
refers to columns through the schema and there is no second list to drift. ``strict`` rejects a
column nobody declared; ``coerce`` turns API strings into real dtypes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.dtypes import immutable
from pandera.engines import pandas_engine
from pandera.errors import SchemaError, SchemaErrors
from pandera.typing import Series

from .errors import SEVERITIES, NormalizeError

UTC_TS = {"dtype_kwargs": {"unit": "us", "tz": "UTC"}}

PRINCIPAL_TYPES = ["user_token", "account_token", "member", "user_group", "oauth_app"]
SCOPE_TYPES = ["all_accounts", "account", "all_zones", "zone", "resource", "user"]
ACCESS_LEVELS = ["read", "edit", "admin"]
TOKEN_FORMATS = ["legacy", "scannable", "unknown"]


@pandas_engine.Engine.register_dtype
@immutable(init=True)
class Text(pandas_engine.STRING):
    """pandas' string dtype (``str``), checked once per column.

    pandera's own ``STRING`` answers a column of the right dtype with one ``True`` per row, and
    pandera then builds and formats the (empty) failure cases of every passing string column,
    and most columns are strings: validating the sample's frames took 90 ms, 40 ms with this
    (benchmarks/README.md). A column of exactly this dtype passes at once; any other goes
    through pandera's own element-wise check and failure cases (coercion runs first, so that
    is rare).
    """

    def check(self, pandera_dtype: Any, data_container: Any = None) -> Any:
        try:
            if pandas_engine.Engine.dtype(pandera_dtype).type == self.type:
                return True
        except TypeError:
            return False
        return super().check(pandera_dtype, data_container)


class _Frame(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = True


class Accounts(_Frame):
    account_id: Series[Text] = pa.Field(unique=True)
    name: Series[Text] = pa.Field(nullable=True)
    enforce_twofactor: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    oauth_app_access_enabled: Series[pd.BooleanDtype] = pa.Field(nullable=True)


class Zones(_Frame):
    zone_id: Series[Text] = pa.Field(unique=True)
    account_id: Series[Text] = pa.Field(nullable=True)
    name: Series[Text]
    status: Series[Text] = pa.Field(nullable=True)


class Tokens(_Frame):
    token_id: Series[Text] = pa.Field(unique=True)
    owner_type: Series[Text] = pa.Field(isin=["user", "account"])
    owner_id: Series[Text] = pa.Field(nullable=True)
    owner_email: Series[Text] = pa.Field(nullable=True)
    account_id: Series[Text] = pa.Field(nullable=True)
    name: Series[Text] = pa.Field(nullable=True)
    # who created it (creator_email_at_creation), and the OAuth client that minted it
    # (provisioner_id, when provisioner_type is com.cloudflare.api.oauthtoken)
    creator_email: Series[Text] = pa.Field(nullable=True)
    oauth_client_id: Series[Text] = pa.Field(nullable=True)
    status: Series[Text] = pa.Field(isin=["active", "disabled", "expired", "unknown"])
    issued_on: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **UTC_TS)
    modified_on: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **UTC_TS)
    last_used_on: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **UTC_TS)
    expires_on: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **UTC_TS)
    not_before: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **UTC_TS)
    ip_allow: Series[Text] = pa.Field(nullable=True)
    ip_deny: Series[Text] = pa.Field(nullable=True)
    format: Series[Text] = pa.Field(isin=TOKEN_FORMATS)
    format_source: Series[Text] = pa.Field(isin=["observed", "inferred"])
    inventoried: Series[bool]
    policy_count: Series[pd.Int64Dtype] = pa.Field(nullable=True)


class Grants(_Frame):
    principal_type: Series[Text] = pa.Field(isin=PRINCIPAL_TYPES)
    principal_id: Series[Text]
    principal_name: Series[Text] = pa.Field(nullable=True)
    account_id: Series[Text] = pa.Field(nullable=True)
    policy_id: Series[Text] = pa.Field(nullable=True)
    effect: Series[Text] = pa.Field(isin=["allow", "deny"])
    permission_group_id: Series[Text] = pa.Field(nullable=True)
    permission_group_name: Series[Text]
    access_level: Series[Text] = pa.Field(isin=ACCESS_LEVELS)
    scope_type: Series[Text] = pa.Field(isin=SCOPE_TYPES)
    scope_id: Series[Text] = pa.Field(nullable=True)
    via_group_id: Series[Text] = pa.Field(nullable=True)


class Members(_Frame):
    member_id: Series[Text] = pa.Field(unique=True)
    account_id: Series[Text]
    user_id: Series[Text] = pa.Field(nullable=True)
    email: Series[Text] = pa.Field(nullable=True)
    status: Series[Text] = pa.Field(nullable=True)
    two_factor: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    is_super_admin: Series[bool]
    roles: Series[Text] = pa.Field(nullable=True)


class OAuthApps(_Frame):
    app_id: Series[Text]
    app_name: Series[Text] = pa.Field(nullable=True)
    publisher: Series[Text] = pa.Field(nullable=True)
    verified: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    account_id: Series[Text] = pa.Field(nullable=True)
    user_email: Series[Text] = pa.Field(nullable=True)
    scopes: Series[Text] = pa.Field(nullable=True)
    granted_on: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **UTC_TS)
    last_seen_on: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, **UTC_TS)
    source: Series[Text] = pa.Field(isin=["export", "audit", "published_client"])
    minted_tokens: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)


class AuditEvents(_Frame):
    event_id: Series[Text]
    when: Series[pd.DatetimeTZDtype] = pa.Field(**UTC_TS)
    account_id: Series[Text] = pa.Field(nullable=True)
    actor_type: Series[Text] = pa.Field(nullable=True)
    actor_context: Series[Text] = pa.Field(nullable=True)
    actor_id: Series[Text] = pa.Field(nullable=True)
    actor_email: Series[Text] = pa.Field(nullable=True)
    actor_ip: Series[Text] = pa.Field(nullable=True)
    token_id: Series[Text] = pa.Field(nullable=True)
    token_name: Series[Text] = pa.Field(nullable=True)
    action_type: Series[Text] = pa.Field(nullable=True)
    result: Series[Text] = pa.Field(nullable=True)
    product: Series[Text] = pa.Field(nullable=True)
    resource_type: Series[Text] = pa.Field(nullable=True)
    resource_id: Series[Text] = pa.Field(nullable=True)
    zone_id: Series[Text] = pa.Field(nullable=True)
    method: Series[Text] = pa.Field(nullable=True)
    uri: Series[Text] = pa.Field(nullable=True)


class PermissionCatalog(_Frame):
    permission_group_id: Series[Text] = pa.Field(unique=True)
    # not unique: seven names exist at zone and at account scope, and Cache Purge is both a
    # token group and a member role
    name: Series[Text]
    kind: Series[Text] = pa.Field(isin=["token", "role"])
    scopes: Series[Text]
    access_level: Series[Text] = pa.Field(isin=ACCESS_LEVELS)
    product: Series[Text]
    product_risk: Series[int] = pa.Field(ge=1, le=4)
    risk_weight: Series[float] = pa.Field(ge=0)
    id_source: Series[Text] = pa.Field(isin=["api", "placeholder"])


class Findings(_Frame):
    finding_id: Series[Text] = pa.Field(unique=True)
    rule_id: Series[Text] = pa.Field(str_matches=r"^CFP-[TMO]\d\d$")
    severity: Series[Text] = pa.Field(isin=SEVERITIES)
    checklist_step: Series[int] = pa.Field(isin=[1, 2, 3])
    account_id: Series[Text] = pa.Field(nullable=True)
    principal_type: Series[Text] = pa.Field(isin=[*PRINCIPAL_TYPES, "account"])
    principal_id: Series[Text]
    principal_name: Series[Text] = pa.Field(nullable=True)
    scope: Series[Text]
    title: Series[Text]
    evidence: Series[Text]
    recommendation: Series[Text]
    remedy: Series[Text] = pa.Field(nullable=True)
    status: Series[Text] = pa.Field(isin=["open", "accepted"])


class Scores(_Frame):
    principal_type: Series[Text] = pa.Field(isin=PRINCIPAL_TYPES)
    principal_id: Series[Text]
    principal_name: Series[Text] = pa.Field(nullable=True)
    account_id: Series[Text] = pa.Field(nullable=True)
    lp_gap: Series[float] = pa.Field(ge=0, le=100)
    reach: Series[int] = pa.Field(ge=0)
    granted_weight: Series[float] = pa.Field(ge=0)
    used_weight: Series[float] = pa.Field(ge=0)
    read_reach: Series[float] = pa.Field(ge=0)
    # allow grants by usage state (see cfposture.usage): what the gap could and could not judge
    grants_used: Series[int] = pa.Field(ge=0)
    grants_unused: Series[int] = pa.Field(ge=0)
    grants_unobservable: Series[int] = pa.Field(ge=0)
    grants_unknown: Series[int] = pa.Field(ge=0)
    exposure: Series[float] = pa.Field(ge=0, nullable=True)
    basis: Series[Text] = pa.Field(isin=["usage", "static", "unobservable"])
    window_days: Series[int] = pa.Field(ge=0)


FRAMES: dict[str, type[_Frame]] = {
    "accounts": Accounts,
    "zones": Zones,
    "tokens": Tokens,
    "grants": Grants,
    "members": Members,
    "oauth_apps": OAuthApps,
    "audit_events": AuditEvents,
    "permission_catalog": PermissionCatalog,
}


def columns(model: type[_Frame]) -> list[str]:
    """The model's columns in declaration order."""
    return list(_columns(model))


@cache
def _columns(model: type[_Frame]) -> tuple[str, ...]:
    # pandera builds the schema object on every ``to_schema()`` call (ms each, ~30 per load)
    return tuple(model.to_schema().columns)


def empty(model: type[_Frame]) -> pd.DataFrame:
    """A valid zero-row frame, for endpoints the snapshot does not have."""
    return validate(model, pd.DataFrame({c: [] for c in columns(model)}))


@cache
def _schemas(model: type[_Frame]) -> tuple[pa.DataFrameSchema, pa.DataFrameSchema]:
    """The model's schema, built once (``model.validate`` builds it anew on every call, ~0.6
    ms), and the same schema without coercion: every check, the dtypes included, but no cast
    (and none of the copies a cast makes)."""
    full = model.to_schema()
    checked = copy.deepcopy(full)
    checked.coerce = False
    return full, checked


_VALIDATED: dict[type[_Frame], tuple[str, ...]] = {}
"""Per model, the dtypes the last coercing validation returned. A frame that already has
them (read back from the cache, built from validated frames) is validated without coercion:
about half the time of a validation, which runs ~10 times per snapshot judged (benchmarks/
README.md, Report, eleventh session). Should that fail, the coercing validation decides."""


def validate(model: type[_Frame], df: pd.DataFrame) -> pd.DataFrame:
    """Validate ``df`` against ``model``; a failure becomes one line naming frame and column."""
    try:
        cols = columns(model)
        frame = df[cols] if set(cols) <= set(df) else df
        full, checked = _schemas(model)
        if _VALIDATED.get(model) == tuple(map(str, frame.dtypes)):
            try:
                return checked.validate(frame)
            except (SchemaError, SchemaErrors):
                pass  # a cast may still make it valid: the coercing validation says
        out = full.validate(frame)
        _VALIDATED[model] = tuple(map(str, out.dtypes))
        return out
    except (SchemaError, SchemaErrors) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise NormalizeError(
            f"{model.__name__} frame failed its schema: {first[:300]}; the API returned a shape"
            " cfposture does not understand: report it with the snapshot's manifest.json"
        ) from None


def records(df: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """The rows as dicts, with the values ``df.to_dict("records")`` gives, built column by
    column: ``to_dict`` boxes every cell of every (Arrow) column one at a time, which cost the
    token rules ~3 of their 9 s at 100 enterprise accounts (benchmarks/README.md)."""
    cols = list(df.columns)
    for values in zip(*(df[c].tolist() for c in cols), strict=True):
        yield dict(zip(cols, values, strict=True))
