"""What a release key acts on: the model, version and environment a view's selection names.

Its own module, below the views and the dispatcher: a view says what is selected, the
dispatcher asks for what is missing, and neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """What the selection says an action is about; the dispatcher asks for what is missing."""

    model: str
    version: str | None = None
    environment: str | None = None
