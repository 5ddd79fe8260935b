"""``prometheus``: figures from the Prometheus HTTP API, turned into snapshots.

The newest snapshot comes from instant queries (``/api/v1/query`` at one time), the
series from range queries (``/api/v1/query_range``, one point per ``window``). Each
figure is one PromQL expression; the defaults below follow common metric names and
can be replaced or switched off (``null``) one by one::

    type: prometheus
    url: https://prometheus.internal:9090   # base URL of the server (or of a proxy in front of it)
    timeout: 5                  # seconds per request, also passed to Prometheus
    token_env: PROM_TOKEN       # optional bearer token, from this environment variable
    ca_bundle: /etc/ssl/ca.pem  # optional extra CA; TLS is always verified
    selector: 'model="{model}",env="{env}"'  # label matchers the default queries use
    window: 1h                  # what one snapshot covers: increase()/rate() window and range step
    range: 24h                  # how far back the series go
    queries:                    # standard figures: replace or disable (null) any of them
      calls: 'sum(increase(model_requests_total{{selector}}[{window}]))'
    metrics:                    # live model metrics: name → expression with one series
      precision: 'avg(model_live_precision{{selector}})'
    profile:                    # live input profile, for drift: feature → histogram or counts
      amount: {type: numeric, query: 'sum by (le) (increase(model_feature_amount_bucket{{selector}}[{window}]))'}
      channel: {type: categorical, query: 'sum by (channel) (increase(model_feature_channel_total{{selector}}[{window}]))'}

Placeholders, replaced before a query is sent: ``{selector}``, ``{model}``, ``{env}``
(escaped for a PromQL string) and ``{window}``. So ``{{selector}}`` is the placeholder
inside PromQL's own braces. Figures other than ``callers`` and ``profile`` must come
back as one series (aggregate with ``sum``/``avg``); ``callers`` is one series per
application, named by its only label (``sum by (app) (...)``). A numeric profile is a
cumulative histogram (series by ``le``, with ``+Inf``); its buckets become the profile's
bins, so the training profile must use the same edges for PSI. Bucket bounds in
Prometheus are inclusive (``le``) where profile bins include their lower edge: the two
agree except for values exactly on an edge.

Per-version figures for ``mlrelease rollout`` and ``mlrelease ab`` (the ``version_label``
and ``arms`` settings, with defaults for errors and latency) are in :mod:`.prometheus_arms`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import ClassVar

from mlrelease.errors import SourceError
from mlrelease.registry.durations import duration_seconds as duration_seconds  # re-exported: the source's own
from mlrelease.registry.profile import numeric_bin_label
from mlrelease.registry.types import FeatureProfile, Profile, Snapshot, Telemetry
from mlrelease.telemetry import prometheus_arms
from mlrelease.telemetry.arms import ArmFigures
from mlrelease.telemetry.base import Settings, SourceContext
from mlrelease.telemetry.httpclient import HttpSource

DEFAULT_SELECTOR = 'model="{model}",env="{env}"'
DEFAULT_QUERIES: dict[str, str] = {
    "calls": "sum(increase(model_requests_total{{selector}}[{window}]))",
    "errors": "sum(increase(model_request_errors_total{{selector}}[{window}]))",
    "latency_p50": "1000 * histogram_quantile(0.5, sum by (le) (rate(model_request_duration_seconds_bucket{{selector}}[{window}])))",
    "latency_p95": "1000 * histogram_quantile(0.95, sum by (le) (rate(model_request_duration_seconds_bucket{{selector}}[{window}])))",
    "latency_p99": "1000 * histogram_quantile(0.99, sum by (le) (rate(model_request_duration_seconds_bucket{{selector}}[{window}])))",
    "memory_mb": "sum(process_resident_memory_bytes{{selector}}) / 1048576",
    "cpu": "sum(rate(process_cpu_seconds_total{{selector}}[{window}]))",
    "callers": "sum by (caller) (increase(model_requests_total{{selector}}[{window}]))",
}
MAX_POINTS = 1000  # per range query; Prometheus itself refuses more than 11,000
_PLACEHOLDER = re.compile(r"\{(model|env|window|selector)\}")

Vector = list[tuple[dict[str, str], float]]
Matrix = list[tuple[dict[str, str], list[tuple[float, float]]]]


def _promql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class FeatureQuery:
    kind: str  # numeric | categorical
    query: str


class PrometheusSource(HttpSource):
    type_name: ClassVar[str] = "prometheus"

    def configure(self, s: Settings) -> None:
        self.url = self.url.rstrip("/")
        self.selector = s.text("selector", default=DEFAULT_SELECTOR) or DEFAULT_SELECTOR
        self.window = s.text("window", default="1h") or "1h"
        self.range = s.text("range", default="24h") or "24h"
        window_s, range_s = duration_seconds(self.window), duration_seconds(self.range)
        if not window_s:
            s.problem("window", f"must be a Prometheus duration such as 5m or 1h, not {self.window!r}")
        if not range_s:
            s.problem("range", f"must be a Prometheus duration such as 24h or 7d, not {self.range!r}")
        if window_s and range_s and range_s / window_s > MAX_POINTS:
            s.problem("range", f"{self.range} holds more than {MAX_POINTS} windows of {self.window}; widen 'window'")
        self.window_s, self.range_s = window_s or 3600.0, range_s or 86400.0
        self.queries = self._queries(s)
        self.metrics = self._expressions(s, "metrics")
        self.profile = self._profile(s)
        self.version_label, self.arm_queries = prometheus_arms.read_settings(s)

    # ---- settings -------------------------------------------------------------------------

    def _queries(self, s: Settings) -> dict[str, str]:
        given = s.mapping("queries")
        unknown = sorted(set(given) - set(DEFAULT_QUERIES))
        if unknown:
            s.problem("queries", f"has unknown figure(s) {', '.join(unknown)}; figures are {', '.join(DEFAULT_QUERIES)}")
        out: dict[str, str] = {}
        for figure, default in DEFAULT_QUERIES.items():
            if figure not in given:
                out[figure] = default
            elif given[figure] is not None:  # null switches a figure off
                out[figure] = self._expression(s, f"queries.{figure}", given[figure])
        return out

    def _expressions(self, s: Settings, key: str) -> dict[str, str]:
        return {name: self._expression(s, f"{key}.{name}", value) for name, value in s.mapping(key).items()}

    def _expression(self, s: Settings, where: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            s.problem(where, "must be a PromQL expression (text)")
            return ""
        return value

    def _profile(self, s: Settings) -> dict[str, FeatureQuery]:
        out: dict[str, FeatureQuery] = {}
        for feature, value in s.mapping("profile").items():
            if not isinstance(value, dict) or set(value) != {"type", "query"} or value["type"] not in ("numeric", "categorical"):
                s.problem(f"profile.{feature}", "must be {type: numeric|categorical, query: PromQL}")
                continue
            out[feature] = FeatureQuery(str(value["type"]), self._expression(s, f"profile.{feature}.query", value["query"]))
        return out

    # ---- queries --------------------------------------------------------------------------

    def expand(self, expression: str, model: str, environment: str, window: str | None = None) -> str:
        """The expression with its placeholders filled in for one model and environment (and a window other than ``window:``)."""
        values = {"model": _promql_string(model), "env": _promql_string(environment), "window": window or self.window}
        selector = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.selector)
        values["selector"] = selector
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], expression)

    def _api(self, path: str, what: str, params: dict[str, str]) -> tuple[str, object]:
        params = {**params, "timeout": f"{self.http.timeout:g}s"}
        reply = self.http.get(f"{self.url}{path}", params)
        data = reply.data if isinstance(reply.data, dict) else {}
        if data.get("status") == "error":
            kind, error = data.get("errorType", "error"), str(data.get("error", ""))[:300]
            raise SourceError(f"{self.http.label}: query for {what!r} failed: {kind}: {error}")
        if not 200 <= reply.status < 300 or data.get("status") != "success" or not isinstance(data.get("data"), dict):
            raise SourceError(f"{self.http.label}: {self.url}{path} answered HTTP {reply.status} without a Prometheus result")
        result = data["data"]
        return str(result.get("resultType")), result.get("result")

    def instant(self, what: str, expression: str, at: float) -> Vector:
        kind, result = self._api("/api/v1/query", what, {"query": expression, "time": f"{at:.3f}"})
        if kind == "scalar" and isinstance(result, list):
            return [({}, _value(result, what, self.http.label))]
        if kind != "vector" or not isinstance(result, list):
            raise SourceError(f"{self.http.label}: query for {what!r} returned a {kind}, not an instant vector")
        return [(_labels(item, what, self.http.label), _value(item.get("value"), what, self.http.label)) for item in result]

    def single(self, what: str, expression: str, at: float) -> float | None:
        """An instant query that must give one series: its value, or None for no series or NaN."""
        return _single(self.instant(what, expression, at), what, self.http.label)

    def series(self, what: str, expression: str, start: float, end: float) -> Matrix:
        params = {"query": expression, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{self.window_s:g}"}
        kind, result = self._api("/api/v1/query_range", what, params)
        if kind != "matrix" or not isinstance(result, list):
            raise SourceError(f"{self.http.label}: range query for {what!r} returned a {kind}, not a matrix")
        out: Matrix = []
        for item in result:
            values = item.get("values") if isinstance(item, dict) else None
            if not isinstance(values, list):
                raise SourceError(f"{self.http.label}: range query for {what!r} returned a malformed series")
            out.append((_labels(item, what, self.http.label), [(float(p[0]), _value(p, what, self.http.label)) for p in values]))
        return out

    # ---- snapshots ------------------------------------------------------------------------

    def fetch(self, model: str, environment: str, *, history: bool) -> Telemetry | None:
        return self._fetch(model, environment, round(time.time(), 3), history=history)

    def fetch_at(self, model: str, environment: str, at: float) -> Telemetry | None:
        """The series ending at ``at`` (a Unix time), with the profile at its end: a past window, re-judged alike."""
        return self._fetch(model, environment, at, history=True)

    def arm_figures(
        self, model: str, environment: str, versions: tuple[str, ...], since: datetime, until: datetime
    ) -> dict[str, ArmFigures]:
        """Each version's figures over [since, until], by ``version_label`` (see :mod:`.prometheus_arms`)."""
        return prometheus_arms.arm_figures(self, model, environment, versions, since, until)

    def _fetch(self, model: str, environment: str, now: float, *, history: bool) -> Telemetry | None:
        snapshots = self._history(model, environment, now) if history else {}
        latest = self._latest(model, environment, now, full=not history)
        if latest is not None:
            snapshots[now] = _merge(snapshots.get(now), latest)
        if not snapshots:
            return None
        return Telemetry(model, environment, tuple(snapshots[t] for t in sorted(snapshots)))

    def _latest(self, model: str, environment: str, now: float, *, full: bool) -> Snapshot | None:
        """Instant queries at ``now``: every figure when ``full``, else only the profile."""
        figures: dict[str, float] = {}
        callers: dict[str, float] = {}
        metrics: dict[str, float] = {}
        if full:
            for figure, expression in self.queries.items():
                vector = self.instant(figure, self.expand(expression, model, environment), now)
                if figure == "callers":
                    callers = _callers(vector)
                else:
                    value = _single(vector, figure, self.http.label)
                    if value is not None:
                        figures[figure] = value
            for name, expression in self.metrics.items():
                value = _single(self.instant(name, self.expand(expression, model, environment), now), name, self.http.label)
                if value is not None:
                    metrics[name] = value
        features: dict[str, FeatureProfile] = {}
        rows = 0
        for feature, fq in self.profile.items():
            vector = self.instant(f"profile.{feature}", self.expand(fq.query, model, environment), now)
            built = _feature(vector, fq.kind, feature, self.http.label)
            if built is not None:
                features[feature], total = built
                rows = max(rows, total)
        if not (figures or callers or metrics or features):
            return None
        return _snapshot(
            datetime.fromtimestamp(now, UTC), figures, metrics, callers, Profile(features, rows=rows or None) if features else None
        )

    def _history(self, model: str, environment: str, end: float) -> dict[float, Snapshot]:
        start = end - self.range_s
        figures: dict[float, dict[str, float]] = {}
        callers: dict[float, dict[str, float]] = {}
        metrics: dict[float, dict[str, float]] = {}
        for figure, expression in self.queries.items():
            matrix = self.series(figure, self.expand(expression, model, environment), start, end)
            if figure == "callers":
                for labels, points in matrix:
                    for t, v in points:
                        if math.isfinite(v):
                            callers.setdefault(t, {})[_caller_name(labels)] = v
            else:
                for t, v in _single_series(matrix, figure, self.http.label):
                    figures.setdefault(t, {})[figure] = v
        for name, expression in self.metrics.items():
            for t, v in _single_series(self.series(name, self.expand(expression, model, environment), start, end), name, self.http.label):
                metrics.setdefault(t, {})[name] = v
        times = sorted(set(figures) | set(callers) | set(metrics))
        return {
            t: _snapshot(datetime.fromtimestamp(t, UTC), figures.get(t, {}), metrics.get(t, {}), callers.get(t, {}), None) for t in times
        }

    def describe(self) -> str:
        return f"Prometheus at {self.url}"

    def close(self) -> None:
        self.http.close()


# ---- result shapes ----------------------------------------------------------------------------


def _labels(item: object, what: str, label: str) -> dict[str, str]:
    metric = item.get("metric") if isinstance(item, dict) else None
    if not isinstance(metric, dict):
        raise SourceError(f"{label}: query for {what!r} returned a malformed series")
    return {str(k): str(v) for k, v in metric.items() if k != "__name__"}


def _value(pair: object, what: str, label: str) -> float:
    """A sample ``[time, "value"]``; NaN (e.g. a quantile of no traffic) is kept as NaN."""
    if isinstance(pair, list) and len(pair) == 2:
        try:
            return float(pair[1])
        except (TypeError, ValueError):
            pass
    raise SourceError(f"{label}: query for {what!r} returned a malformed sample")


def _single(vector: Vector, what: str, label: str) -> float | None:
    if len(vector) > 1:
        raise SourceError(f"{label}: query for {what!r} returned {len(vector)} series; aggregate it to one (e.g. sum(...))")
    if not vector or not math.isfinite(vector[0][1]):
        return None
    return vector[0][1]


def _single_series(matrix: Matrix, what: str, label: str) -> list[tuple[float, float]]:
    if len(matrix) > 1:
        raise SourceError(f"{label}: query for {what!r} returned {len(matrix)} series; aggregate it to one (e.g. sum(...))")
    return [(t, v) for t, v in (matrix[0][1] if matrix else []) if math.isfinite(v)]


def _caller_name(labels: dict[str, str]) -> str:
    if not labels:
        return "(all)"
    if len(labels) == 1:
        return next(iter(labels.values()))
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _callers(vector: Vector) -> dict[str, float]:
    return {_caller_name(labels): v for labels, v in vector if math.isfinite(v)}


def _feature(vector: Vector, kind: str, feature: str, label: str) -> tuple[FeatureProfile, int] | None:
    """Bin fractions (and the count they come from) out of histogram buckets or per-category counts."""
    if kind == "numeric":
        buckets: list[tuple[float, float]] = []
        for labels, v in vector:
            if "le" not in labels:
                raise SourceError(f"{label}: profile query for {feature!r} must return histogram buckets (series by 'le')")
            buckets.append((float(labels["le"]), v))
        if not buckets:
            return None
        buckets.sort()
        if buckets[-1][0] != math.inf:
            raise SourceError(f'{label}: profile query for {feature!r} has no le="+Inf" bucket; keep the whole histogram')
        edges = tuple(le for le, _ in buckets[:-1])
        cumulative = [c if math.isfinite(c) else 0.0 for _, c in buckets]
        # Differences of cumulative counts; a counter reset inside the window can make one negative.
        counts = [max(c - before, 0.0) for before, c in zip([0.0, *cumulative], cumulative, strict=False)]
        total = sum(counts)
        if not edges or not total > 0:
            return None
        return FeatureProfile(
            kind="numeric", bins={numeric_bin_label(edges, i): c / total for i, c in enumerate(counts)}, edges=edges
        ), round(total)
    counts_by: dict[str, float] = {}
    for labels, v in vector:
        if len(labels) != 1:
            raise SourceError(f"{label}: profile query for {feature!r} must return one series per category (sum by (one_label) ...)")
        if math.isfinite(v):
            counts_by[next(iter(labels.values()))] = v
    total = sum(counts_by.values())
    if not total > 0:
        return None
    return FeatureProfile(kind="categorical", bins={k: v / total for k, v in counts_by.items()}), round(total)


def _snapshot(
    at: datetime, figures: dict[str, float], metrics: dict[str, float], callers: dict[str, float], profile: Profile | None
) -> Snapshot:
    latency = {p: figures[f"latency_{p}"] for p in ("p50", "p95", "p99") if f"latency_{p}" in figures}
    return Snapshot(
        at=at,
        calls=round(figures["calls"]) if "calls" in figures else None,
        errors=round(figures["errors"]) if "errors" in figures else None,
        latency_ms=latency,
        memory_mb=figures.get("memory_mb"),
        cpu=figures.get("cpu"),
        metrics=metrics,
        callers=callers,
        profile=profile,
    )


def _merge(base: Snapshot | None, latest: Snapshot) -> Snapshot:
    """The range point at ``now`` with the instant-only parts (the profile) added."""
    if base is None:
        return latest
    return replace(base, profile=latest.profile or base.profile)


def factory(name: str, settings: Mapping[str, object], context: SourceContext) -> PrometheusSource:
    return PrometheusSource(name, settings, context)
