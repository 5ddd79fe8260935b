"""Errors that reach the user as one line and an exit code, all of them in this module.

Exit codes are an API for scripts: they are listed in the README and never reused for
another meaning. Every failure mlrelease expects is a :class:`MlreleaseError`; the
classes below it say which layer failed (a registry file, git, a backend's or a
telemetry source's settings, a call to a server) so a caller can catch one kind and let
the others through. Plugin authors import them from here (``mlrelease.backends.base``
and ``mlrelease.telemetry.base`` re-export the ones of their protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

MESSAGE_LIMIT = 1000  # characters of one problem's message; longer ones are cut, saying so


def capped(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters cut)"


class ExitCode(IntEnum):
    OK = 0
    PROBLEM = 1  # registry or input problem (bad YAML, unknown model, lint findings)
    USAGE = 2  # bad command line
    GATE_REFUSED = 3  # a release gate failed and --force was not given
    STALE_STATE = 4  # someone else changed the same model and environment first
    BACKEND_FAILED = 5  # the backend reported failure; recorded as Failed
    RETRIES_EXHAUSTED = 6  # push kept being rejected; nothing changed on the remote
    READ_ONLY = 7  # the action is disabled by --readonly or read_only config
    DUE = 8  # `check`: at least one model is due for retraining
    ROLLOUT_ABORTED = 9  # `rollout`: a rollout was aborted (the canary rolled back), or would be with --dry-run
    NEEDS_PERSON = 10  # `rollout`: a rollout waits for a person (a pause step, a non-critical failure, an off-plan weight)
    UNVERIFIED = 11  # `verify`: the release history has changes that are not verified mlrelease actions


@dataclass(frozen=True)
class Problem:
    """One finding about one file: rendered as ``path:line: message``."""

    path: str
    line: int | None
    message: str

    def __post_init__(self) -> None:
        # A message quotes what it found, and a file can hold a megabyte on one line.
        if len(self.message) > MESSAGE_LIMIT or len(self.path) > MESSAGE_LIMIT:
            object.__setattr__(self, "message", capped(self.message, MESSAGE_LIMIT))
            object.__setattr__(self, "path", capped(self.path, MESSAGE_LIMIT))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


class MlreleaseError(Exception):
    """An expected failure: shown as one line, never a traceback (unless --debug)."""

    exit_code: ExitCode = ExitCode.PROBLEM

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(capped(message, MESSAGE_LIMIT * 4))  # room for a few problems joined
        if exit_code is not None:
            self.exit_code = exit_code


class ManifestError(MlreleaseError):
    """One or more problems in registry files; the first is the message."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{extra}")


class UsageError(MlreleaseError):
    exit_code = ExitCode.USAGE


class NotFound(MlreleaseError):
    """A model, version, dataset or environment named by the user does not exist."""


# ---- the read side --------------------------------------------------------------------------


class GitError(MlreleaseError):
    """A git command failed; ``stderr`` keeps git's words for callers that parse them."""

    def __init__(self, message: str, stderr: str = "", returncode: int = 1) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode


class StoryError(MlreleaseError):
    """The example's story file contradicts itself (an unknown person, version or order of events)."""


# ---- plugins: backends and telemetry sources ------------------------------------------------


class SettingsError(MlreleaseError):
    """Bad settings of a plugin instance in mlrelease.yaml; ``problems`` holds each one with its line."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class BackendConfigError(SettingsError):
    """Bad settings for a backend instance in mlrelease.yaml."""


class EditError(MlreleaseError):
    """The ``gitops-file`` deployment file cannot take the value (wrong shape, bad YAML, missing file)."""


class SourceError(MlreleaseError):
    """A telemetry source could not give figures now (down, slow, bad reply): the view goes on without them."""


class SourceConfigError(SettingsError):
    """Bad settings for a telemetry source in mlrelease.yaml: a registry problem."""


# ---- interop: imports and the MLflow client --------------------------------------------------


class ImportProblems(MlreleaseError):
    """Everything that stops an import, found before anything is written."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{what}: nothing was imported: {shown}{more}")


class MlflowError(MlreleaseError):
    """A call to MLflow failed; ``status`` and ``code`` are the HTTP status and MLflow's error_code (0 and "" when it did not answer)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", sent: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.sent = sent  # False: the request never reached the server (connection refused), so it changed nothing


class MlflowOutcomeUnknown(MlflowError):
    """An alias move was sent, no answer came, and the alias cannot be read: it may or may not have moved.

    Raised out of the ``mlflow`` backend's ``execute`` on purpose: the release service
    records an exception as "outcome unknown" (Pending), never as Failed, and
    ``reconcile`` then reads the alias through the backend's ``status``.
    """


# ---- refusals of an action: each kind keeps one exit code (scripts branch on them) ----------
# Backend failure (5) is not an exception but an outcome: it is recorded, and returned.


class GateRefused(MlreleaseError):
    """One or more gates failed and --force was not given."""

    exit_code = ExitCode.GATE_REFUSED


class StaleState(MlreleaseError):
    """The state is not what the user decided on: someone else acted first, or an action is in flight."""

    exit_code = ExitCode.STALE_STATE


class ReadOnly(MlreleaseError):
    """--readonly, or ``read_only: true`` on the environment."""

    exit_code = ExitCode.READ_ONLY


class StaleBranch(StaleState):
    """The local branch moved while mlrelease was writing it (compare-and-swap lost)."""


class PushRejected(MlreleaseError):
    """The remote refused a push for good (its hook declined, a stale ref lock, another refusal); nothing changed there."""


class RetriesExhausted(MlreleaseError):
    """Pushes kept being rejected by others' pushes within the budget; nothing changed on the remote."""

    exit_code = ExitCode.RETRIES_EXHAUSTED
