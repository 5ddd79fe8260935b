"""Each gate kind passes and fails, with its numbers; windows and tolerances at their edges."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from mlrelease.registry.types import Environment, MetricDef, Pin, Rejection, Threshold, Tolerance, Window, Windows
from mlrelease.release import foureyes, gates
from mlrelease.release.plan import Request
from tests.release_helpers import service, set_config

CATALOGUE = {
    "f1": MetricDef("f1", "max", format=".3f"),
    "false_positive_ratio": MetricDef("false_positive_ratio", "min", format=".2%"),
}
T = datetime(2026, 3, 1, tzinfo=UTC)


def test_rejected() -> None:
    assert gates.rejected("1.0.0", [Rejection("1.1.0", "a", T, "x")]).passed
    g = gates.rejected("1.1.0", [Rejection("1.1.0", "Alice", T, "bias found")])
    assert not g.passed and g.detail == "1.1.0 was rejected by Alice on 2026-03-01: bias found"


def test_order() -> None:
    env = Environment("production", requires=("staging", "canary-zone"))
    out = gates.order("1.2.0", env, {"staging": ("1.2.0", "is live"), "canary-zone": ("1.1.0", None)})
    assert [(g.name, g.passed) for g in out] == [("order:staging", True), ("order:canary-zone", False)]
    assert out[1].detail == "1.2.0 has never been live in canary-zone (live there now: 1.1.0)"
    assert out[1].numbers == {"required": "canary-zone", "live_there": "1.1.0"}


def test_thresholds() -> None:
    limits = {"f1": Threshold(min=0.8), "false_positive_ratio": Threshold(max=0.03), "auc": Threshold(min=0.5)}
    out = gates.thresholds(limits, {"f1": 0.8, "false_positive_ratio": 0.031}, CATALOGUE)
    assert [(g.name, g.passed) for g in out] == [
        ("threshold:f1", True),
        ("threshold:false_positive_ratio", False),
        ("threshold:auc", False),
    ]
    assert out[0].detail == "f1 0.800 within min 0.800"  # exactly on the bound passes
    assert out[1].detail == "false_positive_ratio 3.10% > max 3.00%"
    assert out[2].detail == "auc is missing from the version manifest"


@pytest.mark.parametrize(
    ("metric", "value", "live", "tol", "passed"),
    [
        ("f1", 0.85, 0.84, Tolerance(), True),  # better
        ("f1", 0.84, 0.84, Tolerance(), True),  # equal
        ("f1", 0.839, 0.84, Tolerance(), False),  # worse, no tolerance
        ("f1", 0.83, 0.84, Tolerance(absolute=0.01), True),  # worse by exactly the absolute allowance
        ("f1", 0.829, 0.84, Tolerance(absolute=0.01), False),
        ("f1", 0.825, 0.84, Tolerance(relative=0.02), True),  # 2% of 0.84 = 0.0168
        ("f1", 0.82, 0.84, Tolerance(absolute=0.001, relative=0.025), True),  # the larger allowance counts
        ("false_positive_ratio", 0.021, 0.02, Tolerance(), False),  # goal min: higher is worse
        ("false_positive_ratio", 0.019, 0.02, Tolerance(), True),
        ("false_positive_ratio", 0.022, 0.02, Tolerance(relative=0.1), True),
    ],
)
def test_no_regression_by_goal_and_tolerance(metric: str, value: float, live: float, tol: Tolerance, passed: bool) -> None:
    (g,) = gates.no_regression({metric: tol}, {metric: value}, "1.0.0", {metric: live}, CATALOGUE)
    assert g.passed is passed, g.detail
    assert g.numbers["live_value"] == live and g.numbers["goal"] == CATALOGUE[metric].goal


def test_no_regression_edges() -> None:
    (nothing_live,) = gates.no_regression({"f1": Tolerance()}, {"f1": 0.1}, None, None, CATALOGUE)
    assert nothing_live.passed and nothing_live.detail == "nothing is live to compare f1 with"
    (unknown,) = gates.no_regression({"latency": Tolerance()}, {"latency": 1.0}, "1.0.0", {"latency": 2.0}, CATALOGUE)
    assert not unknown.passed and "not in the metric catalogue" in unknown.detail
    (missing,) = gates.no_regression({"f1": Tolerance()}, {}, "1.0.0", {"f1": 0.8}, CATALOGUE)
    assert not missing.passed
    (g,) = gates.no_regression({"f1": Tolerance(absolute=0.005)}, {"f1": 0.83}, "1.0.0", {"f1": 0.84}, CATALOGUE)
    assert g.detail == "f1 0.830 vs live 1.0.0 0.840 (goal max): worse by 0.010, allowed 0.005"  # in the metric's format


def test_approvals() -> None:
    assert not foureyes.approvals_gate(2, foureyes.Counted(("a@x",), ())).passed
    g = foureyes.approvals_gate(2, foureyes.Counted(("a@x", "b@x"), ("c@x: the promoter's own approval does not count",)))
    assert g.passed and g.numbers == {
        "required": 2,
        "have": 2,
        "by": ["a@x", "b@x"],
        "not_counted": ["c@x: the promoter's own approval does not count"],
    }
    assert "not counted: c@x: the promoter's own approval does not count" in g.detail


def test_pin() -> None:
    assert gates.pinned(None, "production").passed
    g = gates.pinned(Pin("Alice", T, "incident 42"), "production")
    assert not g.passed and "incident 42" in g.detail and "--force" in g.detail


FRIDAY_EVENING = Window(days=("fri",), start=time(16, 0))
WEEKEND = Window(days=("sat", "sun"))
OFFICE = Window(days=("mon", "tue", "wed", "thu", "fri"), start=time(9, 0), end=time(17, 0))


@pytest.mark.parametrize(
    ("when_utc", "tz", "passed", "detail"),
    [
        # Paris is UTC+1 in early March.
        (
            "2026-03-02T09:30:00+00:00",
            "Europe/Paris",
            True,
            "now (mon 10:30 Europe/Paris) is in the allowed window mon,tue,wed,thu,fri 09:00-17:00",
        ),
        (
            "2026-03-02T07:30:00+00:00",
            "Europe/Paris",
            False,
            "now (mon 08:30 Europe/Paris) is outside the allowed windows (mon,tue,wed,thu,fri 09:00-17:00)",
        ),
        # Friday 16:30 in Paris is inside office hours and inside the deny window: deny wins.
        ("2026-03-06T15:30:00+00:00", "Europe/Paris", False, "now (fri 16:30 Europe/Paris) is in the denied window fri 16:00-24:00"),
        # The same instant read in UTC is 15:30: allowed. The zone decides.
        ("2026-03-06T15:30:00+00:00", "UTC", True, "now (fri 15:30 UTC) is in the allowed window mon,tue,wed,thu,fri 09:00-17:00"),
        ("2026-03-07T11:00:00+00:00", "Europe/Paris", False, "now (sat 12:00 Europe/Paris) is in the denied window sat,sun 00:00-24:00"),
    ],
)
def test_windows_in_the_configured_time_zone(when_utc: str, tz: str, passed: bool, detail: str) -> None:
    windows = Windows(timezone=tz, allow=(OFFICE,), deny=(FRIDAY_EVENING, WEEKEND))
    g = gates.window(windows, datetime.fromisoformat(when_utc))
    assert (g.passed, g.detail) == (passed, detail)


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    night = Window(days=("fri",), start=time(22, 0), end=time(6, 0))
    assert gates.in_window(night, datetime(2026, 3, 6, 23, 0))  # Friday 23:00
    assert gates.in_window(night, datetime(2026, 3, 7, 5, 59))  # Saturday 05:59
    assert not gates.in_window(night, datetime(2026, 3, 7, 6, 0))
    assert not gates.in_window(night, datetime(2026, 3, 6, 5, 0))  # Friday early morning: Thursday's night


def test_no_windows_configured_means_no_window_gate(repo: Path) -> None:
    set_config(repo)
    plan = service(repo).plan(Request("promote", "fraud-card", "1.1.0", "production", "go"))
    assert "window" not in [g.name for g in plan.gates]


def test_gates_from_config_through_the_planner(repo: Path) -> None:
    prod = {
        "name": "production",
        "requires": ["staging"],
        "backend": "journal",
        "gates": {
            "thresholds": {"f1": {"min": 0.8}},
            "no_regression": {"f1": {"absolute": 0.01}, "value_detection_rate": None},
            "approvals": 1,
            "windows": {"timezone": "Europe/Paris", "deny": [{"days": ["fri"], "from": "17:00", "to": "24:00"}]},
        },
    }
    set_config(repo, environments=[{"name": "dev", "backend": "journal"}, {"name": "staging", "backend": "journal"}, prod])
    friday = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)  # 18:00 in Paris
    plan = service(repo, clock=lambda: friday).plan(Request("promote", "fraud-card", "1.1.0", "production", "go"))
    verdicts = {g.name: g.passed for g in plan.gates}
    assert verdicts == {
        "rejected": True,
        "pin": True,
        "order:staging": True,
        "threshold:f1": True,
        "no_regression:f1": True,
        "no_regression:value_detection_rate": True,
        "approvals": False,
        "window": False,
    }
    window = next(g for g in plan.gates if g.name == "window")
    assert window.detail == "now (fri 18:00 Europe/Paris) is in the denied window fri 17:00-24:00"
