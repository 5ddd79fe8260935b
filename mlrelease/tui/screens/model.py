"""One model: versions with deltas against what is live, metric trend, lineage, history,
telemetry and drift, each a tab (keys 1–6).

The view opens with the versions table (one model's manifests through the parse cache,
compared with the live version by :mod:`mlrelease.registry.compare`); the other tabs
read their data in a worker the first time they are shown, and lineage again when the
selected version changes. Every value from the registry is rendered literally.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import ContentSwitcher, DataTable, Static, Tree

from mlrelease.registry.compare import BETTER, SAME, WORSE, best_of
from mlrelease.registry.history import Event
from mlrelease.registry.lineage import Lineage
from mlrelease.registry.types import MetricDef, Snapshot, Version
from mlrelease.telemetry.health import Assessment, Health, error_rate
from mlrelease.tui import keys
from mlrelease.tui.dispatch import Target
from mlrelease.tui.modeldata import ModelData, load_health, load_history, load_lineage, load_model
from mlrelease.tui.safe import block, join, lit, plain, when
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.status import HEALTH
from mlrelease.tui.widgets.chart import Chart, Series
from mlrelease.tui.widgets.keybar import KeyBar
from mlrelease.tui.widgets.tabbar import TabBar
from mlrelease.tui.widgets.table import RegistryTable
from mlrelease.tui.widgets.topbar import TopBar

TABS = ("versions", "trend", "lineage", "history", "telemetry", "drift")
CHARTS = ("calls", "errors", "latency", "metric", "memory", "cpu")  # telemetry charts, two per row
VERDICT = {
    BETTER: ("▲", "green"),
    WORSE: ("▼", "red"),
    SAME: ("=", "dim"),
}


def metric_text(definition: MetricDef | None, name: str, value: float | None) -> str:
    return (definition or MetricDef(name, "max")).render(value)


def delta_cell(version: Version, metric: str, data: ModelData) -> Text:
    """The value, then its change against the live version, marked by the metric's goal."""
    definition = data.config.metrics.get(metric)
    value = version.metrics.get(metric)
    out = Text(metric_text(definition, metric, value))
    if data.reference is not None and version.version == data.reference[1]:
        out.append(" live", style="dim")
        return out
    cmp = data.against_live.get(version.version)
    delta = next((d for d in cmp.metrics if d.name == metric), None) if cmp else None
    if delta is None or delta.delta is None:
        return out
    symbol, style = VERDICT.get(delta.verdict, ("?", "yellow"))
    out.append(f" {symbol}" if delta.verdict == SAME else f" {symbol}{delta.render_delta()}", style=style)
    return out


class ModelScreen(BaseScreen):
    SCOPES = ("model", "table", "release", "app")
    BINDINGS = keys.bindings("model", "release")
    HELP = (
        "Versions ({model.versions}): newest first; metric columns show the value and its change against the version live "
        "furthest along (▲ better, ▼ worse by the metric's goal, = same); 'Live in' names environments (canaries with their "
        "weight). {model.mark} marks a version; {model.compare} compares the two marked versions, or the selected one with "
        "what is live.\n"
        "Trend ({model.trend}): a metric across versions, oldest to newest, each column labelled with its version (▓ live "
        "somewhere, ✗ rejected); {model.metric} picks the next metric.\n"
        "Lineage ({model.lineage}): the selected version's data sets, code, parent chain, children, consumers and environments.\n"
        "History ({model.history}): the audit trail from git, newest first: who, what, from → to, why; {model.event} opens "
        "an event whole.\n"
        "Telemetry ({model.telemetry}) and Drift ({model.drift}): live figures over time, health and the population "
        "stability index per feature for one environment; {model.environment} picks the next environment.\n"
        "Actions: {release.promote} promote, {release.approve} approve, {release.reject} reject act on the selected version; "
        "{release.rollback} rollback, {release.unpin} unpin, {release.retrain} retrain on the model."
    )

    def __init__(self, name: str, *, tab: str | None = None, data: ModelData | None = None) -> None:
        super().__init__(classes="model-screen")
        self.model_name = name
        self.TITLE = f"Model {plain(name)}"
        self._initial_tab = tab if tab in TABS else "versions"
        self.data: ModelData | None = None
        self._preloaded = data  # read before the view was pushed: shown on mount, no second layout
        self.rows: list[Version] = []  # versions table order (newest first)
        self.marked: list[str] = []
        self._metric: str | None = None  # charted in Trend; None: the first headline metric
        self._env_index: int | None = None  # None: start at the environment deltas are against
        self._history: list[Event] | None = None
        self._health: Assessment | None = None
        self._lineage_for: str | None = None
        self._built: set[str] = {"versions"}  # tabs whose widgets exist (see _pane_widgets)

    def compose(self) -> ComposeResult:
        yield TopBar(join(Text("Overview ›", style="dim"), lit(self.model_name, "bold")))
        yield Static(Text("reading…", style="italic"), id="model-header")
        yield TabBar([(tab, f"{i} {tab.capitalize()}") for i, tab in enumerate(TABS, 1)], active=self._initial_tab, id="model-tab-bar")
        with ContentSwitcher(initial=self._initial_tab, id="model-tabs"):
            with Vertical(id="versions"):
                yield RegistryTable(id="versions-table")
                yield Static("", id="versions-note", classes="pane-note")
            for tab in TABS[1:]:
                yield Vertical(id=tab)
        yield KeyBar()

    def _pane_widgets(self, tab: str) -> list[Widget]:
        """A tab's widgets, built the first time it is shown: opening a model stays cheap."""
        if tab == "trend":
            return [Chart(id="trend-chart"), Static("", id="trend-note", classes="pane-note")]
        if tab == "lineage":
            return [Tree(Text("lineage"), id="lineage-tree")]
        if tab == "history":
            return [RegistryTable(id="history-table"), Static("", id="history-note", classes="pane-note")]
        if tab == "telemetry":
            charts = [Chart(id=f"chart-{c}") for c in CHARTS]
            return [
                VerticalScroll(
                    Static("", id="telemetry-status", classes="pane-note"),
                    Horizontal(*charts[:2], classes="charts"),
                    Horizontal(*charts[2:4], classes="charts"),
                    Horizontal(*charts[4:], classes="charts"),
                    id="telemetry-scroll",
                )
            ]
        if tab == "drift":
            return [Static("", id="drift-summary", classes="pane-note"), RegistryTable(id="drift-table")]
        return []

    async def on_mount(self) -> None:
        if self._preloaded is not None:
            await self._show_model(self._preloaded)
            self._preloaded = None
        else:
            self.load()

    def registry_loaded(self) -> None:
        """The registry changed on disk or after an action: read this model again."""
        self._history = None
        self._health = None
        self._lineage_for = None
        self.load()

    # ---- loading ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="model", exit_on_error=False, description="reading the model")
    def load(self) -> None:
        data = load_model(self.mlr.session, self.model_name)
        self.app.call_from_thread(self._show_model, data)

    async def _show_model(self, data: ModelData) -> None:
        self.data = data
        self._show_header(data)
        self._fill_versions(data)
        await self._tab_shown(self.active_tab)

    def _show_header(self, data: ModelData) -> None:
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
                live.append(" … pending", style="yellow")
            if state is not None and state.failed:
                live.append(" ✗ last promotion failed", style="red")
            live.append("   ")
        description = block(m.description or "", "italic")
        description.truncate(240, overflow="ellipsis")
        header = Text("\n").join([line1, live, description])
        self.query_one("#model-header", Static).update(header)

    # ---- versions -----------------------------------------------------------------------

    def _fill_versions(self, data: ModelData) -> None:
        table = self.query_one("#versions-table", RegistryTable)
        current = self.selected_version()
        self.rows = list(reversed(data.versions))
        labels = [Text("✓"), Text("Version"), Text("Created (UTC)"), Text("Author"), *(lit(m) for m in data.key_metrics), Text("Live in")]
        with self.app.batch_update():
            table.fill(labels, [self._version_cells(v, data) for v in self.rows])
            names = [v.version for v in self.rows]
            if current in names:
                table.show_row(names.index(current))
        note = Text(f"{len(self.rows)} versions", style="dim")
        if data.reference is not None:
            note.append(f" · deltas against {plain(data.reference[1])}, live in {plain(data.reference[0])}", style="dim")
        else:
            note.append(" · nothing is live yet, so there are no deltas", style="dim")
        hidden = len(data.all_metrics) - len(data.key_metrics)
        if hidden > 0:
            note.append(f" · {hidden} more metric(s) in compare (c) and trend (2)", style="dim")
        if data.problems:
            note.append(f" · problem: {plain(str(data.problems[0]))}", style="yellow")
        self.query_one("#versions-note", Static).update(note)

    def _version_cells(self, v: Version, data: ModelData) -> list[Text]:
        where = data.placements.get(v.version, ())
        live = Text(", ".join(plain(p.describe()) for p in where)) if where else Text("")
        if v.version in data.rejected:
            live.append(" ✗ rejected" if where else "✗ rejected", style="red")
        mark = Text("●" if v.version in self.marked else "")
        return [
            mark,
            lit(v.version, "bold" if where else ""),
            Text(when(v.created)),
            lit(v.author),
            *(delta_cell(v, m, data) for m in data.key_metrics),
            live,
        ]

    def selected_version(self) -> str | None:
        table = self.query_one("#versions-table", RegistryTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row].version

    @on(DataTable.RowHighlighted, "#versions-table")
    def _version_highlighted(self) -> None:
        if self.active_tab == "lineage" and "lineage" in self._built:
            self._load_lineage()

    def action_mark(self) -> None:
        version = self.selected_version()
        if version is None or self.data is None:
            return
        if version in self.marked:
            self.marked.remove(version)
        else:
            self.marked.append(version)
            del self.marked[:-2]  # at most two: a third mark replaces the oldest
        self._fill_versions(self.data)
        if len(self.marked) == 2:
            self.notify(f"marked {plain(self.marked[0])} and {plain(self.marked[1])}: c compares them", timeout=3, markup=False)

    def action_compare(self) -> None:
        data, selected = self.data, self.selected_version()
        if data is None or selected is None:
            return
        order = {v.version: i for i, v in enumerate(data.versions)}
        if len(self.marked) == 2:
            pair = self.marked
        elif len(self.marked) == 1 and self.marked[0] != selected:
            pair = [self.marked[0], selected]
        elif data.reference is not None and data.reference[1] != selected:
            pair = [data.reference[1], selected]
        else:
            self.notify("select a version that is not the live one, or mark two versions with space", severity="warning")
            return
        old, new = sorted(pair, key=lambda v: order.get(v, 0))
        self.mlr.open_compare(self.model_name, old, new)

    # ---- tabs ---------------------------------------------------------------------------

    @property
    def active_tab(self) -> str:
        return self.query_one(ContentSwitcher).current or "versions"

    async def action_tab(self, tab: str) -> None:
        if tab == self.active_tab:
            return
        self.query_one(ContentSwitcher).current = tab
        self.query_one(TabBar).active = tab
        await self._tab_shown(tab)

    @on(TabBar.Chosen)
    async def _tab_chosen(self, event: TabBar.Chosen) -> None:
        await self.action_tab(event.tab)

    async def _tab_shown(self, tab: str) -> None:
        if tab not in self._built:
            self._built.add(tab)
            await self.query_one(f"#{tab}", Vertical).mount_all(self._pane_widgets(tab))
        if self.data is None:
            return
        if tab == "trend":
            self._show_trend()
        elif tab == "lineage":
            self._load_lineage()
        elif tab == "history":
            if self._history is None:
                self._load_history()
            else:
                self._show_history(self._history)
        elif tab in ("telemetry", "drift"):
            if self._health is None:
                self._load_health()
            else:
                self._show_health(self._health)
        focus = {"versions": "#versions-table", "history": "#history-table", "lineage": "#lineage-tree", "drift": "#drift-table"}
        if tab in focus:
            self.query_one(focus[tab]).focus()

    # ---- trend --------------------------------------------------------------------------

    async def action_next_metric(self) -> None:
        data = self.data
        if data and data.all_metrics:
            current = self._metric if self._metric in data.all_metrics else self._default_metric(data)
            self._metric = data.all_metrics[(data.all_metrics.index(current) + 1) % len(data.all_metrics)]
            await self.action_tab("trend")
            self._show_trend()

    @staticmethod
    def _default_metric(data: ModelData) -> str:
        return data.key_metrics[0] if data.key_metrics else data.all_metrics[0]

    def _show_trend(self) -> None:
        if "trend" not in self._built:
            return
        data = self.data
        chart = self.query_one("#trend-chart", Chart)
        note = self.query_one("#trend-note", Static)
        if data is None or not data.all_metrics:
            chart.show(None)
            note.update(Text("no metrics to chart", style="dim"))
            return
        metric = self._metric if self._metric in data.all_metrics else self._default_metric(data)
        definition = data.config.metrics.get(metric)
        values = tuple(v.metrics.get(metric) for v in data.versions)
        marked = frozenset(i for i, v in enumerate(data.versions) if v.version in data.placements)
        goal = f" (goal: {definition.goal})" if definition else " (not in the catalogue: direction unknown)"
        series = Series(
            title=join(lit(metric, "bold"), Text(f"across {len(values)} versions{goal}", style="dim")),
            labels=tuple(plain(v.version) for v in data.versions),
            values=values,
            fmt=lambda x: metric_text(definition, metric, x),
            marked=marked,
            note="▓ live somewhere · m: next metric",
        )
        chart.show(series)
        known = [(v.version, v.metrics[metric]) for v in data.versions if metric in v.metrics]
        if known:
            best = best_of(definition, known)
            note.update(
                Text(
                    f"{len(known)} of {len(values)} versions have {plain(metric)}; best {metric_text(definition, metric, best[1])} "
                    f"({plain(best[0])}); newest {metric_text(definition, metric, known[-1][1])} ({plain(known[-1][0])})",
                    style="dim",
                )
            )

    # ---- lineage ------------------------------------------------------------------------

    def _load_lineage(self) -> None:
        version = self.selected_version()
        if version is None or version == self._lineage_for:
            return
        self._lineage_for = version
        self._read_lineage(version)

    @work(thread=True, exclusive=True, group="lineage", exit_on_error=False, description="reading lineage")
    def _read_lineage(self, version: str) -> None:
        result = load_lineage(self.mlr.session, self.model_name, version)
        self.app.call_from_thread(self._show_lineage, result)

    def _show_lineage(self, lin: Lineage) -> None:
        tree = self.query_one("#lineage-tree", Tree)
        tree.clear()
        v = lin.version
        tree.root.set_label(
            join(lit(f"{v.model}@{v.version}", "bold"), Text("by", style="dim"), lit(v.author), Text(when(v.created), style="dim"))
        )
        up = tree.root.add(Text("upstream", style="bold"), expand=True)
        data = up.add(Text("data sets"), expand=True)
        for d in lin.data:
            label = join(lit(d.role, "dim"), lit(f"{d.ref.dataset}@{d.ref.version}"))
            rows = d.ref.rows if d.ref.rows is not None else (d.manifest.rows if d.manifest else None)
            if rows is not None:
                label.append(f"  {rows:,} rows", style="dim")
            if d.manifest is None:
                label.append("  (no manifest in the registry)", style="yellow")
            elif d.manifest.uri:
                label.append_text(join(Text(" "), lit(d.manifest.uri, "dim")))
            data.add_leaf(label)
        if not lin.data:
            data.add_leaf(Text("none recorded", style="dim"))
        code = up.add(Text("code"), expand=True)
        if lin.code is not None:
            code.add_leaf(join(Text("repo", style="dim"), lit(lin.code.repo)))
            code.add_leaf(join(Text("commit", style="dim"), lit(lin.code.commit)))
            if lin.code.entrypoint:
                code.add_leaf(join(Text("entrypoint", style="dim"), lit(lin.code.entrypoint)))
        else:
            code.add_leaf(Text("none recorded", style="dim"))
        parents = up.add(Text("parent chain"), expand=True)
        for a in lin.parents.ancestors:
            parents.add_leaf(join(lit(a.version, "bold"), lit(a.author), Text(when(a.created), style="dim")))
        parents.add_leaf(Text(lin.parents.describe_end(), style="dim"))
        down = tree.root.add(Text("downstream", style="bold"), expand=True)
        envs = down.add(Text("environments"), expand=True)
        for p in lin.placements:
            envs.add_leaf(lit(p.describe(), "bold"))
        if not lin.placements:
            envs.add_leaf(Text("not live anywhere", style="dim"))
        consumers = down.add(Text("consuming applications"), expand=True)
        for link in lin.consumers:
            c = link.consumer
            label = join(lit(c.name, "bold"), Text("calls this version" if link.affected else "not on this version", style="dim"))
            if c.environments:
                label.append_text(join(Text(" in", style="dim"), lit(", ".join(c.environments))))
            if c.contact:
                label.append_text(join(Text(" contact", style="dim"), lit(c.contact)))
            consumers.add_leaf(label)
        if not lin.consumers:
            consumers.add_leaf(Text("none recorded in model.yaml", style="dim"))
        children = down.add(Text("child versions"), expand=True)
        for child in lin.children:
            children.add_leaf(lit(child))
        if not lin.children:
            children.add_leaf(Text("none", style="dim"))
        for problem in lin.problems[:5]:
            tree.root.add_leaf(lit(f"problem: {problem}", "yellow"))
        tree.root.expand()

    # ---- history ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="history", exit_on_error=False, description="reading history")
    def _load_history(self) -> None:
        events = load_history(self.mlr.session, self.model_name)
        self.app.call_from_thread(self._show_history, events)

    def _show_history(self, events: list[Event]) -> None:
        self._history = events
        if "history" not in self._built:
            return
        rows = []
        for e in events:
            change = Text()
            if e.previous or e.version:
                change = join(lit(e.previous, "dim"), Text("→"), lit(e.version, "bold"))
            if e.phase:
                change.append(f" ({plain(e.phase)})", style="red" if e.phase == "Failed" else "dim")
            why = lit(e.reason or e.note or e.subject)
            if e.forced:
                why = join(Text("forced gates:", style="red"), lit(e.forced), why)
            rows.append([Text(when(e.at)), lit(e.who), lit(e.action, "bold"), lit(e.environment), change, why])
        labels = [Text(label) for label in ("When (UTC)", "Who", "Action", "Env", "From → to", "Reason / note")]
        self.query_one("#history-table", RegistryTable).fill(labels, rows)
        self.query_one("#history-note", Static).update(
            Text(f"{len(events)} events, newest first (from git; hand edits included)", style="dim")
        )

    # ---- telemetry and drift ------------------------------------------------------------

    @work(thread=True, exclusive=True, group="health", exit_on_error=False, description="reading telemetry")
    def _load_health(self) -> None:
        result = load_health(self.mlr.session, self.model_name, self.mlr.clock())
        self.app.call_from_thread(self._show_health, result)

    def _rows(self) -> list[Health]:
        return [h for h in (self._health.rows if self._health else ()) if h.model == self.model_name]

    def current_health(self) -> Health | None:
        rows = self._rows()
        if not rows:
            return None
        if self._env_index is None:
            envs = [h.environment for h in rows]
            ref = self.data.reference[0] if self.data and self.data.reference else None
            self._env_index = envs.index(ref) if ref in envs else len(rows) - 1
        return rows[self._env_index % len(rows)]

    async def action_next_environment(self) -> None:
        rows = self._rows()
        if rows:
            self._env_index = ((self._env_index or 0) + 1) % len(rows)
            if self.active_tab not in ("telemetry", "drift"):
                await self.action_tab("telemetry")
            self._show_health(self._health)

    def _show_health(self, assessment: Assessment | None) -> None:
        self._health = assessment
        h = self.current_health()
        self._show_drift(h)
        if "telemetry" not in self._built:
            return
        status = self.query_one("#telemetry-status", Static)
        charts = {f"chart-{c}": self.query_one(f"#chart-{c}", Chart) for c in CHARTS}
        if h is None:
            status.update(Text("not live in any environment, so there is no telemetry", style="dim"))
            for c in charts.values():
                c.show(None)
            return
        status.update(self._health_text(h))
        snaps = tuple(sorted(h.telemetry.snapshots, key=lambda s: s.at)) if h.telemetry else ()
        labels = tuple(f"{s.at:%m-%d}" for s in snaps)

        def series(title: str, values: tuple[float | None, ...], fmt: str) -> Series:
            return Series(Text(title, style="bold"), labels, values, lambda x: format(x, fmt))

        charts["chart-calls"].show(series("calls", tuple(float(s.calls) if s.calls is not None else None for s in snaps), ",.0f"))
        charts["chart-errors"].show(series("error rate", tuple(error_rate(s) for s in snaps), ".2%"))
        charts["chart-latency"].show(series("latency p95 (ms)", tuple(s.latency_ms.get("p95") for s in snaps), ".0f"))
        charts["chart-memory"].show(series("memory (MB)", tuple(s.memory_mb for s in snaps), ",.0f"))
        charts["chart-cpu"].show(series("CPU (cores)", tuple(s.cpu for s in snaps), ".2f"))
        metric = self._live_metric(snaps)
        if metric is None:
            charts["chart-metric"].show(None)
        else:
            definition = self.data.config.metrics.get(metric) if self.data else None
            charts["chart-metric"].show(
                Series(
                    join(Text("live", style="bold"), lit(metric, "bold")),
                    labels,
                    tuple(s.metrics.get(metric) for s in snaps),
                    lambda x: metric_text(definition, metric, x),
                )
            )

    def _live_metric(self, snaps: tuple[Snapshot, ...]) -> str | None:
        names = dict.fromkeys(m for s in snaps for m in s.metrics)
        if not names:
            return None
        headline = self.data.key_metrics if self.data else ()
        return next((m for m in headline if m in names), next(iter(names)))

    def _health_text(self, h: Health) -> Text:
        envs = ", ".join(plain(r.environment) for r in self._rows())
        word, style, _ = HEALTH.get(h.status.value, HEALTH["unknown"])
        out = join(lit(h.environment, "bold"), lit(h.version), Text(word, style=f"bold {style}"))
        out.append(f"   (live in: {envs}; e: next environment)", style="dim")
        if h.source:
            out.append_text(join(Text("\nsource", style="dim"), lit(h.source)))
        latest = max(h.telemetry.snapshots, key=lambda snap: snap.at) if h.telemetry and h.telemetry.snapshots else None
        if latest is not None and latest.callers:
            total = sum(latest.callers.values()) or 1.0
            callers = sorted(latest.callers.items(), key=lambda kv: kv[1], reverse=True)
            text = ", ".join(f"{plain(name)} {calls:,.0f} ({calls / total:.0%})" for name, calls in callers[:5])
            out.append_text(join(Text(f"\ncalled by ({latest.at:%Y-%m-%d})", style="dim"), Text(text)))
        for reason in h.reasons[:4]:
            out.append_text(join(Text("\n •"), lit(reason)))
        for note in h.notes[:2]:
            out.append_text(join(Text("\n note:", style="dim"), lit(note, "dim")))
        return out

    def _show_drift(self, h: Health | None) -> None:
        if "drift" not in self._built:
            return
        summary = self.query_one("#drift-summary", Static)
        table = self.query_one("#drift-table", RegistryTable)
        table.clear(columns=True)
        report = h.drift if h else None
        if h is None or report is None:
            summary.update(Text("no drift report: the model is not live anywhere with figures", style="dim"))
            return
        line = join(lit(h.environment, "bold"), lit(report.version), Text(f"trained {report.age_days:.0f} days ago", style="dim"))
        line.append_text(join(Text("\nbaseline", style="dim"), lit(report.baseline or "none")))
        if report.profile_at:
            line.append_text(join(Text(" · live profile at", style="dim"), Text(when(report.profile_at))))
        for m in report.metrics:
            definition = self.data.config.metrics.get(m.metric) if self.data else None
            drop = m.drop
            word = "worse" if drop is not None and drop > 0 else "better or same" if drop is not None else "direction unknown"
            line.append_text(
                join(
                    Text("\n"),
                    lit(m.metric, "bold"),
                    Text(
                        f"validation {metric_text(definition, m.metric, m.validation)} → live {metric_text(definition, m.metric, m.live)} ({word})"
                    ),
                )
            )
        for note in report.notes:
            line.append_text(join(Text("\nnote:", style="dim"), lit(note, "dim")))
        summary.update(line)
        rows = []
        for f in report.ranked:
            moved = Text(", ".join(f"{plain(b.bin)} {b.expected:.1%}→{b.actual:.1%}" for b in f.moved()))
            level_style = {"significant": "bold red", "moderate": "yellow", "stable": "green"}.get(f.level, "dim")
            rows.append(
                [
                    lit(f.feature, "bold"),
                    Text(f"{f.psi:.3f}" if f.psi is not None else "—"),
                    Text(f.level, style=level_style),
                    moved,
                    lit(f.note, "dim", empty=""),
                ]
            )
        labels = [Text(label) for label in ("Feature", "PSI", "Level", "Bins that moved (training → live)", "Note")]
        table.fill(labels, rows)

    # ---- actions ------------------------------------------------------------------------

    def release_target(self, kind: str) -> Target | None:
        if kind in ("promote", "approve", "reject"):
            version = self.selected_version()
            return Target(self.model_name, version) if version else None
        return Target(self.model_name)
