"""`--at WHEN` (issue 14.1): the registry as it was, read from its history, on every read command.

Promotions are made through the service with a clock two and four days ahead, so their
commits carry those dates (as every mlrelease action's commit carries its own time).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.timetravel import parse_moment
from mlrelease.registry.trailers import format_message
from tests.builders import commit_all, release, write
from tests.cli_helpers import cli

NOW = datetime.now(UTC).replace(microsecond=0)
T1, T2 = NOW + timedelta(days=2), NOW + timedelta(days=4)


def at(moment: datetime) -> str:
    return format_timestamp(moment)


def promote_at(repo: Path, when: datetime, model: str, version: str, env: str, actor: str = "Priya Shah <priya@example.com>") -> None:
    """A promotion committed at ``when``, as mlrelease records one (release state and trailers)."""
    state = release(model, env, version)
    state["desired"].update(actor=actor, at=format_timestamp(when))
    write(repo, f"releases/{env}/{model}.yaml", state)
    fields = {"action": "promote", "model": model, "version": version, "environment": env, "actor": actor}
    stamp = when.isoformat()
    name, email = actor.split(" <")
    env_vars = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">")}
    commit_all(repo, format_message(f"Promote {model} {version} to {env}", fields), env=env_vars)


@pytest.fixture
def travelled(repo: Path) -> Path:
    """fraud-card: 1.1.0 to production at T1; 1.2.0 to staging at T2."""
    promote_at(repo, T1, "fraud-card", "1.1.0", "production")
    promote_at(repo, T2, "fraud-card", "1.2.0", "staging", actor="Sam Lee <sam@example.com>")
    return repo


def live(capsys: pytest.CaptureFixture[str], root: Path, when: str) -> dict[str, str]:
    rc, out, err = cli(capsys, root, "list", "--at", when, "--json")
    assert rc == 0, err
    model = next(m for m in json.loads(out)["models"] if m["name"] == "fraud-card")
    return {env: v["live"] for env, v in model["environments"].items() if v["live"]}


def test_list_answers_as_the_registry_was(travelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert live(capsys, travelled, at(T1 - timedelta(hours=1))) == {"dev": "1.2.0", "staging": "1.1.0", "production": "1.0.0"}
    assert live(capsys, travelled, at(T1 + timedelta(hours=1))) == {"dev": "1.2.0", "staging": "1.1.0", "production": "1.1.0"}
    assert live(capsys, travelled, at(T2 + timedelta(minutes=1))) == {"dev": "1.2.0", "staging": "1.2.0", "production": "1.1.0"}
    rc, _, err = cli(capsys, travelled, "list", "--at", at(T1 + timedelta(hours=1)))
    assert rc == 0 and f"note: the registry as it was at {at(T1 + timedelta(hours=1))}: commit" in err and "read-only" in err


def test_what_was_live_in_production_and_who_put_it_there_is_one_command(travelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    when = at(T1 + timedelta(hours=3))
    rc, out, _ = cli(capsys, travelled, "history", "fraud-card", "--env", "production", "--until", when, "--limit", "1", "--json")
    (event,) = json.loads(out)["events"]
    assert rc == 0 and event["version"] == "1.1.0" and event["who"].startswith("Priya Shah") and event["at"] <= when
    rc, out, _ = cli(capsys, travelled, "history", "fraud-card", "--since", at(T2 - timedelta(hours=1)), "--json")
    assert rc == 0 and {e["environment"] for e in json.loads(out)["events"]} == {"staging"}


def test_show_diff_and_lineage_take_at_too(travelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = at(T1 - timedelta(hours=1)), at(T1 + timedelta(hours=1))
    rc, out, _ = cli(capsys, travelled, "lineage", "fraud-card@1.1.0", "--at", before, "--json")
    assert rc == 0 and [p["environment"] for p in json.loads(out)["downstream"]["live_in"]] == ["staging"]
    rc, out, _ = cli(capsys, travelled, "lineage", "fraud-card@1.1.0", "--at", after, "--json")
    assert rc == 0 and [p["environment"] for p in json.loads(out)["downstream"]["live_in"]] == ["staging", "production"]
    rc, out, _ = cli(capsys, travelled, "show", "fraud-card", "--at", before)
    assert rc == 0 and "1.0.0" in out
    assert cli(capsys, travelled, "diff", "fraud-card@1.0.0", "fraud-card@1.1.0", "--at", before)[0] == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["list", "--at", "the other day"], 2, "--at 'the other day': not a moment"),
        (["list", "--at", "1990-01-01"], 1, "the registry did not exist yet at 1990-01-01T00:00:00Z; its history starts at"),
        (["history", "--until", "now", "--at", "now"], 2, "give --until or --at, not both"),
        (["history", "--since", "soon"], 2, "not a moment"),
    ],
)
def test_bad_moments_are_refused(travelled: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str) -> None:
    rc, _, err = cli(capsys, travelled, *args)
    assert rc == code and message in err, err


def test_moments_read_iso_relative_and_plain_dates() -> None:
    now = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    assert parse_moment("2026-10-01", now) == datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_moment("2026-10-01T09:00", now) == datetime(2026, 10, 1, 9, tzinfo=UTC)
    assert parse_moment("2026-10-01 09:00+02:00", now) == datetime(2026, 10, 1, 7, tzinfo=UTC)
    assert parse_moment("3 days ago", now) == datetime(2026, 10, 2, 12, tzinfo=UTC)
    assert parse_moment("1 week ago", now) == datetime(2026, 9, 28, 12, tzinfo=UTC) and parse_moment("now", now) == now
