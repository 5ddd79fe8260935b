"""Per-model status read in the background after the first paint, and how it is shown.

The overview paints from the cheap summary first; then a worker asks the services, model
by model, for what costs more: the gates and approvals of the waiting candidate, whether
retraining is due, live health, and the headline metric across recent versions. This
module holds those answers (:class:`ModelStatus`) and renders them as text plus symbol,
never colour alone. The answers themselves come from the services (see
:func:`mlrelease.tui.background.model_status`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from mlrelease.registry.overview import ModelSummary
from mlrelease.tui.safe import lit, plain
from mlrelease.tui.widgets.chart import spark

HEALTH = {
    # health status (mlrelease.telemetry.health.Status, or "none") → (symbol and word, style, sort rank)
    "due": ("↻ retrain due", "magenta", 0),
    "degraded": ("! degraded", "red", 1),
    "drifting": ("~ drifting", "yellow", 2),
    "unknown": ("? no figures", "dim", 3),
    "ok": ("✓ ok", "green", 4),
    "none": ("— not live", "dim", 5),
}

# The shorter wording of a status or health word, for a column narrower than the whole one
# (80 columns): what it is stays, the detail line under the list says the rest.
SHORT = {"↻ retrain due": "↻ retrain", "? no figures": "? no data", "⚠ break-glass, not reviewed": "⚠ break-glass"}


@dataclass(frozen=True)
class ModelStatus:
    """What the services said about one model beyond its summary."""

    gates_target: str | None = None  # the environment the candidate would go to next
    failing_gates: tuple[str, ...] = ()  # names of failing gates (approvals counted apart)
    approvals: tuple[int, int] | None = None  # (have, need) when the target needs approvals
    retrain_due: tuple[str, ...] = ()  # reasons
    health: str = "pending"  # see HEALTH; "pending" until the health question is answered
    health_detail: str = ""  # the worst environment's first reason, or why health could not be read
    trend: tuple[float, ...] = ()  # headline metric over recent versions, oldest first
    gates_read: bool = False  # the candidate's gates were asked (the status cell says "…" until then)
    rollout: str = ""  # a canary's progress: "production: 2.2.0 step 1 of 3 · 10% · next decision … · so far: pass"

    @property
    def approvals_missing(self) -> bool:
        return self.approvals is not None and self.approvals[0] < self.approvals[1]

    def trend_text(self) -> Text:
        if len(self.trend) < 2:
            return Text("")
        arrow = "↗" if self.trend[-1] > self.trend[0] else "↘" if self.trend[-1] < self.trend[0] else "→"
        return Text(f"{spark(self.trend)}{arrow}", style="cyan")

    def health_text(self, *, short: bool = False) -> Text:
        """The health word; ``short``: the wording for a narrow column (``↻ retrain``, never ``↻ ret…``)."""
        word, style, _ = HEALTH.get(self.health, ("… reading", "dim", 6))
        return Text(SHORT.get(word, word) if short else word, style=style)

    def health_rank(self) -> int:
        return HEALTH.get(self.health, ("", "", 6))[2]


def status_cell(summary: ModelSummary, status: ModelStatus | None, room: int | None = None) -> Text:
    """Every fact worth a glance, as symbol + word, most urgent first.

    In ``room`` cells, when the whole text does not fit: the shorter wording of each part
    (``◆ 2.3.0`` without its target, ``◇ 0/2``), then as many whole parts as fit followed by
    ``…`` — a version or a word is never cut (the detail line says everything).
    """
    parts = _status_parts(summary, status)
    if not parts:
        return Text("✓ current", style="green")
    out = _joined([full for full, _ in parts])
    if room is not None and out.cell_len > room:
        out = _joined([short for _, short in parts])
        kept = [short for _, short in parts]
        while out.cell_len > room and len(kept) > 1:
            kept.pop()
            out = _joined([*kept, Text("…")])
    return out


def _joined(parts: list[Text]) -> Text:
    out = Text(" ").join(parts)
    out.no_wrap = True
    return out


def _status_parts(summary: ModelSummary, status: ModelStatus | None) -> list[tuple[Text, Text]]:
    """(whole, short) wording of each part of the status cell, most urgent first."""
    parts: list[Text] = []
    flags = summary.flags
    if "unverified" in flags:  # as the cells say it: hand-edited alone, or unverified
        words = {m for e in summary.environments for m in e.marks}
        parts.append(Text("⚠ hand-edited" if words == {"hand-edited"} else "⚠ unverified", style="bold red"))
    if "break-glass" in flags:
        parts.append(Text("⚠ break-glass, not reviewed", style="bold red"))
    elif "forced" in flags:
        parts.append(Text("! forced", style="red"))
    if "failed" in flags:
        parts.append(Text("✗ failed", style="bold red"))
    if "pending" in flags:
        parts.append(Text("… pending", style="yellow"))
    if status is not None and status.retrain_due and status.health != "due":  # else the Health column says it
        parts.append(Text("↻ retrain due", style="magenta"))
    shorter: dict[int, Text] = {}  # index in parts → its shorter wording
    if summary.candidate is not None:
        cand = Text("◆ ", style="cyan")
        cand.append_text(lit(summary.candidate, "cyan"))
        shorter[len(parts)] = cand.copy()
        if status is not None and status.gates_target:
            cand.append(f"→{plain(status.gates_target)}", style="cyan")
        elif status is None or not status.gates_read:
            cand.append("→…", style="dim")  # its gates are still being read
        parts.append(cand)
        if status is not None and status.failing_gates:
            count = len(status.failing_gates)
            parts.append(Text(f"✗ {count} gate{'s' if count > 1 else ''}", style="red"))
        if status is not None and status.approvals_missing and status.approvals:
            have, need = status.approvals
            shorter[len(parts)] = Text(f"◇ {have}/{need}", style="yellow")
            parts.append(Text(f"◇ {have}/{need} approvals", style="yellow"))
    if "pinned" in flags:
        parts.append(Text("⚑ pinned"))
    out = []
    for i, part in enumerate(parts):
        short = shorter.get(i)
        if short is None:
            short = Text(SHORT[part.plain], style=part.style) if part.plain in SHORT else part
        out.append((part, short))
    return out


def status_detail(summary: ModelSummary, status: ModelStatus | None) -> Text:
    """The selected model's status in words: which gates, how many approvals, why retrain, health."""
    parts: list[Text] = []
    if status is not None and status.rollout:
        parts.append(Text(f"rollout {plain(status.rollout)}"))
    if status is not None and summary.candidate is not None and status.gates_target:
        if status.failing_gates:
            parts.append(
                Text(f"{plain(summary.candidate)}→{plain(status.gates_target)} fails: {', '.join(plain(g) for g in status.failing_gates)}")
            )
        if status.approvals is not None:
            parts.append(Text(f"approvals {status.approvals[0]} of {status.approvals[1]}"))
    if status is not None and status.retrain_due:
        parts.append(Text(f"retrain: {plain(status.retrain_due[0])}"))
    if status is not None and status.health_detail:
        parts.append(Text(f"health: {plain(status.health_detail)}"))
    out = Text(" · ").join(parts)
    out.stylize("dim")
    return out
