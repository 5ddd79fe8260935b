"""``?`` / F1: what the view under it shows, and its keys as they are bound now (keymap applied)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from mlrelease.tui import keys
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.screens.scrolling import ScrollKeys

SCOPE_TITLES = {
    "overview": "This view",
    "model": "This view",
    "compare": "This view",
    "table": "Lists",
    "release": "Release actions (refused in read-only mode)",
    "app": "Everywhere",
}


class HelpScreen(ScrollKeys, ModalScreen[None]):
    SCROLLS = "#help-body"

    BINDINGS = keys.bindings("help", "table")

    def __init__(self, under: Screen[object]) -> None:
        super().__init__(classes="modal help")
        self._under = under

    def compose(self) -> ComposeResult:
        under = self._under
        title = under.TITLE if isinstance(under, BaseScreen) and under.TITLE else "mlrelease"
        scopes = under.SCOPES if isinstance(under, BaseScreen) else ("app",)
        with Vertical(classes="dialog wide"):
            yield Static(Text(f"Help — {title}", style="bold"), classes="dialog-title")
            with VerticalScroll(id="help-body"):
                if isinstance(under, BaseScreen) and under.HELP:
                    yield Static(Text(keys.fill(self.app, under.HELP, keys.user_keymap(self.app))), classes="help-text")
                yield Static(self._keys_table(scopes))
                yield Static(
                    Text(
                        "Keys can be changed in ~/.config/mlrelease/config.yaml under 'keymap:' "
                        "(binding id: keys), e.g.  keymap: {release.promote: P}. See docs/tui.md.",
                        style="dim",
                    )
                )
            hint = keys.fill(self.app, "{help.close} close · {table.down} / {table.up} scroll", keys.user_keymap(self.app))
            yield Static(Text(hint, style="dim"))

    def _keys_table(self, scopes: tuple[str, ...]) -> Text:
        """One line per binding: keys as bound now, name, binding id, then what it does (free to wrap)."""
        keymap = keys.user_keymap(self.app)
        rows: list[tuple[str, str, str, str] | str] = []
        for scope in scopes:
            rows.append(SCOPE_TITLES.get(scope, scope))
            for key in keys.in_scope(scope):
                rows.append((keys.shown(self.app, key, keymap), key.description, key.id, key.help))
        width = [max((len(r[i]) for r in rows if isinstance(r, tuple)), default=0) for i in range(3)]
        out = Text()
        for row in rows:
            if isinstance(row, str):
                out.append(f"\n{row}\n", style="bold underline")
                continue
            shown, name, binding_id, what = row
            out.append(shown.ljust(width[0] + 2), style="bold")
            out.append(name.ljust(width[1] + 2))
            out.append(binding_id.ljust(width[2] + 2), style="dim")
            out.append(what + "\n")
        return out

    def action_close(self) -> None:
        self.dismiss(None)
