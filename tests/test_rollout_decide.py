"""Rollouts driven through the release service on real git registries, with the file telemetry source.

Each test moves a fixed clock, writes per-version snapshots (committed, as a monitoring
job would) and runs one look-and-act, then reads the release file and the commits: every
step is an ordinary action (intent + outcome, trailers), every verdict kind occurs, and a
second run in the same minute changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.errors import ExitCode
from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Request
from mlrelease.rollout import decide
from mlrelease.rollout.judge import FAIL, INCONCLUSIVE, PASS
from tests.builders import git
from tests.release_helpers import commits_since, state_at
from tests.rollout_helpers import STRATEGY, World, run, world


def head(w: World) -> str:
    return git(w.root, "rev-parse", "HEAD").strip()


def verdicts(acted: object) -> dict[str, str]:
    judgement = acted.evaluation.judgement  # type: ignore[attr-defined]
    return {v.metric: v.verdict for v in judgement.verdicts}


def test_a_clean_canary_goes_step_by_step_to_full_promotion_and_a_rerun_does_nothing_new(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.start()
    # Inside the hold: no decision, whatever the figures.
    w.traffic(w.later(minutes=30))
    acted = run(w)
    assert acted.evaluation.decision.action == decide.HOLD and "holding until 2026-03-02 10:00Z" in acted.message
    assert acted.steps == ()
    # After the hold, with enough clean traffic: on to 50%.
    w.traffic(w.later(minutes=40), champion=(90_000, 90), challenger=(10_000, 9), caught=(1800, 2000))
    before = head(w)
    acted = run(w)
    assert verdicts(acted) == {"error_rate": PASS, "latency_ms": PASS, "value_detection_rate": PASS}
    assert acted.evaluation.decision.action == decide.ADVANCE and acted.exit_code == ExitCode.OK
    live = state_at(w.root, "production", "fraud-card").live
    assert (
        live is not None and live.canary is not None and (live.version, live.canary.version, live.canary.weight) == ("1.0.0", "1.1.0", 50)
    )
    written = commits_since(w.root, before)
    assert [t["action"] for _, t in written] == ["promote", "outcome"]
    assert written[0][1]["canary_weight"] == "50"
    assert "step 1 of 2 passed" in written[0][1]["reason"] and "two-proportion z-test" in written[0][1]["reason"]
    # Idempotent: the same look a moment later finds step 2 just begun.
    again = head(w)
    assert run(w).evaluation.decision.action == decide.HOLD and head(w) == again
    # Step 2: the window starts afresh at 50%.
    w.traffic(w.later(hours=2, minutes=5), champion=(50_000, 50), challenger=(50_000, 45), caught=(1800, 2000))
    acted = run(w)
    assert acted.evaluation.decision.action == decide.FINISH, acted.message
    state = state_at(w.root, "production", "fraud-card")
    assert state.live is not None and state.live.version == "1.1.0" and state.live.canary is None
    assert run(w).evaluation.decision.action == decide.IDLE


def test_a_critical_failure_rejects_the_challenger_and_rolls_it_back_with_the_evidence(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.start()
    before = head(w)
    w.traffic(w.later(hours=1, minutes=5), champion=(90_000, 90), challenger=(10_000, 400))  # 4% errors against 0.1%
    acted = run(w)
    assert verdicts(acted)["error_rate"] == FAIL
    assert acted.evaluation.decision.action == decide.ABORT and acted.exit_code == ExitCode.ROLLOUT_ABORTED
    state = state_at(w.root, "production", "fraud-card")
    assert state.live is not None and state.live.version == "1.0.0" and state.live.canary is None and state.pin is not None
    actions = [t["action"] for _, t in commits_since(w.root, before) if "action" in t]
    assert actions[-3:] == ["reject", "rollback", "outcome"]
    with Registry(w.root) as reg:
        (rejection,) = reg.rejections("fraud-card")
    assert rejection.version == "1.1.0"
    assert "error_rate fail: challenger 4.000% vs champion 0.100%" in rejection.reason and "two-proportion z-test" in rejection.reason
    assert "p < 1e-16" in rejection.reason and "critical" in rejection.reason and "aborted at 10%" in rejection.reason
    # Rerun: nothing is live as a canary any more; it says why.
    again = run(w)
    assert again.evaluation.decision.action == decide.IDLE and "rolled back and pinned" in again.message


def test_an_early_look_aborts_only_on_overwhelming_evidence(tmp_path: Path) -> None:
    """Haybittle-Peto: before the hold ends, a failure must hold at 99.9%; a milder one waits for the hold."""
    w = world(tmp_path)
    w.start()
    w.traffic(w.later(minutes=20), champion=(90_000, 90), challenger=(10_000, 45))  # 0.45%: fails at 95%, not at 99.9%
    acted = run(w)
    assert verdicts(acted)["error_rate"] == FAIL  # the report shows the judgement at the metric's level...
    assert acted.evaluation.decision.action == decide.HOLD  # ...but an interim look does not act on it
    w.later(minutes=45)
    assert run(w).evaluation.decision.action == decide.ABORT  # the hold is over: the planned look decides


def test_inconclusive_says_how_many_more_samples_and_holds(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.start()
    w.traffic(w.later(hours=1, minutes=5), champion=(9_000, 9), challenger=(1_000, 1))
    acted = run(w)
    er = next(v for v in acted.evaluation.judgement.verdicts if v.metric == "error_rate")
    assert er.verdict == INCONCLUSIVE and "straddles the tolerance" in er.reason
    assert er.more_samples is not None and er.more_samples[1] > 0
    assert acted.evaluation.decision.action == decide.HOLD and acted.exit_code == ExitCode.OK
    assert "settled around" in acted.message


def test_too_few_samples_is_inconclusive_never_a_pass(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.start()
    w.traffic(w.later(hours=1, minutes=5), champion=(300, 0), challenger=(30, 0))
    v = {x.metric: x for x in run(w).evaluation.judgement.verdicts}
    assert v["error_rate"].verdict == INCONCLUSIVE and "not enough data yet" in v["error_rate"].reason
    assert v["error_rate"].more_samples == (200, 470)


def test_a_non_critical_failure_waits_for_a_person(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.start()
    w.traffic(w.later(hours=1, minutes=5), champion=(90_000, 90), challenger=(10_000, 9), caught=(1200, 2000))
    acted = run(w)
    assert verdicts(acted)["value_detection_rate"] == FAIL
    assert acted.evaluation.decision.action == decide.PERSON and acted.exit_code == ExitCode.NEEDS_PERSON
    assert "not critical" in acted.message


def test_a_pause_step_waits_for_a_person_who_advances_by_hand(tmp_path: Path) -> None:
    strategy = {**STRATEGY, "steps": [{"weight": 10, "hold": "1h", "pause": True}, {"weight": 50, "hold": "2h"}]}
    w = world(tmp_path, strategy)
    w.start()
    w.traffic(w.later(hours=1, minutes=5), champion=(90_000, 90), challenger=(10_000, 9), caught=(1800, 2000))
    acted = run(w)
    assert acted.evaluation.decision.action == decide.PERSON and "waits for a person" in acted.message
    rollouts = w.rollouts()
    evaluation = rollouts.look("fraud-card", "production")
    decision = rollouts.manual(evaluation, "advance", "fraud ops signed off the 10% step")
    done = rollouts.act(evaluation, decision, lambda plan: True)
    assert done.exit_code == ExitCode.OK
    live = state_at(w.root, "production", "fraud-card").live
    assert live is not None and live.canary is not None and live.canary.weight == 50


def test_a_paused_rollout_holds_until_resumed(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.start()
    rollouts = w.rollouts()
    evaluation = rollouts.look("fraud-card", "production")
    rollouts.act(evaluation, rollouts.manual(evaluation, "pause", "month-end peak"), lambda plan: True)
    assert state_at(w.root, "production", "fraud-card").pin is not None
    w.traffic(w.later(hours=1, minutes=5), champion=(90_000, 90), challenger=(10_000, 9), caught=(1800, 2000))
    acted = run(w)
    assert acted.evaluation.decision.action == decide.HOLD and "paused" in acted.message
    evaluation = rollouts.look("fraud-card", "production")
    rollouts.act(evaluation, rollouts.manual(evaluation, "resume", "peak is over"), lambda plan: True)
    assert run(w).evaluation.decision.action == decide.ADVANCE


def test_a_source_that_is_down_is_inconclusive_source_unavailable_never_a_pass(tmp_path: Path) -> None:
    from tests.telemetry_servers import dead_url

    w = world(tmp_path, telemetry={"type": "http-json", "url": dead_url() + "/{model}/{env}", "timeout": 1})
    w.start()
    w.later(hours=1, minutes=5)
    acted = run(w)
    judgement = acted.evaluation.judgement
    assert judgement.unavailable and all(v.verdict == INCONCLUSIVE for v in judgement.verdicts)
    assert all(v.reason.startswith("source unavailable: ") for v in judgement.verdicts)
    assert acted.evaluation.decision.action == decide.HOLD and "inconclusive, source unavailable" in acted.message


def test_running_out_of_time_rolls_back_without_rejecting(tmp_path: Path) -> None:
    w = world(tmp_path, {**STRATEGY, "max_duration": "3h"})
    w.start()
    w.later(hours=3, minutes=1)
    acted = run(w)
    assert acted.evaluation.decision.action == decide.ABORT and "max_duration 3h" in acted.message
    assert not (w.root / "models/fraud-card/rejections.yaml").exists()
    assert state_at(w.root, "production", "fraud-card").live.canary is None  # type: ignore[union-attr]


def test_a_canary_at_a_weight_that_is_no_step_waits_for_a_person(tmp_path: Path) -> None:
    w = world(tmp_path)
    service = w.service()
    service.execute(service.prepare(Request("promote", "fraud-card", "1.1.0", "production", "by hand", 7.0)))
    acted = run(w)
    assert acted.evaluation.decision.action == decide.PERSON and "7% is not one of the steps (10%, 50%)" in acted.message
    rollouts = w.rollouts()
    evaluation = rollouts.look("fraud-card", "production")
    assert rollouts.manual(evaluation, "advance", "back on plan").requests[0].canary == 10


def test_a_manual_abort_rolls_back_without_rejecting(tmp_path: Path) -> None:
    w = world(tmp_path)
    w.start()
    rollouts = w.rollouts()
    evaluation = rollouts.look("fraud-card", "production")
    acted = rollouts.act(evaluation, rollouts.manual(evaluation, "abort", "incident INC-123 elsewhere"), lambda plan: True)
    assert acted.exit_code == ExitCode.ROLLOUT_ABORTED
    state = state_at(w.root, "production", "fraud-card")
    assert state.live is not None and state.live.canary is None and "incident INC-123" in (state.pin.reason or "")  # type: ignore[union-attr]


def test_manual_actions_need_a_reason_and_a_rollout(tmp_path: Path) -> None:
    w = world(tmp_path)
    rollouts = w.rollouts()
    evaluation = rollouts.look("fraud-card", "production")
    with pytest.raises(Exception, match="needs --reason"):
        rollouts.manual(evaluation, "abort", "")
    with pytest.raises(Exception, match="no rollout of fraud-card in production to abort"):
        rollouts.manual(evaluation, "abort", "why")


def test_an_environment_without_a_strategy_is_refused_by_name(tmp_path: Path) -> None:
    w = world(tmp_path)
    with pytest.raises(Exception, match="environment 'staging' has no rollout strategy"):
        w.rollouts().look("fraud-card", "staging")


def test_progress_for_the_overview_says_step_weight_next_decision_and_verdict_so_far(tmp_path: Path) -> None:
    from mlrelease.rollout.report import in_progress, progress_text

    w = world(tmp_path)
    w.start()
    w.traffic(w.later(minutes=30), champion=(90_000, 90), challenger=(10_000, 9), caught=(1800, 2000))
    with Registry(w.root) as reg:
        (evaluation,) = in_progress(reg, w.clock.now)
    assert progress_text(evaluation) == "1.1.0 step 1 of 2 · 10% · next decision 03-02 10:00Z · so far: pass"
