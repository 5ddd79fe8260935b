"""Sources answer fast and never stale: folder listings remembered by mtime, blob ids from git's index.

Each fast path is compared with the slow, obvious answer: hashing every file's bytes,
scanning every path of a tree, listing every folder again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlrelease.registry import source as source_module
from mlrelease.registry.gitio import blob_id
from mlrelease.registry.source import GitRefSource, WorkTreeSource
from tests.builders import commit_all, git, make_registry, version, write


def hashed(root: Path, paths: list[str]) -> dict[str, str]:
    return {p: blob_id((root / p).read_bytes()) for p in paths}


def every_file(src: WorkTreeSource) -> list[str]:
    return [p for top in ("models", "datasets", "releases", "telemetry", "retrain") for p in src.files(top)]


@pytest.mark.parametrize("subfolder", [False, True])
def test_blob_ids_from_git_agree_with_hashing_the_files(tmp_path: Path, subfolder: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "BULK_AT", 1)  # take git's path even for a small registry
    if subfolder:
        top = tmp_path / "mono"
        top.mkdir()
        git(top, "init", "-q", "-b", "main")
        root = make_registry(top / "ml", init=False)
    else:
        root = make_registry(tmp_path / "registry")
    write(root, "models/fraud-card/versions/1.0.0.yaml", version("fraud-card", "1.0.0", f1=0.1))  # modified, not staged
    write(root, "models/fraud-card/versions/1.1.0.yaml", version("fraud-card", "1.1.0", f1=0.2))
    git(root, "add", "models/fraud-card/versions/1.1.0.yaml")  # staged
    write(root, "models/fraud-card/versions/1.1.0.yaml", version("fraud-card", "1.1.0", f1=0.3))  # and changed again
    write(root, "models/fraud-card/versions/9.9.9.yaml", version("fraud-card", "9.9.9"))  # untracked
    (root / "models/churn/versions/0.1.0.yaml").unlink()  # deleted
    git(root, "update-index", "--assume-unchanged", "models/churn/versions/0.2.0.yaml")
    write(root, "models/churn/versions/0.2.0.yaml", version("churn", "0.2.0", f1=0.4))  # git was told not to look
    src = WorkTreeSource(root)
    paths = every_file(src)
    assert "models/churn/versions/0.1.0.yaml" not in paths
    assert src.blob_ids(paths) == hashed(root, paths)
    os.utime(root / "models/fraud-card/versions/1.2.0.yaml", ns=(time.time_ns(), time.time_ns()))  # touched: stat changed
    assert src.blob_ids(paths) == hashed(root, paths)


def test_a_ref_lists_each_folder_without_scanning_the_tree(repo: Path) -> None:
    for i in range(30):
        write(repo, f"models/fraud-card/versions/2.{i}.0.yaml", version("fraud-card", f"2.{i}.0"))
    write(repo, "models/fraud-card/versions/.hidden.yaml", "x: 1\n")
    write(repo, "models/fraud-cards/versions/1.0.0.yaml", version("fraud-cards", "1.0.0"))
    commit_all(repo, "more")
    src = GitRefSource(repo, "HEAD")
    for prefix in (
        "",
        "models",
        "models/",
        "models/fraud-card",
        "models/fraud-card/versions",
        "models/fraud-cards",
        "releases/production",
        "nothing",
    ):
        p = prefix.rstrip("/") + "/" if prefix else ""
        naive = sorted(path for path in src.tree if path.startswith(p) and not path.rsplit("/", 1)[-1].startswith("."))
        assert src.files(prefix) == naive, prefix


def test_a_folder_listing_is_reused_only_while_the_folder_is_unchanged(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = repo / "models/fraud-card/versions"
    past = time.time_ns() - 60 * 10**9
    for folder in (repo / "models", repo / "models/fraud-card", versions, repo / "models/churn", repo / "models/churn/versions"):
        os.utime(folder, ns=(past, past))
    src = WorkTreeSource(repo)
    first = src.files("models")
    scans: list[str] = []
    real = os.scandir

    def counting(path: str) -> object:
        scans.append(str(path))
        return real(path)

    monkeypatch.setattr(source_module.os, "scandir", counting)
    assert src.files("models") == first
    assert scans == []  # nothing listed again
    write(repo, "models/fraud-card/versions/3.0.0.yaml", version("fraud-card", "3.0.0"))
    (repo / "models/churn/versions/0.1.0.yaml").unlink()
    again = src.files("models")
    assert "models/fraud-card/versions/3.0.0.yaml" in again and "models/churn/versions/0.1.0.yaml" not in again
    assert again == WorkTreeSource(repo).files("models")
    # A folder changed moments before it was listed is read again every time (it may change again in the same tick).
    scans.clear()
    src.files("models/fraud-card/versions")
    src.files("models/fraud-card/versions")
    assert scans.count(str(versions)) == 2


def test_model_and_version_names_from_one_folder_listing_agree_with_locating_every_file(repo: Path) -> None:
    from mlrelease.registry import layout
    from mlrelease.registry.loader import Registry
    from mlrelease.registry.names import sort_versions

    write(repo, "models/fraud-card/versions/notes.txt", "x")
    write(repo, "models/fraud-card/versions/.draft.yaml", "x: 1\n")
    write(repo, "models/fraud-card/versions/old/1.0.0.yaml", "x: 1\n")
    write(repo, "models/fraud-card/versions/2.0.0.yml", "x: 1\n")
    write(repo, "models/orphan/versions/1.0.0.yaml", version("orphan", "1.0.0"))  # no model.yaml: not a model
    write(repo, "models/.hidden/model.yaml", "name: .hidden\n")
    (repo / "models/linked").symlink_to(repo / "models/churn")
    commit_all(repo, "odd files")
    for ref in (None, "HEAD"):
        with Registry(repo, ref) as reg:
            every = reg.source.files(layout.MODELS)
            assert reg.model_names() == sorted({loc.model for loc in layout.located(every, "model") if loc.model})
            for m in ("fraud-card", "churn", "orphan", "nothing"):
                want = sort_versions(
                    loc.version for loc in layout.located(reg.source.files(layout.versions_folder(m)), "version") if loc.version
                )
                assert reg.version_names(m) == want, (ref, m)
