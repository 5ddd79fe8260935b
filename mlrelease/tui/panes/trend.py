"""Trend (2): one metric across versions, oldest to newest, each column labelled with its version."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mlrelease.registry.compare import best_of
from mlrelease.tui.modeldata import ModelData
from mlrelease.tui.panes.base import Pane, metric_text
from mlrelease.tui.safe import join, lit, plain
from mlrelease.tui.widgets.chart import Chart, Series

LIVE, REJECTED = "L", "✗"


class TrendPane(Pane):
    TAB = "trend"

    def __init__(self) -> None:
        super().__init__()
        self.metric: str | None = None  # None: the first headline metric

    def compose(self) -> ComposeResult:
        yield Chart(id="trend-chart")
        yield Static("", id="trend-note", classes="pane-note")

    def model_changed(self, data: ModelData) -> None:
        super().model_changed(data)
        self.draw()

    def current_metric(self) -> str | None:
        data = self.data
        if data is None or not data.all_metrics:
            return None
        if self.metric in data.all_metrics:
            return self.metric
        return data.key_metrics[0] if data.key_metrics else data.all_metrics[0]

    def next_metric(self) -> None:
        data, current = self.data, self.current_metric()
        if data is not None and current is not None:
            self.metric = data.all_metrics[(data.all_metrics.index(current) + 1) % len(data.all_metrics)]
            self.draw()

    def draw(self) -> None:
        data = self.data
        chart = self.query_one("#trend-chart", Chart)
        note = self.query_one("#trend-note", Static)
        metric = self.current_metric()
        if data is None or metric is None:
            chart.show(None)
            note.update(Text("no metrics to chart", style="dim"))
            return
        definition = data.config.metrics.get(metric)
        values = tuple(v.metrics.get(metric) for v in data.versions)
        marks = {}
        for i, v in enumerate(data.versions):
            if v.version in data.rejected:
                marks[i] = REJECTED
            elif v.version in data.placements:
                marks[i] = LIVE
        goal = f" (goal: {definition.goal})" if definition else " (not in the catalogue: direction unknown)"
        chart.show(
            Series(
                title=join(lit(metric, "bold"), Text(f"across {len(values)} versions{goal}", style="dim")),
                labels=tuple(plain(v.version) for v in data.versions),
                values=values,
                fmt=lambda x: metric_text(definition, metric, x),
                marks=marks,
                note=f"{LIVE} live somewhere · {REJECTED} rejected · m: next metric",
            )
        )
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
