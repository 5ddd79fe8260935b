"""Rollback, unpin, approve, reject, retrain and reconcile through the service, on real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.errors import ExitCode, GateRefused, MlreleaseError, StaleState
from mlrelease.gitstore.gitwrite import Identity
from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Request
from tests.builders import commit_all, write
from tests.release_helpers import commits_since, head, journal, service, set_config, state_at

ALICE = Identity("Alice", "alice@example.com")
ALICE_AGAIN = Identity("alice smith", "Alice@Example.com")
BOB = Identity("Bob", "bob@example.com")


@pytest.fixture
def reg(repo: Path) -> Path:
    set_config(repo)
    return repo


def run(root: Path, request: Request, **kw: object):  # type: ignore[no-untyped-def]
    svc = service(root, **kw)  # type: ignore[arg-type]
    return svc.execute(svc.plan(request))


def promote(root: Path, ver: str, env: str = "production", **kw: object):  # type: ignore[no-untyped-def]
    return run(root, Request("promote", "fraud-card", ver, env, "ship", **kw))  # type: ignore[arg-type]


# ---- rollback and unpin ----------------------------------------------------------------------


def test_rollback_defaults_to_what_was_live_before_and_pins(reg: Path) -> None:
    promote(reg, "1.1.0", force=True)
    promote(reg, "1.2.0", force=True)
    before = head(reg)
    result = run(reg, Request("rollback", "fraud-card", None, "production", "error rate up"))
    assert result.exit_code == ExitCode.OK and result.plan.version == "1.1.0"
    s = state_at(reg, "production", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0"
    assert s.pin is not None and s.pin.reason == "error rate up" and "author@example.com" in s.pin.by
    assert s.desired is not None and s.desired.action == "rollback"
    log = commits_since(reg, before)
    assert log[0][0] == "Roll back fraud-card in production to 1.1.0 (pinned)"
    assert [t["action"] for _, t in log] == ["rollback", "outcome"] and log[0][1]["previous"] == "1.2.0"


def test_repeated_rollback_steps_further_back(reg: Path) -> None:
    promote(reg, "1.1.0", force=True)
    promote(reg, "1.2.0", force=True)
    run(reg, Request("rollback", "fraud-card", None, "production", "bad"))
    second = run(reg, Request("rollback", "fraud-card", None, "production", "still bad"))
    assert second.plan.version == "1.0.0"
    with pytest.raises(MlreleaseError, match="no earlier live version"):
        service(reg).plan(Request("rollback", "fraud-card", None, "production", "worse"))


def test_rollback_skips_rejected_versions(reg: Path) -> None:
    promote(reg, "1.1.0", force=True)
    promote(reg, "1.2.0", force=True)
    run(reg, Request("reject", "fraud-card", "1.1.0", None, "leaks PII"))
    plan = service(reg).plan(Request("rollback", "fraud-card", None, "production", "bad"))
    assert plan.version == "1.0.0"


def test_pin_refuses_promotion_until_unpinned(reg: Path) -> None:
    promote(reg, "1.1.0", force=True)
    run(reg, Request("rollback", "fraud-card", None, "production", "bad"))
    plan = service(reg).plan(Request("promote", "fraud-card", "1.1.0", "production", "retry"))
    pin = next(g for g in plan.gates if g.name == "pin")
    assert not pin.passed and "pinned by" in pin.detail and "bad" in pin.detail
    with pytest.raises(GateRefused, match="pin: production is pinned"):
        service(reg).execute(plan)
    assert service(reg).plan(Request("rollback", "fraud-card", "1.0.0", "production", "x")).noop is not None
    before = head(reg)
    assert run(reg, Request("unpin", "fraud-card", None, "production", "fixed")).exit_code == ExitCode.OK
    assert commits_since(reg, before)[0][0] == "Unpin fraud-card in production"
    assert state_at(reg, "production", "fraud-card").pin is None
    assert run(reg, Request("unpin", "fraud-card", None, "production")).status == "noop"
    assert promote(reg, "1.1.0", force=True).exit_code == ExitCode.OK


def test_rollback_with_a_canary_live_drops_the_canary(reg: Path) -> None:
    promote(reg, "1.2.0", "staging", canary=25)
    plan = service(reg).plan(Request("rollback", "fraud-card", None, "staging", "canary errors"))
    assert plan.version == "1.1.0" and any("canary 1.2.0" in n for n in plan.notes)
    service(reg).execute(plan)
    s = state_at(reg, "staging", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0" and s.live.canary is None and s.pin is not None


def test_rollback_to_a_version_never_live_there_is_a_gate(reg: Path) -> None:
    plan = service(reg).plan(Request("rollback", "fraud-card", "1.2.0", "production", "try"))
    history = next(g for g in plan.gates if g.name == "history")
    assert not history.passed and plan.refused
    with pytest.raises(MlreleaseError, match="already live in production; nothing to roll back"):
        service(reg).plan(Request("rollback", "fraud-card", "1.0.0", "production", "x"))


# ---- approvals and rejections -------------------------------------------------------------------


def test_approvals_count_distinct_identities(repo: Path) -> None:
    envs = [
        {"name": "staging", "backend": "journal"},
        {"name": "production", "requires": ["staging"], "backend": "journal", "gates": {"approvals": 2}},
    ]
    set_config(repo, environments=envs)
    approve = Request("approve", "fraud-card", "1.1.0", "production", "metrics look fine")
    assert run(repo, approve, identity=ALICE).exit_code == ExitCode.OK
    tip = head(repo)
    again = run(repo, approve, identity=ALICE_AGAIN)  # same e-mail, other spelling: the same person
    assert again.status == "noop" and head(repo) == tip
    gate = next(g for g in service(repo).plan(Request("promote", "fraud-card", "1.1.0", "production", "go")).gates if g.name == "approvals")
    assert not gate.passed and gate.numbers["have"] == 1 and gate.numbers["required"] == 2
    run(repo, approve, identity=BOB)
    gate = next(g for g in service(repo).plan(Request("promote", "fraud-card", "1.1.0", "production", "go")).gates if g.name == "approvals")
    assert gate.passed and gate.detail.startswith("2 of 2 approvals")
    log = commits_since(repo, tip)
    assert log[0][0] == "Approve fraud-card 1.1.0 for production" and log[0][1]["reason"] == "metrics look fine"
    s = state_at(repo, "production", "fraud-card")
    assert [a.by for a in s.approvals] == [str(ALICE), str(BOB)] and s.live is not None and s.live.version == "1.0.0"


def test_reject_blocks_promotion_without_force(reg: Path) -> None:
    before = head(reg)
    plan = service(reg).plan(Request("reject", "fraud-card", "1.2.0", None, "data leak"))
    assert any("live in dev" in n for n in plan.notes)
    service(reg).execute(plan)
    assert commits_since(reg, before)[0][0] == "Reject fraud-card 1.2.0"
    with Registry(reg, "main") as r:
        (rej,) = r.rejections("fraud-card")
    assert rej.version == "1.2.0" and rej.reason == "data leak"
    p = service(reg).plan(Request("promote", "fraud-card", "1.2.0", "staging", "go"))
    assert [g.name for g in p.failing] == ["rejected"] and "data leak" in p.failing[0].detail
    assert run(reg, Request("reject", "fraud-card", "1.2.0", None, "again")).status == "noop"
    assert run(reg, Request("promote", "fraud-card", "1.2.0", "staging", "override", force=True)).exit_code == ExitCode.OK


# ---- retrain ----------------------------------------------------------------------------------


def test_retrain_records_request_and_backend_answer(reg: Path) -> None:
    set_config(reg, retrain={"backend": "journal"})
    before = head(reg)
    backend = journal(reg)
    result = run(reg, Request("retrain", "fraud-card", reason="drift in amount"), backend=backend)
    assert result.exit_code == ExitCode.OK and result.phase == "Succeeded"
    (line,) = backend.deploys()
    assert " retrain fraud-card 1.2.0 None " in line
    with Registry(reg, "main") as r:
        (req,) = r.retrain_requests("fraud-card")
    assert req.phase == "Succeeded" and req.reason == "drift in amount" and req.backend_ref == "journal:2" and req.trigger == "manual"
    log = commits_since(reg, before)
    assert [s for s, _ in log] == ["Request retraining of fraud-card", "Retraining of fraud-card started"]
    assert log[0][1]["promotion_id"] == req.id == log[1][1]["promotion_id"]


def test_retrain_failure_and_pending(reg: Path) -> None:
    set_config(reg, retrain={"backend": "journal"})
    failed = run(reg, Request("retrain", "fraud-card", reason="x"), backend=journal(reg, {"JOURNAL_FAIL": "1"}))
    assert failed.exit_code == ExitCode.BACKEND_FAILED and failed.phase == "Failed"
    stuck = run(reg, Request("retrain", "fraud-card", reason="y"), backend=journal(reg, {"JOURNAL_RAISE": "1"}))
    assert stuck.status == "pending"
    with pytest.raises(StaleState, match="still Pending"):
        run(reg, Request("retrain", "fraud-card", reason="z"))
    out = run(reg, Request("reconcile"), backend=journal(reg, {"JOURNAL_STATUS": "unknown"}))
    assert [(i.plan.request.kind, i.phase) for i in out.items] == [("retrain", "Succeeded")]


def test_retrain_without_backend_is_a_clear_error(reg: Path) -> None:
    with pytest.raises(MlreleaseError, match=r"retrain\.backend is not set"):
        service(reg).plan(Request("retrain", "fraud-card", reason="x"))


# ---- reconcile ----------------------------------------------------------------------------------


def test_reconcile_re_drives_when_the_backend_cannot_tell(reg: Path) -> None:
    run(reg, Request("promote", "fraud-card", "1.1.0", "production", "go"), backend=journal(reg, {"JOURNAL_RAISE": "1"}))
    backend = journal(reg, {"JOURNAL_STATUS": "unknown"})
    svc = service(reg, backend)
    plan = svc.reconcile_plan()
    assert [(p.model, p.environment, p.version) for p in plan.pending] == [("fraud-card", "production", "1.1.0")]
    before = head(reg)
    out = svc.execute(plan)
    assert out.exit_code == ExitCode.OK and [i.phase for i in out.items] == ["Succeeded"]
    s = state_at(reg, "production", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0" and s.observed is not None
    assert s.observed.message == "re-driven by reconcile: deployed"
    (subject, trailers) = commits_since(reg, before)[0]
    assert subject == "Reconcile: fraud-card 1.1.0 is live in production" and trailers["action"] == "reconcile"
    assert len(backend.deploys()) == 1
    assert svc.execute(service(reg).reconcile_plan()).status == "noop"


def test_reconcile_records_what_the_backend_knows_without_calling_execute(reg: Path) -> None:
    run(reg, Request("promote", "fraud-card", "1.1.0", "production", "go"), backend=journal(reg, {"JOURNAL_RAISE": "1"}))
    backend = journal(reg)
    out = run(reg, Request("reconcile"), backend=backend)
    assert [i.phase for i in out.items] == ["Failed"] and out.exit_code == ExitCode.BACKEND_FAILED
    assert len(backend.calls()) == 1  # the raising call only: status answered, execute not re-driven
    s = state_at(reg, "production", "fraud-card")
    assert s.failed and s.live is not None and s.live.version == "1.0.0"


def test_reconcile_filters_by_environment_and_model(reg: Path) -> None:
    bad = journal(reg, {"JOURNAL_RAISE": "1"})
    run(reg, Request("promote", "fraud-card", "1.1.0", "production", "go"), backend=bad)
    run(reg, Request("promote", "churn", "0.1.0", "dev", "go"), backend=bad)
    assert len(service(reg).reconcile_plan().pending) == 2
    assert [p.model for p in service(reg).reconcile_plan(environment="dev").pending] == ["churn"]
    assert [p.environment for p in service(reg).reconcile_plan(model="fraud-card").pending] == ["production"]


def test_unknown_kind_of_file_in_retrain_folder_is_ignored(reg: Path) -> None:
    write(reg, "retrain/README.md", "notes\n")
    commit_all(reg, "notes")
    assert service(reg).reconcile_plan().noop == "nothing is Pending"


def test_a_broken_release_file_elsewhere_does_not_stop_reconcile_or_reject(reg: Path) -> None:
    run(reg, Request("promote", "fraud-card", "1.1.0", "production", "go"), backend=journal(reg, {"JOURNAL_RAISE": "1"}))
    write(reg, "releases/dev/churn.yaml", "model: churn\nenvironment: dev\nbogus: [\n")
    commit_all(reg, "someone broke a file")
    plan = service(reg).reconcile_plan()
    assert [p.model for p in plan.pending] == ["fraud-card"]
    assert any(n.startswith("releases/dev/churn.yaml") and "not reconciled" in n for n in plan.notes)
    assert service(reg).execute(plan).items[0].phase == "Failed"
    assert run(reg, Request("reject", "fraud-card", "1.2.0", None, "bad")).exit_code == ExitCode.OK
