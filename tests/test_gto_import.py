"""``mlrelease import gto`` on repositories made by the real ``gto`` CLI (plus hand-made, back-dated tags).

GTO accepts any annotated tag in its grammar, and teams do make some by hand; those carry
old tagger dates, which is how these tests show that the import keeps each event's real
date and author (the ``gto`` CLI itself always tags "now").
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from mlrelease.interop.gto_import import parse_tag, read_events
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import parse_trailers
from tests.builders import add_remote, git, make_registry, write

pytestmark = pytest.mark.interop

pytest.register_assert_rewrite("tests.interop_fixtures")
from tests.interop_fixtures import ANN, BOB, CAROL, DAVE, ERIN, gto, gto_home  # noqa: E402  (after the rewrite hook)


def hand_tag(repo: Path, name: str, message: str, who: tuple[str, str], date: str) -> None:
    """An annotated tag made with git itself, as teams do, dated in the past."""
    env = {"GIT_COMMITTER_NAME": who[0], "GIT_COMMITTER_EMAIL": who[1], "GIT_COMMITTER_DATE": date}
    git(repo, "-c", "tag.gpgsign=false", "tag", "-a", name, "-m", message, env=env)


def gto_repo(path: Path) -> Path:
    """A year of a team's life with the retention model, in GTO tags."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write(
        path,
        "artifacts.yaml",
        {
            "retention": {
                "type": "model",
                "path": "models/retention.pkl",
                "description": "Retention classifier",
                "labels": ["crm", "tabular"],
                "custom": {"owner": "team-crm"},
            }
        },
    )
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first model")
    hand_tag(path, "retention@v0.1.0", "First retention model", ANN, "2024-01-15T09:00:00Z")
    hand_tag(path, "retention#staging#1", "QA passed", BOB, "2024-01-16T12:30:00+02:00")
    write(path, "train.py", "print('retrained')\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "retrain on Q4")
    gto(path, "register", "retention", "--version", "v0.2.0", "-m", "Retrained on Q4 data", who=CAROL)
    gto(path, "assign", "retention", "--version", "v0.2.0", "--stage", "staging", "-m", "Q4 model to staging", who=CAROL)
    gto(path, "assign", "retention", "--version", "v0.1.0", "--stage", "prod", "-m", "first production release", who=DAVE)
    gto(path, "assign", "retention", "--version", "v0.2.0", "--stage", "prod", "-m", "ship Q4", who=DAVE)
    gto(path, "assign", "retention", "--version", "v0.1.0", "--stage", "prod", "--force", "-m", "drift alert: back to v0.1.0", who=ERIN)
    gto(path, "deprecate", "retention", "v0.1.0", "prod", who=ERIN)  # un-assign: production falls back to v0.2.0
    gto(path, "deprecate", "retention", "v0.1.0", who=ERIN)  # deregister v0.1.0
    git(path, "tag", "v9.9.9")  # lightweight and not GTO's: ignored
    git(path, "-c", "tag.gpgsign=false", "tag", "-a", "release-2024", "-m", "not a GTO tag")
    return path


@pytest.fixture(scope="module")
def team_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The GTO repository, made once per module (the gto CLI takes about a second a call)."""
    with gto_home(tmp_path_factory):
        yield gto_repo(tmp_path_factory.mktemp("team") / "gto")


@pytest.fixture
def repo(team_repo: Path, tmp_path: Path) -> Path:
    """A copy of the team's repository that a test may add tags to."""
    return Path(shutil.copytree(team_repo, tmp_path / "gto", symlinks=True))


def run_import(root: Path, repo: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["--repo", str(root), "import", "gto", str(repo), *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_tag_grammar_is_gtos() -> None:
    assert parse_tag("churn@v1.2.3") == {"kind": "register", "artifact": "churn", "version": "v1.2.3", "counter": None}
    assert parse_tag("churn@v1.2.3-rc.1!") == {"kind": "deregister", "artifact": "churn", "version": "v1.2.3-rc.1", "counter": None}
    assert parse_tag("churn#prod#7") == {"kind": "assign", "artifact": "churn", "stage": "prod", "counter": 7}
    assert parse_tag("churn#prod!#8") == {"kind": "unassign", "artifact": "churn", "stage": "prod", "counter": 8}
    assert parse_tag("churn@deprecated") == {"kind": "deprecate", "artifact": "churn", "counter": None}
    assert parse_tag("models/a=churn@v1.0.0")["artifact"] == "models/a:churn"  # type: ignore[index]
    for other in ("v1.0.0", "churn@1.0", "churn@created", "churn#", "release-2024", "-x@v1.0.0"):
        assert parse_tag(other) is None


def test_import_keeps_the_teams_past_dates_authors_and_order(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_registry(tmp_path / "reg")
    base = git(root, "rev-parse", "HEAD").strip()

    code, report = run_import(root, repo, "--stage-map", "prod=production", capsys=capsys)
    assert code == 0, report
    log = git(root, "log", "--reverse", "--format=%an|%ae|%aI|%s", f"{base}..HEAD").splitlines()
    assert len(log) == len(report["commits"]) == report["events"] == 9
    assert log[0] == "Ann Lee|ann@example.com|2024-01-15T09:00:00Z|Register retention 0.1.0 (GTO retention@v0.1.0)".replace("Z", "+00:00")
    assert log[1].startswith("Bob Roy|bob@example.com|2024-01-16T12:30:00+02:00|Promote retention 0.1.0 to staging")  # offset kept
    subjects = [line.split("|")[3] for line in log]
    assert [s.split(" (GTO")[0] for s in subjects[2:]] == [
        "Register retention 0.2.0",
        "Promote retention 0.2.0 to staging",
        "Promote retention 0.1.0 to production",
        "Promote retention 0.2.0 to production",
        "Roll back retention in production to 0.1.0",
        "Roll back retention in production to 0.2.0",  # v0.1.0 un-assigned: GTO falls back to v0.2.0
        "Deregister retention 0.1.0",
    ]
    assert [line.split("|")[0] for line in log[2:]] == ["Carol Diaz"] * 2 + ["Dave Kim"] * 2 + ["Erin Wu"] * 3
    dates = [datetime.fromisoformat(line.split("|")[2]) for line in log]
    assert dates == sorted(dates)

    rollback = git(root, "log", "-1", "--format=%B", "--grep=drift alert")
    t = parse_trailers(rollback)
    assert t["action"] == "rollback" and t["version"] == "0.1.0" and t["previous"] == "0.2.0" and t["environment"] == "production"
    assert t["reason"] == "drift alert: back to v0.1.0" and t["backend"] == "gto" and t["backend_ref"] == "retention#prod#5"
    assert t["source"].startswith("gto ") and t["source"].endswith(" retention#prod#5")

    with Registry(root) as reg:
        model = reg.model("retention")
        assert model.owner == "team-crm" and model.description == "Retention classifier"
        v1 = reg.version("retention", "0.1.0")
        assert v1.author == "Ann Lee <ann@example.com>" and v1.created.isoformat() == "2024-01-15T09:00:00+00:00"
        assert v1.artifact.uri == "s3://ml-models/retention/0.1.0/"  # the registry's own artifact template
        assert v1.code is not None and v1.code.commit == git(repo, "rev-list", "-n1", "retention@v0.1.0").strip()
        assert "deregistered" in v1.tags and {"crm", "tabular", "gto-type:model"} <= set(v1.tags)
        staging, production = reg.release("staging", "retention"), reg.release("production", "retention")
        assert staging.live.version == "0.2.0" and production.live.version == "0.2.0"
        assert production.desired.action == "rollback" and production.observed.phase == "Succeeded"

    # `history` shows the team's past as it happened: who and when, from the tags.
    capsys.readouterr()
    assert main(["--repo", str(root), "history", "retention", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    events = events["events"] if isinstance(events, dict) else events
    oldest = [e for e in events if e["action"] == "promote"][-1]
    assert "Bob Roy" in json.dumps(oldest) and "2024-01-16T10:30:00" in json.dumps(oldest)  # shown in UTC
    assert {e["action"] for e in events} >= {"register", "promote", "rollback", "deregister"}
    assert events[-1]["action"] == "register" and events[-1]["who"] == "Ann Lee <ann@example.com>"


def test_reimport_takes_only_new_tags(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_registry(tmp_path / "reg")
    assert run_import(root, repo, "--stage-map", "prod=production", capsys=capsys)[0] == 0
    tip = git(root, "rev-parse", "HEAD").strip()

    code, report = run_import(root, repo, "--stage-map", "prod=production", capsys=capsys)
    assert code == 0 and report["commits"] == [] and report["unchanged"] == 9
    assert git(root, "rev-parse", "HEAD").strip() == tip

    gto(repo, "assign", "retention", "--version", "v0.2.0", "--stage", "dev", "-m", "dev too", who=ANN)
    code, report = run_import(root, repo, "--stage-map", "prod=production", capsys=capsys)
    assert code == 0 and len(report["commits"]) == 1 and report["releases"] == ["dev/retention"]
    assert git(root, "log", "-1", "--format=%an %s").startswith("Ann Lee Promote retention 0.2.0 to dev")


def small_repo(path: Path, artifact: str, stage: str) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write(path, "README.md", "x\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "x")
    gto(path, "register", artifact, "--version", "v1.0.0")
    gto(path, "assign", artifact, "--version", "v1.0.0", "--stage", stage)
    return path


def test_unknown_stages_and_bad_names_stop_the_import_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = small_repo(tmp_path / "gto", "Ranker_Model", "qa")
    root = make_registry(tmp_path / "reg")
    tip = git(root, "rev-parse", "HEAD").strip()
    code, out = run_import(root, repo, capsys=capsys)
    assert code == 1 and "nothing was imported" in out["error"]
    assert "GTO stages with no environment in mlrelease.yaml: qa (environments: dev, staging, production)" in out["error"]
    assert "model name 'Ranker_Model' does not match the naming convention" in out["error"] and "--rename Ranker_Model=NAME" in out["error"]
    assert git(root, "rev-parse", "HEAD").strip() == tip

    code, out = run_import(
        root, repo, "--stage-map", "qa=staging", "--rename", "Ranker_Model=ranker", "--owner", "team-search", capsys=capsys
    )
    assert code == 0 and out["versions"] == ["ranker@1.0.0"] and out["releases"] == ["staging/ranker"]
    with Registry(root) as reg:
        assert reg.model("ranker").owner == "team-search"
        assert reg.release("staging", "ranker").live.version == "1.0.0"


def test_existing_versions_and_states_are_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = small_repo(tmp_path / "gto", "churn", "production")  # the registry already has churn, live in production
    root = make_registry(tmp_path / "reg")
    tip = git(root, "rev-parse", "HEAD").strip()
    code, out = run_import(root, repo, capsys=capsys)
    assert code == 1 and "releases/production/churn.yaml is managed by mlrelease" in out["error"]
    assert git(root, "rev-parse", "HEAD").strip() == tip


def test_reading_tags_is_one_pass_and_skips_what_is_not_gtos(repo: Path) -> None:
    events, ignored = read_events(repo)
    assert ignored == 2
    assert [e.kind for e in events][:2] == ["register", "assign"]
    assert events[0].tagger == "Ann Lee <ann@example.com>" and events[0].message == "First retention model"


def test_push_lands_the_history_on_the_remote_and_a_second_clone_imports_nothing_twice(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_registry(tmp_path / "reg")
    bare = add_remote(root, tmp_path / "remote.git")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))

    code, report = run_import(root, repo, "--stage-map", "prod=production", "--push", capsys=capsys)
    assert code == 0 and report["pushed"] is True and len(report["commits"]) == 9
    assert git(bare, "rev-parse", "main").strip() == report["commits"][-1]
    assert git(root, "rev-parse", "main").strip() == report["commits"][-1]  # local fast-forwarded
    assert git(bare, "log", "-1", "--format=%an", "main").strip() == ERIN[0]  # the tagger, kept

    # A teammate's clone has not pulled: it imports against the remote, so nothing is imported twice.
    code, report = run_import(other, repo, "--stage-map", "prod=production", "--push", capsys=capsys)
    assert code == 0 and report["commits"] == [] and report["unchanged"] == 9
    assert len(git(bare, "rev-list", "main").split()) == len(git(root, "rev-list", "main").split())


def test_a_tag_made_in_the_same_second_as_the_last_imported_one_is_not_late(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GTO dates tags to the second: a new tag in the second of the newest imported one came after it, not before.

    Event order breaks same-second ties by kind (an assignment sorts before a deregistration), which is
    right inside one import but wrong across two: the deregistration below was already on the record, so
    the assignment made in the same second is simply the next event (one commit, no "dated late" reconcile).
    """
    repo = tmp_path / "gto"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "artifacts.yaml", {"retention": {"type": "model", "path": "models/retention.pkl"}})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "model")
    hand_tag(repo, "retention@v0.1.0", "first", ANN, "2025-03-01T10:00:00Z")
    hand_tag(repo, "retention@v0.2.0", "second", ANN, "2025-03-01T10:00:01Z")
    hand_tag(repo, "retention@v0.1.0!", "gone", BOB, "2025-03-01T10:00:02Z")
    root = make_registry(tmp_path / "reg")
    code, report = run_import(root, repo, capsys=capsys)
    assert code == 0 and len(report["commits"]) == 3, report

    hand_tag(repo, "retention#dev#1", "to dev", CAROL, "2025-03-01T10:00:02Z")  # the same second as the deregistration
    code, report = run_import(root, repo, capsys=capsys)
    assert code == 0 and len(report["commits"]) == 1 and report["releases"] == ["dev/retention"], report
    assert report["warnings"] == [] and report["unchanged"] == 3
    assert git(root, "log", "-1", "--format=%an %s").startswith("Carol")
    with Registry(root) as reg:
        assert reg.release("dev", "retention").live.version == "0.2.0"
