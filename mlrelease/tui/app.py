"""The mlrelease dashboard: the app, its workers, and the one place failures are shown.

Data flows one way: a thread worker reads the registry through the services
(:mod:`mlrelease.registry.overview` and friends) and hands plain objects to the screens;
actions flow one way: a binding → :meth:`MlreleaseApp.action_release` → the dispatcher
(:mod:`mlrelease.tui.dispatch`) → the release service in a worker → reload. Blocking git
and backend IO never runs on the event loop, and any worker failure becomes an error
modal (:meth:`MlreleaseApp.worker_changed`), never a traceback on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from mlrelease.errors import MlreleaseError
from mlrelease.registry.overview import Overview, overview
from mlrelease.release.planner import BackendResolver
from mlrelease.secrets import redact
from mlrelease.tui import keys
from mlrelease.tui.background import Update, merge, model_statuses
from mlrelease.tui.commands import MlreleaseCommands
from mlrelease.tui.config import UserConfig
from mlrelease.tui.dispatch import Dispatcher
from mlrelease.tui.modeldata import ModelData, load_model
from mlrelease.tui.safe import plain
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.screens.modals import ErrorModal
from mlrelease.tui.session import Session
from mlrelease.tui.status import ModelStatus
from mlrelease.tui.widgets.topbar import TopBar

Clock = Callable[[], datetime]


def local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Activity:
    """One line of the session's activity log (lazygit's ``@``): what ran and how it ended."""

    at: datetime
    what: str
    outcome: str
    ok: bool


class MlreleaseApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mlrelease"
    BINDINGS: ClassVar[list[BindingType]] = keys.bindings("app")
    COMMANDS = App.COMMANDS | {MlreleaseCommands}

    def __init__(
        self,
        session: Session,
        *,
        readonly: bool = False,
        user_config: UserConfig | None = None,
        clock: Clock = local_now,
        watch: bool = True,
        resolver: BackendResolver | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.readonly = readonly
        self.user_config = user_config or UserConfig()
        self.clock = clock
        self.watch = watch
        self.overview: Overview | None = None
        self.statuses: dict[str, ModelStatus] = {}
        self.read_at: datetime | None = None
        self.head: str | None = None
        self.activity: list[Activity] = []
        self.dispatcher = Dispatcher(self, resolver)
        self._fingerprint: tuple[object, ...] | None = None

    # ---- start -----------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        from mlrelease.tui.screens.overview import OverviewScreen

        return OverviewScreen()

    def on_mount(self) -> None:
        if self.user_config.keymap:
            self.set_keymap(self.user_config.keymap)
        self.load_registry()
        if self.watch and self.user_config.refresh_seconds > 0:
            self.set_interval(self.user_config.refresh_seconds, self.check_changes)

    # ---- reading the registry ---------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False, description="reading the registry")
    def load_registry(self) -> None:
        """Read the overview; a change during the read is caught by the next poll (fingerprint first)."""
        fingerprint = self.session.fingerprint()
        with self.session.open() as reg:
            view = overview(reg)
        head = self.session.head()
        self.call_from_thread(self._loaded, view, fingerprint, head)

    def _loaded(self, view: Overview, fingerprint: tuple[object, ...], head: str | None) -> None:
        self.overview = view
        self._fingerprint = fingerprint
        self.head = head
        self.read_at = self.clock()
        self.refresh_status_line()
        for screen in self.screen_stack:
            if isinstance(screen, BaseScreen):
                screen.registry_loaded()
        self.load_statuses(view)

    @work(thread=True, exclusive=True, group="status", exit_on_error=False, description="reading gates, retraining and health")
    def load_statuses(self, view: Overview) -> None:
        """Second phase: the costlier per-model status, in batches so the overview fills in as it goes."""
        for batch in model_statuses(self.session, view, self.clock()):
            self.call_from_thread(self._statuses, batch)

    def _statuses(self, batch: Update) -> None:
        for name, fields in batch.items():
            self.statuses[name] = merge(self.statuses.get(name), fields)
        for screen in self.screen_stack:
            if isinstance(screen, BaseScreen):
                screen.statuses_updated(batch.keys())

    def check_changes(self) -> None:
        """Timer tick: compare the repository's fingerprint in a worker (cheap; see Session)."""
        if self._fingerprint is not None:
            self._poll(self._fingerprint)

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False, description="watching the repository")
    def _poll(self, previous: tuple[object, ...]) -> None:
        try:
            current = self.session.fingerprint()
        except (MlreleaseError, OSError):
            return  # a transient failure to look; the next tick tries again
        if current != previous:
            self.call_from_thread(self.load_registry)

    def status_line(self) -> Text:
        """Right-hand part of every top bar: registry, read time, HEAD, read-only."""
        line = Text()
        line.append(plain(self.session.root.name), style="bold")
        if self.read_at is not None:
            line.append(f"  read at {self.read_at:%H:%M:%S}", style="dim")
        if self.head:
            line.append(f"  @{self.head[:8]}", style="dim")
        if self.session.ref:
            line.append(f"  ref {plain(self.session.ref)}", style="dim")
        if self.readonly:
            line.append("  READ-ONLY", style="bold reverse")
        return line

    def refresh_status_line(self) -> None:
        status = self.status_line()
        for screen in self.screen_stack:
            for bar in screen.query(TopBar):
                bar.set_status(status)

    # ---- failures -----------------------------------------------------------------------

    def worker_changed(self, worker: Worker[object]) -> None:
        """The one handler for worker failures: an error modal with the message, never a traceback."""
        if worker.state != WorkerState.ERROR or worker.error is None:
            return
        self.show_error(f"{worker.description or worker.name} failed", worker.error)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_changed(event.worker)

    def show_error(self, title: str, error: BaseException | str) -> None:
        if isinstance(error, MlreleaseError):
            message, hint = str(error), ""
        elif isinstance(error, str):
            message, hint = error, ""
        else:
            message = f"{type(error).__name__}: {error}"
            hint = "This is a bug in mlrelease; please report it with the steps that led here."
        self.record(title, redact(message), ok=False)
        self.push_screen(ErrorModal(title, redact(message), hint=hint))

    def record(self, what: str, outcome: str, *, ok: bool) -> None:
        self.activity.append(Activity(self.clock(), what, outcome, ok))

    # ---- actions -----------------------------------------------------------------------

    def action_reload(self) -> None:
        self.notify("reading the registry again", timeout=2)
        self.load_registry()

    def action_fetch(self) -> None:
        self.fetch_remote()

    @work(thread=True, exclusive=True, group="fetch", exit_on_error=False, description="git fetch")
    def fetch_remote(self) -> None:
        with self.session.open() as reg:
            remote = reg.config.remote
        if remote is None:
            self.call_from_thread(self.notify, "no remote is configured in mlrelease.yaml (remote: {name, branch})", severity="warning")
            return
        self.call_from_thread(self._fetched, self.session.fetch(remote.name, remote.branch))

    def _fetched(self, message: str) -> None:
        self.record("fetch", message, ok=True)
        self.notify(plain(message), markup=False)
        self.load_registry()

    def action_help(self) -> None:
        from mlrelease.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_activity(self) -> None:
        from mlrelease.tui.screens.activity import ActivityScreen

        self.push_screen(ActivityScreen())

    def action_back(self) -> None:
        from mlrelease.tui.screens.overview import OverviewScreen

        screen = self.screen
        if isinstance(screen, OverviewScreen):
            screen.clear_filter()
        elif len(self.screen_stack) > 1:
            self.pop_screen()

    def action_release(self, kind: str) -> None:
        """Every mutating binding and palette command ends here: the one action dispatcher."""
        screen = self.screen
        target = screen.release_target(kind) if isinstance(screen, BaseScreen) else None
        self.dispatcher.request(kind, target)

    def open_model(self, name: str, tab: str | None = None) -> None:
        """Read the model in a worker, then show its view already filled (one layout, not two)."""
        self._read_model(name, tab)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False, description="reading the model")
    def _read_model(self, name: str, tab: str | None) -> None:
        data = load_model(self.session, name)
        self.call_from_thread(self._push_model, data, tab)

    def _push_model(self, data: ModelData, tab: str | None) -> None:
        from mlrelease.tui.screens.model import ModelScreen

        self.push_screen(ModelScreen(data.name, tab=tab, data=data))

    def open_compare(self, model: str, old: str, new: str) -> None:
        from mlrelease.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(model, old, new))
