"""Strict reading of one backend instance's settings from mlrelease.yaml.

The registry parser hands each backend its settings unchecked (only the plugin knows
them), so every built-in backend reads them through :class:`Settings`: a misspelt key or
a wrong type is refused when the backend is created, before any commit or call is made,
with one message that names the key as ``mlrelease.yaml: backends.NAME.KEY: problem``.
All problems of an instance are collected and reported together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from mlrelease.errors import BackendConfigError
from mlrelease.registry import layout
from mlrelease.registry.fields import describe

CONFIG = layout.CONFIG
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING = object()


class Settings:
    """Typed access to one backend instance's settings; :meth:`done` refuses unknown keys."""

    def __init__(self, name: str, kind: str, settings: Mapping[str, object]) -> None:
        self.name = name
        self.kind = kind
        self.data = dict(settings)
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def where(self, key: str) -> str:
        return f"backends.{self.name}.{key}"

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where(key)}: {message}")

    def error(self, key: str, message: str) -> BackendConfigError:
        """An error for one key, for checks made after :meth:`done` (e.g. at run time)."""
        return BackendConfigError(f"{CONFIG}: {self.where(key)}: {message}")

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _get(self, key: str, required: bool) -> object:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, f"is required for a {self.kind} backend")
            return _MISSING
        return value

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._get(key, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            self.problem(key, f"must be text, not {describe(value)} (quote it)")
            return default
        if not value:
            self.problem(key, "must not be empty")
            return default
        return value

    def choice(self, key: str, choices: tuple[str, ...], *, default: str) -> str:
        value = self.text(key, default=default) or default
        if value not in choices:
            self.problem(key, f"must be one of {', '.join(choices)}, not {value!r}")
            return default
        return value

    def seconds(self, key: str, *, default: float, maximum: float | None = None) -> float:
        """A positive number of seconds."""
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.problem(key, f"must be a number of seconds, not {describe(value)}")
            return default
        if value <= 0 or (maximum is not None and value > maximum):
            limit = f" and at most {maximum:g}" if maximum is not None else ""
            self.problem(key, f"must be more than 0{limit}, not {value:g}")
            return default
        return float(value)

    def whole(self, key: str, *, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"must be a whole number, not {describe(value)}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and {maximum}" if maximum is not None else " or more"
            self.problem(key, f"must be between {minimum}{upper}, not {value}")
            return default
        return value

    def text_list(self, key: str, *, required: bool = False) -> tuple[str, ...] | None:
        """A list of text items; whole numbers are taken as their digits, other types refused."""
        value = self._get(key, required)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            self.problem(key, f"must be a list, not {describe(value)}")
            return None
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                out.append(str(item))
            else:
                self.problem(f"{key}[{i}]", f"must be text, not {describe(item)} (quote it)")
        if required and not value:
            self.problem(key, "must not be empty")
        return tuple(out)

    def text_map(self, key: str) -> dict[str, str]:
        """A mapping of names to text (numbers are taken as written digits)."""
        value = self._get(key, False)
        if value is _MISSING:
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"must be a mapping, not {describe(value)}")
            return {}
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, str):
                out[k] = v
            elif isinstance(v, int) and not isinstance(v, bool):
                out[k] = str(v)
            else:
                self.problem(f"{key}.{k}", f"must be text, not {describe(v)} (quote it)")
        return out

    def env_name(self, key: str, *, required: bool = False) -> str | None:
        """The name of an environment variable (that holds a secret, never the secret)."""
        value = self.text(key, required=required)
        if value is not None and not ENV_NAME.fullmatch(value):
            self.problem(key, f"must be the name of an environment variable (letters, digits, _), not {value!r}")
            return None
        return value

    def env_names(self, key: str) -> tuple[str, ...]:
        names = self.text_list(key) or ()
        for i, name in enumerate(names):
            if not ENV_NAME.fullmatch(name):
                self.problem(f"{key}[{i}]", f"must be the name of an environment variable, not {name!r}")
        return tuple(n for n in names if ENV_NAME.fullmatch(n))

    def folder_inside(self, key: str, root: Path, rel: str) -> Path | None:
        """Folder ``rel`` resolved under ``root``; refused if absolute, missing or leaving ``root``."""
        if Path(rel).is_absolute():
            self.problem(key, f"must be a path relative to the registry folder, not {rel!r}")
            return None
        base = root.resolve()
        full = (base / rel).resolve()
        if full != base and base not in full.parents:
            self.problem(key, f"{rel!r} leads outside the registry folder")
            return None
        if not full.is_dir():
            self.problem(key, f"{rel!r} is not a folder under {base}")
            return None
        return full

    def done(self) -> None:
        """Refuse unknown keys, then raise one error holding every problem found."""
        for key in self.data:
            if key not in self.seen:
                self.problem(key, f"unknown setting for a {self.kind} backend")
        if self.problems:
            raise BackendConfigError("; ".join(f"{CONFIG}: {p}" for p in self.problems))
