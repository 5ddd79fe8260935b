"""``?`` / F1: what the view under it shows, and its keys as they are bound now (keymap applied)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from mlrelease.tui import keys
from mlrelease.tui.screens.base import BaseScreen

SCOPE_TITLES = {
    "overview": "This view",
    "model": "This view",
    "compare": "This view",
    "table": "Lists",
    "release": "Release actions (refused in read-only mode)",
    "app": "Everywhere",
}


class HelpScreen(ModalScreen[None]):
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
                    yield Static(Text(keys.fill(self.app, under.HELP, self._keymap())), classes="help-text")
                yield Static(self._keys_table(scopes))
                yield Static(
                    Text(
                        "Keys can be changed in ~/.config/mlrelease/config.yaml under 'keymap:' "
                        "(binding id: keys), e.g.  keymap: {release.promote: P}. See docs/tui.md.",
                        style="dim",
                    )
                )
            hint = keys.fill(self.app, "{help.close} close · {table.down} / {table.up} scroll", self._keymap())
            yield Static(Text(hint, style="dim"))

    def _keymap(self) -> dict[str, str]:
        user_config = getattr(self.app, "user_config", None)
        return user_config.keymap if user_config is not None else {}

    def _keys_table(self, scopes: tuple[str, ...]) -> Text:
        """One line per binding: keys as bound now, name, binding id, then what it does (free to wrap)."""
        keymap = self._keymap()
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

    def _body(self) -> VerticalScroll:
        return self.query_one("#help-body", VerticalScroll)

    def action_cursor_down(self) -> None:
        self._body().scroll_down()

    def action_cursor_up(self) -> None:
        self._body().scroll_up()

    def action_page_down(self) -> None:
        self._body().scroll_page_down()

    def action_page_up(self) -> None:
        self._body().scroll_page_up()

    def action_scroll_top(self) -> None:
        self._body().scroll_home()

    def action_scroll_bottom(self) -> None:
        self._body().scroll_end()
