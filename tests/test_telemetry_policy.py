"""The retraining policy: which rules fire, with which numbers, and what the cadence allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlrelease.registry.types import MetricDef, RetrainConfig, RetrainPolicy, RetrainRequest
from mlrelease.release.cadence import DEFAULT_CADENCE_DAYS, rules_of
from mlrelease.telemetry.drift import BinShift, DriftReport, FeatureDrift, MetricDrop
from mlrelease.telemetry.policy import Reason, decide, reasons

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CATALOGUE = {"precision": MetricDef("precision", "max", format=".3f"), "false_positive_ratio": MetricDef("false_positive_ratio", "min")}


def report(
    *, age: float = 10.0, psis: dict[str, float] | None = None, metrics: tuple[MetricDrop, ...] = (), env: str = "production"
) -> DriftReport:
    features = tuple(
        FeatureDrift(name, value, (BinShift("<100", 0.5, 0.2, value * 0.7), BinShift(">=100", 0.5, 0.8, value * 0.3)))
        for name, value in (psis or {}).items()
    )
    return DriftReport("fraud-card", env, "1.0.0", NOW - timedelta(days=age), age, "version manifest", NOW, features, NOW, metrics)


POLICY = RetrainPolicy(max_age_days=90, psi_threshold=0.2, metric_drop={"precision": 0.05, "false_positive_ratio": 0.01}, cadence_days=14)


def test_nothing_fires_inside_the_limits() -> None:
    found = reasons(report(age=89.9, psis={"amount": 0.19}, metrics=(MetricDrop("precision", 0.80, 0.76, "max"),)), POLICY, CATALOGUE)
    assert found == ()


def test_each_rule_fires_with_its_numbers() -> None:
    found = reasons(
        report(
            age=95.25,
            psis={"amount": 0.31, "channel": 0.22, "country": 0.05},
            metrics=(MetricDrop("precision", 0.80, 0.71, "max"), MetricDrop("false_positive_ratio", 0.02, 0.035, "min")),
        ),
        POLICY,
        CATALOGUE,
    )
    by_rule = {r.rule: r for r in found}
    assert set(by_rule) == {"age", "psi", "metric:precision", "metric:false_positive_ratio"}
    assert by_rule["age"].value == 95.25 and by_rule["age"].threshold == 90
    assert "trained 95.2 days ago (max 90)" in by_rule["age"].message
    assert by_rule["psi"].value == 0.31
    assert "amount, PSI 0.310 ≥ 0.2" in by_rule["psi"].message
    assert "<100 50.0%→20.0%" in by_rule["psi"].message  # the bin that moved most
    assert "also channel 0.220" in by_rule["psi"].message and "country" not in by_rule["psi"].message
    assert by_rule["metric:precision"].value == pytest.approx(0.09)
    assert "precision 0.710 live vs 0.800 at validation of 1.0.0, 0.09 worse (allowed 0.05)" in by_rule["metric:precision"].message
    assert by_rule["metric:false_positive_ratio"].value == pytest.approx(0.015)  # a min metric: higher is worse


def test_per_model_overrides_replace_the_defaults() -> None:
    config = RetrainConfig(policy=POLICY, models={"fraud-card": RetrainPolicy(max_age_days=30, metric_drop={"precision": 0.2})})
    policy = config.policy_for("fraud-card")
    found = {r.rule for r in reasons(report(age=40, metrics=(MetricDrop("precision", 0.80, 0.71, "max"),)), policy, CATALOGUE)}
    assert found == {"age"}  # 40 > 30 days; precision's own limit is 0.2 now
    assert policy.psi_threshold == 0.2 and policy.cadence_days == 14


def _reason(rule: str, value: float, env: str = "production") -> Reason:
    return Reason(rule, env, "1.0.0", value, 0.1, f"{rule} {value} in {env}")


def _request(rid: str, days_ago: float, trigger: str, phase: str = "Succeeded") -> RetrainRequest:
    return RetrainRequest(id=rid, at=NOW - timedelta(days=days_ago), actor="ci", reason="r", trigger=trigger, phase=phase)


def test_decide_keeps_the_worst_reason_per_rule_across_environments() -> None:
    decision = decide(
        "fraud-card", [_reason("psi", 0.3, "staging"), _reason("psi", 0.5, "production"), _reason("age", 100)], (), POLICY, NOW
    )
    assert decision.due
    assert [(r.rule, r.environment) for r in decision.reasons] == [("psi", "production"), ("age", "production")]
    assert decision.trigger == "policy:psi,age"
    assert decision.summary == "psi 0.5 in production; age 100 in production"


def test_a_rule_triggers_at_most_once_within_the_cadence() -> None:
    found = [_reason("psi", 0.5), _reason("age", 100)]
    recent = _request("R1", 3, "policy:psi")
    decision = decide("fraud-card", found, (recent,), POLICY, NOW)
    assert decision.covered == {"psi": recent}
    assert decision.trigger == "policy:age"  # psi was requested 3 days ago; age was not
    old = _request("R0", 15, "policy:psi,age")  # 15 days ago: outside the 14-day cadence
    assert decide("fraud-card", found, (old,), POLICY, NOW).trigger == "policy:psi,age"
    both = decide("fraud-card", found, (recent, _request("R2", 1, "policy:age")), POLICY, NOW)
    assert both.trigger is None and both.due  # still due, nothing new to trigger


def test_manual_requests_cover_everything_and_failed_ones_nothing() -> None:
    found = [_reason("psi", 0.5), _reason("age", 100)]
    assert decide("fraud-card", found, (_request("M", 2, "manual"),), POLICY, NOW).trigger is None
    failed = _request("F", 1, "policy:psi,age", phase="Failed")
    assert decide("fraud-card", found, (failed,), POLICY, NOW).trigger == "policy:psi,age"


def test_the_default_cadence_applies_when_none_is_set() -> None:
    policy = RetrainPolicy(max_age_days=90)
    inside = _request("R", DEFAULT_CADENCE_DAYS - 0.5, "policy:age")
    outside = _request("R", DEFAULT_CADENCE_DAYS + 0.5, "policy:age")
    assert decide("m", [_reason("age", 100)], (inside,), policy, NOW).trigger is None
    assert decide("m", [_reason("age", 100)], (outside,), policy, NOW).trigger == "policy:age"


def test_rules_of_a_trigger() -> None:
    assert rules_of("policy:psi, metric:precision") == {"psi", "metric:precision"}
    assert rules_of("manual") == frozenset()
