"""The rollout strategy and per-version observations are read strictly: every bad form is one clear problem."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from mlrelease.errors import ManifestError
from mlrelease.registry import yamlsafe
from mlrelease.registry.lint import lint
from mlrelease.registry.loader import Registry
from mlrelease.registry.observations import Histogram, Mean, Rate, Samples, combine
from mlrelease.registry.parse import parse_config, parse_telemetry
from mlrelease.registry.yamlsafe import dump
from tests.builders import config, make_registry, write
from tests.rollout_helpers import STRATEGY


def _config_with(rollout: Any) -> bytes:
    cfg = config()
    cfg["environments"][2]["rollout"] = rollout
    return dump(cfg).encode()


def problems_of(rollout: Any) -> list[str]:
    try:
        parse_config(yamlsafe.load(_config_with(rollout), "mlrelease.yaml"))
    except ManifestError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_the_strategy_is_read_with_defaults() -> None:
    cfg = parse_config(yamlsafe.load(_config_with(STRATEGY), "mlrelease.yaml"))
    strategy = cfg.environment("production").rollout  # type: ignore[union-attr]
    assert strategy is not None and [s.weight for s in strategy.steps] == [10, 50] and strategy.steps[1].hold == 7200
    assert strategy.max_duration == 2 * 86400
    checks = {c.metric: c for c in strategy.checks}
    assert checks["error_rate"].shape == "rate" and checks["error_rate"].critical and checks["error_rate"].min_samples == 500
    assert checks["latency_ms"].shape == "distribution" and checks["latency_ms"].min_samples == 200
    assert checks["value_detection_rate"].tolerance.absolute == 0.03 and checks["value_detection_rate"].significance == 0.05


def test_a_metric_with_no_settings_takes_every_default() -> None:
    cfg = parse_config(
        yamlsafe.load(_config_with({"steps": [{"weight": 5, "hold": "30m"}], "analysis": {"metrics": {"error_rate": None}}}), "m")
    )
    (check,) = cfg.environment("production").rollout.checks  # type: ignore[union-attr]
    assert (check.shape, check.min_samples, check.significance, check.critical) == ("rate", 1000, 0.05, False)


@pytest.mark.parametrize(
    ("rollout", "message"),
    [
        ({}, "missing required field 'environments[2].rollout.steps'"),
        ({"steps": [{"weight": 10}]}, "missing required field 'environments[2].rollout.steps[0].hold'"),
        ({"steps": [{"weight": 0, "hold": "1h"}]}, "'environments[2].rollout.steps[0].weight' must be a percentage between 0 and 100"),
        ({"steps": [{"weight": 100, "hold": "1h"}]}, "must be a percentage between 0 and 100 (exclusive), not 100"),
        (
            {"steps": [{"weight": 10, "hold": 3600}]},
            "'environments[2].rollout.steps[0].hold' must be a duration such as 30m, 2h or 7d, not '3600'",
        ),
        ({"steps": [{"weight": 10, "hold": "an hour"}]}, "hold' must be a duration such as 30m, 2h or 7d, not 'an hour'"),
        ({"steps": [{"weight": 50, "hold": "1h"}, {"weight": 10, "hold": "1h"}]}, "weights must increase from step to step, not 50, 10"),
        ({"steps": [{"weight": 10, "hold": "1h", "pause": "yes"}]}, "pause' must be true or false"),
        ({"steps": [{"weight": 10, "hold": "2h"}], "max_duration": "1h"}, "max_duration' is shorter than the steps' holds together (2 h)"),
        ({"steps": [{"weight": 10, "hold": "1h"}], "interval": "5m"}, "unknown key 'environments[2].rollout.interval'"),
        ({"steps": [{"weight": 10, "hold": "1h", "wait": "1h"}]}, "unknown key 'environments[2].rollout.steps[0].wait'"),
        ({"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"metric": {}}}, "unknown key 'environments[2].rollout.analysis.metric'"),
        ({"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"significance": 0.9}}, "significance' must be a level between 0 and 0.5"),
        ({"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"min_samples": 0}}, "min_samples' must be at least 1, not 0"),
        (
            {"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"metrics": {"f1": {}}}},
            "missing required field 'environments[2].rollout.analysis.metrics.f1.type'",
        ),
        (
            {"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"metrics": {"f1": {"type": "ratio"}}}},
            "must be one of rate, mean, distribution, not 'ratio'",
        ),
        (
            {"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"metrics": {"error_rate": {"type": "mean"}}}},
            "'environments[2].rollout.analysis.metrics.error_rate.type' of the built-in figure error_rate is rate, not mean",
        ),
        (
            {"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"metrics": {"error_rate": {"tolerance": {"absolute": -1}}}}},
            "tolerance.absolute' must not be negative",
        ),
        (
            {"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"metrics": {"error_rate": {"tolerance": {"percent": 1}}}}},
            "unknown key 'environments[2].rollout.analysis.metrics.error_rate.tolerance.percent'",
        ),
        ({"steps": [{"weight": 10, "hold": "1h"}], "analysis": {"metrics": {"error_rate": {"critcal": True}}}}, "unknown key"),
    ],
)
def test_bad_strategies_are_refused_naming_the_key_and_line(rollout: Any, message: str) -> None:
    found = problems_of(rollout)
    assert any(message in p for p in found), found
    assert all(p.startswith("mlrelease.yaml:") and p.split(":")[1].isdigit() for p in found), found


def test_lint_wants_analysed_metrics_in_the_catalogue(tmp_path: Path) -> None:
    root = make_registry(tmp_path / "r")
    cfg = config()
    cfg["environments"][2]["rollout"] = {
        "steps": [{"weight": 10, "hold": "1h"}],
        "analysis": {"metrics": {"basket_value": {"type": "mean"}}},
    }
    write(root, "mlrelease.yaml", cfg)
    with Registry(root, use_cache=False) as reg:
        found = [str(p) for p in lint(reg).problems]
    assert any(
        "compares 'basket_value', which is neither built in (error_rate, latency_ms) nor in the metric catalogue" in p for p in found
    )


def _telemetry(observations: Any) -> list[str]:
    doc = {
        "model": "fraud-card",
        "environment": "production",
        "snapshots": [{"at": "2026-03-02T10:00:00Z", "version": "1.0.0", "observations": observations}],
    }
    try:
        parse_telemetry(yamlsafe.load(dump(doc).encode(), "t.yaml"), "t.yaml")
    except ManifestError as exc:
        return [p.message for p in exc.problems]
    return []


def test_observations_of_every_shape_are_read() -> None:
    doc = {
        "model": "m",
        "environment": "e",
        "snapshots": [
            {
                "at": "2026-03-02T10:00:00Z",
                "observations": {
                    "r": {"events": 3, "trials": 10},
                    "m": {"count": 10, "mean": 2.5, "sd": 0.5},
                    "h": {"edges": [1, 2], "counts": [1, 2, 3]},
                    "s": {"samples": [1.5, 2.5]},
                },
            }
        ],
    }
    (snap,) = parse_telemetry(yamlsafe.load(dump(doc).encode(), "t"), "t").snapshots
    assert snap.observations == {"r": Rate(3, 10), "m": Mean(10, 2.5, 0.5), "h": Histogram((1, 2), (1, 2, 3)), "s": Samples((1.5, 2.5))}


@pytest.mark.parametrize(
    ("observations", "message"),
    [
        ({"r": {"events": 11, "trials": 10}}, "has more events (11) than trials (10)"),
        ({"r": {"events": -1, "trials": 10}}, "'snapshots[0].observations.r.events' must not be negative"),
        ({"r": {"events": "3", "trials": 10}}, "must be a number, not text"),
        ({"h": {"edges": [2, 1], "counts": [1, 2, 3]}}, "edges' must be strictly increasing"),
        ({"h": {"edges": [1, 2], "counts": [1, 2]}}, "counts' needs 3 values for 2 edges, has 2"),
        ({"h": {"edges": [1, 2], "counts": [1, -2, 3]}}, "counts' must not be negative"),
        ({"s": {"samples": [1, "x"]}}, "samples' must be a list of numbers"),
        (
            {"x": {"events": 1, "count": 2}},
            "must be a rate {events, trials}, a mean {count, mean, sd}, a histogram {edges, counts} or {samples}",
        ),
        ({"x": 3}, "must be a mapping, not a number"),
    ],
)
def test_bad_observations_are_refused(observations: Any, message: str) -> None:
    found = _telemetry(observations)
    assert any(message in p for p in found), found


def test_observations_of_one_arm_combine_exactly() -> None:
    assert combine([Rate(1, 10), Rate(2, 30)]) == Rate(3, 40)
    pooled = combine([Mean(10, 1.0, 1.0), Mean(30, 2.0, 0.5)])
    # The data the two summaries describe: ±d around the mean, d chosen for the sample sd.
    a = [1.0 + (1 if i % 2 else -1) * 1.0 * (9 / 10) ** 0.5 for i in range(10)]
    b = [2.0 + (1 if i % 2 else -1) * 0.5 * (29 / 30) ** 0.5 for i in range(30)]
    assert statistics.stdev(a) == pytest.approx(1.0) and statistics.stdev(b) == pytest.approx(0.5)
    values = a + b
    assert isinstance(pooled, Mean) and pooled.count == 40
    assert pooled.mean == pytest.approx(statistics.fmean(values)) and pooled.sd == pytest.approx(statistics.stdev(values))
    assert combine([Histogram((1,), (1, 2)), Histogram((1,), (3, 4))]) == Histogram((1,), (4, 6))
    with pytest.raises(ValueError, match="different edges"):
        combine([Histogram((1,), (1, 2)), Histogram((2,), (3, 4))])
    with pytest.raises(ValueError, match="different shapes"):
        combine([Rate(1, 2), Mean(1, 1, 0)])


def test_the_format_docs_example_strategy_is_what_it_says() -> None:
    from tests.test_format_doc import blocks

    text = dict(blocks())["mlrelease.yaml"]
    strategy = parse_config(yamlsafe.load(text.encode(), "mlrelease.yaml")).environment("production").rollout  # type: ignore[union-attr]
    assert strategy is not None
    assert [(s.weight, s.hold, s.pause) for s in strategy.steps] == [(10, 7200, False), (25, 21600, False), (50, 86400, True)]
    assert [(c.metric, c.shape, c.critical) for c in strategy.checks] == [
        ("error_rate", "rate", True),
        ("latency_ms", "distribution", True),
        ("value_detection_rate", "rate", False),
        ("false_positive_ratio", "mean", False),
    ]
    telemetry = dict(blocks())["telemetry/production/fraud-card.yaml"]
    (snap,) = parse_telemetry(yamlsafe.load(telemetry.encode(), "t"), "t").snapshots
    assert snap.observations["latency_ms"].n == snap.calls
