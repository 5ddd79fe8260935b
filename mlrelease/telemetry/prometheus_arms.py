"""Per-version figures from Prometheus, for the rollout judge: the ``version_label`` and ``arms`` settings.

Series carry the serving version in a label (``version_label``, default ``version``).
For each arm the source runs the queries of ``arms`` with ``{selector}`` narrowed to
that version (``model="…",env="…",version="2.2.0"``) and ``{window}`` the judged window
(e.g. ``7200s``), at the window's end, so each query returns one series for one arm::

    version_label: version
    arms:                        # name → queries; the keys say the shape
      error_rate:                # a rate: events out of trials (default below)
        events: 'sum(increase(model_request_errors_total{{selector}}[{window}]))'
        trials: 'sum(increase(model_requests_total{{selector}}[{window}]))'
      latency_ms:                # a distribution: cumulative histogram buckets by le (default below)
        buckets: 'sum by (le) (increase(model_request_duration_seconds_bucket{{selector}}[{window}]))'
        scale: 1000              # bucket bounds × scale: seconds → milliseconds
      basket_value:              # a mean: count, sum and sum of squares
        count: 'sum(increase(basket_value_count{{selector}}[{window}]))'
        sum: 'sum(increase(basket_value_sum{{selector}}[{window}]))'
        sum_squares: 'sum(increase(basket_value_sum_squares{{selector}}[{window}]))'

``error_rate`` and ``latency_ms`` have the defaults shown (``null`` switches one off).
Each arm's series (for charts) and input profile (for per-arm drift) come from the
source's ordinary queries with the same narrowed selector.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from mlrelease.errors import SourceError
from mlrelease.registry.fields import describe, finite
from mlrelease.registry.observations import Histogram, Mean, Observation, Rate
from mlrelease.telemetry.arms import ArmFigures
from mlrelease.telemetry.base import Settings

if TYPE_CHECKING:
    from mlrelease.telemetry.prometheus import PrometheusSource

DEFAULT_LABEL = "version"
SHAPE_KEYS: dict[frozenset[str], str] = {
    frozenset({"events", "trials"}): "rate",
    frozenset({"buckets"}): "distribution",
    frozenset({"buckets", "scale"}): "distribution",
    frozenset({"count", "sum", "sum_squares"}): "mean",
}
DEFAULT_ARMS: dict[str, dict[str, object]] = {
    "error_rate": {
        "events": "sum(increase(model_request_errors_total{{selector}}[{window}]))",
        "trials": "sum(increase(model_requests_total{{selector}}[{window}]))",
    },
    "latency_ms": {"buckets": "sum by (le) (increase(model_request_duration_seconds_bucket{{selector}}[{window}]))", "scale": 1000},
}


@dataclass(frozen=True)
class ArmQuery:
    shape: str  # rate | mean | distribution
    queries: dict[str, str]
    scale: float = 1.0


def read_settings(s: Settings) -> tuple[str, dict[str, ArmQuery]]:
    """``version_label`` and ``arms`` of the source's settings (problems go to ``s``)."""
    label = s.text("version_label", default=DEFAULT_LABEL) or DEFAULT_LABEL
    if not label.replace("_", "a").isalnum() or label[0].isdigit():
        s.problem("version_label", f"must be a Prometheus label name, not {label!r}")
    given = s.mapping("arms")
    out: dict[str, ArmQuery] = {}
    for name in dict.fromkeys([*DEFAULT_ARMS, *given]):
        value = given[name] if name in given else DEFAULT_ARMS[name]
        if value is None:
            continue  # switched off
        where = f"arms.{name}"
        if not isinstance(value, dict):
            s.problem(where, "must be a mapping of queries: {events, trials}, {buckets[, scale]} or {count, sum, sum_squares}")
            continue
        shape = SHAPE_KEYS.get(frozenset(value))
        if shape is None:
            s.problem(
                where, f"has keys {', '.join(sorted(value))}; give {{events, trials}}, {{buckets[, scale]}} or {{count, sum, sum_squares}}"
            )
            continue
        raw_scale = value.get("scale", 1)
        scale = finite(raw_scale)
        if scale is None or scale <= 0:
            s.problem(f"{where}.scale", f"must be a positive number, not {describe(raw_scale) if scale is None else f'{scale:g}'}")
            scale = 1
        queries = {k: v for k, v in value.items() if k != "scale"}
        if any(not isinstance(q, str) or not q.strip() for q in queries.values()):
            s.problem(where, "queries must be PromQL expressions (text)")
            continue
        out[name] = ArmQuery(shape, {k: str(v) for k, v in queries.items()}, float(scale))
    return label, out


def narrowed(source: PrometheusSource, version: str) -> PrometheusSource:
    """The same source with its selector narrowed to one version's series."""
    arm = copy.copy(source)
    escaped = version.replace("\\", "\\\\").replace('"', '\\"')
    arm.selector = f'{source.selector},{source.version_label}="{escaped}"'
    return arm


def _window(seconds: float) -> str:
    return f"{max(int(seconds), 1)}s"


def _one(src: PrometheusSource, what: str, expression: str, model: str, environment: str, window: str, at: float) -> float | None:
    return src.single(what, src.expand(expression, model, environment, window), at)


def _histogram(
    src: PrometheusSource, what: str, expression: str, model: str, environment: str, window: str, at: float, scale: float
) -> Histogram | None:
    text = src.expand(expression, model, environment, window)
    buckets: list[tuple[float, float]] = []
    for labels, v in src.instant(what, text, at):
        if "le" not in labels:
            raise SourceError(f"{src.http.label}: arms query for {what!r} must return histogram buckets (series by 'le')")
        buckets.append((float(labels["le"]), v if math.isfinite(v) else 0.0))
    if not buckets:
        return None
    buckets.sort()
    if buckets[-1][0] != math.inf:
        raise SourceError(f'{src.http.label}: arms query for {what!r} has no le="+Inf" bucket; keep the whole histogram')
    cumulative = [c for _, c in buckets]
    counts = tuple(max(c - before, 0.0) for before, c in zip([0.0, *cumulative], cumulative, strict=False))
    edges = tuple(le * scale for le, _ in buckets[:-1])
    if not edges:
        return None
    return Histogram(edges, counts)


def _observation(src: PrometheusSource, name: str, q: ArmQuery, model: str, environment: str, window: str, at: float) -> Observation | None:
    what = f"arms.{name}"
    if q.shape == "distribution":
        return _histogram(src, what, q.queries["buckets"], model, environment, window, at, q.scale)
    values = {k: _one(src, f"{what}.{k}", e, model, environment, window, at) for k, e in q.queries.items()}
    if q.shape == "rate":
        trials = values["trials"]
        if trials is None:
            return None
        return Rate(min(max(values["events"] or 0.0, 0.0), trials), trials)
    n, total, squares = values["count"], values["sum"], values["sum_squares"]
    if not n or total is None or squares is None:
        return None
    mean = total / n
    variance = max(squares - n * mean * mean, 0.0) / (n - 1) if n > 1 else 0.0
    return Mean(n, mean, math.sqrt(variance))


def arm_figures(
    src: PrometheusSource, model: str, environment: str, versions: tuple[str, ...], since: datetime, until: datetime
) -> dict[str, ArmFigures]:
    at = round(until.timestamp(), 3)
    window = _window(until.timestamp() - since.timestamp())
    out: dict[str, ArmFigures] = {}
    for version in versions:
        arm = narrowed(src, version)
        observations: dict[str, Observation] = {}
        for name, q in src.arm_queries.items():
            found = _observation(arm, name, q, model, environment, window, at)
            if found is not None:
                observations[name] = found
        telemetry = arm.fetch_at(model, environment, at)
        series = tuple(replace(x, version=version) for x in telemetry.snapshots) if telemetry else ()
        profile = next((s.profile for s in reversed(series) if s.profile is not None), None)
        out[version] = ArmFigures(version, observations, series, profile)
    return out
