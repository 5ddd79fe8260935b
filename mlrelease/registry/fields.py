"""A strict reader over one YAML mapping: typed fields, line numbers, unknown keys refused.

Every parser in the registry reads through :class:`Fields`, so every file kind gets the
same guarantees: a typo'd key is a problem (never silently ignored), a wrong type names
the key and its line, and all problems of a file are collected, not just the first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from mlrelease.errors import Problem
from mlrelease.registry.yamlsafe import YList, YMap

T = TypeVar("T")

_MISSING = object()


def describe(value: object) -> str:
    if isinstance(value, YMap | dict):
        return "a mapping"
    if isinstance(value, YList | list):
        return "a list"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def parse_timestamp(text: str) -> datetime | None:
    """ISO 8601 with a zone (``Z`` or an offset); naive times are refused, not guessed."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    return value


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Fields:
    """Read typed fields out of one mapping, collecting problems into a shared list."""

    def __init__(self, data: object, path: str, problems: list[Problem], *, where: str = "", line: int | None = None) -> None:
        self.path = path
        self.problems = problems
        self.where = where
        self.ok = True
        if isinstance(data, YMap):
            self.data: YMap = data
        else:
            self.data = YMap(getattr(data, "line", line or 1))
            self.problem(line or getattr(data, "line", None), f"{where or 'the file'} must be a mapping, not {describe(data)}")
        self.seen: set[str] = set()

    @property
    def line(self) -> int:
        return self.data.line

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def problem(self, line: int | None, message: str) -> None:
        self.ok = False
        self.problems.append(Problem(self.path, line, message))

    def line_of(self, key: str) -> int:
        return self.data.line_of(key)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.problem(self.data.line if value is _MISSING else self.line_of(key), f"missing required field '{self.name(key)}'")
            return _MISSING
        return value

    def _wrong(self, key: str, expected: str, value: object) -> None:
        self.problem(self.line_of(key), f"'{self.name(key)}' must be {expected}, not {describe(value)}")

    def str(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        """Text as written: numbers keep their source text (``1.10`` stays ``"1.10"``)."""
        value = self._get(key, required)
        if value is _MISSING:
            return default
        if isinstance(value, YMap | YList):
            self._wrong(key, "text", value)
            return default
        return self.data.raw.get(key, value if isinstance(value, str) else str(value))

    def req_str(self, key: str) -> str:
        return self.str(key, required=True) or ""

    def choice(self, key: str, choices: tuple[str, ...], *, default: str | None = None, required: bool = False) -> str | None:
        value = self.str(key, required=required, default=default)
        if value is not None and value not in choices:
            self.problem(self.line_of(key), f"'{self.name(key)}' must be one of {', '.join(choices)}, not {value!r}")
            return default
        return value

    def number(self, key: str, *, required: bool = False, default: float | None = None) -> float | None:
        value = self._get(key, required)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self._wrong(key, "a number", value)
            return default
        return float(value)

    def int(self, key: str, *, required: bool = False, default: int | None = None, minimum: int | None = None) -> int | None:
        value = self._get(key, required)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "a whole number", value)
            return default
        if minimum is not None and value < minimum:
            self.problem(self.line_of(key), f"'{self.name(key)}' must be at least {minimum}, not {value}")
            return default
        return value

    def bool(self, key: str, *, default: bool = False) -> bool:
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
            return default
        return value

    def timestamp(self, key: str, *, required: bool = False) -> datetime | None:
        text = self.str(key, required=required)
        if text is None:
            return None
        value = parse_timestamp(text)
        if value is None:
            self.problem(
                self.line_of(key), f"'{self.name(key)}' must be an ISO 8601 time with a zone (e.g. 2026-03-01T09:30:00Z), not {text!r}"
            )
        return value

    def str_list(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self._get(key, required)
        if value is _MISSING:
            return ()
        if not isinstance(value, YList):
            self._wrong(key, "a list", value)
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, YMap | YList) or item is None:
                self.problem(value.item_lines[i], f"'{self.name(key)}' items must be text, not {describe(item)}")
            else:
                out.append(item if isinstance(item, str) else _scalar_text(item))
        return tuple(out)

    def map(self, key: str, *, required: bool = False) -> YMap | None:
        value = self._get(key, required)
        if value is _MISSING:
            return None
        if not isinstance(value, YMap):
            self._wrong(key, "a mapping", value)
            return None
        return value

    def list(self, key: str, *, required: bool = False) -> YList | None:
        value = self._get(key, required)
        if value is _MISSING:
            return None
        if not isinstance(value, YList):
            self._wrong(key, "a list", value)
            return None
        return value

    def sub(self, key: str, *, required: bool = False) -> Fields | None:
        value = self.map(key, required=required)
        if value is None:
            return None
        return Fields(value, self.path, self.problems, where=self.name(key))

    def each(self, key: str, parse: Callable[[Fields], T], *, required: bool = False) -> tuple[T, ...]:
        """Parse every item of a list of mappings."""
        seq = self.list(key, required=required)
        if not seq:
            return ()
        out = []
        for i, item in enumerate(seq):
            f = Fields(item, self.path, self.problems, where=f"{self.name(key)}[{i}]", line=seq.item_lines[i])
            if f.ok:
                out.append(parse(f))
                f.done()
        return tuple(out)

    def number_map(self, key: str) -> dict[str, float]:
        """A mapping of names to finite numbers (metrics, live figures)."""
        m = self.map(key)
        if m is None:
            return {}
        out: dict[str, float] = {}
        for k, v in m.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                self.problem(m.line_of(k), f"'{self.name(key)}.{k}' must be a number, not {describe(v)}")
            else:
                out[k] = float(v)
        return out

    def scalar_map(self, key: str) -> dict[str, str | float | bool | None]:
        """A mapping of names to scalars (params): nested structures refused."""
        m = self.map(key)
        if m is None:
            return {}
        out: dict[str, str | float | bool | None] = {}
        for k, v in m.items():
            if isinstance(v, YMap | YList):
                self.problem(m.line_of(k), f"'{self.name(key)}.{k}' must be a single value, not {describe(v)}")
            elif isinstance(v, str) or v is None or isinstance(v, bool):
                out[k] = v
            else:
                out[k] = v if isinstance(v, float) else int(v)
        return out

    def done(self) -> None:
        """Report every key that was not read: unknown keys are errors, never ignored."""
        for key in self.data:
            if key not in self.seen:
                self.problem(self.line_of(key), f"unknown key '{self.name(key)}'")


def _scalar_text(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
