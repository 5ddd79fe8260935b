"""Errors that reach the user as one line and an exit code.

Exit codes are an API for scripts: they are listed in the README and never reused for
another meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


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


@dataclass(frozen=True)
class Problem:
    """One finding about one file: rendered as ``path:line: message``."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


class MlreleaseError(Exception):
    """An expected failure: shown as one line, never a traceback (unless --debug)."""

    exit_code: ExitCode = ExitCode.PROBLEM

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
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
