"""What every tab of the model view shares: the model's data, and being shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.containers import Vertical

from mlrelease.registry.types import MetricDef
from mlrelease.tui.modeldata import ModelData

if TYPE_CHECKING:
    from mlrelease.tui.app import MlreleaseApp
    from mlrelease.tui.screens.model import ModelScreen


def metric_text(definition: MetricDef | None, name: str, value: float | None) -> str:
    """A metric value in its catalogue format (``83.0%``, ``0.030``): one format per metric, everywhere."""
    return (definition or MetricDef(name, "max")).render(value)


class Pane(Vertical):
    """One tab. ``TAB`` is its id in the tab bar; ``FOCUS`` the selector focused when it is shown.

    The screen calls :meth:`model_changed` with every read of the model and
    :meth:`activate` when the tab is shown; a pane mounted later (lazily) catches up on
    mount with what the screen already has.
    """

    TAB: ClassVar[str] = ""
    FOCUS: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__(id=f"{self.TAB}-pane", classes="pane")
        self.data: ModelData | None = None

    @property
    def view(self) -> ModelScreen:
        return cast("ModelScreen", self.screen)

    @property
    def mlr(self) -> MlreleaseApp:
        return self.view.mlr

    def on_mount(self) -> None:
        if self.view.data is not None:
            self.model_changed(self.view.data)
        if self.view.active_tab == self.TAB:
            self.activate()

    def model_changed(self, data: ModelData) -> None:
        """The model was read (again): draw from ``data``; forget what was read for the old one."""
        self.data = data

    def activate(self) -> None:
        """The tab is now shown: read what it needs if it has not yet, and take the focus."""
        if self.FOCUS is not None:
            self.query_one(self.FOCUS).focus()
