"""Two rollouts judged on a real Prometheus loaded with per-version history (``promtool`` backfill).

Scenario "clean": the challenger serves like the champion; the rollout goes from its
first step to the full promotion. Scenario "bad": the challenger errs 30 times as often
and is slower; the first planned look aborts it, rejects it with the evidence and rolls
it back. Series carry a ``version`` label (the source's default ``version_label``) and a
``scenario`` label that each registry's selector picks; every query is at a fixed time,
so every figure is the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrelease.errors import ExitCode
from mlrelease.registry.loader import Registry
from mlrelease.rollout import decide
from mlrelease.rollout.judge import FAIL, INCONCLUSIVE, PASS
from mlrelease.telemetry.base import SourceContext
from mlrelease.telemetry.prometheus import PrometheusSource
from tests.prometheus_backfill import backfilled_prometheus, openmetrics, series
from tests.release_helpers import state_at
from tests.rollout_helpers import World, run, world

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday: the rollout starts here
START = int((T0 - timedelta(hours=1)).timestamp())
MINUTES = 6 * 60
SAME = (0.05, 0.35, 0.35, 0.15, 0.07, 0.03)
SLOWER = (0.0, 0.05, 0.35, 0.35, 0.15, 0.10)
STRATEGY = {
    "steps": [{"weight": 10, "hold": "1h"}, {"weight": 50, "hold": "1h"}],
    "analysis": {
        "min_samples": 500,
        "metrics": {
            "error_rate": {"tolerance": {"absolute": 0.002}, "critical": True},
            "latency_ms": {"tolerance": {"relative": 0.25}, "critical": True},
        },
    },
}


def _version(scenario: str, version: str, **kw: object) -> dict[str, list[str]]:
    labels = {"model": "fraud-card", "env": "production", "version": version, "scenario": scenario}
    return series(labels, START, MINUTES, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    document = openmetrics(
        [
            _version("clean", "1.0.0", calls=900, errors=1, latency=SAME),
            _version("clean", "1.1.0", calls=100, errors=0.1, latency=SAME),
            _version("bad", "1.0.0", calls=900, errors=1, latency=SAME),
            _version("bad", "1.1.0", calls=100, errors=3, latency=SLOWER),
        ]
    )
    with backfilled_prometheus(tmp_path_factory.mktemp("prometheus-history"), document) as url:
        yield url


def prometheus_world(tmp_path: Path, url: str, scenario: str) -> World:
    telemetry = {
        "type": "prometheus",
        "url": url,
        "selector": f'model="{{model}}",env="{{env}}",scenario="{scenario}"',
        "window": "5m",
        "range": "2h",
        "timeout": 10,
    }
    w = world(tmp_path, STRATEGY, telemetry=telemetry)
    w.clock.now = T0
    return w


def judged(acted: object) -> dict[str, object]:
    return {v.metric: v for v in acted.evaluation.judgement.verdicts}  # type: ignore[attr-defined]


def test_a_clean_challenger_goes_from_the_first_step_to_full_promotion(tmp_path: Path, prometheus_url: str) -> None:
    w = prometheus_world(tmp_path, prometheus_url, "clean")
    w.start()
    w.later(minutes=2)  # 200 challenger calls: fewer than min_samples
    early = run(w)
    assert {m: v.verdict for m, v in judged(early).items()} == {"error_rate": INCONCLUSIVE, "latency_ms": INCONCLUSIVE}
    assert early.evaluation.decision.action == decide.HOLD and "holding until 2026-01-05 10:00Z" in early.message
    w.later(minutes=63)  # the hold is over: a planned look
    acted = run(w)
    verdicts = judged(acted)
    assert {m: v.verdict for m, v in verdicts.items()} == {"error_rate": PASS, "latency_ms": PASS}
    er = verdicts["error_rate"]
    # 65 minutes at 100 (challenger) and 900 (champion) calls a minute, by the version label.
    assert er.n_challenger == pytest.approx(6500, rel=0.03) and er.n_champion == pytest.approx(58500, rel=0.03)  # type: ignore[attr-defined]
    assert er.challenger == pytest.approx(0.001, rel=1e-6) and er.champion == pytest.approx(1 / 900, rel=1e-6)  # type: ignore[attr-defined]
    assert verdicts["latency_ms"].delta == 0.0 and verdicts["latency_ms"].test == "Mann-Whitney U"  # type: ignore[attr-defined]
    assert acted.evaluation.decision.action == decide.ADVANCE and acted.exit_code == ExitCode.OK
    live = state_at(w.root, "production", "fraud-card").live
    assert live is not None and live.canary is not None and live.canary.weight == 50
    # Per-arm series for charts, from the same source with the version in the selector.
    series_ = acted.evaluation.arms["1.1.0"].series
    assert series_ and all(s.version == "1.1.0" for s in series_)
    w.later(minutes=1)
    assert run(w).steps == ()  # idempotent: step 2 just began
    w.later(hours=1, minutes=5)
    acted = run(w)
    assert acted.evaluation.decision.action == decide.FINISH, acted.message
    state = state_at(w.root, "production", "fraud-card")
    assert state.live is not None and (state.live.version, state.live.canary) == ("1.1.0", None)


def test_a_bad_challenger_is_aborted_rejected_and_rolled_back(tmp_path: Path, prometheus_url: str) -> None:
    w = prometheus_world(tmp_path, prometheus_url, "bad")
    w.start()
    w.later(minutes=65)
    acted = run(w)
    verdicts = judged(acted)
    assert verdicts["error_rate"].verdict == FAIL and verdicts["latency_ms"].verdict == FAIL  # type: ignore[attr-defined]
    assert verdicts["error_rate"].challenger == pytest.approx(0.03, rel=1e-6)  # type: ignore[attr-defined]
    assert acted.evaluation.decision.action == decide.ABORT and acted.exit_code == ExitCode.ROLLOUT_ABORTED
    state = state_at(w.root, "production", "fraud-card")
    assert state.live is not None and (state.live.version, state.live.canary) == ("1.0.0", None) and state.pin is not None
    with Registry(w.root) as reg:
        (rejection,) = reg.rejections("fraud-card")
    assert "error_rate fail" in rejection.reason and "latency_ms fail" in rejection.reason and "Mann-Whitney U" in rejection.reason
    w.later(minutes=1)
    assert run(w).evaluation.decision.action == decide.IDLE


def test_the_version_label_and_arm_queries_are_settings(prometheus_url: str) -> None:
    settings = {
        "url": prometheus_url,
        "version_label": "revision",
        "arms": {"latency_ms": None, "basket": {"count": "a", "sum": "b", "sum_squares": "c"}},
    }
    src = PrometheusSource("production.telemetry", settings, SourceContext(None))  # type: ignore[arg-type]
    assert src.version_label == "revision" and set(src.arm_queries) == {"error_rate", "basket"}
    assert src.arm_queries["basket"].shape == "mean"
    # Nothing is labelled "revision" here: no figures per arm, so the judge has no samples (never a pass).
    figures = src.arm_figures("fraud-card", "production", ("1.1.0",), T0, T0 + timedelta(hours=1))
    assert figures["1.1.0"].observations == {}


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        ({"error_rate": {"events": "x"}}, "arms.error_rate: has keys events"),
        ({"x": "sum(y)"}, "arms.x: must be a mapping of queries"),
        ({"latency_ms": {"buckets": "x", "scale": 0}}, "arms.latency_ms.scale: must be a positive number"),
        # issue 11.3: a 401-digit whole number is a problem, not an OverflowError
        (
            {"latency_ms": {"buckets": "x", "scale": int("7" * 401)}},
            "arms.latency_ms.scale: must be a positive number, not a number of 401",
        ),
    ],
)
def test_bad_arm_settings_are_refused(arms: dict[str, object], message: str) -> None:
    from mlrelease.errors import SourceConfigError

    with pytest.raises(SourceConfigError, match=message):
        PrometheusSource("production.telemetry", {"url": "http://127.0.0.1:9", "arms": arms}, SourceContext(None))  # type: ignore[arg-type]
