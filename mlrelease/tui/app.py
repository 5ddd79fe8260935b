"""The mlrelease dashboard: the app, its workers, and the one place failures are shown.

Data flows one way: a thread worker reads the registry through the services
(:mod:`mlrelease.registry.overview` and friends) and hands plain objects to the screens;
actions flow one way: a binding → :meth:`MlreleaseApp.action_release` → the dispatcher
(:mod:`mlrelease.tui.dispatch`) → the release service in a worker → reload. Blocking git
and backend IO never runs on the event loop; workers hand their results back as
Messages (:mod:`mlrelease.tui.messages`), and screens hear of a new read through two
signals (``registry_changed``, ``statuses_changed``). Any worker failure becomes an error
modal (:meth:`MlreleaseApp.worker_changed`), never a traceback on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import BindingType
from textual.color import Color
from textual.filter import LineFilter, Monochrome, NoColor
from textual.screen import ModalScreen, Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from mlrelease.audit import marks
from mlrelease.errors import MlreleaseError
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.overview import Overview, overview
from mlrelease.registry.timetravel import step
from mlrelease.release.planner import BackendResolver
from mlrelease.secrets import redact
from mlrelease.tui import heap, keys, messages
from mlrelease.tui.background import merge, model_statuses
from mlrelease.tui.commands import MlreleaseCommands
from mlrelease.tui.config import UserConfig
from mlrelease.tui.dispatch import Dispatcher
from mlrelease.tui.modeldata import load_model
from mlrelease.tui.safe import plain
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.screens.modals import ErrorModal
from mlrelease.tui.session import Session
from mlrelease.tui.status import ModelStatus

Clock = Callable[[], datetime]


def local_now() -> datetime:
    return datetime.now().astimezone()


# App actions that a dialog must not let through: a letter typed at a plan must never quit,
# open another action or leave the dialog behind (the dialog's own keys come first).
BLOCKED_IN_DIALOGS = frozenset({"quit", "help", "activity", "notifications", "fetch", "release", "command_palette", "back", "travel"})


class NoColorFilter(LineFilter):
    """``NO_COLOR``: the terminal's own colours, and no faint text.

    Textual's monochrome filter turns each colour into a grey of its brightness, which put
    magenta and red statuses at about 1.5:1 against the background. Here every colour is
    the terminal's default and ``dim`` is dropped, so meaning is carried by symbols, words,
    bold and reverse (the cursor rows are reversed in app.tcss under ``:nocolor``).
    """

    PLAIN = Style(color="default", bgcolor="default", dim=False)

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        plain_style = self.PLAIN
        return [Segment(text, plain_style if style is None else style + plain_style, control) for text, style, control in segments]


# How an activity ended → its mark in the log: a refusal or a cancel is not a success.
ACTIVITY_MARKS = {"done": "✓", "noop": "=", "planned": "·", "cancelled": "○", "refused": "⊘", "failed": "✗"}


@dataclass(frozen=True)
class Activity:
    """One line of the session's activity log (lazygit's ``@``): what ran and how it ended."""

    at: datetime
    what: str
    outcome: str
    status: str  # a key of ACTIVITY_MARKS

    @property
    def ok(self) -> bool:
        return self.status in ("done", "noop", "planned")

    @property
    def mark(self) -> str:
        return ACTIVITY_MARKS.get(self.status, "?")


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
        as_of: datetime | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.readonly = readonly
        self.as_of = as_of  # opened with --at, or moved there with [ ]: the registry as it was then (read-only)
        # Where ] past the last release event returns to: the branch tip, read-only if the app was opened so.
        self._present = (None if as_of is not None else session.ref, readonly or as_of is not None)
        self.user_config = user_config or UserConfig()
        self.clock = clock
        self.watch = watch
        self.overview: Overview | None = None
        self._last_read: Overview | None = None  # as the last read gave it (the marks replace self.overview)
        self.statuses: dict[str, ModelStatus] = {}
        self.read_at: datetime | None = None
        self.head: str | None = None
        self.activity: list[Activity] = []
        self.dispatcher = Dispatcher(self, resolver)
        self._fingerprint: tuple[object, ...] | None = None
        self.registry_name = session.root.name  # until mlrelease.yaml's name: is read
        self.registry_changed: Signal[Overview] = Signal(self, "registry-changed")
        self.statuses_changed: Signal[frozenset[str]] = Signal(self, "statuses-changed")
        self.unseen_failures = 0  # failed notifications since the delivery log was last looked at
        self.unverified: str | None = None  # why the overview shows no verify marks (see load_marks)
        self.notifications_changed: Signal[int] = Signal(self, "notifications-changed")
        self._no_color_filter = NoColorFilter()

    def get_line_filters(self) -> list[LineFilter]:
        """Textual's filters, with ours in place of its monochrome one under ``NO_COLOR``."""
        filters = list(super().get_line_filters())
        if not self.no_color:
            return filters
        return [f for f in filters if not isinstance(f, Monochrome | NoColor)] + [self._no_color_filter]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a dialog is open, the app's own keys (quit, help, another action...) do nothing."""
        return not (isinstance(self.screen, ModalScreen) and action in BLOCKED_IN_DIALOGS)

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

    def on_unmount(self) -> None:
        heap.release()  # an app run inside another program (tests, the benchmark) gives its heap back

    # ---- reading the registry ---------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False, description="reading the registry")
    def load_registry(self) -> None:
        """Read the overview; a change during the read is caught by the next poll (fingerprint first)."""
        heap.release()  # what the last read kept may be garbage now
        fingerprint = self.session.fingerprint()
        with self.session.open() as reg:
            view = overview(reg)
            name = reg.config.name
        head = self.session.head()
        self.post_message(messages.RegistryRead(view, fingerprint, head, name))
        self.post_message(messages.NotificationsCounted(self.session.unseen_failures()))  # after the first paint

    @on(messages.RegistryRead)
    def _registry_read(self, message: messages.RegistryRead) -> None:
        self.overview = self._last_read = message.view
        self._fingerprint = message.fingerprint
        self.head = message.head
        self.registry_name = message.name or self.session.root.name
        self.title = f"mlrelease · {self.registry_name}"
        self.read_at = self.clock()
        self.registry_changed.publish(message.view)
        heap.keep()
        # After the frame that shows the rows: the workers' Python (and their processes on every
        # core) would otherwise share the CPU with that first frame (100k versions: 0.9 s later).
        self.call_after_refresh(self._read_more, message.view)

    def _read_more(self, view: Overview) -> None:
        if view is not self._last_read:
            return  # read again since: that read starts its own
        self.load_statuses(view)
        self.load_marks(view)

    @work(thread=True, exclusive=True, group="marks", exit_on_error=False, description="verifying the release history")
    def load_marks(self, view: Overview) -> None:
        """Verify's findings on the states shown (cached per commit, so only the first read of a tip costs).

        Like ``list`` and ``history``, at most :data:`~mlrelease.audit.marks.BUDGET` commits
        are verified here: a fresh clone of a big registry is not verified whole in the
        background unasked; the overview says it is not verified yet (`mlrelease verify` does it once).
        """
        with self.session.open() as reg:
            found, unverified = marks.safe_findings(reg, marks.BUDGET)
        if found or unverified != self.unverified:
            self.post_message(messages.MarksRead(marks.mark_overview(view, found), unverified))

    @on(messages.MarksRead)
    def _marks_read(self, message: messages.MarksRead) -> None:
        if self.overview is None or self.overview.environments != message.view.environments:
            return
        if [m.name for m in self.overview.models] != [m.name for m in message.view.models]:
            return  # read again since: the next read brings its own marks
        self.overview = message.view
        self.unverified = message.unverified
        self.registry_changed.publish(message.view)
        heap.keep()

    @on(messages.NotificationsCounted)
    def _notifications_counted(self, message: messages.NotificationsCounted) -> None:
        if message.unseen_failures != self.unseen_failures:
            self.unseen_failures = message.unseen_failures
            self.notifications_changed.publish(self.unseen_failures)

    @work(thread=True, exclusive=True, group="status", exit_on_error=False, description="reading gates, retraining and health")
    def load_statuses(self, view: Overview) -> None:
        """Second phase: the costlier per-model status, in batches so the overview fills in as it goes."""
        for batch in model_statuses(self.session, view, self.clock()):
            self.post_message(messages.StatusesRead(batch))

    @on(messages.StatusesRead)
    def _statuses_read(self, message: messages.StatusesRead) -> None:
        for name, fields in message.batch.items():
            self.statuses[name] = merge(self.statuses.get(name), fields)
        self.statuses_changed.publish(frozenset(message.batch))
        heap.keep()

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
            self.post_message(messages.RepositoryChanged())

    @on(messages.RepositoryChanged)
    def _repository_changed(self) -> None:
        self.load_registry()

    # ---- time travel: [ and ] step through the release history (read-only in the past) -------

    def action_travel(self, direction: int) -> None:
        """The registry at the release event before (``direction`` -1) or after (+1) the one shown."""
        self._travel(direction)

    @work(thread=True, exclusive=True, group="travel", exit_on_error=False, description="moving through the release history")
    def _travel(self, direction: int) -> None:
        s = self.session
        current = s.head()
        if s.git_root is None or current is None:
            self.post_message(messages.Travelled(None, direction, "the registry has no git history to move through"))
            return
        prefix = s.root.relative_to(s.git_root.resolve()).as_posix()
        found = step(s.git_root, current, direction, ref=self._present[0] or "HEAD", prefix="" if prefix == "." else prefix)
        self.post_message(messages.Travelled(found, direction))

    @on(messages.Travelled)
    def _travelled(self, message: messages.Travelled) -> None:
        found, root = message.moment, self.session.root
        if message.problem:
            self.notify(plain(message.problem), severity="warning", markup=False)
            return
        if found is not None:
            self.session, self.as_of, self.readonly = Session(root, found.commit), found.committed, True
            self.notify(f"as of {format_timestamp(found.committed)}: {plain(found.subject)}", title="the past (read-only)", markup=False)
        elif message.direction < 0:
            self.notify("no earlier release event in the history", severity="warning")
            return
        elif self.as_of is None:
            self.notify("this is the present: there is no later release event", severity="warning")
            return
        else:
            ref, readonly = self._present
            self.session, self.as_of, self.readonly = Session(root, ref), None, readonly
            self.notify("back to the present" + (" (read-only, as the dashboard was opened)" if readonly else ""), markup=False)
        self.load_registry()

    def status_line(self) -> Text:
        """Right-hand part of every top bar: registry, read time, HEAD, read-only."""
        line = Text()
        if self.as_of is not None:  # first, so that 80 columns still show it: this is the past
            line.append(f"THE PAST: as of {format_timestamp(self.as_of)}, actions disabled", style="bold reverse")
            line.append("  ")
        line.append(plain(self.registry_name), style="bold")
        if self.unseen_failures:  # words and bold: it must read without colour too
            shown = keys.shown(self, keys.BY_ID["app.notifications"], self.user_config.keymap)
            line.append(
                f"  ✗ {self.unseen_failures} notification{'s' if self.unseen_failures > 1 else ''} failed ({shown})", style="bold red"
            )
        if self.read_at is not None:
            line.append(f"  read at {self.read_at:%H:%M:%S}", style="dim")
        if self.head:
            line.append(f"  @{self.head[:8]}", style="dim")
        if self.session.ref and self.as_of is None:
            line.append(f"  ref {plain(self.session.ref)}", style="dim")
        if self.readonly and self.as_of is None:
            line.append("  READ-ONLY", style="bold reverse")
        return line

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
        self.record(title, redact(message), "failed")
        self.push_screen(ErrorModal(title, redact(message), hint=hint))

    def record(self, what: str, outcome: str, status: str) -> None:
        self.activity.append(Activity(self.clock(), what, outcome, status))

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
            self.post_message(messages.Fetched("no remote is configured in mlrelease.yaml (remote: {name, branch})", fetched=False))
            return
        self.post_message(messages.Fetched(self.session.fetch(remote.name, remote.branch)))

    @on(messages.Fetched)
    def _fetched(self, message: messages.Fetched) -> None:
        if not message.fetched:
            self.notify(message.message, severity="warning")
            return
        self.record("fetch", message.message, "done")
        self.notify(plain(message.message), markup=False)
        self.load_registry()

    def action_help(self) -> None:
        from mlrelease.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_activity(self) -> None:
        from mlrelease.tui.screens.activity import ActivityScreen

        self.push_screen(ActivityScreen())

    def action_notifications(self) -> None:
        from mlrelease.tui.screens.notifications import NotificationsScreen

        if not isinstance(self.screen, NotificationsScreen):
            self.push_screen(NotificationsScreen())

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
        self.post_message(messages.ModelRead(load_model(self.session, name), tab))

    @on(messages.ModelRead)
    def _model_read(self, message: messages.ModelRead) -> None:
        from mlrelease.tui.screens.model import ModelScreen

        self.push_screen(ModelScreen(message.data.name, tab=message.tab, data=message.data))

    # ---- the dispatcher's results (its workers post them here) --------------------------

    @on(messages.ActionRefused)
    def _refused(self, message: messages.ActionRefused) -> None:
        self.dispatcher.refuse(message.kind, message.message)

    @on(messages.PlanReady)
    def _plan_ready(self, message: messages.PlanReady) -> None:
        self.dispatcher.show_plan(message)

    @on(messages.ActionEnded)
    def _action_ended(self, message: messages.ActionEnded) -> None:
        if message.progress in self.screen_stack:
            message.progress.dismiss(None)

    @on(messages.ActionFinished)
    def _action_finished(self, message: messages.ActionFinished) -> None:
        self.dispatcher.finished(message.result)

    def open_compare(self, model: str, old: str, new: str) -> None:
        from mlrelease.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(model, old, new))
