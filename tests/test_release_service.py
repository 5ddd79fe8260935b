"""The release service end to end on real git repositories: promote, its state machine and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.errors import ExitCode, GateRefused, MlreleaseError, ReadOnly, StaleState, UsageError
from mlrelease.release.plan import Request
from tests.builders import commit_all, git, version, write
from tests.release_helpers import commits_since, head, journal, service, set_config, state_at


@pytest.fixture
def reg(repo: Path) -> Path:
    set_config(repo)
    return repo


def promote(model: str, ver: str, env: str, **kw: object) -> Request:
    return Request("promote", model, ver, env, kw.pop("reason", "ship it"), **kw)  # type: ignore[arg-type]


def test_promote_writes_intent_then_outcome_and_moves_live(reg: Path) -> None:
    before = head(reg)
    backend = journal(reg)
    svc = service(reg, backend)
    plan = svc.plan(promote("fraud-card", "1.1.0", "production"))
    assert plan.runnable and plan.previous == "1.0.0" and plan.backend == "journal"
    result = svc.execute(plan)
    assert result.exit_code == ExitCode.OK and result.phase == "Succeeded"
    log = commits_since(reg, before)
    assert [t["phase"] for _, t in log] == ["Pending", "Succeeded"]
    assert [t["action"] for _, t in log] == ["promote", "outcome"]
    assert log[0][0] == "Promote fraud-card 1.1.0 to production"
    for _, t in log:
        assert t["promotion_id"] == plan.action_id and t["previous"] == "1.0.0" and t["version"] == "1.1.0"
        assert t["reason"] == "ship it" and "author@example.com" in t["actor"]
    assert log[1][1]["backend_ref"] == "journal:2"
    s = state_at(reg, "production", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0" and s.live.promotion_id == plan.action_id
    assert s.observed is not None and s.observed.phase == "Succeeded" and s.observed.backend_ref == "journal:2"
    assert len(backend.deploys()) == 1


def test_intent_commit_never_shows_the_new_version_live(reg: Path) -> None:
    before = head(reg)
    service(reg).execute(service(reg).plan(promote("fraud-card", "1.1.0", "production")))
    intent = git(reg, "rev-list", "--reverse", f"{before}..main").split()[0]
    s = state_at(reg, "production", "fraud-card", intent)
    assert s.pending and s.desired is not None and s.desired.version == "1.1.0"
    assert s.live is not None and s.live.version == "1.0.0"


def test_same_promotion_again_is_a_noop_without_commit_or_backend_call(reg: Path) -> None:
    backend = journal(reg)
    svc = service(reg, backend)
    svc.execute(svc.plan(promote("fraud-card", "1.1.0", "production")))
    tip = head(reg)
    plan = svc.plan(promote("fraud-card", "1.1.0", "production"))
    assert plan.noop == "fraud-card 1.1.0 is already live in production"
    result = svc.execute(plan)
    assert result.status == "noop" and result.exit_code == ExitCode.OK
    assert head(reg) == tip and len(backend.calls()) == 1


def test_backend_failure_is_recorded_failed_and_live_unchanged(reg: Path) -> None:
    before = head(reg)
    svc = service(reg, journal(reg, {"JOURNAL_FAIL": "1"}))
    result = svc.execute(svc.plan(promote("fraud-card", "1.1.0", "production")))
    assert result.exit_code == ExitCode.BACKEND_FAILED and result.phase == "Failed"
    assert "far side said no" in result.message
    s = state_at(reg, "production", "fraud-card")
    assert s.failed and s.live is not None and s.live.version == "1.0.0"
    assert s.observed is not None and s.observed.message == "far side said no\\x0asecond line"
    log = commits_since(reg, before)
    assert log[-1][0] == "fraud-card 1.1.0 failed to deploy to production" and log[-1][1]["phase"] == "Failed"
    # A failed promotion does not block the next attempt.
    ok = service(reg).execute(service(reg).plan(promote("fraud-card", "1.1.0", "production")))
    assert ok.exit_code == ExitCode.OK


def test_backend_exception_leaves_pending_and_blocks_until_reconcile(reg: Path) -> None:
    svc = service(reg, journal(reg, {"JOURNAL_RAISE": "1"}))
    result = svc.execute(svc.plan(promote("fraud-card", "1.1.0", "production")))
    assert result.status == "pending" and result.exit_code == ExitCode.BACKEND_FAILED
    assert "reconcile" in result.message and "plugin bug" in result.message
    s = state_at(reg, "production", "fraud-card")
    assert s.pending and s.live is not None and s.live.version == "1.0.0"
    again = service(reg).plan(promote("fraud-card", "1.2.0", "production", force=True))
    assert again.block is not None and again.block.exit_code == ExitCode.STALE_STATE
    with pytest.raises(StaleState, match="still Pending: wait for it to finish, or if it was interrupted, run `mlrelease reconcile`"):
        service(reg).execute(again)
    # Reconcile: the journal never saw it, so the backend answers "not deployed" → Failed.
    rec = service(reg)
    out = rec.execute(rec.reconcile_plan())
    assert [i.phase for i in out.items] == ["Failed"]
    assert state_at(reg, "production", "fraud-card").failed


def test_stale_state_when_someone_else_promoted_after_the_plan(reg: Path) -> None:
    mine = service(reg).plan(promote("fraud-card", "1.2.0", "staging"))
    theirs = service(reg)
    theirs.execute(theirs.plan(promote("fraud-card", "1.2.0", "staging", canary=20)))
    tip = head(reg)
    with pytest.raises(StaleState, match="changed since this was planned") as err:
        service(reg).execute(mine)
    assert err.value.exit_code == ExitCode.STALE_STATE
    assert head(reg) == tip


def test_other_models_and_environments_do_not_make_a_plan_stale(reg: Path) -> None:
    mine = service(reg).plan(promote("fraud-card", "1.1.0", "production"))
    other = service(reg)
    other.execute(other.plan(promote("fraud-card", "1.2.0", "staging")))
    other.execute(other.plan(Request("approve", "fraud-card", "1.1.0", "production", "fine")))
    assert service(reg).execute(mine).exit_code == ExitCode.OK


def test_failing_gates_refuse_with_each_name_and_numbers(repo: Path) -> None:
    env = {"name": "production", "requires": ["staging"], "backend": "journal"}
    env["gates"] = {"thresholds": {"f1": {"min": 0.84}}, "approvals": 1}
    set_config(repo, environments=[{"name": "dev", "backend": "journal"}, {"name": "staging", "backend": "journal"}, env])
    tip = head(repo)
    plan = service(repo).plan(promote("fraud-card", "1.1.0", "production"))
    assert [g.name for g in plan.failing] == ["threshold:f1", "approvals"]
    with pytest.raises(GateRefused) as err:
        service(repo).execute(plan)
    assert err.value.exit_code == ExitCode.GATE_REFUSED
    assert "threshold:f1: f1 0.830 < min 0.840" in str(err.value) and "approvals: 0 of 1" in str(err.value)
    assert head(repo) == tip


def test_force_overrides_and_records_the_forced_gates(repo: Path) -> None:
    env = {"name": "production", "requires": ["staging"], "backend": "journal", "gates": {"thresholds": {"f1": {"min": 0.84}}}}
    set_config(repo, environments=[{"name": "dev", "backend": "journal"}, {"name": "staging", "backend": "journal"}, env])
    before = head(repo)
    svc = service(repo)
    plan = svc.plan(promote("fraud-card", "1.1.0", "production", force=True, reason="hotfix approved by phone"))
    assert plan.forced == ("threshold:f1",)
    assert svc.execute(plan).exit_code == ExitCode.OK
    log = commits_since(repo, before)
    assert log[0][0].endswith("[forced]") and log[0][1]["forced"] == "threshold:f1"
    s = state_at(repo, "production", "fraud-card")
    assert s.desired is not None and s.desired.forced == ("threshold:f1",)


def test_order_gate_reads_history_after_the_required_env_moved_on(reg: Path) -> None:
    svc = service(reg)
    # 1.1.0 is live in staging now; move staging on to 1.2.0.
    svc.execute(svc.plan(promote("fraud-card", "1.2.0", "staging")))
    plan = service(reg).plan(promote("fraud-card", "1.1.0", "production"))
    order = next(g for g in plan.gates if g.name == "order:staging")
    assert order.passed and "was live" in order.detail
    write(reg, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", f1=0.9))
    commit_all(reg, "Register 1.3.0")
    plan = service(reg).plan(promote("fraud-card", "1.3.0", "production"))
    order = next(g for g in plan.gates if g.name == "order:staging")
    assert not order.passed and order.detail == "1.3.0 has never been live in staging (live there now: 1.2.0)"


def test_canary_then_full_promotion(reg: Path) -> None:
    before = head(reg)
    svc = service(reg)
    result = svc.execute(svc.plan(promote("fraud-card", "1.2.0", "staging", canary=10)))
    assert result.exit_code == ExitCode.OK and "as canary at 10%" in result.message
    s = state_at(reg, "staging", "fraud-card")
    assert s.live is not None and s.live.version == "1.1.0" and s.live.canary is not None
    assert (s.live.canary.version, s.live.canary.weight) == ("1.2.0", 10)
    assert s.desired is not None and s.desired.version == "1.1.0" and s.desired.canary == s.live.canary
    assert commits_since(reg, before)[0] == (
        "Promote fraud-card 1.2.0 to staging (canary 10%)",
        commits_since(reg, before)[0][1],
    )
    assert commits_since(reg, before)[0][1]["canary_weight"] == "10"
    assert service(reg).plan(promote("fraud-card", "1.2.0", "staging", canary=10)).noop is not None
    svc.execute(service(reg).plan(promote("fraud-card", "1.2.0", "staging", canary=50)))
    canary = state_at(reg, "staging", "fraud-card").live.canary  # type: ignore[union-attr]
    assert canary is not None and canary.weight == 50
    svc.execute(service(reg).plan(promote("fraud-card", "1.2.0", "staging")))
    s = state_at(reg, "staging", "fraud-card")
    assert s.live is not None and s.live.version == "1.2.0" and s.live.canary is None


def test_canary_needs_something_live_and_another_version(reg: Path) -> None:
    with pytest.raises(UsageError, match="a canary must be another version"):
        service(reg).plan(promote("fraud-card", "1.1.0", "staging", canary=10))
    with pytest.raises(UsageError, match="between 0 and 100"):
        service(reg).plan(promote("fraud-card", "1.2.0", "staging", canary=100))
    with pytest.raises(MlreleaseError, match="nothing is live for churn in dev"):
        service(reg).plan(promote("churn", "0.2.0", "dev", canary=10))


def test_readonly_mode_refuses_every_action_in_execute(reg: Path) -> None:
    tip = head(reg)
    svc = service(reg, readonly=True)
    plan = svc.plan(promote("fraud-card", "1.1.0", "production"))
    assert plan.block is not None and plan.block.exit_code == ExitCode.READ_ONLY
    for request in (plan.request, Request("approve", "fraud-card", "1.1.0", "production"), Request("reconcile")):
        with pytest.raises(ReadOnly) as err:
            svc.execute(service(reg).plan(request))  # even a plan made without read-only is refused
        assert err.value.exit_code == ExitCode.READ_ONLY
    assert head(reg) == tip


def test_read_only_environment_refuses_but_others_work(repo: Path) -> None:
    set_config(
        repo,
        environments=[
            {"name": "dev", "backend": "journal"},
            {"name": "staging", "backend": "journal"},
            {"name": "production", "backend": "journal", "read_only": True},
        ],
    )
    with pytest.raises(ReadOnly, match="production is read-only"):
        service(repo).execute(service(repo).plan(promote("fraud-card", "1.1.0", "production")))
    assert service(repo).execute(service(repo).plan(promote("fraud-card", "1.1.0", "dev"))).exit_code == ExitCode.OK


def test_unknown_names_are_clear_errors(reg: Path) -> None:
    with pytest.raises(MlreleaseError, match=r"no environment 'prod'.*dev, staging, production"):
        service(reg).plan(promote("fraud-card", "1.1.0", "prod"))
    with pytest.raises(MlreleaseError, match=r"has no version '9\.9\.9'"):
        service(reg).plan(promote("fraud-card", "9.9.9", "dev"))
    with pytest.raises(MlreleaseError, match="no model 'nope'"):
        service(reg).plan(promote("nope", "1.0.0", "dev"))
    with pytest.raises(MlreleaseError, match=r"environment name '\.\./dev' contains a path separator"):
        service(reg).plan(promote("fraud-card", "1.1.0", "../dev"))
    with pytest.raises(MlreleaseError, match="contains a path separator"):
        service(reg).plan(Request("rollback", "../fraud-card", None, "dev", "x"))


def test_uncommitted_work_is_never_touched_or_committed(reg: Path) -> None:
    (reg / "models/fraud-card/model.yaml").write_text("owner: edited by hand\n")
    (reg / "notes.txt").write_text("scratch\n")
    svc = service(reg)
    assert svc.execute(svc.plan(promote("fraud-card", "1.1.0", "production"))).exit_code == ExitCode.OK
    assert (reg / "models/fraud-card/model.yaml").read_text() == "owner: edited by hand\n"
    assert (reg / "notes.txt").read_text() == "scratch\n"
    status = git(reg, "status", "--porcelain")
    assert " M models/fraud-card/model.yaml" in status and "?? notes.txt" in status and "releases" not in status
    assert "1.1.0" in (reg / "releases/production/fraud-card.yaml").read_text()  # the checkout follows the branch


def test_uncommitted_edit_of_the_release_file_refuses(reg: Path) -> None:
    path = reg / "releases/production/fraud-card.yaml"
    path.write_text(path.read_text() + "# my note\n")
    tip = head(reg)
    with pytest.raises(MlreleaseError, match="uncommitted changes"):
        service(reg).execute(service(reg).plan(promote("fraud-card", "1.1.0", "production")))
    assert head(reg) == tip and path.read_text().endswith("# my note\n")


def test_works_from_a_detached_head(reg: Path) -> None:
    git(reg, "checkout", "-q", "--detach", "HEAD")
    detached = head(reg, "HEAD")
    svc = service(reg)
    assert svc.execute(svc.plan(promote("fraud-card", "1.1.0", "production"))).exit_code == ExitCode.OK
    assert head(reg, "HEAD") == detached and head(reg) != detached
    assert state_at(reg, "production", "fraud-card").live.version == "1.1.0"  # type: ignore[union-attr]
    assert git(reg, "status", "--porcelain") == ""


def test_progress_is_reported_step_by_step(reg: Path) -> None:
    steps: list[str] = []
    svc = service(reg)
    svc.execute(svc.plan(promote("fraud-card", "1.1.0", "production")), progress=lambda p: steps.append(p.step))
    assert steps == ["intent", "backend", "outcome"]


def test_plan_has_no_side_effects_and_serialises(reg: Path) -> None:
    tip = head(reg)
    backend = journal(reg)
    plan = service(reg, backend).plan(promote("fraud-card", "1.1.0", "production", canary=None))
    data = plan.to_json()
    assert data["action"] == "promote" and data["backend_call"].startswith("journal: append")
    assert [c["trailers"]["phase"] for c in data["commits"]] == ["Pending", "Succeeded|Failed"]
    assert head(reg) == tip and backend.calls() == []


def test_a_reason_is_required_to_act_and_to_force(reg: Path) -> None:
    for request in (
        Request("promote", "fraud-card", "1.1.0", "production"),
        Request("unpin", "fraud-card", None, "production", force=True),
    ):
        plan = service(reg).plan(request)
        if plan.noop is None:
            with pytest.raises(UsageError, match="needs a reason"):
                service(reg).execute(plan)
    assert service(reg).plan(Request("promote", "fraud-card", "1.1.0", "production")).runnable  # planning needs none


def test_after_a_failed_promotion_promoting_what_is_live_puts_desired_back(reg: Path) -> None:
    failing = service(reg, journal(reg, {"JOURNAL_FAIL": "1"}))
    failing.execute(failing.plan(promote("fraud-card", "1.1.0", "production")))
    s = state_at(reg, "production", "fraud-card")
    assert s.failed and s.desired is not None and s.desired.version == "1.1.0" and s.live is not None and s.live.version == "1.0.0"
    plan = service(reg).plan(Request("promote", "fraud-card", "1.0.0", "production", "back to what runs", force=True))
    assert plan.noop is None
    assert service(reg).execute(plan).exit_code == ExitCode.OK
    s = state_at(reg, "production", "fraud-card")
    assert s.desired is not None and s.desired.version == "1.0.0" and s.observed is not None and s.observed.phase == "Succeeded"
    assert service(reg).plan(Request("promote", "fraud-card", "1.0.0", "production", "again")).noop is not None
