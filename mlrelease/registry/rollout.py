"""An environment's rollout strategy (``environments[].rollout`` in mlrelease.yaml): steps and analysis.

A rollout moves a challenger (the canary) through ordered traffic weights, holding each
for at least its ``hold`` and letting the analysis judge it against the champion (the
live version) before the next; ``pause: true`` makes a step wait for a person after its
hold. ``max_duration`` bounds the whole rollout. The analysis names the metrics compared
per arm, each with its shape (which names the test: see :mod:`mlrelease.rollout.judge`),
the tolerance (absolute and/or relative, as the no-regression gate has), whether a
failure aborts (``critical``), the minimum sample per arm and the significance level.

Two figures are built in and need no catalogue entry: ``error_rate`` (errors per call, a
rate, lower is better) and ``latency_ms`` (the latency distribution, lower is better).
Every other analysed metric is a catalogue metric (lint checks it), whose goal it takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlrelease.registry.durations import duration_seconds
from mlrelease.registry.fields import Fields
from mlrelease.registry.types import Tolerance
from mlrelease.registry.yamlsafe import YMap

SHAPES = ("rate", "mean", "distribution")
BUILTIN: dict[str, tuple[str, str]] = {"error_rate": ("rate", "min"), "latency_ms": ("distribution", "min")}  # name → (shape, goal)
DEFAULT_SIGNIFICANCE = 0.05
DEFAULT_MIN_SAMPLES = 1000


@dataclass(frozen=True)
class Step:
    weight: float  # percent of traffic on the challenger, 0 < weight < 100
    hold: float  # seconds the step lasts at least
    pause: bool = False  # after the hold, wait for a person to advance


@dataclass(frozen=True)
class Check:
    """One metric of the analysis."""

    metric: str
    shape: str  # rate | mean | distribution
    tolerance: Tolerance
    critical: bool = False  # a failure aborts the rollout (otherwise a person decides)
    min_samples: int = DEFAULT_MIN_SAMPLES  # per arm
    significance: float = DEFAULT_SIGNIFICANCE  # the interval is at 1 − significance

    @property
    def builtin_goal(self) -> str | None:
        return BUILTIN[self.metric][1] if self.metric in BUILTIN else None


@dataclass(frozen=True)
class Strategy:
    steps: tuple[Step, ...]
    checks: tuple[Check, ...] = ()
    max_duration: float | None = None  # seconds from the first step
    line: int | None = None

    def index_of(self, weight: float) -> int | None:
        """The step (0-based) whose weight this is, or None when the weight is not a step's."""
        return next((i for i, s in enumerate(self.steps) if abs(s.weight - weight) < 1e-9), None)


def _duration(f: Fields, key: str, *, required: bool) -> float | None:
    return f.converted(key, duration_seconds, "a duration such as 30m, 2h or 7d", required=required)


def _step(f: Fields) -> Step:
    weight = f.number("weight", required=True)
    if weight is not None and not 0 < weight < 100:
        f.problem("weight", f"must be a percentage between 0 and 100 (exclusive), not {weight:g}")
    return Step(weight=weight or 0.0, hold=_duration(f, "hold", required=True) or 0.0, pause=f.bool("pause"))


def _tolerance(f: Fields | None) -> Tolerance:
    if f is None:
        return Tolerance()
    values = {}
    for key in ("absolute", "relative"):
        value = f.number(key, default=0.0) or 0.0
        if value < 0:
            f.problem(key, f"must not be negative, not {value:g}")
        values[key] = max(value, 0.0)
    f.done()
    return Tolerance(**values)


def _significance(f: Fields, default: float) -> float:
    value = f.number("significance", default=default)
    if value is None or not 0 < value <= 0.5:
        f.problem("significance", f"must be a level between 0 and 0.5 (0.05 for a 95% interval), not {value}")
        return default
    return value


def _check(name: str, f: Fields, significance: float, min_samples: int) -> Check:
    builtin = BUILTIN.get(name)
    shape = f.choice("type", SHAPES, required=builtin is None, default=builtin[0] if builtin else None)
    if builtin and shape != builtin[0]:
        f.problem("type", f"of the built-in figure {name} is {builtin[0]}, not {shape}")
    return Check(
        metric=name,
        shape=shape or "rate",
        tolerance=_tolerance(f.sub("tolerance")),
        critical=f.bool("critical"),
        min_samples=f.int("min_samples", default=min_samples, minimum=1) or min_samples,
        significance=_significance(f, significance),
    )


def parse_strategy(f: Fields | None) -> Strategy | None:
    """``environments[].rollout``, or None when the environment has none."""
    if f is None:
        return None
    steps = f.each("steps", _step, required=True)
    weights = [s.weight for s in steps]
    if weights != sorted(set(weights)):
        f.problem("steps", f"weights must increase from step to step, not {', '.join(f'{w:g}' for w in weights)}")
    max_duration = _duration(f, "max_duration", required=False)
    holds = sum(s.hold for s in steps)
    if max_duration is not None and max_duration < holds:
        f.problem("max_duration", f"is shorter than the steps' holds together ({holds / 3600:g} h): the rollout could never finish")
    checks: list[Check] = []
    af = f.sub("analysis")
    if af is not None:
        significance = _significance(af, DEFAULT_SIGNIFICANCE)
        min_samples = af.int("min_samples", default=DEFAULT_MIN_SAMPLES, minimum=1) or DEFAULT_MIN_SAMPLES
        metrics = af.map("metrics")
        for name in metrics or {}:
            assert metrics is not None
            value = metrics[name] if metrics[name] is not None else YMap(metrics.line_of(name))  # empty: every default
            sub = Fields(value, f.path, f.problems, where=f"{af.name('metrics')}.{name}", line=metrics.line_of(name))
            if sub.ok:
                checks.append(_check(name, sub, significance, min_samples))
                sub.done()
        af.done()
    strategy = Strategy(steps=steps, checks=tuple(checks), max_duration=max_duration, line=f.line)
    f.done()
    return strategy
