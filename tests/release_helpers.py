"""Shared set-up for the release-service tests: configs with gates, services, reading results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrelease.backends.base import BackendContext
from mlrelease.registry import yamlsafe
from mlrelease.registry.parse import parse_release
from mlrelease.registry.trailers import parse_trailers
from mlrelease.registry.types import Config, ReleaseState
from mlrelease.release.service import ReleaseService
from tests.builders import commit_all, config, git, three_environments, write
from tests.release_backends import JournalBackend

MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def set_config(root: Path, *, environments: list[dict[str, Any]] | None = None, **overrides: Any) -> None:
    """Rewrite mlrelease.yaml (environments all on the journal backend unless given) and commit."""
    cfg = config(**overrides)
    cfg["backends"] = {"record": {"type": "record"}, "journal": {"type": "journal", "journal": str(root.parent / "journal.log")}}
    cfg["environments"] = environments or three_environments("journal")
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "Configure")


def journal(root: Path, environ: dict[str, str] | None = None) -> JournalBackend:
    return JournalBackend("journal", {"journal": str(root.parent / "journal.log")}, BackendContext(root, environ or {}))


def service(
    root: Path, backend: JournalBackend | None = None, *, clock: Callable[[], datetime] = lambda: MONDAY_NOON, **kw: Any
) -> ReleaseService:
    """A service whose environments call ``backend`` (a journal by default)."""
    chosen = backend or journal(root)

    def resolve(cfg: Config, name: str | None) -> JournalBackend:
        return chosen

    return ReleaseService(root, resolver=resolve, clock=clock, **kw)


def state_at(root: Path, env: str, model: str, ref: str = "main") -> ReleaseState:
    path = f"releases/{env}/{model}.yaml"
    return parse_release(yamlsafe.load(git(root, "show", f"{ref}:{path}"), path), path)


def commits_since(root: Path, since: str, ref: str = "main") -> list[tuple[str, dict[str, str]]]:
    """(subject, trailers) of each commit after ``since``, oldest first."""
    out = []
    for sha in git(root, "rev-list", "--reverse", f"{since}..{ref}").split():
        message = git(root, "log", "-1", "--format=%B", sha)
        out.append((message.splitlines()[0], parse_trailers(message)))
    return out


def head(root: Path, ref: str = "main") -> str:
    return git(root, "rev-parse", ref).strip()
