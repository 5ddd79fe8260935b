"""``output.json_text`` writes exactly what ``json.dumps(to_data(v), indent=2, ensure_ascii=True)`` wrote.

print_json's one-pass encoder replaced the standard library's for speed (``check --json``
at 100,000 versions); every script reading mlrelease's JSON must see the same bytes, so
the two are compared over generated values: every JSON type, the types ``to_data``
converts (dataclasses without their ``lines``, tuples, sets, timestamps, patterns,
non-finite floats, enums), non-ASCII and control characters, and nesting.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlrelease.cli.output import json_text, to_data
from mlrelease.jsontext import Fragment


class Colour(StrEnum):
    RED = "red"
    GREEN = "grün"


class Level(IntEnum):
    LOW = 1
    HIGH = 7


@dataclass(frozen=True)
class Leaf:
    name: str
    value: Any
    lines: dict[str, int] = field(default_factory=lambda: {"name": 3})  # lint's bookkeeping: never written


def reference(value: Any) -> str:
    return json.dumps(to_data(value), indent=2, ensure_ascii=True, allow_nan=False)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from([Colour.RED, Colour.GREEN, Level.LOW, Level.HIGH, re.compile(r"[a-z]+\d"), '\u202e\x1b[31m\n"\\']),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
)
keys = st.one_of(st.text(max_size=8), st.integers(-5, 5), st.sampled_from([Colour.RED, True, None, 1.5]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.frozensets(st.integers(-3, 3) | st.text(max_size=3), max_size=4),
        st.dictionaries(keys, inner, max_size=4),
        st.builds(Leaf, st.text(max_size=6), inner),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(values)
def test_the_same_text_as_the_standard_library(value: Any) -> None:
    assert json_text(value) == reference(value)


def fragments(value: Any) -> Any:
    """``value`` with every container below the top written ahead as a :class:`Fragment` (what check keeps)."""
    if isinstance(value, dict):
        return {k: Fragment.of(v) if isinstance(v, dict | list | tuple) else v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [Fragment.of(v) if isinstance(v, dict | list | tuple) else v for v in value]
    return Fragment.of(value)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(values, max_size=3) | st.dictionaries(st.text(max_size=4), values, max_size=3))
def test_text_written_ahead_is_the_text_written_in_place(value: Any) -> None:
    """A fragment lands at any depth (re-indented); to_data takes its value, so json.dumps agrees too."""
    wrapped = {"health": [{"row": fragments(value)}], "top": Fragment.of(value)}
    plain = {"health": [{"row": value}], "top": value}
    assert json_text(wrapped) == json_text(plain) == reference(wrapped) == reference(plain)


def test_empty_containers_and_non_finite_floats() -> None:
    value = {"a": [], "b": {}, "c": (), "d": [math.inf, -math.inf, math.nan, 0.1], "e": [[{}], {"x": []}]}
    assert json_text(value) == reference(value)


def test_what_json_refuses_is_refused() -> None:
    with pytest.raises(TypeError):
        json_text({"when": datetime(2026, 1, 1, tzinfo=UTC).date()})
    with pytest.raises(TypeError):
        json_text([object()])
