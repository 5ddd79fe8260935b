"""Secrets come only from environment variables, and their values never leave the process.

Every secret is read through :func:`secret`, which remembers the value, so
:func:`redact` can scrub it from any text (backend output, exception messages, logs,
commit messages) before that text is printed or recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mlrelease.errors import MlreleaseError

_KNOWN: set[str] = set()


def secret(variable: str, *, what: str, required: bool = True, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of environment variable ``variable``; ``what`` names its user in errors.

    ``environ`` (default: the process environment) lets a backend read from the
    environment its context was given, while the value is still remembered for redaction.
    """
    value = (os.environ if environ is None else environ).get(variable)
    if not value:
        if required:
            raise MlreleaseError(f"{what}: environment variable {variable} is not set")
        return None
    if len(value) >= 4:
        _KNOWN.add(value)
    return value


def redact(text: str) -> str:
    for value in sorted(_KNOWN, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text
