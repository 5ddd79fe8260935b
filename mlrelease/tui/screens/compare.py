"""Two versions side by side: metrics judged by their goal, then params, data and other facts.

The judgement (better, worse, same, unknown) is :mod:`mlrelease.registry.compare`'s, the
data-set changes (rows, columns, profile PSI) :mod:`mlrelease.telemetry.drift`'s; this
screen only lays them out. The older version is on the left.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from mlrelease.errors import Problem
from mlrelease.registry.compare import ADDED, BETTER, REMOVED, SAME, UNKNOWN, WORSE, Comparison, compare
from mlrelease.telemetry.drift import DatasetDiff, compare_version_data
from mlrelease.tui.safe import join, lit, plain
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.widgets.keybar import KeyBar
from mlrelease.tui.widgets.table import RegistryTable
from mlrelease.tui.widgets.topbar import TopBar

VERDICTS = {
    BETTER: ("▲ better", "green"),
    WORSE: ("▼ worse", "red"),
    SAME: ("= same", "dim"),
    UNKNOWN: ("? direction unknown", "yellow"),
    ADDED: ("+ added", "cyan"),
    REMOVED: ("− removed", "cyan"),
}


@dataclass(frozen=True)
class CompareData:
    comparison: Comparison
    data: tuple[DatasetDiff, ...]
    problems: tuple[Problem, ...]


class CompareScreen(BaseScreen):
    TITLE = "Compare"
    SCOPES = ("table", "app")
    HELP = (
        "Metrics of the two versions with the change from the left (older) to the right, judged by each metric's goal "
        "in mlrelease.yaml (▲ better, ▼ worse, = same; ? when the metric is not in the catalogue). Below: parameters "
        "that differ, data sets per role (rows, columns, and the population stability index between their profiles), "
        "and other facts of the manifests (parent, code, image, artifact). Esc goes back."
    )

    def __init__(self, model: str, old: str, new: str) -> None:
        super().__init__(classes="compare-screen")
        self.model_name, self.old, self.new = model, old, new

    def compose(self) -> ComposeResult:
        yield TopBar(
            join(
                Text("Overview ›", style="dim"),
                lit(self.model_name),
                Text("› compare", style="dim"),
                lit(f"{self.old} → {self.new}", "bold"),
            )
        )
        yield Static(Text("reading…", style="italic"), id="compare-summary")
        with VerticalScroll(id="compare-body"):
            yield RegistryTable(id="compare-metrics", classes="auto-height")
            yield RegistryTable(id="compare-other", classes="auto-height")
        yield KeyBar()

    def on_mount(self) -> None:
        self.load()

    def registry_loaded(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False, description="comparing versions")
    def load(self) -> None:
        with self.mlr.session.open() as reg:
            cmp = compare(reg, (self.model_name, self.old), (self.model_name, self.new))
            problems: list[Problem] = []
            data = compare_version_data(reg, cmp.old, cmp.new, problems)
        self.app.call_from_thread(self._show, CompareData(cmp, data, tuple(problems)))

    def _show(self, result: CompareData) -> None:
        cmp = result.comparison
        counts = cmp.counts()
        summary = join(lit(cmp.old.model, "bold"), lit(cmp.old.version), Text("→"), lit(cmp.new.version, "bold"))
        summary.append(f": {counts[BETTER]} better, {counts[WORSE]} worse, {counts[SAME]} same")
        if counts[UNKNOWN]:
            summary.append(f", {counts[UNKNOWN]} of unknown direction")
        summary.append(f" · {len(cmp.params)} parameter(s) changed, {cmp.unchanged_params} unchanged", style="dim")
        for p in result.problems[:3]:
            summary.append_text(join(Text("\nproblem:", style="yellow"), lit(str(p), "yellow")))
        self.query_one("#compare-summary", Static).update(summary)

        metric_rows = []
        for d in cmp.metrics:
            word, style = VERDICTS.get(d.verdict, ("?", "yellow"))
            goal = d.definition.goal if d.definition else "—"
            metric_rows.append(
                [
                    lit(d.name, "bold"),
                    Text(d.render(d.old)),
                    Text(d.render(d.new)),
                    Text(d.render_delta(), style=style),
                    Text(word, style=style),
                    Text(goal, style="dim"),
                ]
            )
        metrics = self.query_one("#compare-metrics", RegistryTable)
        metrics.fill(
            [Text("Metric"), lit(cmp.old.version), lit(cmp.new.version), Text("Change"), Text("Verdict"), Text("Goal")], metric_rows
        )

        other_rows = [[Text("param", style="dim"), lit(p.name, "bold"), lit(p.old), lit(p.new), Text(p.kind)] for p in cmp.params]
        for diff in result.data:
            rows = ""
            if diff.rows_change is not None and diff.rows_before != diff.rows_after:
                rows = f"rows {diff.rows_before:,} → {diff.rows_after:,} ({diff.rows_change:+.1%})"
            notes = [rows] if rows else []
            notes += [f"column {plain(c.column)}: {plain(c.before, empty='none')} → {plain(c.after, empty='none')}" for c in diff.columns]
            drifted = [f for f in diff.features if f.psi is not None and f.level != "stable"]
            notes += [f"{plain(f.feature)} PSI {f.psi:.3f} ({f.level})" for f in drifted if f.psi is not None]
            notes += [plain(n) for n in diff.notes]
            if diff.same and not notes:
                continue
            other_rows.append(
                [Text("data", style="dim"), lit(diff.role, "bold"), lit(diff.before), lit(diff.after), Text("; ".join(notes) or "changed")]
            )
        other_rows += [[Text("manifest", style="dim"), lit(f.field, "bold"), lit(f.old), lit(f.new), Text("")] for f in cmp.fields]
        if not other_rows:
            other_rows.append([Text(""), Text("no other differences", style="dim"), Text(""), Text(""), Text("")])
        other = self.query_one("#compare-other", RegistryTable)
        other.fill([Text("Section"), Text("Name"), lit(cmp.old.version), lit(cmp.new.version), Text("Note")], other_rows)
        metrics.focus()
