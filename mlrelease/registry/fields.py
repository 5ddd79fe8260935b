"""The one strict reader of YAML mappings: typed fields, line numbers, unknown keys refused.

Every parser in the registry reads through :class:`Fields`, and every plugin (backend or
telemetry source) reads its settings through
:class:`~mlrelease.registry.settings.PluginSettings`, a :class:`Fields` that speaks of
settings. So every file kind and every plugin gets the same guarantees: a
typo'd key is a problem (never silently ignored), a wrong type names the key and its
line, and all problems are collected, not just the first.

The two differ only in words: a manifest problem reads ``'artifact.uri' must be text``,
a setting problem ``backends.deploy.timeout: must be a number of seconds`` (the form
``mlrelease.yaml`` users see from every backend). A message is said of a key by
:meth:`Fields.said`, so a getter is written once for both.
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from mlrelease.errors import ManifestError, Problem
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.yamlsafe import YList, YMap
from mlrelease.textsafe import quoted

T = TypeVar("T")
V = TypeVar("V")

MISSING = object()  # what _get returns for a key that is absent or null
_TOP_KEY = re.compile(r"([^.\[]*)(?:\[(\d+)\])?")  # "argv[1]" → ("argv", "1"); "env.A" → ("env", None)


def describe(value: object) -> str:
    if isinstance(value, YMap | dict):
        return "a mapping"
    if isinstance(value, YList | list):
        return "a list"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else "an infinity"
    if isinstance(value, int) and abs(value) > MAX_WHOLE:
        return f"a number of {_digits(value):,} digits"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def _digits(value: int) -> int:
    """How many decimal digits ``value`` has, without ``str()`` (refused past 4,300 digits)."""
    return int(abs(value).bit_length() * 0.30103) + 1


# Times a registry can hold: wide enough for any real record, narrow enough that adding a
# cadence or converting to any zone can never leave what ``datetime`` can represent.
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
MAX_WHOLE = 2**53  # larger whole numbers lose their value in JSON (and in most readers of it)


def parse_timestamp(text: str) -> datetime | None:
    """ISO 8601 with a zone (``Z`` or an offset); naive times are refused, not guessed.

    Also None for a time outside 1900-9000 UTC (``9999-12-31T23:59:59-23:59`` is in year
    10000 once in UTC): see :data:`EARLIEST`.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return None
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return value if EARLIEST <= utc < LATEST else None


def finite(value: object) -> float | None:
    """``value`` as a finite float, or None for anything else (text, booleans, NaN, ±inf, a 400-digit number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_file(data: object, path: str, body: Callable[[Fields], T]) -> T:
    """``body`` over a whole file's mapping; raise :class:`ManifestError` with every problem found."""
    problems: list[Problem] = []
    f = Fields(data, path, problems)
    result = body(f) if f.ok else None
    f.done()
    if problems:
        raise ManifestError(problems)
    assert result is not None
    return result


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
            self.problem_at(line or getattr(data, "line", None), f"{where or 'the file'} must be a mapping, not {describe(data)}")
        self.seen: set[str] = set()

    @property
    def line(self) -> int:
        return self.data.line

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    # ---- the words: how a problem is said of a key (PluginSettings says it otherwise) ----------

    def said(self, key: str, message: str) -> str:
        return f"'{self.name(key)}' {message}"

    def missing(self, key: str) -> str:
        return f"missing required field '{self.name(key)}'"

    def unknown(self, key: str) -> str:
        return f"unknown key '{self.name(key)}'"

    # ---- problems -------------------------------------------------------------------------

    def problem_at(self, line: int | None, message: str) -> None:
        """A problem at a line, in words of its own."""
        self.ok = False
        self.problems.append(Problem(self.path, line or None, message))

    def problem(self, key: str, message: str) -> None:
        """A problem with ``key`` (``a``, ``a.b`` or ``a[2]`` below this mapping), at its line."""
        self.problem_at(self.line_of(key), self.said(key, message))

    def line_of(self, key: str) -> int:
        """The line of ``key``; for ``a.b`` or ``a[2]`` the line of ``a`` (or of that item of ``a``)."""
        if key in self.data.key_lines:
            return self.data.key_lines[key]
        top = _TOP_KEY.match(key)
        name = top.group(1) if top else key
        value = self.data.get(name)
        index = top.group(2) if top else None
        if isinstance(value, YList) and index is not None and int(index) < len(value.item_lines):
            return value.item_lines[int(index)]
        return self.data.line_of(name)

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        value = self.data.get(key, MISSING)
        if value is MISSING or value is None:
            if required:
                self.problem_at(self.data.line if value is MISSING else self.line_of(key), self.missing(key))
            return MISSING
        return value

    def _wrong(self, key: str, expected: str, value: object) -> None:
        self.problem(key, f"must be {expected}, not {describe(value)}")

    def _instance(self, key: builtins.str, required: builtins.bool, kind: type[V], expected: builtins.str) -> V | None:
        """The value at ``key`` when it is a ``kind``; None when missing or (a problem says so) not one."""
        value = self._get(key, required)
        if value is MISSING:
            return None
        if not isinstance(value, kind):
            self._wrong(key, expected, value)
            return None
        return value

    def _finite(self, key: builtins.str, required: builtins.bool, expected: builtins.str = "a number") -> float | None:
        """The value at ``key`` as a finite number; None when missing or (a problem says so) not one."""
        value = self._get(key, required)
        if value is MISSING:
            return None
        number = finite(value)
        if number is None:
            self._wrong(key, expected, value)
        return number

    def converted(
        self, key: builtins.str, convert: Callable[[builtins.str], V | None], expected: builtins.str, *, required: builtins.bool = False
    ) -> V | None:
        """Text at ``key`` turned into a value by ``convert`` (None: not convertible, a problem saying ``expected``)."""
        text = self.str(key, required=required)
        if text is None:
            return None
        value = convert(text)
        if value is None:
            self.problem(key, f"must be {expected}, not {quoted(text)}")
        return value

    def str(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        """Text as written: numbers keep their source text (``1.10`` stays ``"1.10"``)."""
        value = self._get(key, required)
        if value is MISSING:
            return default
        if isinstance(value, YMap | YList):
            self._wrong(key, "text", value)
            return default
        return self.data.raw.get(key, value if isinstance(value, str) else str(value))

    def name_str(self, key: builtins.str, *, required: builtins.bool = False) -> builtins.str | None:
        """Text that names something that becomes a path: refused unless it is a safe name.

        A name read from a file passes the same rules as one typed on the command line
        (:func:`~mlrelease.registry.names.unsafe_reason`), so no file can lead a read
        outside the registry. A missing required name reads as ``""`` (the file is refused).
        """
        value = self.str(key, required=required)
        if value is None:
            return "" if required else None
        reason = unsafe_reason(value)
        if reason:
            self.problem(key, f"must be a safe name: {quoted(value)} {reason}")
            return "" if required else None
        return value

    def req_str(self, key: builtins.str) -> builtins.str:
        return self.str(key, required=True) or ""

    def choice(
        self, key: builtins.str, choices: tuple[builtins.str, ...], *, default: builtins.str | None = None, required: builtins.bool = False
    ) -> builtins.str | None:
        return self._one_of(key, self.str(key, required=required, default=default), choices, default)

    def _one_of(
        self, key: builtins.str, value: builtins.str | None, choices: tuple[builtins.str, ...], default: builtins.str | None
    ) -> builtins.str | None:
        """``value`` when it is one of ``choices`` (or None); else a problem, and ``default``."""
        if value is not None and value not in choices:
            self.problem(key, f"must be one of {', '.join(choices)}, not {value!r}")
            return default
        return value

    def number(self, key: builtins.str, *, required: builtins.bool = False, default: float | None = None) -> float | None:
        number = self._finite(key, required)
        return default if number is None else number

    def int(
        self,
        key: builtins.str,
        *,
        required: builtins.bool = False,
        default: builtins.int | None = None,
        minimum: builtins.int | None = None,
    ) -> builtins.int | None:
        value = self._get(key, required)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "a whole number", value)
            return default
        if abs(value) > MAX_WHOLE:
            self.problem(key, f"must be at most {MAX_WHOLE:,}, not {describe(value)}")
            return default
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum}, not {value}")
            return default
        return value

    def bool(self, key: builtins.str, *, default: builtins.bool = False) -> builtins.bool:
        value = self._instance(key, False, bool, "true or false")
        return default if value is None else value

    def timestamp(self, key: builtins.str, *, required: builtins.bool = False) -> datetime | None:
        return self.converted(
            key, parse_timestamp, "an ISO 8601 time with a zone (e.g. 2026-03-01T09:30:00Z) from 1900 to 9000", required=required
        )

    def str_list(self, key: builtins.str, *, required: builtins.bool = False) -> tuple[builtins.str, ...]:
        value = self.list(key, required=required)
        if value is None:
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, YMap | YList) or item is None:
                self.problem_at(value.item_lines[i], self.said(key, f"items must be text, not {describe(item)}"))
            else:
                out.append(item if isinstance(item, str) else scalar_text(item))
        return tuple(out)

    def map(self, key: builtins.str, *, required: builtins.bool = False) -> YMap | None:
        return self._instance(key, required, YMap, "a mapping")

    def list(self, key: builtins.str, *, required: builtins.bool = False) -> YList | None:
        return self._instance(key, required, YList, "a list")

    def sub(self, key: builtins.str, *, required: builtins.bool = False) -> Fields | None:
        value = self.map(key, required=required)
        if value is None:
            return None
        return Fields(value, self.path, self.problems, where=self.name(key))

    def each(self, key: builtins.str, parse: Callable[[Fields], T], *, required: builtins.bool = False) -> tuple[T, ...]:
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

    def named(
        self, key: builtins.str, parse: Callable[[Fields], T], *, required: builtins.bool = False, empty: Callable[[], T] | None = None
    ) -> dict[builtins.str, T]:
        """Parse every value of a mapping of names to mappings (metrics, data roles, features).

        ``empty`` builds the value of a name given no mapping (``f1:`` alone), when that is allowed.
        """
        m = self.map(key, required=required)
        out: dict[builtins.str, T] = {}
        for name in m or {}:
            assert m is not None
            if m[name] is None and empty is not None:
                out[name] = empty()
                continue
            f = Fields(m[name], self.path, self.problems, where=f"{self.name(key)}.{name}", line=m.line_of(name))
            if f.ok:
                out[name] = parse(f)
                f.done()
        return out

    def number_map(self, key: builtins.str) -> dict[builtins.str, float]:
        """A mapping of names to finite numbers (metrics, live figures); whole numbers stay int."""
        m = self.map(key)
        if m is None:
            return {}
        out: dict[str, float] = {}
        for k, v in m.items():
            number = finite(v)
            if number is None:
                self.problem_at(m.line_of(k), self.said(f"{key}.{k}", f"must be a number, not {describe(v)}"))
            else:
                out[k] = v if isinstance(v, int) and abs(v) <= MAX_WHOLE else number  # whole numbers stay int
        return out

    def scalar_map(self, key: builtins.str) -> dict[builtins.str, builtins.str | float | builtins.bool | None]:
        """A mapping of names to scalars (params): nested structures refused."""
        m = self.map(key)
        if m is None:
            return {}
        out: dict[str, str | float | bool | None] = {}
        for k, v in m.items():
            if isinstance(v, YMap | YList):
                self.problem_at(m.line_of(k), self.said(f"{key}.{k}", f"must be a single value, not {describe(v)}"))
            elif isinstance(v, str) or v is None or isinstance(v, bool):
                out[k] = v
            elif finite(v) is None or (isinstance(v, int) and abs(v) > MAX_WHOLE):
                self.problem_at(m.line_of(k), self.said(f"{key}.{k}", f"must be a single finite value, not {describe(v)}"))
            else:
                out[k] = v if isinstance(v, float) else int(v)
        return out

    def done(self) -> None:
        """Report every key that was not read: unknown keys are errors, never ignored."""
        for key in self.data:
            if key not in self.seen:
                self.problem_at(self.line_of(key), self.unknown(key))


def scalar_text(value: object) -> str:
    """A plain YAML scalar as a manifest spells it: ``null``, ``true``/``false``, else its text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_tree(value: object, line: int = 0) -> object:
    """Plain values (JSON, or settings given in code) as the registry's YAML tree, all at ``line``.

    One parser then reads both formats; line 0 means "no line" (a problem names the file only).
    """
    if isinstance(value, YMap | YList):
        return value
    if isinstance(value, Mapping):
        out = YMap(line)
        for k, v in value.items():
            out[builtins.str(k)] = as_tree(v, line)
            out.key_lines[builtins.str(k)] = line
        return out
    if isinstance(value, list | tuple):
        seq = YList(line)
        for item in value:
            seq.append(as_tree(item, line))
            seq.item_lines.append(line)
        return seq
    return value
