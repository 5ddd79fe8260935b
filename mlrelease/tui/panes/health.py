"""Telemetry (5) and Drift (6): one environment's live figures, health and drift.

Both tabs show the same assessment (read once by the screen, in a worker, the first
time either is shown) for the same environment (``e`` cycles through the ones the model
is live in); each pane only draws it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from mlrelease.registry.types import Snapshot
from mlrelease.telemetry.health import Health, error_rate
from mlrelease.tui.panes.base import Pane, metric_text
from mlrelease.tui.safe import join, lit, plain, when
from mlrelease.tui.status import HEALTH
from mlrelease.tui.widgets.chart import Chart, Series
from mlrelease.tui.widgets.table import RegistryTable

CHARTS = ("calls", "errors", "latency", "metric", "memory", "cpu")  # two per row


class HealthPane(Pane):
    """A tab that draws the screen's health assessment for its chosen environment."""

    def on_mount(self) -> None:
        super().on_mount()
        if self.view.health is not None:
            self.show_health(self.view.current_health())

    def activate(self) -> None:
        self.view.want_health()
        super().activate()

    def show_health(self, h: Health | None) -> None:
        raise NotImplementedError


class TelemetryPane(HealthPane):
    TAB = "telemetry"

    def compose(self) -> ComposeResult:
        charts = [Chart(id=f"chart-{c}") for c in CHARTS]
        with VerticalScroll(id="telemetry-scroll"):
            yield Static("", id="telemetry-status", classes="pane-note")
            yield Horizontal(*charts[:2], classes="charts")
            yield Horizontal(*charts[2:4], classes="charts")
            yield Horizontal(*charts[4:], classes="charts")

    def show_health(self, h: Health | None) -> None:
        status = self.query_one("#telemetry-status", Static)
        charts = {c: self.query_one(f"#chart-{c}", Chart) for c in CHARTS}
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

        charts["calls"].show(series("calls", tuple(float(s.calls) if s.calls is not None else None for s in snaps), ",.0f"))
        charts["errors"].show(series("error rate", tuple(error_rate(s) for s in snaps), ".2%"))
        charts["latency"].show(series("latency p95 (ms)", tuple(s.latency_ms.get("p95") for s in snaps), ".0f"))
        charts["memory"].show(series("memory (MB)", tuple(s.memory_mb for s in snaps), ",.0f"))
        charts["cpu"].show(series("CPU (cores)", tuple(s.cpu for s in snaps), ".2f"))
        metric = self._live_metric(snaps)
        if metric is None:
            charts["metric"].show(None)
        else:
            definition = self.data.config.metrics.get(metric) if self.data else None
            charts["metric"].show(
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
        envs = ", ".join(plain(r.environment) for r in self.view.health_rows())
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


class DriftPane(HealthPane):
    TAB = "drift"
    FOCUS = "#drift-table"

    def compose(self) -> ComposeResult:
        yield Static("", id="drift-summary", classes="pane-note")
        yield RegistryTable(id="drift-table")

    def show_health(self, h: Health | None) -> None:
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
            level_style = {"significant": "bold red", "moderate": "bold yellow", "stable": "green"}.get(f.level, "dim")
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
