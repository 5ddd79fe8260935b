"""A backend's call as the release engine makes it: the outcome, or why it is unknown.

Every face and flow (two-phase actions, bundles, protected environments, reconcile) calls a
backend through here, so an exception always means "outcome unknown" (the call may have
deployed) and never "failed", and a call in flight is marked on this machine for reconcile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlrelease.backends.base import Backend, Outcome, OutcomeUnknown
from mlrelease.backends.support import Journal
from mlrelease.registry.gitio import git_dir
from mlrelease.secrets import redact, write_private


def call(fn: Callable[[], Outcome | None]) -> tuple[Outcome | None, str | None]:
    """A backend call: an exception means "outcome unknown", never "failed" (it may have deployed)."""
    try:
        return fn(), None
    except OutcomeUnknown as exc:
        return None, redact(f"it cannot tell whether it happened: {exc}")
    except Exception as exc:  # a plugin's bug must not lose the record of what may have happened
        return None, redact(f"it raised an error: {type(exc).__name__}: {exc}")


def in_flight(registry_root: Path, backend: Backend, action_id: str, fn: Callable[[], Outcome | None]) -> tuple[Outcome | None, str | None]:
    """``execute`` for ``action_id``, marked in flight on this machine while it runs (see reconcile)."""
    with Journal(registry_root, backend.name).flight(action_id):
        return call(fn)


def keep_log(git_root: Path, action_id: str, outcome: Outcome) -> None:
    """The backend's full output, redacted, beside the repository (never committed)."""
    if outcome.log:
        write_private(git_dir(git_root) / "mlrelease" / "logs" / f"{action_id}.log", outcome.log)
