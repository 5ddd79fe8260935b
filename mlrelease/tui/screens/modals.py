"""Small modal screens: an error, and a choice from a short list (the plan is in plan.py).

Their keys are the ``modal`` and ``table`` scopes of :mod:`mlrelease.tui.keys`, so a
keymap changes them too. Messages come from registries, git and backends, so they are
shown literally.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from mlrelease.tui import keys
from mlrelease.tui.safe import block, lit


class ErrorModal(ModalScreen[None]):
    """A failure, in words: the one place worker and action failures are shown."""

    BINDINGS = keys.bindings("modal")

    def __init__(self, title: str, message: str, *, hint: str = "") -> None:
        super().__init__(classes="modal error-modal")
        self._title = title
        self._message = message
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(lit(self._title, "bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(block(self._message), id="error-message")
                if self._hint:
                    yield Static(lit(self._hint, "italic"), classes="dim")
            with Horizontal(classes="buttons"):
                yield Button("Close (esc)", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @on(Button.Pressed, "#close")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_confirm(self) -> None:
        self.dismiss(None)


class ChoiceModal(ModalScreen[str | None]):
    """Pick one of a few named things (an environment): arrows or j/k, Enter picks, Esc cancels."""

    BINDINGS = keys.bindings("modal", "table")

    def __init__(self, title: str, choices: list[tuple[str, Text]], *, selected: str | None = None) -> None:
        super().__init__(classes="modal")
        self._title = title
        self._choices = choices
        self._selected = selected

    def compose(self) -> ComposeResult:
        ids = [value for value, _ in self._choices]
        start = ids.index(self._selected) if self._selected in ids else 0
        # Options added after construction (which would highlight the first) and the default set before the
        # first frame: the cursor starts on the suggestion and never jumps there from the first row.
        options = OptionList(id="choices")
        options.add_options([Option(self._prompt(i, i == start), id=value) for i, value in enumerate(ids)])
        options.highlighted = start
        with Vertical(classes="dialog"):
            yield Static(lit(self._title, "bold"), classes="dialog-title")
            yield options
            yield Static(Text("enter choose · esc cancel", style="dim"))

    def _prompt(self, index: int, highlighted: bool) -> Text:
        """The choice's label, marked ▸ when highlighted: visible without colour too."""
        return Text.assemble("▸ " if highlighted else "  ", self._choices[index][1])

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        options = self.query_one(OptionList)
        for i in range(len(self._choices)):
            options.replace_option_prompt_at_index(i, self._prompt(i, i == event.option_index))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_page_down(self) -> None:
        self.query_one(OptionList).action_page_down()

    def action_page_up(self) -> None:
        self.query_one(OptionList).action_page_up()

    def action_scroll_top(self) -> None:
        self.query_one(OptionList).action_first()

    def action_scroll_bottom(self) -> None:
        self.query_one(OptionList).action_last()

    def action_confirm(self) -> None:
        self.query_one(OptionList).action_select()

    def action_cancel(self) -> None:
        self.dismiss(None)
