"""What the app's thread workers hand back to the event loop: one Message per result.

A worker never touches widgets; it posts one of these (``post_message`` is safe from any
thread) and a handler on the event loop shows it. The flow is visible in one place and
a test can record it (``app.run_test(message_hook=seen.append)``). Screens learn that the
registry or the background status changed through the app's signals
(:attr:`mlrelease.tui.app.MlreleaseApp.registry_changed` and ``statuses_changed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.screen import ModalScreen

from mlrelease.registry.overview import Overview
from mlrelease.registry.timetravel import Moment
from mlrelease.release.plan import Plan, Result
from mlrelease.tui.background import Update
from mlrelease.tui.modeldata import ModelData


@dataclass
class RegistryRead(Message):
    """The overview, read at the repository state ``fingerprint`` (HEAD ``head``) of the registry ``name``."""

    view: Overview
    fingerprint: tuple[object, ...]
    head: str | None
    name: str | None  # name: in mlrelease.yaml


@dataclass
class MarksRead(Message):
    """The overview again, with what `mlrelease verify` says of each release state (a third, slower read)."""

    view: Overview
    unverified: str | None = None  # why there are no marks (e.g. more commits to verify than a read verifies)


@dataclass
class StatusesRead(Message):
    """One batch of per-model status (gates, health, trends) from the second phase of a read."""

    batch: Update


@dataclass
class NotificationsCounted(Message):
    """How many deliveries failed since the delivery log was last looked at (the top bar shows it)."""

    unseen_failures: int


@dataclass
class RepositoryChanged(Message):
    """The watcher saw the fingerprint change: read again."""


@dataclass
class Fetched(Message):
    """``git fetch`` finished; ``message`` says how far behind the checkout is (or why nothing was fetched)."""

    message: str
    fetched: bool = True


@dataclass
class ModelRead(Message):
    """A model's data, read before its view opens (on ``tab``)."""

    data: ModelData
    tab: str | None


@dataclass
class ActionRefused(Message):
    kind: str
    message: str


@dataclass
class PlanReady(Message):
    """The service's plan (what it asks of the person is in ``plan.confirmation``); ``reason`` pre-fills the field."""

    plan: Plan
    reason: str = ""
    changed: bool = False  # shown again because the registry moved since the last plan


@dataclass
class ActionEnded(Message):
    """The action's worker is done, however it ended: close its progress dialog."""

    progress: ModalScreen[None]


@dataclass
class ActionFinished(Message):
    result: Result


@dataclass
class Travelled(Message):
    """``[`` / ``]``: the release event found (None: no further one that way), or why nothing could be looked up."""

    moment: Moment | None
    direction: int
    problem: str | None = None
