"""The command palette (ctrl+p): every action with its key, every view, every model.

Commands run exactly what their key runs (the same action string on the same screen), so
the palette cannot bypass the dispatcher or read-only. Model names are untrusted: they
are shown as literal :class:`~textual.content.Content`, and help text is escaped, because
the palette parses markup in plain strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from mlrelease.tui import keys
from mlrelease.tui.safe import plain

if TYPE_CHECKING:
    from mlrelease.tui.app import MlreleaseApp


@dataclass(frozen=True)
class Command:
    text: str  # shown and matched (already safe: visible escapes)
    help: str
    run: Callable[[], object]


class MlreleaseCommands(Provider):
    """Actions of the screen the palette was opened on, app-wide actions, views and models."""

    @property
    def mlr(self) -> MlreleaseApp:
        return cast("MlreleaseApp", self.app)

    def commands(self) -> Iterator[Command]:
        from mlrelease.tui.screens.base import BaseScreen

        screen = self.screen
        scopes = screen.SCOPES if isinstance(screen, BaseScreen) else ("app",)
        app = self.mlr
        for key in keys.KEYS:
            if key.scope not in scopes or key.scope == "table":
                continue
            shown = keys.shown(app, key, app.user_config.keymap)
            action = key.action

            def run(action: str = action) -> object:
                return app.run_action(action, screen)

            yield Command(f"{key.description} ({shown})", f"{key.help} · binding id {key.id}", run)
        yield Command("View: activity log", "actions run in this session and their results", app.action_activity)
        yield Command("View: notifications", "the delivery log: sent or not, and why not", app.action_notifications)
        view = app.overview
        if view is not None:
            for summary in view.models:
                name = plain(summary.name)
                yield Command(
                    f"Open model {name}",
                    f"owner {plain(summary.owner)} · {summary.version_count} versions",
                    lambda n=summary.name: app.open_model(n),
                )

    async def discover(self) -> Hits:
        for command in self.commands():
            if command.text.startswith("Open model"):
                continue  # searchable, but too many to list before typing
            yield DiscoveryHit(Content(command.text), command.run, text=command.text, help=escape(command.help))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.text)
            if score > 0:
                yield Hit(score, Content(command.text), command.run, text=command.text, help=escape(command.help))
