"""The bundled example: replay ``examples/bank-fraud/story.yaml`` into a real git repository.

The story says what happened at a (fictional) bank over seven months — data sets
published, model versions trained, promotions, approvals, a rejection, a canary, a
rollback, a failed rollout, a hand edit — and who did it when. This module turns it into
the repository mlrelease itself would have produced: every action is written with the
release service's own state transitions (:mod:`mlrelease.release.state`) and commit
wording (:mod:`mlrelease.release.commits`), so the example can never drift from what the
tool writes. Derived details (digests, profiles, telemetry noise) come from a fixed seed:
the same story always gives the same repository, down to the commit ids.

The package: :mod:`~mlrelease.example.story` types the story, :mod:`~mlrelease.example.replay`
turns it into commits, and :mod:`~mlrelease.example.fastimport` writes them with one
``git fast-import`` pipe instead of a ``git commit`` per action (what ``bench/synth.py``
uses too, re-exported here).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.example.fastimport import Commit, FastImport, Person, fake_digest, ulid
from mlrelease.example.replay import Replay
from mlrelease.example.story import Story, load_story
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.gitio import git
from mlrelease.resources import resource_dir

__all__ = ["Built", "Commit", "FastImport", "Person", "Story", "build", "example_dir", "fake_digest", "fingerprint", "load_story", "ulid"]

EXAMPLE = "bank-fraud"
STORY = "story.yaml"


@dataclass(frozen=True)
class Built:
    """What :func:`build` made: where, and how much of it."""

    root: Path
    commits: int
    head: str


def example_dir() -> Path:
    """The example's sources: ``examples/bank-fraud`` in a checkout, ``mlrelease/_examples`` in a wheel."""
    return resource_dir("examples") / EXAMPLE


def _registry_files(source: Path) -> dict[str, bytes]:
    base = source / "registry"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def fingerprint(source: Path | None = None) -> str:
    """A digest of the example's sources and this generator: a built copy is stale when it changes."""
    source = source or example_dir()
    h = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):  # this generator, all of it
        h.update(module.read_bytes())
    h.update((source / STORY).read_bytes())
    for path, data in _registry_files(source).items():
        h.update(path.encode() + b"\0" + data)
    return h.hexdigest()[:16]


def build(dest: Path, source: Path | None = None) -> Built:
    """Write the example registry as a new git repository at ``dest`` (which must not exist)."""
    from mlrelease.registry.config import parse_config

    source = source or example_dir()
    if dest.exists():
        raise MlreleaseError(f"{dest}: already exists; the example is built into a new folder")
    files = _registry_files(source)
    config = parse_config(yamlsafe.load(files[layout.CONFIG], layout.CONFIG))
    history = Replay(load_story(source / STORY), files, config).replay()
    try:
        history.write(dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    head = git(dest, "rev-parse", "HEAD").stdout.decode().strip()
    return Built(root=dest, commits=history.count, head=head)
