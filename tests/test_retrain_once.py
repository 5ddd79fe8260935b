"""A policy trigger starts retraining at most once per rule within the cadence, even for two jobs at once.

Both jobs decide against the same tip; the planner asks the cadence rule again at the
tip each commit is built on, so the second finds the first's request and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Request
from tests.release_helpers import head, journal, service, set_config


def test_second_job_with_the_same_policy_trigger_writes_nothing_and_calls_nothing(repo: Path) -> None:
    set_config(repo, retrain={"backend": "journal", "policy": {"cadence_days": 7}})
    backend = journal(repo)
    first, second = service(repo, backend), service(repo, backend)
    request = Request("retrain", "fraud-card", reason="PSI 0.31 on amount", trigger="policy:psi")
    plan_a, plan_b = first.plan(request), second.plan(request)  # both decided before either acted
    assert plan_a.noop is None and plan_b.noop is None

    assert first.execute(plan_a).status == "done"
    after_first = head(repo)
    calls = backend.calls()

    result = second.execute(plan_b)
    assert result.status == "noop"
    assert head(repo) == after_first
    assert backend.calls() == calls
    with Registry(repo, "main") as reg:
        assert [q.trigger for q in reg.retrain_requests("fraud-card")] == ["policy:psi"]


def test_a_new_rule_or_a_request_by_hand_still_starts_retraining(repo: Path) -> None:
    set_config(repo, retrain={"backend": "journal", "policy": {"cadence_days": 7}})
    svc = service(repo, journal(repo))
    assert svc.execute(svc.plan(Request("retrain", "fraud-card", reason="drift", trigger="policy:psi"))).status == "done"
    assert svc.plan(Request("retrain", "fraud-card", reason="drift again", trigger="policy:psi")).noop is not None
    assert svc.execute(svc.plan(Request("retrain", "fraud-card", reason="age", trigger="policy:age,psi"))).status == "done"
    assert svc.plan(Request("retrain", "fraud-card", reason="a person asks")).noop is None
