"""``mlrelease init``: lay down a new registry from ``templates/`` and commit it.

The new files are committed by default (one commit, trailer ``Mlrelease-Action: init``):
``register`` and every release action build on a commit, and the CI workflow lints what
is committed. The commit is made the same way every mlrelease write is — on a private
index, the branch moved by compare-and-swap, then only the new files checked out — so
whatever the user already had staged or edited is left exactly as it was. With
``commit=False`` the files are only written, for people who want to review them first.

Nothing is overwritten: an existing ``mlrelease.yaml`` refuses the whole run before
anything is written, and any other file that already exists (a ``.gitlab-ci.yml`` of
your own) is kept and reported as skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlrelease import __version__
from mlrelease.errors import MlreleaseError
from mlrelease.gitstore import gitwrite, locks
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.config import parse_config
from mlrelease.registry.gitio import git, git_toplevel
from mlrelease.registry.layout import CONFIG
from mlrelease.registry.trailers import format_message
from mlrelease.resources import resource_dir

# template (under templates/) → where it goes, relative to the git root
CI_FILES = {
    "github/workflows/mlrelease-lint.yml": ".github/workflows/mlrelease-lint.yml",
    "github/workflows/mlrelease-check.yml": ".github/workflows/mlrelease-check.yml",
    "github/workflows/mlrelease-rollout.yml": ".github/workflows/mlrelease-rollout.yml",
    "gitlab-ci.yml": ".gitlab-ci.yml",
}
_PLACEHOLDER_NAME = "name: my-registry\n"
# What the CI files install by default (their MLRELEASE_SPEC). mlrelease is not on PyPI yet,
# so this only works once it is, or where an index of your own serves it: init says so.
DEFAULT_SPEC = f"mlrelease=={__version__}"
SPEC_NOTE = (
    f"the CI files install mlrelease with pip from MLRELEASE_SPEC, by default {DEFAULT_SPEC!r}, which is not on PyPI yet: "
    "set MLRELEASE_SPEC in them to a wheel you host (https://.../mlrelease-VERSION-py3-none-any.whl) "
    "or a git URL ('mlrelease @ git+https://HOST/ORG/mlrelease@TAG'); on GitLab a CI/CD variable of that name overrides it"
)


@dataclass
class InitResult:
    root: Path
    git_root: Path
    created_repo: bool
    written: list[str] = field(default_factory=list)  # relative to the git root
    skipped: list[str] = field(default_factory=list)  # already there, left alone
    ci_files: list[str] = field(default_factory=list)  # the CI workflow files among ``written``
    commit: str | None = None
    branch: str | None = None


def render_config(name: str) -> bytes:
    """The commented mlrelease.yaml template, with the registry's name filled in."""
    text = (resource_dir("templates") / CONFIG).read_text(encoding="utf-8")
    # A JSON string is a valid double-quoted YAML scalar, whatever the folder is called.
    return text.replace(_PLACEHOLDER_NAME, f"name: {json.dumps(name)}\n", 1).encode("utf-8")


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path("/")


def _planned(root: Path, git_root: Path, config: bytes) -> dict[str, bytes]:
    """Every file init lays down, by path relative to the git root."""
    prefix = os.path.relpath(root, git_root)

    def rel(p: str) -> str:
        return p if prefix == "." else f"{prefix}/{p}"

    envs = parse_config(yamlsafe.load(config, CONFIG)).environment_names
    files: dict[str, bytes] = {rel(f"{top}/.gitkeep"): b"" for top in (layout.MODELS, layout.DATASETS, layout.TELEMETRY)}
    files.update({rel(f"{layout.releases_folder(env)}.gitkeep"): b"" for env in envs})
    templates = resource_dir("templates")
    for template, dest in CI_FILES.items():
        text = (templates / template).read_text(encoding="utf-8")
        files[dest] = text.replace("@REGISTRY_PATH@", prefix).replace("@MLRELEASE_SPEC@", DEFAULT_SPEC).encode("utf-8")
    files[rel(CONFIG)] = config  # last, so an interrupted --no-commit run can simply be re-run
    return files


def init_registry(path: Path, *, commit: bool = True) -> InitResult:
    """Create a registry at ``path`` (a git repository is created where there is none)."""
    root = path.resolve()
    if root.exists() and not root.is_dir():
        raise MlreleaseError(f"{root}: exists and is not a folder")
    if (root / CONFIG).exists() or (root / CONFIG).is_symlink():
        raise MlreleaseError(f"{root / CONFIG}: already exists; mlrelease init never overwrites a registry")
    existing_repo = git_toplevel(_nearest_existing(root))
    if commit and existing_repo is not None and gitwrite.current_branch(existing_repo) is None:
        raise MlreleaseError(f"{existing_repo}: HEAD is detached; check out a branch first, or use --no-commit")
    who = gitwrite.identity(existing_repo or _nearest_existing(root)) if commit else None

    root.mkdir(parents=True, exist_ok=True)
    created_repo = existing_repo is None
    if created_repo:
        git(root, "init", "-q", "--initial-branch=main")
    git_root = git_toplevel(root)
    assert git_root is not None
    result = InitResult(root=root, git_root=git_root, created_repo=created_repo)
    files: dict[str, bytes] = {}
    for rel, data in _planned(root, git_root, render_config(root.name)).items():
        target = git_root / rel
        if target.exists() or target.is_symlink():
            result.skipped.append(rel)
        else:
            files[rel] = data
    result.written = list(files)
    result.ci_files = [rel for rel in files if rel in CI_FILES.values()]
    if commit:
        assert who is not None
        _commit(result, files, who)
    else:
        for rel, data in files.items():
            target = git_root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return result


def _commit(result: InitResult, files: dict[str, bytes], who: gitwrite.Identity) -> None:
    """One commit of the new files on the checked-out branch; then check out just those files."""
    git_root = result.git_root
    branch = gitwrite.current_branch(git_root)
    if branch is None:
        raise MlreleaseError(f"{git_root}: HEAD is detached; check out a branch first, or use --no-commit")
    message = format_message("Initialise the mlrelease registry", {"action": "init", "actor": str(who)})
    with locks.repo_lock(git_root):
        tip = gitwrite.rev(git_root, f"refs/heads/{branch}")
        new = gitwrite.commit_files(git_root, parent=tip, changes=files, message=message, author=who, committer=who)
        if new is None:  # only possible when these very files are committed but deleted from the checkout
            raise MlreleaseError(f"{git_root}: these files are already committed on {branch}; restore them with `git checkout -- .`")
        gitwrite.advance_branch(git_root, branch, new, tip, paths=list(files))
    result.commit = new
    result.branch = branch
