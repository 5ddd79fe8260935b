"""The user's TUI settings: ``$XDG_CONFIG_HOME/mlrelease/config.yaml`` (or ``$MLRELEASE_CONFIG``).

Read with the registry's bounded YAML loader and checked whole before the app starts: a
typo'd binding id or an unknown key name is one clear error naming the file and the
entry, and the app does not start with half a keymap applied. Example::

    keymap:
      release.promote: P          # binding id → comma-separated keys
      app.quit: q,ctrl+c
    refresh_seconds: 2            # how often to look for repository changes (0: never)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from textual.binding import Binding
from textual.keys import KEY_NAME_REPLACEMENTS, Keys, key_to_character

from mlrelease.errors import ManifestError, MlreleaseError, Problem
from mlrelease.registry import yamlsafe
from mlrelease.registry.fields import Fields
from mlrelease.textsafe import visible
from mlrelease.tui.keys import BY_ID

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
_NAMED = {k.value for k in Keys if not k.value.startswith("<")} | set(KEY_NAME_REPLACEMENTS.values())


@dataclass(frozen=True)
class UserConfig:
    keymap: dict[str, str] = field(default_factory=dict)
    refresh_seconds: float = 2.0
    path: Path | None = None


def config_path() -> Path:
    """Where the user's config lives: ``$MLRELEASE_CONFIG``, else under the XDG config folder."""
    explicit = os.environ.get("MLRELEASE_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlrelease" / "config.yaml"


def key_problem(keys: str) -> str | None:
    """Why ``keys`` (Textual's comma-separated key list) cannot be bound, or None."""
    parts = [p.strip() for p in keys.split(",")]
    if not parts or any(not p for p in parts):
        return "is empty or has an empty entry between commas"
    for part in parts:
        *mods, base = part.split("+") if len(part) > 1 else [part]
        bad = [m for m in mods if m not in MODIFIERS]
        if bad:
            return f"key {part!r} has an unknown modifier {bad[0]!r} (known: {', '.join(MODIFIERS)})"
        if len(base) == 1:
            if not base.isprintable() or base.isspace():
                return f"key {part!r} is not a printable character"
            continue
        if base not in _NAMED and key_to_character(base) is None:
            return f"key {part!r} is not a key name Textual knows (e.g. p, P, ctrl+p, f5, enter, escape, slash)"
    return None


# Scopes that are active at the same time: a key may mean one thing only within a group.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("app", "release", "table", "overview"),
    ("app", "release", "table", "model", "history"),
    ("modal", "table"),
    ("help", "table"),
)


def key_names(keys: str) -> list[str]:
    """Textual's names for a comma-separated key list (``?`` → ``question_mark``), as bindings see them."""
    return [b.key for b in Binding.make_bindings([Binding(keys, "noop")])]


def clashes(keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(binding id, message) for every key that the keymap makes mean two things at once."""
    out: list[tuple[str, str]] = []
    for group in GROUPS:
        owner: dict[str, str] = {}
        for key in (k for k in BY_ID.values() if k.scope in group):
            chosen = keymap.get(key.id, key.keys)
            for one in key_names(chosen):
                other = owner.setdefault(one, key.id)
                if other != key.id and (key.id in keymap or other in keymap):
                    culprit = key.id if key.id in keymap else other
                    out.append((culprit, f"keymap: {culprit}: key {one!r} is already bound to {other if culprit == key.id else key.id}"))
    return out


def load_user_config(path: Path | None = None) -> UserConfig:
    """The user's settings, or defaults when the file does not exist; raise on any problem."""
    path = path or config_path()
    if not path.exists():
        return UserConfig()
    shown = visible(str(path), single_line=True)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MlreleaseError(f"{shown}: cannot read: {exc.strerror}") from None
    tree = yamlsafe.load(data, shown)
    if tree is None:
        return UserConfig(path=path)
    problems: list[Problem] = []
    f = Fields(tree, shown, problems)
    keymap: dict[str, str] = {}
    raw = f.map("keymap")
    if raw is not None:
        for binding_id, keys in raw.items():
            line = raw.line_of(binding_id)
            if binding_id not in BY_ID:
                near = [b for b in BY_ID if b.split(".")[-1] == str(binding_id).split(".")[-1]]
                hint = f" (did you mean {near[0]}?)" if near else " (see docs/tui.md for the ids)"
                problems.append(Problem(shown, line, f"keymap: unknown binding id {visible(str(binding_id))!r}{hint}"))
                continue
            if not isinstance(keys, str):
                problems.append(Problem(shown, line, f"keymap: {binding_id}: keys must be text such as 'ctrl+p', not {keys!r}"))
                continue
            reason = key_problem(keys)
            if reason:
                problems.append(Problem(shown, line, f"keymap: {binding_id}: {visible(reason)}"))
                continue
            keymap[binding_id] = keys
    refresh = f.number("refresh_seconds", default=2.0)
    if refresh is not None and refresh < 0:
        f.problem("refresh_seconds", "must be 0 (never) or more")
    f.done()
    if not problems:
        problems.extend(Problem(shown, raw.line_of(a) if raw is not None and a in raw else None, msg) for a, msg in clashes(keymap))
    if problems:
        raise ManifestError(problems)
    return UserConfig(keymap=keymap, refresh_seconds=refresh if refresh is not None else 2.0, path=path)
