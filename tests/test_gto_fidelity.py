"""GTO fidelity (issue 12): a repository made by the real ``gto`` CLI, compared with GTO's own answers.

The fixture repository covers register, assign, forced re-assign, un-assign, deregister,
deprecate with and without ``--delete``, a model in a subfolder and late tags (dated
before events already imported). The tests compare what mlrelease holds with ``gto show
--json`` stage by stage, and ``mlrelease history`` with ``gto history --json`` event by
event, after a fresh import and after an incremental one.
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
from mlrelease.registry.loader import Registry
from tests.builders import config, git, write

pytestmark = pytest.mark.interop

pytest.register_assert_rewrite("tests.interop_fixtures")
from tests.interop_fixtures import ANN, BOB, CAROL, ERIN, gto_home, gto_steps  # noqa: E402  (after the rewrite hook)

FRAUD = "models/fraud:fraud-card"  # a model in a subfolder (GTO's monorepo names)
MAPS = ("--stage-map", "prod=production", "--rename", f"{FRAUD}=fraud-card")
STAGES = {"dev": "dev", "staging": "staging", "prod": "production"}


def at(minute: int) -> str:
    """A tag date: every event in its own minute of one morning (GTO orders by the second)."""
    return f"2025-03-01T{10 + minute // 60:02d}:{minute % 60:02d}:00+00:00"


def commit(repo: Path, message: str, files: dict[str, Any]) -> None:
    for rel, data in files.items():
        write(repo, rel, data)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def artifacts(description: str) -> dict[str, Any]:
    return {
        "churn": {"type": "model", "path": "s3://ml/churn/", "description": description, "custom": {"owner": "team-crm"}},
        "legacy": {"type": "model", "description": "the old scorer"},
    }


def first_year(repo: Path) -> None:
    """Everything up to the first import."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "c1", {"artifacts.yaml": artifacts("Churn classifier"), "models/fraud/README": "fraud\n"})
    gto_steps(
        repo,
        [
            (ANN, at(1), ["register", "churn", "--version", "v0.1.0", "-m", "first churn model"]),
            (ANN, at(2), ["assign", "churn", "--version", "v0.1.0", "--stage", "dev", "-m", "try it"]),
            (BOB, at(3), ["assign", "churn", "--version", "v0.1.0", "--stage", "staging", "-m", "QA passed\n\nsigned off by Bob"]),
            (ANN, at(4), ["register", FRAUD, "--version", "v1.0.0", "-m", "fraud scorer"]),
            (BOB, at(5), ["assign", FRAUD, "--version", "v1.0.0", "--stage", "prod", "-m", "ship fraud"]),
            (ANN, at(6), ["register", "legacy", "--version", "v1.0.0"]),
            (ANN, at(7), ["assign", "legacy", "--version", "v1.0.0", "--stage", "dev"]),
            (ANN, at(8), ["register", "old", "--version", "v0.1.0"]),
            (ANN, at(9), ["assign", "old", "--version", "v0.1.0", "--stage", "staging"]),
        ],
    )
    commit(repo, "c2", {"train.py": "print(2)\n"})
    gto_steps(
        repo,
        [
            (CAROL, at(10), ["register", "churn", "--version", "v0.2.0", "-m", "Q4 data"]),
            (CAROL, at(11), ["assign", "churn", "--version", "v0.2.0", "--stage", "dev"]),
            (CAROL, at(13), ["assign", "churn", "--version", "v0.2.0", "--stage", "prod", "-m", "ship Q4"]),
            (ANN, at(14), ["register", FRAUD, "--version", "v1.1.0"]),
            (ANN, at(15), ["assign", FRAUD, "--version", "v1.1.0", "--stage", "staging"]),
        ],
    )
    commit(repo, "c3", {"train.py": "print(3)\n", "artifacts.yaml": artifacts("Churn classifier, retrained monthly")})
    gto_steps(
        repo,
        [
            (CAROL, at(16), ["register", "churn", "--version", "v0.3.0"]),
            (CAROL, at(17), ["assign", "churn", "--version", "v0.3.0", "--stage", "dev"]),
            (CAROL, at(18), ["assign", "churn", "--version", "v0.3.0", "--stage", "prod", "-m", "monthly"]),
            (ERIN, at(19), ["assign", "churn", "--version", "v0.2.0", "--stage", "prod", "--force", "-m", "drift: back to v0.2.0"]),
            (ERIN, at(20), ["deprecate", "churn", "v0.2.0", "prod", "-m", "v0.2.0 leaks labels"]),
            (ERIN, at(21), ["deprecate", FRAUD, "v1.0.0", "-m", "license expired"]),
            (ERIN, at(22), ["deprecate", "legacy", "-m", "replaced by churn"]),
        ],
    )


def second_year(repo: Path) -> None:
    """After the first import: deletions, late tags, and a re-assignment that changes nothing."""
    gto_steps(
        repo,
        [
            (ERIN, at(30), ["deprecate", "churn", "v0.3.0", "dev", "--delete"]),
            (ERIN, at(31), ["deprecate", "old", "--delete"]),
            (BOB, at(12), ["assign", "churn", "--version", "v0.1.0", "--stage", "prod", "-m", "late: tagged by hand"]),
            (
                BOB,
                at(4).replace(":00+", ":30+"),
                ["assign", FRAUD, "--version", "v1.1.0", "--stage", "dev", "-m", "before its registration"],
            ),
            (ANN, at(32), ["assign", "churn", "--version", "v0.1.0", "--stage", "staging", "--force", "-m", "again"]),
        ],
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with gto_home(tmp_path_factory) as path:
        yield path


@pytest.fixture(scope="module")
def years(home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The GTO repository after the first year, and a copy after the second."""
    first = tmp_path_factory.mktemp("gto") / "first"
    first_year(first)
    second = Path(shutil.copytree(first, first.parent / "second", symlinks=True))
    second_year(second)
    return first, second


_ANSWERS: dict[tuple[Path, str], Any] = {}


def gto_json(repo: Path, what: str) -> Any:
    """``gto show -d --json`` or ``gto history --json`` (both asked at once, once per repository)."""
    if (repo, what) not in _ANSWERS:
        show, history = gto_steps(repo, [(ANN, None, ["show", "-d", "--json"]), (ANN, None, ["history", "--json"])])
        _ANSWERS[(repo, "show")], _ANSWERS[(repo, "history")] = json.loads(show), json.loads(history)
    return _ANSWERS[(repo, what)]


def import_gto(root: Path, repo: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    code = main(["--repo", str(root), "import", "gto", str(repo), *MAPS, "--json"])
    out = capsys.readouterr()
    assert code == 0, out
    return json.loads(out.out)


def registry(path: Path) -> Path:
    """A registry with the standard config and no models: everything in it comes from GTO."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write(path, "mlrelease.yaml", config())
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Start the registry")
    return path


def model_of(artifact: str) -> str:
    return "fraud-card" if artifact == FRAUD else artifact


def our_stages(root: Path, artifacts: list[str]) -> dict[tuple[str, str], str | None]:
    out = {}
    with Registry(root) as reg:
        for artifact in artifacts:
            for stage, env in STAGES.items():
                state = reg.release(env, model_of(artifact))
                out[(artifact, stage)] = f"v{state.live.version}" if state is not None and state.live is not None else None
    return out


def gto_stages(repo: Path) -> dict[tuple[str, str], str | None]:
    shown = gto_json(repo, "show")
    return {(artifact, stage): (row.get("stage") or {}).get(stage) for artifact, row in shown.items() for stage in STAGES}


def our_events(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, list[dict[str, Any]]]:
    """mlrelease's history events from GTO tags, by tag."""
    capsys.readouterr()
    assert main(["--repo", str(root), "history", "--json"]) == 0
    out: dict[str, list[dict[str, Any]]] = {}
    for e in json.loads(capsys.readouterr().out)["events"]:
        source = (e.get("source") or "").split(" ")
        if len(source) == 3 and source[0] == "gto" and len(source[1]) == 40:
            out.setdefault(source[2], []).append(e)
    return out


KINDS = {
    "registration": {"register"},
    "deregistration": {"deregister"},
    "assignment": {"promote", "rollback", "assign"},
    "unassignment": {"unassign", "rollback"},
    "deprecation": {"deprecate"},
}


def assert_same_history(repo: Path, ours: dict[str, list[dict[str, Any]]]) -> None:
    theirs = gto_json(repo, "history")
    assert {e["ref"] for e in theirs} == set(ours)
    for g in theirs:
        mine = ours[g["ref"]]
        assert len({e["commit"] for e in mine}) == 1, f"{g['ref']} is {len(mine)} commits"
        e = mine[0]
        assert e["action"] in KINDS[g["event"]], (g, e)
        assert datetime.fromisoformat(e["at"].replace("Z", "+00:00")) == datetime.fromisoformat(g["timestamp"]), (g, e)
        assert e["who"] == f"{g['author']} <{g['author_email']}>"
        assert e["model"] == model_of(g["artifact"])
        if g["event"] in ("registration", "deregistration"):
            assert e["version"] == g["version"][1:]
        if g["stage"]:
            assert {x["environment"] for x in mine} == {STAGES[g["stage"]]}


ARTIFACTS = ["churn", FRAUD, "legacy", "old"]


def test_a_fresh_import_agrees_with_gto_show_and_gto_history(
    years: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for repo in years:
        root = registry(tmp_path / repo.name)
        report = import_gto(root, repo, capsys)
        assert report["warnings"] == [] or all("lint" in w or "artifact URI" in w for w in report["warnings"]), report["warnings"]
        assert_same_history(repo, our_events(root, capsys))
        shown = gto_stages(repo)
        assert our_stages(root, sorted({a for a, _ in shown})) == shown


def test_a_deregistered_version_holds_no_stage_and_cannot_be_promoted(
    years: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = registry(tmp_path / "reg")
    import_gto(root, years[0], capsys)
    assert gto_stages(years[0])[(FRAUD, "prod")] is None
    with Registry(root) as reg:
        assert reg.release("production", "fraud-card") is None
        assert [r.version for r in reg.rejections("fraud-card")] == ["1.0.0"]
        assert "deregistered" in reg.version("fraud-card", "1.0.0").tags
    capsys.readouterr()
    assert main(["--repo", str(root), "show", "fraud-card", "--json"]) == 0
    assert "deregistered in GTO" in capsys.readouterr().out
    code = main(["--repo", str(root), "promote", "fraud-card@1.0.0", "--to", "dev", "--reason", "try", "--yes", "--json"])
    assert code != 0


def test_an_incremental_import_ends_where_a_fresh_one_does_and_says_what_differs(
    years: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = years
    root = registry(tmp_path / "incremental")
    import_gto(root, first, capsys)
    before = our_events(root, capsys)
    report = import_gto(root, second, capsys)
    fresh = registry(tmp_path / "fresh")
    import_gto(fresh, second, capsys)

    shown = gto_stages(second)
    assert our_stages(root, ARTIFACTS) == our_stages(fresh, ARTIFACTS) == {**{(a, s): None for a in ARTIFACTS for s in STAGES}, **shown}
    assert shown[("churn", "dev")] == "v0.2.0"  # v0.3.0's dev assignment was deleted
    assert shown[(FRAUD, "dev")] == "v1.1.0"  # an assignment dated before its version's registration counts
    with Registry(root) as reg, Registry(fresh) as ref:
        for model in ("churn", "fraud-card", "legacy"):
            assert reg.model(model).tags == ref.model(model).tags
            assert [r.version for r in reg.rejections(model)] == [r.version for r in ref.rejections(model)]
    # History: every GTO event, plus the ones whose tags were deleted since — and the report names those.
    ours = our_events(root, capsys)
    deleted = set(before) - {e["ref"] for e in gto_json(second, "history")}
    assert deleted and {t for t in deleted if t.startswith("old")} and any(t.startswith("churn#dev") for t in deleted)
    assert_same_history(second, {t: e for t, e in ours.items() if t not in deleted})
    said = " ".join(report["warnings"])
    assert all(t in said for t in deleted)
    late = {t for t, found in ours.items() if t not in before and any(e["at"] < "2025-03-01T10:22" for e in found)}
    assert len(late) == 2 and all(t in said for t in late)  # churn's late prod tag, and fraud-card's dev tag
    reconcile = [e for e in json.loads(history_json(root, capsys)) if e["action"] == "reconcile"]
    assert {(e["model"], e["environment"], e["previous"], e["version"]) for e in reconcile if e["environment"]} == {
        ("churn", "dev", "0.3.0", "0.2.0"),
        ("fraud-card", "dev", None, "1.1.0"),
        ("old", "staging", "0.1.0", None),
    }
    with Registry(root) as reg:  # old's tags are all gone: its version is no longer promotable
        assert [r.version for r in reg.rejections("old")] == ["0.1.0"] and "deregistered" in reg.version("old", "0.1.0").tags


def history_json(root: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["--repo", str(root), "history", "--json"]) == 0
    return json.dumps(json.loads(capsys.readouterr().out)["events"])


def test_multi_line_tag_messages_read_as_one_line(years: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = registry(tmp_path / "reg")
    import_gto(root, years[0], capsys)
    capsys.readouterr()
    assert main(["--repo", str(root), "history", "churn", "--env", "staging"]) == 0
    out = capsys.readouterr().out
    assert "\\x0a" not in out and "QA passed /" in out
    (qa,) = [e for e in json.loads(history_json(root, capsys)) if e["environment"] == "staging" and e["model"] == "churn"]
    assert qa["reason"] == "QA passed / signed off by Bob"
    with Registry(root) as reg:
        assert reg.release("staging", "churn").desired.reason == "QA passed / signed off by Bob"


def test_the_gto_import_never_overwrites_a_pinned_state_that_mlrelease_owns(
    years: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The MLflow import's rule (tests/test_mlflow_fidelity.py), word for word."""
    root = registry(tmp_path / "reg")
    import_gto(root, years[0], capsys)
    code = main(
        ["--repo", str(root), "rollback", "churn", "--env", "production", "--to", "0.2.0", "--reason", "bad batch", "--yes", "--json"]
    )
    assert code == 0
    tip = git(root, "rev-parse", "HEAD")
    capsys.readouterr()
    code = main(["--repo", str(root), "import", "gto", str(years[1]), *MAPS, "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 1 and "releases/production/churn.yaml is pinned" in error and "nothing was imported" in error
    assert git(root, "rev-parse", "HEAD") == tip
