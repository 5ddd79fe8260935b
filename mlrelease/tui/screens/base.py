"""What every full screen of the app shares: help text, key scopes, worker failures, targets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, cast

from textual.screen import Screen
from textual.worker import Worker

if TYPE_CHECKING:
    from mlrelease.tui.app import MlreleaseApp
    from mlrelease.tui.target import Target


class BaseScreen(Screen[None]):
    """A view. ``HELP`` is shown by ``?``/F1 with the keys of ``SCOPES``."""

    HELP: ClassVar[str] = ""
    SCOPES: ClassVar[tuple[str, ...]] = ()
    TITLE: ClassVar[str] = ""

    @property
    def mlr(self) -> MlreleaseApp:
        """The app this screen runs in, typed: the screens of this package run only in it.

        Not imported at run time (the app imports every screen): the name is for the type
        checker, as in :mod:`mlrelease.tui.panes.base`.
        """
        return cast("MlreleaseApp", self.app)

    def on_mount(self) -> None:
        """Hear of every read of the registry and of the background status (the app's signals)."""
        self.mlr.registry_changed.subscribe(self, lambda _view: self.registry_loaded())
        self.mlr.statuses_changed.subscribe(self, self.statuses_updated)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Worker failures of this screen go to the app's one error handler."""
        self.mlr.worker_changed(event.worker)

    def release_target(self, kind: str) -> Target | None:
        """What a release action would act on here (the selected model or version), or None."""
        return None

    def registry_loaded(self) -> None:
        """The app read the registry again: show the new state."""

    def statuses_updated(self, names: Iterable[str]) -> None:
        """Background per-model status arrived for ``names`` (see mlrelease.tui.background)."""
