"""One model: a header (owner, what runs where) over seven tabs, one widget each (keys 1–7).

The screen holds what every tab shares — the model's data (:func:`load_model`, read
before the view opens or again after the registry changed), the health assessment
(read the first time Telemetry or Drift is shown) and the environment they show — and
routes the keys; each tab is a :class:`~mlrelease.tui.panes.base.Pane` in
:mod:`mlrelease.tui.panes` that draws it and reads the rest of what it needs itself.
The versions tab (and the tab the view opens on) is mounted with the view; every other
tab is mounted the first time it is shown, so opening a model builds one table, not
seven tabs' widgets. Every value from the registry is rendered literally.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ContentSwitcher, DataTable, Static

from mlrelease.errors import NotFound
from mlrelease.telemetry.health import Assessment, Health
from mlrelease.tui import keys
from mlrelease.tui.modeldata import ModelData, load_health, load_model
from mlrelease.tui.panes.ab import ABPane, canary_environment
from mlrelease.tui.panes.base import Pane
from mlrelease.tui.panes.health import DriftPane, HealthPane, TelemetryPane
from mlrelease.tui.panes.history import HistoryPane
from mlrelease.tui.panes.lineage import LineagePane
from mlrelease.tui.panes.trend import TrendPane
from mlrelease.tui.panes.versions import VersionsPane
from mlrelease.tui.safe import block, join, lit, plain
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.target import Target
from mlrelease.tui.widgets.keybar import KeyBar
from mlrelease.tui.widgets.tabbar import TabBar
from mlrelease.tui.widgets.topbar import TopBar

PANES: tuple[type[Pane], ...] = (VersionsPane, TrendPane, LineagePane, HistoryPane, TelemetryPane, DriftPane, ABPane)
TABS = tuple(p.TAB for p in PANES)
PANE_OF = {p.TAB: p for p in PANES}
LABELS = {"ab": "A/B"}


def header_text(data: ModelData) -> Text:
    """Who owns the model, what runs where (pins, pending, failed) and its description."""
    m = data.model
    line1 = join(lit(m.name, "bold"), Text("owner", style="dim"), lit(m.owner))
    if m.task:
        line1.append_text(join(Text("", style="dim"), Text("task", style="dim"), lit(m.task)))
    live = Text()
    for env in data.config.environment_names:
        state = data.states.get(env)
        live.append(f"{plain(env)}: ", style="dim")
        if state is None or state.live is None:
            live.append("—")
        else:
            live.append(plain(state.live.version), style="bold")
            if state.live.canary:
                live.append(f" +{plain(state.live.canary.version)}@{state.live.canary.weight:g}%", style="italic")
        if state is not None and state.pin is not None:
            live.append(f" ⚑ pinned by {plain(state.pin.by)}")
        if state is not None and state.pending:
            live.append(" … pending", style="bold")
        if state is not None and state.failed:
            live.append(" ✗ last promotion failed", style="bold")
        live.append("   ")
    description = block(m.description or "", "italic")
    description.truncate(240, overflow="ellipsis")
    return Text("\n").join([line1, live, description])


class ModelScreen(BaseScreen):
    SCOPES = ("model", "history", "table", "release", "app")
    BINDINGS = keys.bindings("model", "release")
    HELP = (
        "Versions ({model.versions}): newest first; metric columns show the value and its change against the version live "
        "furthest along (▲ better, ▼ worse by the metric's goal, = same); 'Live in' names environments (canaries with their "
        "weight). {model.mark} marks a version; {model.compare} compares the two marked versions, or the selected one with "
        "what is live.\n"
        "Trend ({model.trend}): a metric across versions, oldest to newest, each column labelled with its version (L live "
        "somewhere, ✗ rejected); {model.metric} picks the next metric.\n"
        "Lineage ({model.lineage}): the selected version's data sets, code, parent chain, children, consumers and environments.\n"
        "History ({model.history}): the audit trail from git, newest first: who, what, from → to, why; {model.event} opens "
        "an event whole.\n"
        "Telemetry ({model.telemetry}) and Drift ({model.drift}): live figures over time, health and the population "
        "stability index per feature for one environment; {model.environment} picks the next environment.\n"
        "A/B ({model.ab}): the canary against the live version — both arms on one chart, the verdict per metric with its "
        "test, interval and p-value, the step and what happens next; {model.advance} advances the rollout, "
        "{release.rollback} aborts it, {release.pin} pauses it, {release.unpin} resumes it (each through the plan dialog).\n"
        "Actions: {release.promote} promote, {release.approve} approve, {release.reject} reject act on the selected version; "
        "{release.rollback} rollback, {release.unpin} unpin, {release.retrain} retrain on the model."
    )

    @dataclass
    class Read(Message):
        data: ModelData

    @dataclass
    class Absent(Message):
        """The model is not in the registry as shown (the past, before it was registered)."""

        message: str

    @dataclass
    class HealthRead(Message):
        assessment: Assessment

    def __init__(self, name: str, *, tab: str | None = None, data: ModelData | None = None) -> None:
        super().__init__(classes="model-screen")
        self.model_name = name
        self.TITLE = f"Model {plain(name)}"
        self._initial_tab = tab if tab in TABS else "versions"
        self.data: ModelData | None = data  # read before the view was pushed: shown on mount, no second layout
        self.health: Assessment | None = None
        self._health_asked = False
        self._env_index: int | None = None  # None: start at the environment deltas are against

    def compose(self) -> ComposeResult:
        yield TopBar(join(Text("Overview ›", style="dim"), lit(self.model_name, "bold")))
        header = header_text(self.data) if self.data is not None else Text("reading…", style="italic")
        yield Static(header, id="model-header")  # filled already when the data came with the view: one layout
        yield TabBar(
            [(tab, f"{i} {LABELS.get(tab, tab.capitalize())}") for i, tab in enumerate(TABS, 1)],
            active=self._initial_tab,
            id="model-tab-bar",
        )
        with ContentSwitcher(initial=self._initial_tab, id="model-tabs"):
            for pane in PANES:
                with Vertical(id=pane.TAB, classes="tab"):
                    if pane.TAB in (self._initial_tab, VersionsPane.TAB):  # the actions' version comes from this one
                        yield pane()
        yield KeyBar()

    def on_mount(self) -> None:
        if self.data is None:
            self.load()

    def registry_loaded(self) -> None:
        """The registry changed on disk or after an action: read this model again."""
        self.load()

    # ---- the model's data -----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="model", exit_on_error=False, description="reading the model")
    def load(self) -> None:
        try:
            data = load_model(self.mlr.session, self.model_name)
        except NotFound as exc:
            if self.mlr.as_of is None:
                raise
            self.post_message(self.Absent(str(exc)))  # moved ([ ]) to a moment before the model existed
            return
        self.post_message(self.Read(data))

    @on(Absent)
    def _absent(self, message: Absent) -> None:
        self.app.notify(
            f"{plain(self.model_name)} is not in the registry at this moment: {plain(message.message)}", severity="warning", markup=False
        )
        if self.app.screen is self:
            self.app.pop_screen()

    @on(Read)
    def _read(self, message: Read) -> None:
        self.data = message.data
        self._show_header(message.data)
        self.health, self._health_asked = None, False
        for pane in self.panes():
            pane.model_changed(message.data)
        if self.active_tab in ("telemetry", "drift"):
            self.want_health()

    def panes(self) -> list[Pane]:
        """The tabs mounted so far (the others are mounted when first shown)."""
        return list(self.query(Pane).results(Pane))

    def pane(self, tab: str) -> Pane | None:
        return next((p for p in self.panes() if tab == p.TAB), None)

    def _show_header(self, data: ModelData) -> None:
        self.query_one("#model-header", Static).update(header_text(data))

    # ---- tabs -------------------------------------------------------------------------------

    @property
    def active_tab(self) -> str:
        return self.query_one(ContentSwitcher).current or self._initial_tab

    def action_tab(self, tab: str) -> None:
        if tab == self.active_tab:
            return
        self.query_one(ContentSwitcher).current = tab
        self.query_one(TabBar).active = tab
        pane = self.pane(tab)
        if pane is None:  # its first showing: it draws from the screen's data and activates itself on mount
            self.query_one(f"#{tab}", Vertical).mount(PANE_OF[tab]())
        else:
            pane.activate()

    @on(TabBar.Chosen)
    def _tab_chosen(self, event: TabBar.Chosen) -> None:
        self.action_tab(event.tab)

    # ---- versions, and what follows the selected one ---------------------------------------

    def selected_version(self) -> str | None:
        versions = self.pane("versions")
        return versions.selected_version() if isinstance(versions, VersionsPane) else None

    @on(DataTable.RowHighlighted, "#versions-table")
    def _version_highlighted(self) -> None:
        lineage = self.pane("lineage")
        if isinstance(lineage, LineagePane) and self.active_tab == "lineage":
            lineage.show_version(self.selected_version())

    @property
    def marked(self) -> list[str]:
        versions = self.pane("versions")
        return versions.marked if isinstance(versions, VersionsPane) else []

    def action_mark(self) -> None:
        versions = self.pane("versions")
        if not isinstance(versions, VersionsPane):
            return
        marked = versions.toggle_mark()
        if len(marked) == 2:
            self.notify(f"marked {plain(marked[0])} and {plain(marked[1])}: c compares them", timeout=3, markup=False)

    def action_compare(self) -> None:
        data, selected, versions = self.data, self.selected_version(), self.pane("versions")
        if data is None or selected is None or not isinstance(versions, VersionsPane):
            return
        order = {v.version: i for i, v in enumerate(data.versions)}
        marked = versions.marked
        if len(marked) == 2:
            pair = marked
        elif len(marked) == 1 and marked[0] != selected:
            pair = [marked[0], selected]
        elif data.reference is not None and data.reference[1] != selected:
            pair = [data.reference[1], selected]
        else:
            self.notify("select a version that is not the live one, or mark two versions with space", severity="warning")
            return
        old, new = sorted(pair, key=lambda v: order.get(v, 0))
        self.mlr.open_compare(self.model_name, old, new)

    @on(HistoryPane.Opened)
    def _event_opened(self, message: HistoryPane.Opened) -> None:
        from mlrelease.tui.screens.event import EventModal

        self.app.push_screen(EventModal(message.event, message.related))

    def action_next_metric(self) -> None:
        self.action_tab("trend")
        trend = self.pane("trend")
        if isinstance(trend, TrendPane):
            trend.next_metric()

    # ---- health: shared by Telemetry and Drift ----------------------------------------------

    def want_health(self) -> None:
        """Read the assessment once (the first time Telemetry or Drift is shown after a read)."""
        if not self._health_asked:
            self._health_asked = True
            self._load_health()

    @work(thread=True, exclusive=True, group="health", exit_on_error=False, description="reading telemetry")
    def _load_health(self) -> None:
        self.post_message(self.HealthRead(load_health(self.mlr.session, self.model_name, self.mlr.clock())))

    @on(HealthRead)
    def _health_read(self, message: HealthRead) -> None:
        self.health = message.assessment
        self._show_health()

    def health_rows(self) -> list[Health]:
        return [h for h in (self.health.rows if self.health else ()) if h.model == self.model_name]

    def current_health(self) -> Health | None:
        rows = self.health_rows()
        if not rows:
            return None
        if self._env_index is None:
            envs = [h.environment for h in rows]
            ref = self.data.reference[0] if self.data and self.data.reference else None
            self._env_index = envs.index(ref) if ref in envs else len(rows) - 1
        return rows[self._env_index % len(rows)]

    def _show_health(self) -> None:
        h = self.current_health()
        for pane in self.panes():
            if isinstance(pane, HealthPane):
                pane.show_health(h)

    def action_next_environment(self) -> None:
        if self.active_tab not in ("telemetry", "drift"):
            self.action_tab("telemetry")
        rows = self.health_rows()
        if rows:
            self._env_index = ((self._env_index or 0) + 1) % len(rows)
            self._show_health()

    # ---- actions ----------------------------------------------------------------------------

    def release_target(self, kind: str) -> Target | None:
        if kind in ("promote", "approve", "reject"):
            version = self.selected_version()
            return Target(self.model_name, version) if version else None
        if self.active_tab == "ab" and kind in ("rollback", "pin", "unpin") and self.data is not None:
            return Target(self.model_name, environment=canary_environment(self.data))  # the rollout's environment
        return Target(self.model_name)

    def action_advance(self) -> None:
        """The rollout's next step now: a promote to the next weight (or in full), through the plan dialog."""
        from mlrelease.rollout.run import manual_request

        pane = self.pane("ab")
        report = pane.report if isinstance(pane, ABPane) else None
        position = report.evaluation.position if report is not None else None
        if position is None:
            self.mlr.notify("no rollout to advance here: open the A/B tab (7) of a model that runs a canary", severity="warning")
            return
        self.mlr.dispatcher.prepared(manual_request(position, "advance", None))
