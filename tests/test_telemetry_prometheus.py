"""The prometheus source against a real Prometheus server scraping an exporter the test serves.

One Prometheus per session (about ten seconds to start and take eight scrapes). The exporter's
counters all step in fixed proportions per scrape (see tests/telemetry_servers.exposition),
so every figure asserted here is exact whatever the timing: quantiles, ratios, fractions,
gauges. Counts that depend on how many scrapes fell in a window are only checked for sense.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from mlrelease.errors import SourceConfigError, SourceError
from mlrelease.registry.types import Artifact, FeatureProfile, Profile, Version
from mlrelease.telemetry.base import SourceContext
from mlrelease.telemetry.drift import Baseline, drift_report
from mlrelease.telemetry.prometheus import PrometheusSource, duration_seconds
from tests.telemetry_servers import dead_url, hanging_server, prometheus

SETTINGS: dict[str, object] = {
    "window": "5s",
    "range": "30s",
    "timeout": 5,
    "metrics": {"precision": "avg(model_live_precision{{selector}})"},
    "queries": {"callers": "sum by (caller) (increase(model_requests_total{{selector}}[{window}]))"},
    "profile": {
        "amount": {"type": "numeric", "query": "sum by (le) (increase(model_feature_amount_bucket{{selector}}[{window}]))"},
        "channel": {"type": "categorical", "query": "sum by (channel) (increase(model_feature_channel_total{{selector}}[{window}]))"},
    },
}


@pytest.fixture(scope="session")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prometheus(tmp_path_factory.mktemp("prometheus")) as url:
        yield url


def source(url: str, **overrides: object) -> PrometheusSource:
    return PrometheusSource("production.telemetry", {"url": url, **SETTINGS, **overrides}, SourceContext(None))  # type: ignore[arg-type]


def test_instant_queries_make_the_newest_snapshot(prometheus_url: str) -> None:
    telemetry = source(prometheus_url).fetch("fraud-card", "production", history=False)
    assert telemetry is not None and len(telemetry.snapshots) == 1
    s = telemetry.snapshots[0]
    assert s.calls is not None and s.calls > 0 and s.errors is not None
    # 2 errors per 40 calls; both rounded to whole calls, so allow half a call each way.
    assert s.errors / s.calls == pytest.approx(0.05, abs=0.01)
    # Quantiles from the buckets: 10 ≤ 10 ms, 30 ≤ 50 ms, 38 ≤ 100 ms, 40 in all.
    #   p50: rank 20, in (10, 50] ms with 10 below and 20 inside → 10 + 40 · (20 − 10) / 20 = 30 ms
    #   p95: rank 38, the top of (50, 100] ms → 100 ms; p99: rank 39.6, past the last bound → 100 ms
    assert s.latency_ms == pytest.approx({"p50": 30.0, "p95": 100.0, "p99": 100.0})
    assert s.memory_mb == pytest.approx(256.0)  # 268435456 bytes / 1048576
    assert s.cpu is not None and s.cpu > 0
    assert s.metrics == pytest.approx({"precision": 0.71})
    # Callers: 30 of every 40 calls come from card-gateway, 10 from web-shop.
    assert set(s.callers) == {"card-gateway", "web-shop"}
    assert s.callers["card-gateway"] / s.callers["web-shop"] == pytest.approx(3.0)
    # The live profile: amounts 5 / 10 / 5 per scrape, channels 6 web / 14 pos.
    assert s.profile is not None
    amount = s.profile.features["amount"]
    assert amount.edges == (100.0, 500.0)
    assert amount.bins == pytest.approx({"<100": 0.25, "[100,500)": 0.5, ">=500": 0.25})
    assert s.profile.features["channel"].bins == pytest.approx({"web": 0.3, "pos": 0.7})


def test_range_queries_make_the_series(prometheus_url: str) -> None:
    telemetry = source(prometheus_url).fetch("fraud-card", "production", history=True)
    assert telemetry is not None and len(telemetry.snapshots) >= 2
    times = [s.at for s in telemetry.snapshots]
    assert times == sorted(times)
    for s in telemetry.snapshots:
        assert s.memory_mb == pytest.approx(256.0)
        assert s.metrics == pytest.approx({"precision": 0.71})
    with_traffic = [s for s in telemetry.snapshots if s.latency_ms]
    assert with_traffic and all(s.latency_ms["p50"] == pytest.approx(30.0) for s in with_traffic)
    # The profile is an instant figure: only the newest point carries it.
    assert telemetry.snapshots[-1].profile is not None
    assert all(s.profile is None for s in telemetry.snapshots[:-1])


def test_a_model_without_series_has_no_figures(prometheus_url: str) -> None:
    assert source(prometheus_url).fetch("churn", "production", history=False) is None


def test_a_bad_query_names_the_figure_and_prometheus_error(prometheus_url: str) -> None:
    src = source(prometheus_url, metrics={"precision": "avg(model_live_precision{{selector}}"})
    with pytest.raises(SourceError, match=r"query for 'precision' failed: bad_data: .*parse error"):
        src.fetch("fraud-card", "production", history=False)


def test_a_query_with_many_series_must_be_aggregated(prometheus_url: str) -> None:
    src = source(prometheus_url, queries={"calls": "increase(model_requests_total{{selector}}[{window}])"})
    with pytest.raises(SourceError, match=r"query for 'calls' returned 2 series; aggregate it to one"):
        src.fetch("fraud-card", "production", history=False)


def test_placeholders_are_filled_and_escaped() -> None:
    src = source("http://prometheus.invalid:9090", selector='model="{model}",env="{env}",team="fraud"')
    expanded = src.expand("sum(rate(x{{selector}}[{window}])) + y{model='{model}'}", 'we"ird\\', "prod")
    assert expanded == 'sum(rate(x{model="we\\"ird\\\\",env="prod",team="fraud"}[5s])) + y{model=\'we\\"ird\\\\\'}'


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"window": "an hour"}, "telemetry.window: must be a Prometheus duration"),
        ({"range": "365d", "window": "1m"}, "holds more than 1000 windows"),
        ({"queries": {"qps": "x"}}, "telemetry.queries: has unknown figure\\(s\\) qps"),
        ({"metrics": {"precision": 3}}, "telemetry.metrics.precision: must be a PromQL expression"),
        ({"profile": {"amount": {"type": "histogram", "query": "x"}}}, "telemetry.profile.amount: must be"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SourceConfigError, match=message):
        source("http://prometheus.invalid:9090", **overrides)


def test_a_figure_can_be_switched_off() -> None:
    src = source("http://prometheus.invalid:9090", queries={"cpu": None, "memory_mb": None})
    assert "cpu" not in src.queries and "memory_mb" not in src.queries and "calls" in src.queries


def test_durations() -> None:
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("250ms") == 0.25
    assert duration_seconds("1.5h") is None


def test_prometheus_down_or_slow_is_a_clear_bounded_error() -> None:
    with pytest.raises(SourceError, match=r"\(prometheus\): cannot connect to http://127\.0\.0\.1:\d+/api/v1/query: connection refused"):
        source(dead_url()).fetch("fraud-card", "production", history=False)
    with hanging_server() as url, pytest.raises(SourceError, match=r"no answer from .*/api/v1/query within 0\.3 s"):
        source(url, timeout=0.3).fetch("fraud-card", "production", history=False)


def test_series_feed_drift_like_any_other_source(prometheus_url: str) -> None:
    """Downstream code is source-agnostic: Prometheus snapshots give PSI against a training profile."""
    telemetry = source(prometheus_url).fetch("fraud-card", "production", history=False)
    training = Profile({"channel": FeatureProfile("categorical", {"web": 0.3, "pos": 0.7})})
    version = Version("fraud-card", "1.0.0", datetime(2026, 1, 1, tzinfo=UTC), "a", Artifact("s3://x"), metrics={"precision": 0.8})
    report = drift_report("production", version, Baseline(training, "version manifest"), telemetry, {}, datetime.now(UTC))
    channel = next(f for f in report.features if f.feature == "channel")
    assert channel.psi == pytest.approx(0.0, abs=1e-9)  # live 0.3 / 0.7, as in training
    amount = next(f for f in report.features if f.feature == "amount")
    assert amount.note == "not in the training profile"
