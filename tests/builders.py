"""Build small, valid registries in temporary git repositories for tests.

Every test that needs a registry starts from :func:`make_registry` and changes what it
is about; the files are written with :func:`mlrelease.registry.yamlsafe.dump`, as the tool
itself writes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mlrelease.registry.yamlsafe import dump

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    proc = subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=root, env=full_env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def write(root: Path, rel: str, data: Any) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else dump(data), encoding="utf-8")
    return path


def commit_all(root: Path, message: str, *, env: dict[str, str] | None = None) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, env=env)
    return git(root, "rev-parse", "HEAD").strip()


def config(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "version": 1,
        "name": "test-registry",
        "conventions": {
            "model_name": "[a-z][a-z0-9-]{1,40}",
            "dataset_name": "[a-z][a-z0-9-]{1,40}",
            "version_scheme": "semver",
            "artifact_uri": "s3://ml-models/{model}/{version}/",
        },
        "metrics": {
            "precision": {"goal": "max", "kind": "model", "format": ".3f"},
            "recall": {"goal": "max", "kind": "model", "format": ".3f"},
            "f1": {"goal": "max", "kind": "model", "format": ".3f"},
            "auc": {"goal": "max", "kind": "model", "format": ".3f"},
            "value_detection_rate": {"goal": "max", "kind": "business", "format": ".1%"},
            "false_positive_ratio": {"goal": "min", "kind": "business", "format": ".2%"},
        },
        "headline": ["f1", "value_detection_rate"],
        "environments": three_environments(),
        "backends": {"record": {"type": "record"}},
    }
    cfg.update(overrides)
    return cfg


def three_environments(backend: str = "record", **per_environment: str) -> list[dict[str, Any]]:
    """dev → staging → production, each on ``backend`` unless named: ``three_environments(staging="hook")``."""
    chain = (("dev", None), ("staging", "dev"), ("production", "staging"))
    return [
        {"name": name, **({"requires": [before]} if before else {}), "backend": per_environment.get(name, backend)}
        for name, before in chain
    ]


def model(name: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "owner": "team-fraud",
        "description": f"{name} model",
        "task": "binary-classification",
        "consumers": [{"name": "card-gateway", "environments": ["production"]}],
    }
    data.update(overrides)
    return data


def version(model_name: str, ver: str, *, f1: float = 0.8, parent: str | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model": model_name,
        "version": ver,
        "created": "2026-03-01T10:00:00Z",
        "author": "Alice <alice@example.com>",
        "artifact": {"uri": f"s3://ml-models/{model_name}/{ver}/", "sha256": "a" * 64, "format": "onnx"},
        "data": {"train": {"dataset": "transactions", "version": "2026.01"}},
        "params": {"max_depth": 6},
        "metrics": {
            "precision": round(f1 + 0.05, 4),
            "recall": round(f1 - 0.05, 4),
            "f1": f1,
            "auc": 0.9,
            "value_detection_rate": 0.7,
            "false_positive_ratio": 0.02,
        },
    }
    if parent:
        data["parent"] = parent
    data.update(overrides)
    return data


def release(
    model_name: str, env: str, ver: str, *, promotion_id: str = "p-1", phase: str = "Succeeded", **overrides: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model": model_name,
        "environment": env,
        "desired": {
            "version": ver,
            "promotion_id": promotion_id,
            "action": "promote",
            "actor": "Alice <alice@example.com>",
            "at": "2026-03-02T10:00:00Z",
            "reason": "initial",
        },
        "observed": {"phase": phase, "promotion_id": promotion_id, "at": "2026-03-02T10:00:05Z", "backend": "record"},
    }
    if phase == "Succeeded":
        data["live"] = {"version": ver, "promotion_id": promotion_id, "since": "2026-03-02T10:00:05Z"}
    data.update(overrides)
    return data


def telemetry(model_name: str, env: str, **snapshot: Any) -> dict[str, Any]:
    """A telemetry file with one snapshot, at 2026-03-01T00:00:00Z, with ``snapshot``'s fields."""
    return {"model": model_name, "environment": env, "snapshots": [{"at": "2026-03-01T00:00:00Z", **snapshot}]}


def make_registry(root: Path, *, commit: bool = True, init: bool = True) -> Path:
    """Two models (fraud-card 1.0.0..1.2.0, churn 0.1.0..0.2.0), live in dev/staging/production.

    ``init=False`` writes into an existing repository (e.g. a registry in a subfolder).
    """
    root.mkdir(parents=True, exist_ok=True)
    if init and not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    write(root, "mlrelease.yaml", config())
    write(root, "models/fraud-card/model.yaml", model("fraud-card"))
    write(root, "models/churn/model.yaml", model("churn", owner="team-crm", consumers=[{"name": "crm-app"}]))
    for ver, f1, parent in (("1.0.0", 0.80, None), ("1.1.0", 0.83, "1.0.0"), ("1.2.0", 0.85, "1.1.0")):
        write(root, f"models/fraud-card/versions/{ver}.yaml", version("fraud-card", ver, f1=f1, parent=parent))
    for ver, f1 in (("0.1.0", 0.6), ("0.2.0", 0.65)):
        write(root, f"models/churn/versions/{ver}.yaml", version("churn", ver, f1=f1))
    write(
        root,
        "datasets/transactions/2026.01.yaml",
        {"name": "transactions", "version": "2026.01", "rows": 1000, "uri": "s3://data/transactions/2026.01/"},
    )
    if commit:
        commit_all(root, "Register models")
    write(root, "releases/dev/fraud-card.yaml", release("fraud-card", "dev", "1.2.0"))
    write(root, "releases/staging/fraud-card.yaml", release("fraud-card", "staging", "1.1.0"))
    write(root, "releases/production/fraud-card.yaml", release("fraud-card", "production", "1.0.0"))
    write(root, "releases/production/churn.yaml", release("churn", "production", "0.2.0"))
    if commit:
        commit_all(root, "Initial releases")
    return root


ORIGIN = {"name": "origin", "branch": "main"}  # mlrelease.yaml's remote: push to origin/main


def add_remote(root: Path, bare: Path, name: str = "origin") -> Path:
    """A bare clone of ``root`` made at ``bare``, added to ``root`` as remote ``name`` and fetched."""
    git(bare.parent, "clone", "-q", "--bare", str(root), str(bare))
    git(root, "remote", "add", name, str(bare))
    git(root, "fetch", "-q", name)
    return bare


def shared_remote(tmp_path: Path) -> Path:
    """A bare remote ``remote.git`` of ``make_registry``'s registry, every environment on the
    ``record`` backend with no gates on order, pushing to origin/main: the set-up of the tests
    where several clones promote at once."""
    seed = make_registry(tmp_path / "seed")
    cfg = config(remote=ORIGIN)
    cfg["environments"] = [{"name": e, "backend": "record"} for e in ("dev", "staging", "production")]
    write(seed, "mlrelease.yaml", cfg)
    commit_all(seed, "push to origin; no order gates")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def ssh_key(folder: Path, name: str) -> Path:
    """A fresh ed25519 key pair made by the real ssh-keygen (the signing tests need git's own verification)."""
    if shutil.which("ssh-keygen") is None:
        raise AssertionError("ssh-keygen is not installed: scripts/test installs Debian's openssh-client (apt-get install openssh-client)")
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key
