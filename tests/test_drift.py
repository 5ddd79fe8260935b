"""Drift and decay: PSI against hand-computed values, metric drops by goal, age, data changes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrelease.errors import Problem
from mlrelease.registry.loader import Registry
from mlrelease.registry.profile import numeric_bin_label
from mlrelease.registry.types import Artifact, Dataset, FeatureProfile, MetricDef, Profile, Snapshot, Telemetry, Version
from mlrelease.telemetry.drift import (
    EPSILON,
    Baseline,
    compare_datasets,
    compare_version_data,
    drift_report,
    feature_drift,
    metric_drops,
    profile_drift,
    psi,
    psi_level,
    training_baseline,
)
from tests.builders import commit_all, version, write

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CATALOGUE = {
    "precision": MetricDef("precision", "max"),
    "false_positive_ratio": MetricDef("false_positive_ratio", "min"),
}


def numeric(edges: tuple[float, ...], fractions: list[float]) -> FeatureProfile:
    return FeatureProfile("numeric", {numeric_bin_label(edges, i): f for i, f in enumerate(fractions)}, edges)


def categorical(fractions: dict[str, float]) -> FeatureProfile:
    return FeatureProfile("categorical", dict(fractions))


# ---- PSI, by hand ----------------------------------------------------------------------------------


def test_psi_numeric_matches_the_hand_computed_value() -> None:
    # Training [0.5, 0.3, 0.2], live [0.4, 0.4, 0.2]; PSI = Σ (a − e) · ln(a / e):
    #   bin <100:       (0.4 − 0.5) · ln(0.4 / 0.5) = (−0.1) · (−0.2231436) = 0.0223144
    #   bin [100,500):  (0.4 − 0.3) · ln(0.4 / 0.3) = ( 0.1) · ( 0.2876821) = 0.0287682
    #   bin >=500:      (0.2 − 0.2) · ln(1)         = 0
    #   PSI = 0.0510826
    drift = feature_drift("amount", numeric((100, 500), [0.5, 0.3, 0.2]), numeric((100, 500), [0.4, 0.4, 0.2]))
    assert drift.psi == pytest.approx(0.0510826, abs=1e-6)
    contributions = {b.bin: b.contribution for b in drift.bins}
    assert contributions == pytest.approx({"<100": 0.0223144, "[100,500)": 0.0287682, ">=500": 0.0}, abs=1e-6)
    assert drift.level == "stable"
    # The bin that moved most is the one with the largest contribution, then the next.
    assert [b.bin for b in drift.moved()] == ["[100,500)", "<100"]


def test_an_empty_bin_counts_as_epsilon_not_infinity() -> None:
    # Training {a: 0.5, b: 0.5}, live {a: 1.0, b: 0}: b is empty live, so it counts as ε = 1e-4.
    #   a: (1.0 − 0.5)    · ln(1.0 / 0.5)    = 0.5    · 0.6931472 = 0.3465736
    #   b: (0.0001 − 0.5) · ln(0.0001 / 0.5) = −0.4999 · −8.5171932 = 4.2577449
    #   PSI = 4.6043185
    assert EPSILON == 1e-4
    result = psi({"a": 0.5, "b": 0.5}, {"a": 1.0, "b": 0.0})
    assert result is not None
    value, bins = result
    assert value == pytest.approx(4.6043185, abs=1e-6)
    assert math.isfinite(value)
    assert bins[1].actual == 0.0  # the fractions shown are the real ones; ε only enters the index
    assert psi_level(value) == "significant"


def test_categorical_psi_is_over_the_union_of_categories() -> None:
    # Training {web: 0.3, pos: 0.7}; live {web: 0.5, pos: 0.4, app: 0.1}; app is new (training ε):
    #   web: (0.5 − 0.3) · ln(0.5 / 0.3)       = 0.2    · 0.5108256 = 0.1021651
    #   pos: (0.4 − 0.7) · ln(0.4 / 0.7)       = −0.3   · −0.5596158 = 0.1678847
    #   app: (0.1 − 0.0001) · ln(0.1 / 0.0001) = 0.0999 · 6.9077553 = 0.6900848
    #   PSI = 0.9601346
    drift = feature_drift("channel", categorical({"web": 0.3, "pos": 0.7}), categorical({"web": 0.5, "pos": 0.4, "app": 0.1}))
    assert drift.psi == pytest.approx(0.9601346, abs=1e-6)
    assert [b.bin for b in drift.bins] == ["web", "pos", "app"]
    assert drift.moved()[0].bin == "app"


def test_fractions_are_normalised_before_comparing() -> None:
    # 0.495 + 0.495 = 0.99 (rounding in a profile): normalised to 0.5 / 0.5, so no drift at all.
    result = psi({"a": 0.495, "b": 0.495}, {"a": 0.5, "b": 0.5})
    assert result is not None and result[0] == pytest.approx(0.0, abs=1e-12)


def test_profiles_with_different_bins_are_not_compared() -> None:
    drift = feature_drift("amount", numeric((100, 500), [0.5, 0.3, 0.2]), numeric((50, 500), [0.5, 0.3, 0.2]))
    assert drift.psi is None
    assert "edges [100, 500] in training, [50, 500] live" in (drift.note or "")
    mixed = feature_drift("amount", numeric((100,), [0.5, 0.5]), categorical({"a": 1.0}))
    assert mixed.psi is None and "numeric in training but categorical live" in (mixed.note or "")


def test_profile_drift_names_features_missing_on_either_side() -> None:
    training = Profile({"amount": numeric((100,), [0.5, 0.5]), "country": categorical({"NL": 1.0})})
    live = Profile({"amount": numeric((100,), [0.5, 0.5]), "device": categorical({"ios": 1.0})})
    drift = {f.feature: f for f in profile_drift(training, live)}
    assert drift["amount"].psi == pytest.approx(0.0)
    assert drift["country"].note == "not in the live profile"
    assert drift["device"].note == "not in the training profile"


# ---- metric drops, age, the report ------------------------------------------------------------------


def test_metric_drop_follows_each_metrics_goal() -> None:
    drops = {
        m.metric: m
        for m in metric_drops(
            {"precision": 0.80, "false_positive_ratio": 0.02, "custom": 1.0},
            {"precision": 0.71, "false_positive_ratio": 0.03, "custom": 0.5},
            CATALOGUE,
        )
    }
    assert drops["precision"].drop == pytest.approx(0.09)  # max goal: 0.80 − 0.71
    assert drops["precision"].relative == pytest.approx(0.1125)  # 0.09 / 0.80
    assert drops["false_positive_ratio"].drop == pytest.approx(0.01)  # min goal: 0.03 − 0.02
    assert drops["custom"].drop is None  # not in the catalogue: better or worse is unknown


def _version(**kw: object) -> Version:
    base: dict[str, object] = {
        "model": "fraud-card",
        "version": "1.0.0",
        "created": NOW - timedelta(days=100, hours=12),
        "author": "a",
        "artifact": Artifact("s3://x"),
        "metrics": {"precision": 0.8},
    }
    base.update(kw)
    return Version(**base)  # type: ignore[arg-type]


def test_drift_report_uses_the_newest_profile_and_only_this_versions_metrics() -> None:
    training = Profile({"amount": numeric((100, 500), [0.5, 0.3, 0.2])})
    snapshots = (
        Snapshot(
            at=NOW - timedelta(days=3),
            version="1.0.0",
            metrics={"precision": 0.78},
            profile=Profile({"amount": numeric((100, 500), [0.5, 0.3, 0.2])}),
        ),
        Snapshot(at=NOW - timedelta(days=2), version="1.0.0", profile=Profile({"amount": numeric((100, 500), [0.4, 0.4, 0.2])})),
        Snapshot(at=NOW - timedelta(days=1), version="0.9.0", metrics={"precision": 0.50}),
    )
    report = drift_report(
        "production", _version(), Baseline(training, "version manifest"), Telemetry("fraud-card", "production", snapshots), CATALOGUE, NOW
    )
    assert report.age_days == pytest.approx(100.5)
    assert report.profile_at == NOW - timedelta(days=2)
    assert report.worst is not None and report.worst.psi == pytest.approx(0.0510826, abs=1e-6)
    # 0.9.0's precision is not held against 1.0.0's validation figure.
    assert report.metrics_at == NOW - timedelta(days=3)
    assert report.metrics[0].live == 0.78 and report.metrics[0].drop == pytest.approx(0.02)


def test_drift_report_says_what_could_not_be_judged() -> None:
    nothing = drift_report("production", _version(), None, None, CATALOGUE, NOW)
    assert nothing.features == () and nothing.metrics == () and nothing.notes == ()  # no figures: the health says so once
    live = Telemetry("fraud-card", "production", (Snapshot(at=NOW, profile=Profile({"amount": numeric((100,), [0.5, 0.5])})),))
    no_baseline = drift_report("production", _version(), None, live, CATALOGUE, NOW)
    assert no_baseline.notes == (
        "no training profile (in the version manifest or its train data set) to compare the live inputs with",
        "no live metrics for 1.0.0 in the telemetry",
    )
    ops_only = Telemetry("fraud-card", "production", (Snapshot(at=NOW, calls=3),))
    baseline = Baseline(Profile({"amount": numeric((100,), [0.5, 0.5])}), "version manifest")
    assert (
        "no live input profile in the telemetry, so no PSI"
        in drift_report("production", _version(), baseline, ops_only, CATALOGUE, NOW).notes
    )


# ---- data sets ------------------------------------------------------------------------------------


def test_compare_datasets_reports_rows_frequency_columns_and_profile_psi() -> None:
    before = Dataset(
        name="transactions",
        version="2026.01",
        rows=1000,
        update_frequency="daily",
        columns={"amount": "float", "channel": "string", "country": "string"},
        profile=Profile({"channel": categorical({"web": 0.3, "pos": 0.7})}),
    )
    after = Dataset(
        name="transactions",
        version="2026.02",
        rows=1250,
        update_frequency="hourly",
        columns={"amount": "double", "channel": "string", "device": "string"},
        profile=Profile({"channel": categorical({"web": 0.5, "pos": 0.4, "app": 0.1})}),
    )
    diff = compare_datasets("train", before, after)
    assert diff.rows_change == pytest.approx(0.25)
    data = diff.to_json()
    assert data["columns_added"] == ["device"]
    assert data["columns_removed"] == ["country"]
    assert data["columns_retyped"] == [{"column": "amount", "before": "float", "after": "double"}]
    assert (data["update_frequency_before"], data["update_frequency_after"]) == ("daily", "hourly")
    assert diff.features[0].psi == pytest.approx(0.9601346, abs=1e-6)  # the categorical example above


def _profile_yaml(fractions: list[float]) -> dict[str, object]:
    return {"rows": 1000, "features": {"amount": {"type": "numeric", "edges": [100, 500], "fractions": fractions}}}


def test_training_baseline_falls_back_to_the_train_data_set(repo: Path) -> None:
    write(
        repo,
        "datasets/transactions/2026.01.yaml",
        {
            "name": "transactions",
            "version": "2026.01",
            "rows": 1000,
            "columns": {"amount": "float"},
            "profile": _profile_yaml([0.5, 0.3, 0.2]),
        },
    )
    write(repo, "models/fraud-card/versions/1.2.0.yaml", version("fraud-card", "1.2.0", profile=_profile_yaml([0.2, 0.3, 0.5])))
    commit_all(repo, "profiles")
    with Registry(repo) as reg:
        own = training_baseline(reg, reg.version("fraud-card", "1.2.0"))
        from_data = training_baseline(reg, reg.version("fraud-card", "1.1.0"))
    assert own is not None and own.source == "version manifest"
    assert from_data is not None and from_data.source == "data set transactions@2026.01"
    assert from_data.profile.features["amount"].bins["<100"] == 0.5


def test_compare_version_data_between_two_versions(repo: Path) -> None:
    write(
        repo,
        "datasets/transactions/2026.02.yaml",
        {"name": "transactions", "version": "2026.02", "rows": 1500, "columns": {"amount": "float"}},
    )
    write(
        repo,
        "datasets/transactions/2026.01.yaml",
        {"name": "transactions", "version": "2026.01", "rows": 1000, "columns": {"amount": "int"}},
    )
    write(
        repo,
        "models/fraud-card/versions/1.2.0.yaml",
        version(
            "fraud-card",
            "1.2.0",
            data={"train": {"dataset": "transactions", "version": "2026.02"}, "test": {"dataset": "holdout", "version": "1"}},
        ),
    )
    problems: list[Problem] = []
    with Registry(repo) as reg:
        diffs = {
            d.role: d for d in compare_version_data(reg, reg.version("fraud-card", "1.1.0"), reg.version("fraud-card", "1.2.0"), problems)
        }
    assert problems == []
    assert diffs["train"].rows_change == pytest.approx(0.5)
    assert diffs["train"].columns[0].column == "amount" and (diffs["train"].columns[0].before, diffs["train"].columns[0].after) == (
        "int",
        "float",
    )
    assert (diffs["test"].before, diffs["test"].after) == (None, "holdout@1")
