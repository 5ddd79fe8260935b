"""The overview: every model, what runs where, its headline metric and status, at a glance.

The facts come from :mod:`mlrelease.registry.overview` (and, once read in the background,
from the status service: gates, approvals, retraining and health); this module only
turns them into literal cells, filters (``/``, fuzzy, ``!`` inverts) and sorts (``s``,
``S``, or a click on a header). Rows are built once per reload with their search text and
sort keys, so a filter keystroke is one pass over strings and one table fill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Static

from mlrelease.registry.names import version_key
from mlrelease.registry.overview import EnvStatus, ModelSummary, Overview
from mlrelease.tui import heap, keys
from mlrelease.tui.filtering import filter_items, parse_query
from mlrelease.tui.safe import at_most, lit, plain
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.status import ModelStatus, status_cell, status_detail
from mlrelease.tui.target import Target
from mlrelease.tui.widgets.keybar import KeyBar
from mlrelease.tui.widgets.rowlist import GAP, MARGIN, RowList
from mlrelease.tui.widgets.safeinput import SafeInput
from mlrelease.tui.widgets.table import MAX_CELL, Step, column_widths, fit_widths
from mlrelease.tui.widgets.topbar import TopBar

_LAST = (1, ())  # sort key that puts missing values last


@dataclass(frozen=True)
class Column:
    key: str
    label: Text
    sort: Callable[[OverviewRow], object]
    cap: int = MAX_CELL  # widest the column gets; longer cells end in "…" (the model view has them whole)


@dataclass
class OverviewRow:
    summary: ModelSummary
    status: ModelStatus | None
    cells: list[Text]
    names: str  # lowered name and owner: the filter's fuzzy match
    search: str  # lowered text of the whole row: the filter's substring match
    narrow: tuple[tuple[int, int], list[Text]] | None = None  # (health, status widths) → cells in the shorter wording

    def cells_at(self, health: int, status: int) -> list[Text]:
        """The cells for Health and Status columns that wide: the shorter wording where the whole does not fit.

        Kept per widths, so that a filter keystroke shows the same cell lists (the list's lines are cached by them).
        """
        if self.narrow is None or self.narrow[0] != (health, status):
            cells = self.cells
            if self.cells[-2].cell_len > health > 0 or self.cells[-1].cell_len > status > 0:
                cells = list(self.cells)
                if self.status is not None and cells[-2].cell_len > health:
                    cells[-2] = self.status.health_text(short=True)
                if cells[-1].cell_len > status:
                    cells[-1] = status_cell(self.summary, self.status, room=status)
            self.narrow = ((health, status), cells)
        return self.narrow[1]


def env_cell(env: EnvStatus) -> Text:
    """What runs in one environment, in words and symbols (never colour alone)."""
    out = Text()
    if env.pinned:
        out.append("⚑", style="bold")
    out.append(plain(env.live, empty="—"))
    if env.canary is not None:
        out.append(f" +{plain(env.canary.version)}@{env.canary.weight:g}%", style="italic")
    if env.pending and env.desired is not None:
        out.append(f" →{plain(env.desired)}…", style="yellow")
    elif env.failed and env.desired is not None:
        out.append(f" ✗{plain(env.desired)}", style="red")
    if env.marks:  # a symbol only, so every column still fits at 80 wide; the Status column says it in words
        out.append(" ⚠", style="bold red")
    if env.break_glass:
        out.append(" ⚠break-glass", style="bold red")
    elif env.forced:
        out.append(" !forced", style="red")
    return out


def headline_cell(summary: ModelSummary, status: ModelStatus | None) -> Text:
    if not summary.headline:
        return Text("—", style="dim")
    first = summary.headline[0]
    out = Text.assemble(lit(first.name, "dim"), " ", (first.render(), "bold"))
    if status is not None and status.trend:
        out.append(" ")
        out.append_text(status.trend_text())
    return out


def build_row(summary: ModelSummary, status: ModelStatus | None) -> OverviewRow:
    cells = [
        lit(summary.name, "bold"),
        lit(summary.owner),
        *(env_cell(e) for e in summary.environments),
        headline_cell(summary, status),
        status.health_text() if status is not None else Text("… reading", style="dim"),
        status_cell(summary, status),
    ]
    names = f"{summary.name} {summary.owner or ''}".lower()
    search = " ".join(c.plain for c in cells).lower()
    return OverviewRow(summary, status, cells, names, search)


def columns(environments: tuple[str, ...]) -> list[Column]:
    def env_key(i: int) -> Callable[[OverviewRow], object]:
        def key(row: OverviewRow) -> object:
            live = row.summary.environments[i].live
            return (0, version_key(live)) if live else _LAST

        return key

    def headline_key(row: OverviewRow) -> object:
        h = row.summary.headline
        return (0, h[0].value) if h and h[0].value is not None else (1, 0.0)

    return [
        Column("model", Text("Model"), lambda r: r.summary.name, cap=32),
        Column("owner", Text("Owner"), lambda r: (r.summary.owner or "").lower(), cap=18),
        *(Column(f"env:{e}", lit(e), env_key(i)) for i, e in enumerate(environments)),
        Column("headline", Text("Headline (live)"), headline_key),
        Column("health", Text("Health"), lambda r: r.status.health_rank() if r.status else 9),
        Column("status", Text("Status"), lambda r: (r.cells[-1].plain == "✓ current", r.cells[-1].plain)),
    ]


class OverviewScreen(BaseScreen):
    TITLE = "Overview"
    SCOPES = ("overview", "table", "release", "app")
    HELP = (
        "Every model in the registry. Per environment: the live version, a canary with its traffic weight (+v@w%), "
        "a promotion still pending (→v…) or failed (✗v), a pin (⚑). Headline: the first headline metric of the "
        "version live furthest along, with its trend over recent versions. Status: candidate waiting (◆), gates "
        "failing (✗), approvals missing (◇), retrain due (↻), pinned (⚑), pending (…), failed (✗), or current (✓). "
        "Health comes from live telemetry.\n\n"
        "{overview.filter} filters: fuzzy on model and owner (letters in order), as typed on the rest of the row (status, "
        "versions); start with ! to keep what does not match; {app.back} clears the filter. "
        "{overview.sort} sorts by the next column, {overview.sort_reverse} reverses, a click on a header sorts by it. "
        "{overview.open} opens a model. Promote ({release.promote}) offers the model's candidate; rollback ({release.rollback}), "
        "retrain ({release.retrain}) and unpin ({release.unpin}) act on the selected model."
    )
    BINDINGS = keys.bindings("overview", "release")

    def __init__(self) -> None:
        super().__init__(id="overview")
        self._rows: list[OverviewRow] = []
        self._columns: list[Column] = []
        self._environments: tuple[str, ...] | None = None
        self._by_name: dict[str, int] = {}
        self._widths: list[int] = []
        self._short_health = len("Health")  # the widest health word in its shorter wording
        self._sort = 0  # by model name
        self._reverse = False
        self._query = parse_query("")
        self.shown: list[OverviewRow] = []
        self._detail: tuple[Text, int] | None = None  # what the detail line shows, at which width

    def compose(self) -> ComposeResult:
        yield TopBar(Text("Overview", style="bold"))
        yield SafeInput(placeholder="filter models (fuzzy; !text inverts) — Esc clears", id="filter", classes="hidden")
        yield RowList(id="models")
        yield Static("", id="overview-detail", classes="note")
        yield Static("", id="overview-note")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(RowList).focus()
        # Filter as the key changes the field's value, not on the Input.Changed message a loop
        # later: the typed letter and the filtered list then reach the terminal in one frame.
        self.watch(self.query_one("#filter", Input), "value", self._filter_typed, init=False)
        self.registry_loaded()

    # ---- data --------------------------------------------------------------------------

    def registry_loaded(self) -> None:
        view: Overview | None = self.mlr.overview
        if view is None:
            self.query_one("#overview-note", Static).update(Text("reading the registry…", style="italic"))
            return
        statuses = self.mlr.statuses
        self._rows = [build_row(m, statuses.get(m.name)) for m in view.models]
        self._by_name = {r.summary.name: i for i, r in enumerate(self._rows)}
        if view.environments != self._environments:
            self._environments = view.environments
            self._columns = columns(view.environments)
            self._sort = min(self._sort, len(self._columns) - 1)
        self._measure()
        self.refill()
        heap.keep()  # the rows live until the next read

    def _measure(self) -> None:
        self._widths = column_widths([c.label for c in self._columns], [r.cells for r in self._rows], [c.cap for c in self._columns])
        short = [r.status.health_text(short=True).cell_len for r in self._rows if r.status is not None]
        self._short_health = max([len("Health"), *short])

    def fitted(self) -> list[int]:
        """Column widths for the list's width: what decides (model, live per environment, health,
        status) stays; the owner, then the headline, shrink and then go, before the status is cut."""
        if not self._widths:
            return self._widths
        owner, headline = 1, len(self._widths) - 3
        health, status = headline + 1, headline + 2
        steps: list[Step] = [
            ("shrink", owner, 8),
            ("shrink", headline, 10),
            ("drop", owner, 0),
            ("drop", headline, 0),
            ("shrink", health, self._short_health),  # "↻ retrain" (the shorter wording), not "↻ ret…"
            ("shrink", status, 14),
            ("shrink", 0, 10),
            ("shrink", health, 6),
        ]
        room = (self.query_one(RowList).size.width or self.app.size.width) - MARGIN - 1
        return fit_widths(self._widths, room, steps, gap=GAP)

    def on_resize(self) -> None:
        if self._rows:
            self.refill()  # the detail line too

    def statuses_updated(self, names: Iterable[str]) -> None:
        """Background status arrived for ``names``: rebuild those rows only, then show."""
        statuses = self.mlr.statuses
        for name in names:
            i = self._by_name.get(name)
            if i is not None:
                self._rows[i] = build_row(self._rows[i].summary, statuses.get(name))
        if self._rows:
            self._measure()
            self.refill()
        heap.keep()

    # ---- table -------------------------------------------------------------------------

    def refill(self) -> None:
        """Filter, sort and show the rows, keeping the cursor on the same model."""
        table = self.query_one(RowList)
        current = self.selected_name()
        col = self._columns[self._sort]
        rows = filter_items(self._rows, self._query, lambda r: r.names, lambda r: r.search)
        rows.sort(key=col.sort, reverse=self._reverse)  # type: ignore[arg-type,return-value]
        self.shown = rows
        labels = []
        for i, c in enumerate(self._columns):
            label = c.label.copy()
            if i == self._sort:
                label.append(" ▼" if self._reverse else " ▲")
            labels.append(label)
        widths = self.fitted()
        health, status = widths[-2], widths[-1]
        with self.app.batch_update():
            table.fill(labels, [r.cells_at(health, status) for r in self.shown], widths)
            names = [r.summary.name for r in self.shown]
            table.move_cursor(names.index(current) if current in names else 0)
            self._show_detail()  # now, in this frame (the Highlighted message comes a loop later and finds it done)
        self._note(len(rows))

    def _note(self, matched: int) -> None:
        total = len(self._rows)
        parts = []
        if not self._query.empty:
            parts.append(f"{matched} of {total} models match {'!' if self._query.inverted else ''}{self._query.needle!r}")
        else:
            parts.append(f"{total} models")
        problems = self.mlr.overview.problems if self.mlr.overview else ()
        if problems:
            parts.append(f"{len(problems)} registry problem(s), first: {plain(str(problems[0]))}")
        if self.mlr.unverified:
            parts.append(f"no marks: {plain(self.mlr.unverified)}")
        self.query_one("#overview-note", Static).update(Text(" · ".join(parts), style="dim"))

    def selected_name(self) -> str | None:
        table = self.query_one(RowList)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row].summary.name

    def selected(self) -> OverviewRow | None:
        name = self.selected_name()
        return next((r for r in self.shown if r.summary.name == name), None)

    # ---- filter and sort ---------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    def _filter_typed(self, value: str) -> None:
        query = parse_query(value)
        if query != self._query:
            self._query = query
            self.refill()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(RowList).focus()

    def clear_filter(self) -> bool:
        """Esc: clear an active filter first; True when there was one to clear."""
        box = self.query_one("#filter", Input)
        if box.has_class("hidden") and self._query.empty:
            return False
        self._query = parse_query("")
        box.value = ""
        box.add_class("hidden")
        self.refill()
        self.query_one(RowList).focus()
        return True

    def action_sort(self) -> None:
        self._sort = (self._sort + 1) % len(self._columns)
        self._reverse = False
        self.refill()

    def action_sort_reverse(self) -> None:
        self._reverse = not self._reverse
        self.refill()

    @on(RowList.HeaderClicked)
    def _header(self, event: RowList.HeaderClicked) -> None:
        if event.column == self._sort:
            self._reverse = not self._reverse
        else:
            self._sort, self._reverse = event.column, False
        self.refill()

    # ---- open and act ------------------------------------------------------------------

    @on(RowList.Highlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected model's status in words, redrawn only when it says something else.

        It has two lines (app.tcss); a longer detail ends in "…" on the second, so that a
        cut reason never reads as the whole one.
        """
        row = self.selected()
        detail = status_detail(row.summary, row.status) if row is not None else Text("")
        box = self.query_one("#overview-detail", Static)
        width = max(10, (box.content_size.width or self.app.size.width - 2))
        if (detail, width) != self._detail:
            self._detail = (detail, width)
            box.update(at_most(self.app.console, detail, width, lines=2))

    @on(RowList.Selected)
    def _row_selected(self, event: RowList.Selected) -> None:
        self.action_open()

    def action_open(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.mlr.open_model(name)

    def release_target(self, kind: str) -> Target | None:
        row = self.selected()
        if row is None:
            return None
        version = row.summary.candidate if kind in ("promote", "approve", "reject") else None
        return Target(row.summary.name, version)
