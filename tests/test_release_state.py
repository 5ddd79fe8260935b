"""State transitions and their YAML, promotion ids, and the live history used by rollback."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import pytest

from mlrelease.registry import yamlsafe
from mlrelease.registry.parse import parse_release
from mlrelease.registry.types import Canary, Desired, Live, Pin, ReleaseState
from mlrelease.release import state as st
from mlrelease.release.ids import new_id
from mlrelease.release.livehistory import LiveChange, rollback_target
from mlrelease.secrets import secret

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def roundtrip(s: ReleaseState) -> ReleaseState:
    parsed = parse_release(yamlsafe.load(st.dump_release(s), "x.yaml"), "x.yaml")
    return dataclasses.replace(parsed, lines={})


def desired(version: str, pid: str, *, canary: Canary | None = None, action: str = "promote") -> Desired:
    return Desired(version=version, promotion_id=pid, action=action, actor="A <a@x>", at=T0, canary=canary, reason="r", forced=("pin",))


def test_ids_are_ulids_sortable_by_time_and_unique() -> None:
    ids = [new_id(T0 + timedelta(milliseconds=n)) for n in range(50)]
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", i) for i in ids)
    assert sorted(ids) == ids and len(set(ids)) == 50
    assert len({new_id(T0) for _ in range(100)}) == 100


def test_intent_then_success_moves_live_and_round_trips() -> None:
    s0 = dataclasses.replace(st.empty("m", "prod"), live=Live("1.0.0", "p0", T0))
    s1 = st.with_intent(s0, desired("1.1.0", "p1"), "deploy")
    assert s1.pending and s1.live == s0.live and roundtrip(s1) == s1
    s2 = st.with_outcome(s1, ok=True, at=T0 + timedelta(minutes=1), backend_ref="ref-1", message="ok")
    assert s2.live == Live("1.1.0", "p1", T0 + timedelta(minutes=1)) and s2.observed is not None and s2.observed.phase == "Succeeded"
    assert roundtrip(s2) == s2


def test_failure_leaves_live_and_message_is_redacted_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "s3cr3t-token-value")
    secret("DEPLOY_TOKEN", what="test")
    s0 = dataclasses.replace(st.empty("m", "prod"), live=Live("1.0.0", "p0", T0))
    s1 = st.with_intent(s0, desired("1.1.0", "p1"), "deploy")
    s2 = st.with_outcome(s1, ok=False, at=T0, backend_ref=None, message="denied for s3cr3t-token-value\n\x1b[31m" + "x" * 500)
    assert s2.live == s0.live and s2.failed
    assert s2.observed is not None and s2.observed.message is not None
    assert "s3cr3t" not in s2.observed.message and "***" in s2.observed.message
    assert "\n" not in s2.observed.message and "\x1b" not in s2.observed.message and len(s2.observed.message) <= st.MESSAGE_LIMIT
    assert roundtrip(s2) == s2


def test_canary_outcome_keeps_the_primary_and_its_since() -> None:
    s0 = dataclasses.replace(st.empty("m", "prod"), live=Live("1.0.0", "p0", T0))
    s1 = st.with_intent(s0, desired("1.0.0", "p1", canary=Canary("1.1.0", 12.5)), "deploy")
    s2 = st.with_outcome(s1, ok=True, at=T0 + timedelta(hours=1), backend_ref=None, message=None)
    assert s2.live == Live("1.0.0", "p1", T0, Canary("1.1.0", 12.5))
    assert roundtrip(s2) == s2


def test_rollback_intent_pins_and_pin_survives_outcomes() -> None:
    pin = Pin("A <a@x>", T0, "incident")
    s0 = dataclasses.replace(st.empty("m", "prod"), live=Live("1.1.0", "p1", T0))
    s1 = st.with_intent(s0, desired("1.0.0", "p2", action="rollback"), "deploy", pin=pin)
    s2 = st.with_outcome(s1, ok=False, at=T0, backend_ref=None, message=None)
    assert s1.pin == pin and s2.pin == pin and roundtrip(s2) == s2
    assert st.without_pin(s2).pin is None


def change(version: str, action: str | None) -> LiveChange:
    return LiveChange("c" * 40, version, T0, action)


@pytest.mark.parametrize(
    ("history", "current", "skip", "expected"),
    [
        # newest first
        ([("1.2", "promote"), ("1.1", "promote"), ("1.0", "promote")], "1.2", set(), "1.1"),
        ([("1.1", "rollback"), ("1.2", "promote"), ("1.1", "promote"), ("1.0", "promote")], "1.1", set(), "1.0"),
        ([("1.0", "rollback"), ("1.1", "rollback"), ("1.2", "promote"), ("1.1", "promote"), ("1.0", None)], "1.0", set(), None),
        # 1.2 was rolled back from once, but later left normally: it is a valid target again.
        ([("1.3", "promote"), ("1.2", "promote"), ("1.1", "rollback"), ("1.2", "promote"), ("1.1", None)], "1.3", set(), "1.2"),
        ([("1.2", "promote"), ("1.1", "promote"), ("1.0", "promote")], "1.2", {"1.1"}, "1.0"),
        ([("1.0", "promote")], "1.0", set(), None),
    ],
)
def test_rollback_target(history: list[tuple[str, str | None]], current: str, skip: set[str], expected: str | None) -> None:
    assert rollback_target([change(v, a) for v, a in history], current, skip) == expected
