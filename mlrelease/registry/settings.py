"""Plugin settings, read by the registry's one strict reader in a plugin's words.

A backend or telemetry source gets its settings from ``mlrelease.yaml`` unchecked (only
the plugin knows them) and reads them through :class:`PluginSettings`, a
:class:`~mlrelease.registry.fields.Fields`: every problem is collected with its line,
unknown keys are refused at :meth:`~PluginSettings.done`, and ``mlrelease lint`` can
run the same reading without secrets or the network (:class:`check_mode`).
"""

from __future__ import annotations

import builtins
import contextvars
import math
import re
from collections.abc import Mapping
from pathlib import Path

from mlrelease.errors import Problem, SettingsError
from mlrelease.registry.fields import MISSING, Fields, as_tree, describe
from mlrelease.registry.layout import CONFIG

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # the name of an environment variable

# Set while lint checks plugin settings: PluginSettings.done() then stops the plugin's
# constructor there, before it reads a secret or reaches out (see check_mode).
_CHECKING: contextvars.ContextVar[bool] = contextvars.ContextVar("mlrelease_settings_check", default=False)


class SettingsChecked(Exception):
    """Raised by :meth:`PluginSettings.done` in check mode: the settings were read, with these problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class check_mode:
    """While active, a plugin's constructor stops at its settings' :meth:`~PluginSettings.done`.

    This is how lint checks every backend's and telemetry source's settings without a
    secret or the network: everything a constructor reads through :class:`PluginSettings`
    comes before ``done()``, and everything that needs the environment comes after it.
    """

    def __enter__(self) -> None:
        self._token = _CHECKING.set(True)

    def __exit__(self, *exc: object) -> None:
        _CHECKING.reset(self._token)


class PluginSettings(Fields):
    """One plugin instance's settings in mlrelease.yaml, read strictly.

    ``where`` is the settings' place (``backends.deploy``), ``kind`` what they configure
    (``command backend``); every problem is ``mlrelease.yaml:LINE: where.key: problem``,
    and :meth:`done` raises ``error`` holding all of them. Settings given as plain values
    (from code or tests) have no lines.
    """

    def __init__(self, settings: Mapping[str, object], *, where: str, kind: str, error: type[SettingsError]) -> None:
        tree = as_tree(settings)
        super().__init__(tree, CONFIG, [], where=where, line=getattr(tree, "line", None))
        self.kind = kind
        self.error_type = error

    def said(self, key: str, message: str) -> str:
        return f"{self.name(key)}: {message}"

    def missing(self, key: str) -> str:
        return self.said(key, f"is required for a {self.kind}")

    def unknown(self, key: str) -> str:
        return self.said(key, f"unknown setting for a {self.kind}")

    def error(self, key: str, message: str) -> SettingsError:
        """An error for one key, for checks made after :meth:`done` (e.g. with the environment)."""
        problem = Problem(self.path, self.line_of(key) or None, self.said(key, message))
        return self.error_type(builtins.str(problem), [problem])

    def done(self) -> None:
        """Refuse unknown keys, then raise one error holding every problem found."""
        super().done()
        if _CHECKING.get():
            raise SettingsChecked(self.problems)
        if self.problems:
            raise self.error_type("; ".join(builtins.str(p) for p in self.problems), list(self.problems))

    # ---- getters for plain values (settings are not manifests: no source text) -----------

    def text(self, key: str, *, required: bool = False, default: builtins.str | None = None) -> builtins.str | None:
        value = self._get(key, required)
        if value is MISSING:
            return default
        if not isinstance(value, builtins.str):
            self.problem(key, f"must be text, not {describe(value)} (quote it)")
            return default
        if not value.strip():
            self.problem(key, "must not be empty")
            return default
        return value

    def choice(
        self, key: str, choices: tuple[builtins.str, ...], *, default: builtins.str | None = None, required: bool = False
    ) -> builtins.str | None:
        return self._one_of(key, self.text(key, default=default, required=required), choices, default)

    def number(
        self, key: str, *, required: bool = False, default: float | None = None, minimum: float | None = None, maximum: float | None = None
    ) -> float | None:
        number = self._finite(key, required)
        if number is None:
            return default
        low, high = -math.inf if minimum is None else minimum, math.inf if maximum is None else maximum
        if not low <= number <= high:
            self.problem(key, f"must be between {low:g} and {high:g}, not {number:g}")
            return default
        return number

    def seconds(self, key: str, *, default: float, maximum: float | None = None) -> float:
        """A positive number of seconds."""
        number = self._finite(key, False, "a number of seconds")
        if number is None:
            return default
        if number <= 0 or (maximum is not None and number > maximum):
            limit = f" and at most {maximum:g}" if maximum is not None else ""
            self.problem(key, f"must be more than 0{limit}, not {number:g}")
            return default
        return number

    def whole(self, key: str, *, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self._get(key, False)
        if value is MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"must be a whole number, not {describe(value)}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and {maximum}" if maximum is not None else " or more"
            self.problem(key, f"must be between {minimum}{upper}, not {value}")
            return default
        return value

    def mapping(self, key: str) -> dict[builtins.str, object]:
        """A mapping (``{}`` when absent or wrong, the wrong one reported)."""
        return dict(self.map(key) or {})

    def text_list(self, key: str, *, required: bool = False) -> tuple[builtins.str, ...] | None:
        """A list of text items; whole numbers are taken as their digits, other types refused."""
        value = self.list(key, required=required)
        if value is None:
            return None
        out: list[builtins.str] = []
        for i, item in enumerate(value):
            if isinstance(item, builtins.str):
                out.append(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                out.append(builtins.str(item))
            else:
                self.problem(f"{key}[{i}]", f"must be text, not {describe(item)} (quote it)")
        if required and not value:
            self.problem(key, "must not be empty")
        return tuple(out)

    def text_map(self, key: str) -> dict[builtins.str, builtins.str]:
        """A mapping of names to text (numbers are taken as written digits)."""
        out: dict[builtins.str, builtins.str] = {}
        for k, v in self.mapping(key).items():
            if isinstance(v, builtins.str):
                out[k] = v
            elif isinstance(v, int) and not isinstance(v, bool):
                out[k] = builtins.str(v)
            else:
                self.problem(f"{key}.{k}", f"must be text, not {describe(v)} (quote it)")
        return out

    def env_name(self, key: str, *, required: bool = False) -> builtins.str | None:
        """The name of an environment variable (that holds a secret, never the secret)."""
        value = self.text(key, required=required)
        if value is not None and not ENV_NAME.fullmatch(value):
            self.problem(key, f"must be the name of an environment variable (letters, digits, _), not {value!r}")
            return None
        return value

    def env_names(self, key: str) -> tuple[builtins.str, ...]:
        names = self.text_list(key) or ()
        for i, name in enumerate(names):
            if not ENV_NAME.fullmatch(name):
                self.problem(f"{key}[{i}]", f"must be the name of an environment variable, not {name!r}")
        return tuple(n for n in names if ENV_NAME.fullmatch(n))

    def folder_inside(self, key: str, root: Path, rel: builtins.str) -> Path | None:
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
