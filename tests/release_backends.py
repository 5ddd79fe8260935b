"""Test-only backends for the release service, usable in-process and from real subprocesses.

``JournalBackend`` "deploys" by appending to a journal file, so a test can see exactly
what happened on the far side, and keeps the backend contract (idempotent per
promotion id; ``status`` answers from the journal). Knobs come from the environment the
backend is given, so a test can make a real ``mlrelease`` process crash at a chosen step:

* ``JOURNAL_CRASH=before-execute`` / ``after-execute``: SIGKILL our own process there;
* ``JOURNAL_STATUS=unknown``: ``status`` cannot tell (returns None);
* ``JOURNAL_FAIL=1``: the far side refuses (Outcome ok=False);
* ``JOURNAL_RAISE=1``: ``execute`` raises (a buggy plugin);
* ``JOURNAL_BREAK_REMOTE=PATH``: after deploying, move the git remote at PATH away, so the
  outcome cannot be pushed.

:func:`install_entry_point` makes the type discoverable by a subprocess through a real
``mlrelease.backends`` entry point (a ``.dist-info`` folder on PYTHONPATH).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from mlrelease.backends.base import Action, BackendContext, Health, Outcome

REPO = Path(__file__).resolve().parent.parent


class JournalBackend:
    type_name: ClassVar[str] = "journal"

    def __init__(self, name: str, settings: Mapping[str, object], context: BackendContext) -> None:
        self.name = name
        self.journal = Path(str(settings["journal"]))
        self.env = context.environ

    def _lines(self) -> list[str]:
        return self.journal.read_text().splitlines() if self.journal.exists() else []

    def _deployed(self, action: Action) -> str | None:
        for n, line in enumerate(self._lines(), 1):
            if line.startswith(f"deploy {action.promotion_id} "):
                return f"journal:{n}"
        return None

    def _note(self, line: str) -> None:
        with self.journal.open("a") as fh:
            fh.write(line + "\n")

    def execute(self, action: Action) -> Outcome:
        self._note(f"call {action.promotion_id}")
        if self.env.get("JOURNAL_CRASH") == "before-execute":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.env.get("JOURNAL_RAISE"):
            raise RuntimeError("plugin bug")
        if self.env.get("JOURNAL_FAIL"):
            return Outcome(ok=False, message="far side said no\nsecond line", log="refused")
        ref = self._deployed(action)
        if ref is None:
            self._note(
                f"deploy {action.promotion_id} {action.kind} {action.model} {action.version} {action.environment} {action.canary_weight}"
            )
            ref = self._deployed(action)
        broken = self.env.get("JOURNAL_BREAK_REMOTE")
        if broken:
            os.rename(broken, broken + ".away")
        if self.env.get("JOURNAL_CRASH") == "after-execute":
            os.kill(os.getpid(), signal.SIGKILL)
        return Outcome(ok=True, reference=ref, message="deployed", log=f"deployed {action.promotion_id}")

    def status(self, action: Action) -> Outcome | None:
        if self.env.get("JOURNAL_STATUS") == "unknown":
            return None
        ref = self._deployed(action)
        if ref is None:
            return Outcome(ok=False, message="never received this promotion")
        return Outcome(ok=True, reference=ref, message="found in journal")

    def health(self) -> Health:
        return Health(ok=True, message="journal")

    def describe(self, action: Action) -> str:
        return f"journal: append 'deploy {action.promotion_id} ...' to {self.journal}"

    def calls(self) -> list[str]:
        return [line for line in self._lines() if line.startswith("call ")]

    def deploys(self) -> list[str]:
        return [line for line in self._lines() if line.startswith("deploy ")]


def factory(name: str, settings: Mapping[str, object], context: BackendContext) -> JournalBackend:
    return JournalBackend(name, settings, context)


def install_entry_point(site: Path) -> dict[str, str]:
    """A dist-info declaring ``journal`` in ``mlrelease.backends``; returns env for a subprocess."""
    dist = site / "mlrelease_test_journal-0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlrelease-test-journal\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[mlrelease.backends]\njournal = tests.release_backends:factory\n")
    return {"PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
