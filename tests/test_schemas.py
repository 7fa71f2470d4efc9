"""The frames' contract: string columns, validation errors, the cached column lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandera.engines import pandas_engine

from cfposture import schemas
from cfposture.errors import NormalizeError
from cfposture.load import load


@pytest.fixture(scope="module")
def snap():
    return load("sample")


def _string_columns(model):
    return [
        name
        for name, col in model.to_schema().columns.items()
        if isinstance(col.dtype, schemas.Text)
    ]


def test_every_declared_string_column_is_text_and_loads_as_str(snap):
    """The models declare text columns with ``Text`` (pandera's STRING checked once per
    column); after a load each such column has pandas' ``str`` dtype."""
    for name, model in schemas.FRAMES.items():
        text = _string_columns(model)
        assert text, name
        df = getattr(snap, name)
        for col in text:
            assert df[col].dtype == pd.StringDtype(na_value=np.nan), (name, col, df[col].dtype)


def test_text_passes_the_string_dtype_at_once_and_checks_anything_else():
    text = schemas.Text()
    same = pandas_engine.Engine.dtype(pd.StringDtype(na_value=np.nan))
    assert text.check(same, pd.Series(["a", None], dtype="str")) is True
    assert not text.check(pandas_engine.Engine.dtype("int64"), pd.Series([1, 2]))
    # object columns are judged value by value, as pandera does
    verdict = text.check(
        pandas_engine.Engine.dtype("object"), pd.Series(["a", 3, None], dtype=object)
    )
    assert list(np.asarray(verdict, dtype=bool)) == [True, False, True]


def test_a_frame_breaking_its_schema_still_names_frame_and_column(snap):
    bad = snap.tokens.copy()
    bad.loc[bad.index[0], "status"] = "revoked-ish"
    with pytest.raises(NormalizeError, match=r"Tokens frame failed its schema:.*status"):
        schemas.validate(schemas.Tokens, bad)
    dup = pd.concat([snap.zones, snap.zones.head(1)], ignore_index=True)
    with pytest.raises(NormalizeError, match=r"Zones frame failed its schema:.*zone_id"):
        schemas.validate(schemas.Zones, dup)


def test_values_are_coerced_to_text(snap):
    """Coercion runs before the dtype check: a number where text belongs becomes text."""
    df = snap.zones.copy()
    df["status"] = pd.Series([7] * len(df), dtype=object)
    out = schemas.validate(schemas.Zones, df)
    assert out["status"].dtype == pd.StringDtype(na_value=np.nan)
    assert set(out["status"]) == {"7"}


def test_columns_is_cached_but_each_caller_gets_its_own_list():
    first = schemas.columns(schemas.Tokens)
    first.append("mutated")
    assert schemas.columns(schemas.Tokens) == list(schemas.Tokens.to_schema().columns)


def _calls(monkeypatch, schema) -> list[int]:
    """Count ``schema.validate`` calls (the instance's, not the class's)."""
    seen: list[int] = []
    real = schema.validate

    def counting(*args, **kwargs):
        seen.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(schema, "validate", counting)
    return seen


def test_a_frame_with_validated_dtypes_skips_the_cast_not_the_checks(snap, monkeypatch):
    """A frame that already has the dtypes a validation of its model returned (read back from
    the cache, built from validated frames) is checked without coercion; it gives what the
    coercing validation gives."""
    for name, model in schemas.FRAMES.items():
        df = getattr(snap, name)
        full, checked = schemas._schemas(model)
        expected = model.to_schema().validate(df)
        schemas.validate(model, df.astype(object))  # a cast: the dtypes it gives are learnt
        coerced, unchecked = _calls(monkeypatch, full), _calls(monkeypatch, checked)
        pd.testing.assert_frame_equal(schemas.validate(model, df), expected)
        assert (len(coerced), len(unchecked)) == (0, 1), name


def test_a_frame_failing_without_the_cast_is_judged_with_it(snap, monkeypatch):
    """A frame with the validated dtypes that fails a check goes to the coercing validation,
    whose error is the one reported; the same for one whose columns are out of order."""
    full, checked = schemas._schemas(schemas.Tokens)
    schemas.validate(schemas.Tokens, snap.tokens)
    coerced, unchecked = _calls(monkeypatch, full), _calls(monkeypatch, checked)
    bad = snap.tokens.copy()
    bad.loc[bad.index[0], "status"] = "revoked-ish"
    with pytest.raises(NormalizeError, match=r"Tokens frame failed its schema:.*status"):
        schemas.validate(schemas.Tokens, bad)
    assert (len(coerced), len(unchecked)) == (1, 1)
    shuffled = snap.tokens[list(reversed(snap.tokens.columns))]
    out = schemas.validate(schemas.Tokens, shuffled)
    assert list(out.columns) == schemas.columns(schemas.Tokens)
