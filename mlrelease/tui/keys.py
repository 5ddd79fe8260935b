"""Every key binding of the TUI, once, with a stable id.

Screens build their ``BINDINGS`` from this table, the user keymap is checked against it
(an unknown id is an error, not a silent no-op), the help screen and the command palette
list it, and docs/tui.md documents it. Ids never change meaning: a user's keymap file
keeps working across releases.

Every mutating binding has ``mutating=True`` and the action ``app.release('<kind>')``:
all of them go through :meth:`mlrelease.tui.app.MlreleaseApp.action_release`, the one
dispatcher where read-only is enforced (tests press each of them in read-only mode).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.binding import Binding

from mlrelease.release.kinds import KINDS

if TYPE_CHECKING:
    from textual.app import App

# The actions the release service offers, in the order the palette lists them; "bundle" is
# promote for the models of a bundle (mlrelease.release.bundle).
RELEASE_KINDS: tuple[str, ...] = (*KINDS, "bundle")


@dataclass(frozen=True)
class Key:
    """One binding: ``scope`` is where it is active (app, overview, model, table, modal...)."""

    id: str
    keys: str
    action: str
    description: str
    scope: str
    show: bool = True
    mutating: bool = False
    priority: bool = False
    help: str = ""

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.description, show=self.show, id=self.id, priority=self.priority)


def _release(kind: str, keys: str, description: str, help_text: str, *, show: bool = True) -> Key:
    return Key(f"release.{kind}", keys, f"app.release('{kind}')", description, "release", show=show, mutating=True, help=help_text)


KEYS: tuple[Key, ...] = (
    # ---- everywhere ---------------------------------------------------------------------
    Key("app.help", "question_mark,f1", "app.help", "Help", "app", help="keys and help for the current view"),
    Key(
        "app.palette",
        "ctrl+p",
        "app.command_palette",
        "Palette",
        "app",
        priority=True,
        help="every action and view, searchable",
    ),
    Key("app.reload", "ctrl+r,f5", "app.reload", "Reload", "app", help="read the registry again now"),
    Key("app.fetch", "F", "app.fetch", "Fetch", "app", show=False, help="git fetch from the configured remote, then reload"),
    Key("app.activity", "at", "app.activity", "Activity", "app", show=False, help="actions run in this session and their results"),
    Key(
        "app.notifications",
        "N",
        "app.notifications",
        "Notifications",
        "app",
        show=False,
        help="the delivery log: every notification sent or not, and why not (as `mlrelease notify log`)",
    ),
    Key("app.back", "escape", "app.back", "Back", "app", help="close this view"),
    Key(
        "app.earlier",
        "left_square_bracket",
        "app.travel(-1)",
        "Earlier",
        "app",
        show=False,
        help="the registry at the release event before the one shown: the past, read-only",
    ),
    Key(
        "app.later",
        "right_square_bracket",
        "app.travel(1)",
        "Later",
        "app",
        show=False,
        help="the registry at the next release event; after the last one, the present again",
    ),
    Key("app.quit", "q", "app.quit", "Quit", "app", help="quit mlrelease"),
    # ---- release actions (mutating: all go through the one dispatcher) ------------------
    _release("promote", "p", "Promote", "promote a version to an environment (plan, gates, reason, confirm)"),
    _release("rollback", "b", "Rollback", "roll an environment back to what was live before (pins it)"),
    _release("retrain", "t", "Retrain", "ask the retrain backend to train a new version"),
    _release("approve", "a", "Approve", "approve a version for an environment's approval gate (or break-glass, ticked in its plan)"),
    _release("reject", "x", "Reject", "mark a version as never promotable", show=False),
    _release("unpin", "u", "Unpin", "remove the pin a rollback left on an environment", show=False),
    _release("pin", "P", "Pin", "hold an environment (pause a rollout): promotions wait until it is unpinned", show=False),
    _release("review", "V", "Review", "review a break-glass promotion after the fact (a third person; clears its flag)", show=False),
    _release("bundle", "B", "Bundle", "promote a bundle of mlrelease.yaml (bundles:) as one change: all of it or none", show=False),
    _release("reconcile", "R", "Reconcile", "finish actions a crash or a failed write left Pending (asks the backend)", show=False),
    # ---- tables (overview, versions, history...), the environment chooser, help ----------
    Key("table.down", "j,down", "cursor_down", "Down", "table", show=False, help="next row"),
    Key("table.up", "k,up", "cursor_up", "Up", "table", show=False, help="previous row"),
    Key("table.page_down", "pagedown", "page_down", "Page down", "table", show=False, help="a screenful down"),
    Key("table.page_up", "pageup", "page_up", "Page up", "table", show=False, help="a screenful up"),
    Key("table.top", "g,home", "scroll_top", "Top", "table", show=False, help="first row"),
    Key("table.bottom", "G,end", "scroll_bottom", "Bottom", "table", show=False, help="last row"),
    Key("table.left", "left", "scroll_left", "Left", "table", show=False, help="scroll a wide list left"),
    Key("table.right", "right", "scroll_right", "Right", "table", show=False, help="scroll a wide list right"),
    # ---- overview -----------------------------------------------------------------------
    Key("overview.open", "enter", "open", "Open", "overview", help="open the selected model"),
    Key(
        "overview.filter", "slash", "filter", "Filter", "overview", help="filter: fuzzy on model and owner, as typed on the rest; ! inverts"
    ),
    Key("overview.sort", "s", "sort", "Sort", "overview", help="sort by the next column"),
    Key("overview.sort_reverse", "S", "sort_reverse", "Reverse", "overview", show=False, help="reverse the sort order"),
    # ---- model view ---------------------------------------------------------------------
    Key("model.versions", "1", "tab('versions')", "Versions", "model", show=False, help="versions table"),
    Key("model.trend", "2", "tab('trend')", "Trend", "model", show=False, help="chart of a metric across versions"),
    Key("model.lineage", "3", "tab('lineage')", "Lineage", "model", show=False, help="data, code, parents, consumers"),
    Key("model.history", "4", "tab('history')", "History", "model", show=False, help="audit trail, newest first"),
    Key("model.telemetry", "5", "tab('telemetry')", "Telemetry", "model", show=False, help="live figures per environment"),
    Key("model.drift", "6", "tab('drift')", "Drift", "model", show=False, help="population stability per feature"),
    Key(
        "model.ab", "7", "tab('ab')", "A/B", "model", show=False, help="the canary against the live version: both arms, verdict per metric"
    ),
    Key(
        "model.advance",
        "A",
        "advance",
        "Advance",
        "model",
        show=False,
        help="advance the model's rollout to its next step now (plan, reason, confirm; b aborts, P pauses)",
    ),
    Key("model.mark", "space", "mark", "Mark", "model", help="mark a version to compare (two marks compare them)"),
    Key("model.compare", "c", "compare", "Compare", "model", help="compare the marked versions, or the selected one with live"),
    Key("model.metric", "m", "next_metric", "Metric", "model", show=False, help="chart the next metric"),
    Key("model.environment", "e", "next_environment", "Env", "model", show=False, help="show telemetry and drift of the next environment"),
    Key("model.event", "enter", "open_event", "Details", "history", help="the selected event whole: every trailer, commits, forced gates"),
    # ---- modals -------------------------------------------------------------------------
    Key("modal.confirm", "y", "confirm", "Yes", "modal", help="confirm (only once the plan allows it)"),
    Key("modal.cancel", "n,escape", "cancel", "No", "modal", help="cancel; nothing changes"),
    Key("help.close", "escape,q,question_mark,f1", "close", "Close", "help", help="close the help"),
)

BY_ID: dict[str, Key] = {k.id: k for k in KEYS}


def bindings(*scopes: str) -> list[Binding]:
    """The Textual bindings of the given scopes, for a class's ``BINDINGS``."""
    return [k.binding() for k in KEYS if k.scope in scopes]


def in_scope(*scopes: str) -> list[Key]:
    return [k for k in KEYS if k.scope in scopes]


def mutating() -> list[Key]:
    return [k for k in KEYS if k.mutating]


def shown(app: App[object], key: Key, keymap: Mapping[str, str]) -> str:
    """The keys bound to ``key`` now (the user's keymap applied), as the footer writes them."""
    bound = keymap.get(key.id, key.keys)
    return ", ".join(app.get_key_display(key.binding().with_key(k.strip())) for k in bound.split(","))


_PLACEHOLDER = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")


def fill(app: App[object], text: str, keymap: Mapping[str, str]) -> str:
    """Help prose with ``{binding.id}`` replaced by the keys bound to it now (the keymap applied)."""

    def shown_key(match: re.Match[str]) -> str:
        key = BY_ID.get(match.group(1))
        return shown(app, key, keymap) if key is not None else match.group(0)

    return _PLACEHOLDER.sub(shown_key, text)


def user_keymap(app: App[object]) -> Mapping[str, str]:
    """The keymap the user's config applied (none outside the dashboard's app)."""
    user_config = getattr(app, "user_config", None)
    return user_config.keymap if user_config is not None else {}
