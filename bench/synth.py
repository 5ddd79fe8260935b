"""Synthetic registries of any size, for the benchmarks: M models × V versions, H release commits.

Each version manifest is about 2 KB with a small data profile (the size DESIGN.md's
measurements assume). Release history is H commits on ``releases/``: promotions as an
intent commit then an outcome commit, with the release service's own state transitions
and trailers, cycling through environments and models so every model ends up live
somewhere. Everything is written by one ``git fast-import`` run, so 10,000 versions and
5,000 release commits take seconds, not minutes.

Manifests of one model differ only in a few values, so each model's manifest is dumped
once through :func:`mlrelease.registry.yamlsafe.dump` with placeholder tokens and the
tokens are filled per version (dumping 10,000 manifests one by one would take longer than
the benchmarks themselves). A sample is parsed back before writing, so a wrong template
fails here, not in a timing.

Use from another benchmark::

    from bench.synth import build
    info = build(tmp / "reg", models=100, versions=100, releases=5000)

or from the command line: ``.venv/bin/python -m bench.synth DIR --models 100 --versions 100 --releases 5000``.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrelease.example import Commit, FastImport, Person, fake_digest, ulid
from mlrelease.registry import yamlsafe
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.parse import parse_version
from mlrelease.registry.trailers import format_message
from mlrelease.registry.types import Canary, Desired
from mlrelease.release import commits, state

ENVIRONMENTS = ("dev", "staging", "production")
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
PEOPLE = tuple(Person(f"Engineer {i}", f"engineer{i}@example.com") for i in range(8))
PIPELINE = Person("Training pipeline", "pipeline@example.com")

CONFIG = {
    "version": 1,
    "name": "synthetic",
    "conventions": {
        "model_name": "[a-z][a-z0-9-]{1,40}",
        "dataset_name": "[a-z][a-z0-9-]{1,40}",
        "version_scheme": "semver",
        "artifact_uri": "s3://ml-models/{model}/{version}/",
        "image": "registry.example.com/ml/{model}:{version}",
    },
    "metrics": {
        "precision": {"goal": "max", "format": ".3f"},
        "recall": {"goal": "max", "format": ".3f"},
        "f1": {"goal": "max", "format": ".3f"},
        "auc": {"goal": "max", "format": ".3f"},
        "value_detection_rate": {"goal": "max", "kind": "business", "format": ".1%"},
        "false_positive_ratio": {"goal": "min", "kind": "business", "format": ".2f"},
    },
    "headline": ["f1", "value_detection_rate"],
    "environments": [
        {"name": "dev", "backend": "record"},
        {"name": "staging", "requires": ["dev"], "backend": "record"},
        {"name": "production", "requires": ["staging"], "backend": "record"},
    ],
    "backends": {"record": {"type": "record"}},
}

# Tokens in the per-model template; each is replaced by a YAML scalar per version.
TOKENS = (
    "__VERSION_FIELD__",
    "__VERSION__",
    "__PARENT__",
    "__CREATED__",
    "__SHA__",
    "__DIGEST__",
    "__COMMIT__",
    "__P__",
    "__R__",
    "__F1__",
    "__AUC__",
    "__VDR__",
)


@dataclass(frozen=True)
class Synth:
    """A built registry: where, its shape, and a model name to show."""

    root: Path
    models: tuple[str, ...]
    versions: int  # per model
    release_commits: int
    commits: int
    seconds: float


def model_name(i: int) -> str:
    return f"model-{i:05d}"


def version_name(j: int) -> str:
    return f"{1 + j // 100}.{j % 100}.0"


def _template(model: str) -> str:
    doc = {
        "model": model,
        "version": "__VERSION_FIELD__",
        "created": "__CREATED__",
        "author": "Engineer 1 <engineer1@example.com>",
        "description": "Gradient-boosted trees on payment and customer features, retrained weekly",
        "parent": "__PARENT__",
        "artifact": {"uri": f"s3://ml-models/{model}/__VERSION__/", "sha256": "__SHA__", "format": "onnx", "bytes": 48213504},
        "image": {"ref": f"registry.example.com/ml/{model}:__VERSION__", "digest": "sha256:__DIGEST__"},
        "code": {"repo": f"https://git.example.com/ml/{model}", "commit": "__COMMIT__", "entrypoint": "pipelines/train.py"},
        "data": {
            "train": {"dataset": "transactions", "version": "2025.01", "rows": 12408311},
            "test": {"dataset": "transactions-holdout", "version": "2025.01", "rows": 1520044},
        },
        "params": {"algorithm": "lightgbm", "num_leaves": 63, "learning_rate": 0.05, "n_estimators": 800, "threshold": 0.6},
        "metrics": {
            "precision": "__P__",
            "recall": "__R__",
            "f1": "__F1__",
            "auc": "__AUC__",
            "value_detection_rate": "__VDR__",
            "false_positive_ratio": 1.4,
        },
        "profile": {
            "rows": 12408311,
            "features": {
                "amount": {"type": "numeric", "dtype": "float", "edges": [10, 50, 200, 1000], "fractions": [0.22, 0.38, 0.26, 0.11, 0.03]},
                "channel": {"type": "categorical", "fractions": {"chip": 0.34, "contactless": 0.38, "ecommerce": 0.25, "atm": 0.03}},
                "hour": {"type": "numeric", "dtype": "int", "edges": [6, 12, 18, 22], "fractions": [0.04, 0.31, 0.38, 0.21, 0.06]},
                "merchant": {
                    "type": "categorical",
                    "fractions": {"grocery": 0.31, "fuel": 0.09, "travel": 0.07, "electronics": 0.08, "digital": 0.27, "other": 0.18},
                },
                "card_age_days": {"type": "numeric", "dtype": "int", "edges": [30, 180, 365], "fractions": [0.05, 0.15, 0.2, 0.6]},
            },
        },
    }
    return yamlsafe.dump(doc)


def _manifest(template: str, model: str, j: int, rng: random.Random) -> bytes:
    version = version_name(j)
    p = round(0.3 + 0.4 * rng.random(), 4)
    r = round(0.5 + 0.4 * rng.random(), 4)
    values = {
        "__VERSION_FIELD__": f"'{version}'",
        "__VERSION__": version,
        "__PARENT__": f"'{version_name(j - 1)}'" if j else "null",
        "__CREATED__": f"'{format_timestamp(START + timedelta(hours=j))}'",
        "__SHA__": fake_digest("artifact", model, version),
        "__DIGEST__": fake_digest("image", model, version),
        "__COMMIT__": fake_digest("code", model, version, n=40),
        "__P__": f"{p}",
        "__R__": f"{r}",
        "__F1__": f"{round(2 * p * r / (p + r), 4)}",
        "__AUC__": f"{round(0.85 + 0.1 * rng.random(), 4)}",
        "__VDR__": f"{round(0.6 + 0.3 * rng.random(), 4)}",
    }
    text = template
    for token in TOKENS:
        text = text.replace(token, values[token])
    return text.encode()


def build(root: Path, *, models: int, versions: int, releases: int, seed: int = 0) -> Synth:
    """Write the registry as a new git repository at ``root`` (which must not exist)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    names = tuple(model_name(i) for i in range(models))
    history = FastImport("main")
    at = START
    history.commit(
        Commit(
            at,
            PEOPLE[0],
            PEOPLE[0],
            format_message("Initialise the registry", {"action": "init"}),
            {"mlrelease.yaml": yamlsafe.dump(CONFIG).encode()},
        )
    )
    for i, model in enumerate(names):
        template = _template(model)
        files: dict[str, bytes] = {
            f"models/{model}/model.yaml": yamlsafe.dump(
                {"name": model, "owner": f"team-{i % 7}", "description": f"synthetic model {i}"}
            ).encode()
        }
        for j in range(versions):
            files[f"models/{model}/versions/{version_name(j)}.yaml"] = _manifest(template, model, j, rng)
        if i == 0:  # the template must give manifests the real parser accepts
            for path in (f"models/{model}/versions/{version_name(0)}.yaml", f"models/{model}/versions/{version_name(versions - 1)}.yaml"):
                parse_version(yamlsafe.load(files[path], path), path)
        at += timedelta(minutes=1)
        message = format_message(f"Register {versions} versions of {model}", {"action": "register", "model": model, "actor": str(PIPELINE)})
        history.commit(Commit(at, PIPELINE, PIPELINE, message, files))
    _releases(history, names, versions, releases, rng, at)
    history.write(root)
    return Synth(root, names, versions, releases, history.count, time.perf_counter() - started)


def _releases(history: FastImport, names: tuple[str, ...], versions: int, count: int, rng: random.Random, at: datetime) -> None:
    """``count`` commits on releases/: promotions (intent + outcome), every 11th a 10% canary."""
    states: dict[tuple[str, str], state.ReleaseState] = {}
    promoted: dict[tuple[str, str], int] = {}
    for p in range(count // 2):
        env = ENVIRONMENTS[p % len(ENVIRONMENTS)]
        model = names[(p // len(ENVIRONMENTS)) % len(names)]
        key = (env, model)
        n = promoted[key] = promoted.get(key, -1) + 1
        version = version_name(min(versions - 1, n + ENVIRONMENTS.index(env)))
        current = states.get(key) or state.empty(model, env)
        live = current.live
        canary = live is not None and p % 11 == 0 and live.version != version
        who = PEOPLE[p % len(PEOPLE)]
        at += timedelta(minutes=7)
        desired = Desired(
            version=live.version if canary and live else version,
            promotion_id=ulid(at, rng),
            action="promote",
            actor=str(who),
            at=at,
            canary=Canary(version, 10) if canary else None,
            reason=f"synthetic promotion {p}",
        )
        d = commits.DeployFacts(
            kind="promote",
            model=model,
            environment=env,
            version=version,
            previous=live.version if live else None,
            canary=10 if canary else None,
            promotion_id=desired.promotion_id,
            backend="record",
            actor=str(who),
            reason=desired.reason,
        )
        path = f"releases/{env}/{model}.yaml"
        current = state.with_intent(current, desired, "record")
        history.commit(Commit(at, who, who, commits.intent(d, path).message(), {path: state.dump_release(current)}))
        done = at + timedelta(seconds=4)
        current = state.with_outcome(current, ok=True, at=done, backend_ref=desired.promotion_id, message="recorded in git")
        preview = commits.outcome(d, path, phase="Succeeded", backend_ref=desired.promotion_id, message="recorded in git")
        history.commit(Commit(done, who, who, preview.message(), {path: state.dump_release(current)}))
        states[key] = current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="where to create the registry (must not exist)")
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--versions", type=int, default=100, help="versions per model")
    parser.add_argument("--releases", type=int, default=5000, help="release commits (two per promotion)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    info = build(args.path, models=args.models, versions=args.versions, releases=args.releases, seed=args.seed)
    print(
        f"{info.root}: {len(info.models)} models × {info.versions} versions, {info.release_commits} release commits, {info.commits} commits in {info.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
