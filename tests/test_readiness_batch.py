"""The overview's gates for many models read the rejections' history once, not once a model.

Every promote plan reads its model's rejections over the whole history (a rejection
removed by hand still holds, issue 10). The dashboard plans for every model with a
candidate; cold, at 124,566 commits, each model's ``git log`` took about 2 s, so the
Status column of a 400-model registry filled after about 10 minutes (issue 17). One
``git log`` with a glob answers for all of them; it must give each file the log
``git log --raw REF -- PATH`` gives, and a history with a merge is left to per-file logs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mlrelease.registry.loader import Registry
from mlrelease.registry.overview import overview
from mlrelease.registry.types import Rejection
from mlrelease.release import livehistory
from mlrelease.release.readiness import Readiness, readiness
from mlrelease.release.state import dump_rejections
from tests.builders import commit_all, git, make_registry, model, release, version, write

MODELS = [f"m{i:02d}" for i in range(12)]
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def rejection(ver: str, day: int) -> Rejection:
    return Rejection(ver, "Bob <bob@example.com>", datetime(2026, 3, day, tzinfo=UTC), "worse on the holdout")


def set_rejections(root: Path, name: str, rejections: list[Rejection], message: str) -> None:
    (root / f"models/{name}/rejections.yaml").write_bytes(dump_rejections(name, rejections))
    commit_all(root, message)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """Twelve models, each with 1.0.0 live in dev and 1.2.0 waiting; some rejections removed by hand."""
    root = make_registry(tmp_path / "reg")
    for name in MODELS:
        write(root, f"models/{name}/model.yaml", model(name))
        for ver in ("1.0.0", "1.1.0", "1.2.0"):
            write(root, f"models/{name}/versions/{ver}.yaml", version(name, ver))
        write(root, f"releases/dev/{name}.yaml", release(name, "dev", "1.0.0"))
    commit_all(root, "twelve models")
    for i, name in enumerate(MODELS[:6]):
        set_rejections(root, name, [rejection("1.2.0", 1 + i)], f"reject {name}@1.2.0")
    set_rejections(root, MODELS[0], [], "m00: rejection removed by hand")  # still holds
    set_rejections(root, MODELS[1], [rejection("1.2.0", 2), rejection("1.1.0", 9)], "m01: 1.1.0 rejected too")
    git(root, "rm", "-q", f"models/{MODELS[2]}/rejections.yaml")
    commit_all(root, "m02: rejections file deleted by hand")
    return root


def answers(root: Path) -> list[Readiness]:
    livehistory._SEEN.clear()
    with Registry(root) as reg:
        view = overview(reg)
    return list(readiness(root, view.models, NOW))


@pytest.fixture
def git_logs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every `git log` the history module ran (the rest of git is not counted)."""
    calls: list[tuple[str, ...]] = []
    real: Callable[..., Any] = livehistory.git

    def counted(cwd: Path, *args: str, **kwargs: Any) -> Any:
        if args and args[0] == "log":
            calls.append(args)
        return real(cwd, *args, **kwargs)

    monkeypatch.setattr(livehistory, "git", counted)
    monkeypatch.setattr(livehistory, "_SEEN", {})
    return calls


def test_the_gates_of_many_models_read_the_rejections_history_with_one_git_log(registry: Path, git_logs: list[tuple[str, ...]]) -> None:
    found = answers(registry)
    rejection_logs = [c for c in git_logs if any(a.endswith("rejections.yaml") for a in c)]
    assert len(rejection_logs) == 1, rejection_logs  # was one per model with a candidate (12)
    assert rejection_logs[0][-1] == ":(glob)models/*/rejections.yaml"
    assert {r.model for r in found} >= set(MODELS)


def test_one_log_for_all_gives_the_answers_one_log_a_model_gives(registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batched = answers(registry)
    for path in (registry / ".git/mlrelease/filelog").iterdir():
        path.unlink()
    monkeypatch.setattr(livehistory, "BATCH_MIN", 10_000)  # per model, as before
    assert answers(registry) == batched
    by_model = {r.model: r for r in batched}
    # m00's rejection was removed by hand and m02's file deleted: 1.2.0 looks waiting, and is still rejected
    assert [(r.version, [g.name for g in r.failing]) for r in (by_model["m00"], by_model["m02"])] == [("1.2.0", ["rejected"])] * 2
    assert (by_model["m03"].version, by_model["m03"].failing) == ("1.1.0", ())  # its 1.2.0 is rejected in the file
    assert (by_model["m07"].version, by_model["m07"].failing) == ("1.2.0", ())  # never rejected


def test_each_file_gets_the_log_git_gives_it_and_the_next_reader_finds_it_kept(registry: Path, git_logs: list[tuple[str, ...]]) -> None:
    tip = git(registry, "rev-parse", "HEAD").strip()
    paths = [f"models/{m}/rejections.yaml" for m in MODELS]
    assert livehistory.read_logs(registry, tip, "models/*/rejections.yaml", paths)
    assert len(git_logs) == 1
    for path in paths:
        assert livehistory.file_log(registry, tip, path) == livehistory._git_log(registry, tip, path), path
    livehistory._SEEN.clear()  # another process: the logs are kept under .git/mlrelease/filelog/
    git_logs.clear()
    assert [livehistory.file_log(registry, tip, p) for p in paths] and git_logs == []
    assert not livehistory.read_logs(registry, tip, "models/*/rejections.yaml", paths)  # nothing missing: no walk


def test_a_history_with_a_merge_is_left_to_one_log_a_file(registry: Path, git_logs: list[tuple[str, ...]]) -> None:
    git(registry, "checkout", "-q", "-b", "side")
    set_rejections(registry, "m03", [rejection("1.1.0", 20)], "side: reject m03@1.1.0")
    git(registry, "checkout", "-q", "main")
    set_rejections(registry, "m04", [rejection("1.1.0", 21)], "main: reject m04@1.1.0")
    git(registry, "merge", "-q", "--no-edit", "-s", "ours", "side")  # the side's rejection file is not merged
    tip = git(registry, "rev-parse", "HEAD").strip()
    paths = [f"models/{m}/rejections.yaml" for m in MODELS]
    assert not livehistory.read_logs(registry, tip, "models/*/rejections.yaml", paths)
    assert [c for c in git_logs if c[0] == "log"] == []
