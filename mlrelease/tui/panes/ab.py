"""A/B (7): the canary against the live version — both arms on one chart, the verdict per metric, what next.

The report is the core's (:func:`mlrelease.rollout.report.ab_report`, the same as
``mlrelease ab``), read in a thread worker the first time the tab is shown (it asks the
environment's telemetry source) and again after the model is read anew. The environment
is the one where the model runs a canary (a rollout strategy's first). From here a person
advances the rollout (``A``: a promote to the next step's weight), aborts it
(``b``: rollback) or pauses it (``P``: pin) — each through the plan dialog, like every action.
The verdicts come before the charts: at 80×24 they are what fits above the fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from mlrelease.errors import MlreleaseError
from mlrelease.registry.types import Snapshot
from mlrelease.rollout.decide import change, figure
from mlrelease.rollout.judge import MetricVerdict
from mlrelease.rollout.report import Report, ab_report, next_text, progress_text
from mlrelease.telemetry.health import error_rate
from mlrelease.tui.modeldata import ModelData
from mlrelease.tui.panes.base import Pane
from mlrelease.tui.safe import join, lit, plain, when
from mlrelease.tui.widgets.pairchart import CHALLENGER, CHAMPION, Pair, PairChart
from mlrelease.tui.widgets.table import RegistryTable, Step, column_widths, fit_widths

VERDICTS = {"pass": ("pass", "bold green"), "fail": ("FAIL", "bold red"), "inconclusive": ("inconclusive", "bold yellow")}


def canary_environment(data: ModelData) -> str | None:
    """Where the model runs a canary: an environment with a rollout strategy first, else any."""
    running = [env for env, s in data.states.items() if s.live is not None and s.live.canary is not None]
    with_strategy = [e.name for e in data.config.environments if e.rollout is not None and e.name in running]
    return (with_strategy or running or [None])[0]


class ABPane(Pane):
    TAB = "ab"
    FOCUS = "#ab-table"

    @dataclass
    class Read(Message):
        model: str
        report: Report | None
        error: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.report: Report | None = None
        self._asked = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="ab-scroll"):
            yield Static(Text("reading the A/B report…", style="italic"), id="ab-status", classes="pane-note")
            yield RegistryTable(id="ab-table")
            yield PairChart(id="ab-chart-errors")
            yield PairChart(id="ab-chart-latency")

    def model_changed(self, data: ModelData) -> None:
        super().model_changed(data)
        self.report, self._asked = None, False
        if self.view.active_tab == self.TAB:
            self._ask()

    def activate(self) -> None:
        self._ask()
        super().activate()

    def _ask(self) -> None:
        if self._asked or self.data is None:
            return
        self._asked = True
        env = canary_environment(self.data)
        if env is None:
            self._show_none()
            return
        self._load(self.data.name, env)

    @work(thread=True, exclusive=True, group="ab", exit_on_error=False, description="reading the A/B report")
    def _load(self, model: str, env: str) -> None:
        try:
            with self.mlr.session.open() as reg:
                report = ab_report(reg, model, env, self.mlr.clock().astimezone(UTC).replace(microsecond=0))
        except MlreleaseError as exc:
            self.post_message(self.Read(model, None, str(exc)))
            return
        self.post_message(self.Read(model, report))

    @on(Read)
    def _read(self, message: Read) -> None:
        if self.data is None or message.model != self.data.name:
            return
        if message.report is None:
            self.query_one("#ab-status", Static).update(join(Text("A/B report:", style="bold"), lit(message.error, "red")))
            return
        self.report = message.report
        self._show(message.report)

    def _show_none(self) -> None:
        self.query_one("#ab-status", Static).update(
            Text("no canary runs for this model: start a rollout with `mlrelease rollout MODEL@VERSION --env ENV`", style="dim")
        )
        for chart in self.query(PairChart).results(PairChart):
            chart.show(None)
        self.query_one("#ab-table", RegistryTable).clear(columns=True)

    # ---- drawing --------------------------------------------------------------------------

    def _show(self, report: Report) -> None:
        e = report.evaluation
        pos = e.position
        if pos is None:
            self._show_none()
            return
        status = join(lit(e.environment, "bold"), Text(progress_text(e, what_next=False)))
        status.append_text(join(Text("\nnext:", style="dim"), Text(next_text(e), style="bold")))
        status.append_text(join(Text("\njudged", style="dim"), Text(f"{when(pos.step_since)} → {when(e.at)} ·"), lit(e.source, "dim")))
        status.append_text(Text("\nA advance · b abort · P pause · u resume (each through the plan dialog)", style="dim"))
        for note in report.notes:
            status.append_text(join(Text("\nnote:", style="dim"), lit(note, "dim")))
        self.query_one("#ab-status", Static).update(status)
        champion, challenger = e.arms.get(pos.champion), e.arms.get(pos.challenger)
        legend = f"{CHAMPION} {plain(pos.champion)} (champion)  {CHALLENGER} {plain(pos.challenger)} (challenger)"
        self._charts(champion.series if champion else (), challenger.series if challenger else (), legend)
        self._table(e.judgement.verdicts if e.judgement else ())

    def _charts(self, a: tuple[Snapshot, ...], b: tuple[Snapshot, ...], legend: str) -> None:
        days = sorted({s.at for s in (*a, *b)})[-14:]
        by_a, by_b = {s.at: s for s in a}, {s.at: s for s in b}
        labels = tuple(f"{d:%m-%d}" for d in days)

        def pair(title: str, value: Callable[[Snapshot], float | None], fmt: Callable[[float], str]) -> Pair:
            def at(by: dict[datetime, Snapshot], d: datetime) -> float | None:
                s = by.get(d)
                return value(s) if s is not None else None

            return Pair(Text(title, style="bold"), labels, tuple(at(by_a, d) for d in days), tuple(at(by_b, d) for d in days), fmt, legend)

        errors = pair("error rate", error_rate, lambda x: f"{x:.3%}")
        latency = pair("latency p95 (ms)", lambda s: s.latency_ms.get("p95"), lambda x: f"{x:.1f}")
        self.query_one("#ab-chart-errors", PairChart).show(errors)
        self.query_one("#ab-chart-latency", PairChart).show(latency)

    def _table(self, verdicts: tuple[MetricVerdict, ...]) -> None:
        rows = []
        for v in verdicts:
            word, style = VERDICTS[v.verdict]
            interval = "—" if v.low is None or v.high is None else f"{change(v, v.low)} … {change(v, v.high)}"
            p = "—" if v.p_value is None else "< 1e-16" if v.p_value < 1e-16 else f"{v.p_value:.3g}"
            rows.append(
                [
                    lit(v.metric + (" (critical)" if v.critical else ""), "bold"),
                    Text(word, style=style),
                    Text(figure(v, v.champion)),
                    Text(figure(v, v.challenger)),
                    Text(change(v, v.delta)),
                    Text(interval),
                    Text(p),
                    Text(v.test, style="dim"),
                    Text(f"{v.n_champion:,.0f} / {v.n_challenger:,.0f}"),
                    lit(v.reason, "dim"),
                ]
            )
        labels = [Text(x) for x in ("Metric", "Verdict", "Champion", "Challenger", "Δ", "CI", "p", "Test", "n", "Why")]
        # What decides stays whole (metric, verdict, the arms, Δ, CI): the reason, sample sizes,
        # test and p-value give way first. The tab scrolls, so its scrollbar takes two cells more.
        steps: list[Step] = [
            ("shrink", 9, 16),
            ("drop", 8, 0),
            ("drop", 7, 0),
            ("drop", 9, 0),
            ("drop", 6, 0),
            ("shrink", 0, 14),
            ("shrink", 5, 10),
            ("shrink", 3, 8),
            ("shrink", 2, 8),
        ]
        widths = fit_widths(column_widths(labels, rows), self.app.size.width - 5, steps)
        self.query_one("#ab-table", RegistryTable).fill(labels, rows, widths)
