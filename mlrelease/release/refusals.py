"""Why an action was refused, each with its own exit code (see README "Exit codes").

Scripts branch on these codes, so each refusal kind keeps one meaning: a gate said no
(3), someone else changed the same model and environment first or an action is still
in flight there (4), the action is switched off (7). Backend failure (5) is not an
exception but an outcome: it is recorded, and the service returns it.
"""

from __future__ import annotations

from mlrelease.errors import ExitCode, MlreleaseError


class GateRefused(MlreleaseError):
    """One or more gates failed and --force was not given."""

    exit_code = ExitCode.GATE_REFUSED


class StaleState(MlreleaseError):
    """The release state is not what the user decided on: someone else acted first."""

    exit_code = ExitCode.STALE_STATE


class ReadOnly(MlreleaseError):
    """--readonly, or ``read_only: true`` on the environment."""

    exit_code = ExitCode.READ_ONLY
