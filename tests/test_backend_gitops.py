"""The ``gitops-file`` backend with real git: a bare deployment remote, clones, concurrent writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import mlrelease.cli.output
from mlrelease.backends import create
from mlrelease.backends.base import Action, BackendContext
from mlrelease.backends.gitops_file import GitopsFileBackend
from mlrelease.cli import main
from mlrelease.errors import BackendConfigError
from mlrelease.registry.trailers import parse_trailers
from mlrelease.registry.types import PluginConfig
from tests.builders import commit_all, config, git, make_registry, three_environments, write
from tests.git_trace import subcommands, traced
from tests.release_helpers import state_at

VALUES = """\
# Helm values for the fraud service (owned by team-fraud)
replicaCount: 3
image:
  repository: registry.example.com/fraud-card   # pushed by CI
  tag: "1.1.0"  # managed by mlrelease
  pullPolicy: IfNotPresent
models:
  fraud:
    tag: "1.0.0"
  churn:
    tag: "0.1.0"
"""


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A deployment repository as a bare remote, seeded with deploy/prod/values.yaml."""
    bare = tmp_path / "deploy.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "deploy-seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    write(seed, "deploy/prod/values.yaml", VALUES)
    commit_all(seed, "Initial values")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return bare


def registry_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    return path


def action(version: str = "1.2.0", promotion_id: str = "p-0001", **kw: object) -> Action:
    base: dict[str, object] = {
        "kind": "promote",
        "model": "fraud-card",
        "version": version,
        "environment": "production",
        "promotion_id": promotion_id,
        "actor": "Alice Example <alice@example.com>",
        "reason": "better recall; $(not a shell)",
        "previous": "1.1.0",
        "image": f"registry.example.com/fraud-card:{version}",
        "image_digest": "sha256:" + "b" * 64,
    }
    base.update(kw)
    return Action(**base)  # type: ignore[arg-type]


def backend(root: Path, **settings: object) -> GitopsFileBackend:
    b = create(PluginConfig(name="deploy-prod", type="gitops-file", settings=settings), BackendContext(root, {}))
    assert isinstance(b, GitopsFileBackend)
    return b


def show(bare: Path, path: str = "deploy/prod/values.yaml", ref: str = "main") -> str:
    return git(bare, "show", f"{ref}:{path}")


def test_value_lands_in_place_with_trailers(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    b = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag", value="version")
    out = b.execute(action())
    assert out.ok, out.message
    tip = git(remote, "rev-parse", "main").strip()
    assert out.reference == tip
    assert show(remote) == VALUES.replace('tag: "1.1.0"', 'tag: "1.2.0"')  # comments and quoting kept
    message = git(remote, "log", "-1", "--format=%B", "main")
    trailers = parse_trailers(message)
    assert trailers["action"] == "promote" and trailers["model"] == "fraud-card" and trailers["version"] == "1.2.0"
    assert trailers["environment"] == "production" and trailers["promotion_id"] == "p-0001" and trailers["backend"] == "deploy-prod"
    assert trailers["reason"] == "better recall; $(not a shell)"
    assert git(remote, "log", "-1", "--format=%an <%ae>", "main").strip() == "Alice Example <alice@example.com>"
    assert (root / ".git/mlrelease/gitops/deploy-prod/HEAD").is_file()  # the clone lives under .git


def test_idempotent_rerun_makes_no_commit(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    b = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag", value="version")
    assert b.execute(action()).ok
    tip = git(remote, "rev-parse", "main").strip()
    again = b.execute(action())
    assert again.ok and again.message is not None and "already 1.2.0; nothing to commit" in again.message
    assert git(remote, "rev-parse", "main").strip() == tip


def test_image_and_digest_values_and_new_keys(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    image = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.repository", value="image")
    assert image.execute(action()).ok
    digest = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.digest", value="image_digest")
    assert digest.execute(action()).ok
    text = show(remote)
    assert "  repository: registry.example.com/fraud-card:1.2.0   # pushed by CI\n" in text
    assert "  digest: sha256:" + "b" * 64 + "\n" in text
    assert text.startswith("# Helm values")  # comments survive an inserted key too


def test_two_concurrent_writers_both_land_in_linear_history(tmp_path: Path, remote: Path) -> None:
    writers = {
        "fraud": backend(
            registry_repo(tmp_path / "reg-a"), repo=str(remote), file="deploy/prod/values.yaml", key="models.fraud.tag", value="version"
        ),
        "churn": backend(
            registry_repo(tmp_path / "reg-b"), repo=str(remote), file="deploy/prod/values.yaml", key="models.churn.tag", value="version"
        ),
    }
    start = threading.Barrier(len(writers))
    results: dict[str, list[bool]] = {name: [] for name in writers}

    def run(name: str) -> None:
        start.wait()
        for i in range(1, 5):
            out = writers[name].execute(action(version=f"2.{i}.0", promotion_id=f"p-{name}-{i}", model=name))
            results[name].append(out.ok)

    threads = [threading.Thread(target=run, args=(name,)) for name in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {"fraud": [True] * 4, "churn": [True] * 4}
    assert git(remote, "rev-list", "--merges", "main").strip() == ""
    assert int(git(remote, "rev-list", "--count", "main")) == 1 + 8  # every edit landed exactly once
    text = show(remote)
    assert "  fraud:\n    tag: '2.4.0'\n" in text or '  fraud:\n    tag: "2.4.0"\n' in text
    assert '  churn:\n    tag: "2.4.0"\n' in text
    ids = git(remote, "log", "--format=%(trailers:key=Mlrelease-Promotion-Id,valueonly)", "main").split()
    assert sorted(ids) == sorted(f"p-{n}-{i}" for n in writers for i in range(1, 5))


def test_bad_key_path_is_a_clear_failure(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    out = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="replicaCount.tag").execute(action())
    assert not out.ok
    assert (
        out.message is not None
        and "deploy/prod/values.yaml: replicaCount is a number, not a mapping; cannot set replicaCount.tag" in out.message
    )
    out = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image").execute(action())
    assert not out.ok and out.message is not None and "image is a mapping, not a single value" in out.message
    out = backend(root, repo=str(remote), file="deploy/staging/values.yaml", key="image.tag").execute(action())
    assert not out.ok and out.message is not None and "deploy/staging/values.yaml: no such file" in out.message
    assert int(git(remote, "rev-list", "--count", "main")) == 1


def test_retrain_is_not_a_deployment(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    out = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag").execute(action(kind="retrain", version=None))
    assert not out.ok and out.message is not None and "does not handle 'retrain'" in out.message


def test_status_reads_the_remote_tip(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    b = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag", value="version")
    before = b.status(action())
    assert before is not None and not before.ok and "image.tag is 1.1.0, not 1.2.0" in (before.message or "")
    b.execute(action())
    after = b.status(action())
    assert after is not None and after.ok and after.reference == git(remote, "rev-parse", "main").strip()
    gone = backend(root, repo=str(tmp_path / "registry"), file="deploy/prod/values.yaml", key="image.tag")
    assert gone.status(action()) is None  # cannot read the far side: unknown, not a guess


def test_stale_lock_in_the_clone_is_cleared(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    b = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag", value="version")
    assert b.execute(action("1.2.0", "p-a")).ok
    clone = root / ".git/mlrelease/gitops/deploy-prod"
    (clone / "refs/remotes/origin/main.lock").write_text("left by a killed git\n")
    out = b.execute(action("1.3.0", "p-b"))
    assert out.ok, out.message


def test_health(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    ok = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag").health()
    assert ok.ok and "branch main at" in ok.message
    missing = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag", branch="release").health()
    assert not missing.ok and "no branch release" in missing.message


def test_describe(tmp_path: Path, remote: Path) -> None:
    root = registry_repo(tmp_path / "registry")
    text = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag").describe(action())
    assert text.startswith("gitops-file: set image.tag = registry.example.com/fraud-card:1.2.0 in deploy/prod/values.yaml in ")
    assert "on branch main" in text


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"key": "image.tag"}, "backends.deploy-prod.repo: set either repo (with file)"),
        ({"repo": "x", "path": "deploy/v.yaml", "key": "image.tag"}, "backends.deploy-prod.repo: set either repo"),
        (
            {"repo": "ext::sh -c touch% /tmp/pwned", "file": "v.yaml", "key": "a"},
            "backends.deploy-prod.repo: 'ext::sh -c touch% /tmp/pwned' is not an https",
        ),
        ({"repo": "--upload-pack=touch /tmp/x", "file": "v.yaml", "key": "a"}, "is not an https, ssh or file URL"),
        ({"repo": "http://git.example.com/deploy.git", "file": "v.yaml", "key": "a"}, "http:// is not encrypted"),
        ({"repo": "https://git.example.com/deploy.git", "key": "a"}, "backends.deploy-prod.file: is required with repo"),
        (
            {"repo": "https://git.example.com/d.git", "file": "../x.yaml", "key": "a"},
            "backends.deploy-prod.file: must be a plain relative path",
        ),
        (
            {"repo": "https://git.example.com/d.git", "file": "v.yaml", "key": "image..tag"},
            "backends.deploy-prod.key: must be a dotted path",
        ),
        (
            {"repo": "https://git.example.com/d.git", "file": "v.yaml", "key": "a", "value": "tag"},
            "backends.deploy-prod.value: must be one of image, artifact, version, image_digest",
        ),
        (
            {"repo": "https://git.example.com/d.git", "file": "v.yaml", "key": "a", "branch": "-x"},
            "backends.deploy-prod.branch: '-x' is not a valid branch name",
        ),
        (
            {"path": "releases/production/fraud-card.yaml", "key": "a"},
            "backends.deploy-prod.path: 'releases/production/fraud-card.yaml' is one of the registry's own files",
        ),
        ({"path": "deploy/v.yaml", "branch": "main", "key": "a"}, "backends.deploy-prod.path: takes neither file nor branch"),
    ],
)
def test_bad_settings(tmp_path: Path, settings: dict[str, object], problem: str) -> None:
    root = registry_repo(tmp_path / "registry")
    with pytest.raises(BackendConfigError) as exc:
        backend(root, **settings)
    assert str(exc.value).startswith("mlrelease.yaml: ")
    assert problem in str(exc.value)


# ---- a file inside the registry's own repository (path:) ------------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = make_registry(tmp_path / "registry")
    write(root, "deploy/prod/values.yaml", VALUES)
    commit_all(root, "Deployment values")
    return root


def test_path_in_registry_commits_without_touching_other_work(registry: Path) -> None:
    (registry / "notes.txt").write_text("my uncommitted notes\n")
    model_file = registry / "models/churn/model.yaml"
    model_file.write_text(model_file.read_text() + "# work in progress\n")
    b = backend(registry, path="deploy/prod/values.yaml", key="image.tag", value="version")
    out = b.execute(action())
    assert out.ok, out.message
    assert out.reference == git(registry, "rev-parse", "main").strip()
    assert show(registry) == VALUES.replace('tag: "1.1.0"', 'tag: "1.2.0"')
    assert (registry / "deploy/prod/values.yaml").read_text() == show(registry)  # checkout refreshed
    assert (registry / "notes.txt").read_text() == "my uncommitted notes\n"
    assert model_file.read_text().endswith("# work in progress\n")
    assert git(registry, "show", "--name-only", "--format=", "main").split() == ["deploy/prod/values.yaml"]
    status = b.status(action())
    assert status is not None and status.ok


def test_path_in_registry_refuses_a_dirty_target_file(registry: Path) -> None:
    target = registry / "deploy/prod/values.yaml"
    target.write_text(VALUES + "# my edit\n")
    before = git(registry, "rev-parse", "main").strip()
    out = backend(registry, path="deploy/prod/values.yaml", key="image.tag", value="version").execute(action())
    assert not out.ok
    assert out.message is not None and "deploy/prod/values.yaml: has uncommitted changes" in out.message
    assert target.read_text() == VALUES + "# my edit\n"
    assert git(registry, "rev-parse", "main").strip() == before


def test_path_in_registry_pushes_when_a_remote_is_configured(tmp_path: Path, registry: Path) -> None:
    bare = tmp_path / "registry.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    write(registry, "mlrelease.yaml", (registry / "mlrelease.yaml").read_text() + "remote:\n  name: origin\n  branch: main\n")
    commit_all(registry, "Configure the remote")
    git(registry, "remote", "add", "origin", str(bare))
    git(registry, "push", "-q", "origin", "main")
    out = backend(registry, path="deploy/prod/values.yaml", key="image.tag", value="version").execute(action())
    assert out.ok, out.message
    assert 'tag: "1.2.0"' in show(bare)
    assert git(bare, "rev-parse", "main").strip() == out.reference


def test_promote_lands_the_version_in_the_deployment_repo(
    registry: Path, remote: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: `mlrelease promote` → release service → gitops-file → the deployment remote."""
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)
    cfg = config(
        backends={
            "record": {"type": "record"},
            "prod-values": {
                "type": "gitops-file",
                "repo": str(remote),
                "file": "deploy/prod/values.yaml",
                "key": "image.tag",
                "value": "version",
            },
        },
        environments=three_environments(staging="prod-values"),
    )
    write(registry, "mlrelease.yaml", cfg)
    commit_all(registry, "Deploy staging through the values file")
    rc = main(["--repo", str(registry), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "ship it", "--yes"])
    capsys.readouterr()
    assert rc == 0
    assert show(remote) == VALUES.replace('tag: "1.1.0"', 'tag: "1.2.0"')
    state = state_at(registry, "staging", "fraud-card")
    assert state.observed is not None and state.observed.phase == "Succeeded"
    assert state.observed.backend_ref == git(remote, "rev-parse", "main").strip()
    trailers = parse_trailers(git(remote, "log", "-1", "--format=%B", "main"))
    assert trailers["promotion_id"] == state.observed.promotion_id


def test_the_file_is_read_through_the_pipe_the_commit_uses_not_two_processes(tmp_path: Path, remote: Path) -> None:
    """Review finding: ``_read`` ran ``ls-tree`` then ``cat-file blob`` on every attempt; the commit
    that follows already holds the clone's ``cat-file --batch`` pipe, which answers both."""
    root = registry_repo(tmp_path / "registry")
    b = backend(root, repo=str(remote), file="deploy/prod/values.yaml", key="image.tag", value="version")
    assert b.execute(action("1.2.0", "p-a")).ok  # the clone is made
    trace = traced(tmp_path)
    out = b.execute(action("1.3.0", "p-b"))
    assert out.ok, out.message
    assert 'tag: "1.3.0"' in show(remote)
    subs = subcommands(trace)
    assert "ls-tree" not in subs and subs.count("cat-file") <= 1, subs  # at most the pipe, once
    assert b.status(action("1.3.0", "p-b")).ok  # type: ignore[union-attr]
    assert "ls-tree" not in subcommands(trace)


@pytest.mark.parametrize(("file", "what"), [("deploy/prod/link.yaml", "blob 120000"), ("deploy/prod", "tree 040000")])
def test_a_link_or_a_folder_on_the_deployment_branch_is_refused_not_followed(tmp_path: Path, remote: Path, file: str, what: str) -> None:
    seed = tmp_path / "deploy-seed"
    (seed / "deploy/prod/link.yaml").symlink_to("values.yaml")
    commit_all(seed, "a link")
    git(seed, "push", "-q", "origin", "HEAD:main")
    root = registry_repo(tmp_path / "registry")
    out = backend(root, repo=str(remote), file=file, key="image.tag").execute(action())
    assert not out.ok and out.message is not None and f"{file}: is not a regular file on the deployment branch ({what})" in out.message
    assert int(git(remote, "rev-list", "--count", "main")) == 2
