"""The ``notify:`` section of mlrelease.yaml: which events go to which channels.

::

    notify:
      timeout: 10                      # seconds for one event's deliveries, all channels together
      channels:
        ops-slack: {url_env: MLRELEASE_SLACK_URL}    # an Apprise URL, read from the environment
        ml-team:   {url_env: MLRELEASE_MAIL_URL}
      events:
        promoted: [ops-slack]
        failed: [ops-slack, ml-team]
        break_glass: {channels: [ops-slack, ml-team], environments: [production]}

A channel's whole URL is a secret (Apprise URLs carry tokens in their paths), so it only
ever comes from an environment variable. The section is read with the registry's one
settings reader (:class:`~mlrelease.registry.settings.PluginSettings`): unknown keys,
unknown events and channels named by no event route are problems, each with its line.
It is read when a release announces itself, never when the registry is parsed, so a
mistake here is reported (by ``mlrelease lint``, and as an undelivered notification) but
never stops a release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlrelease.errors import Problem, SettingsError
from mlrelease.registry.settings import PluginSettings

# Every event a release can announce, with what it means (docs/notifications.md, `notify channels`).
EVENTS: dict[str, str] = {
    "promoted": "a promotion went live (a canary by hand included; a rollout's steps are rollout_advanced)",
    "rolled_back": "a rollback went live (a rollout's abort is rollout_aborted)",
    "failed": "a backend failed, or gave no answer and the action was left Pending",
    "waiting_for_approval": "a promotion was refused only for want of approvals",
    "break_glass": "an action ran with failing gates overridden (--force)",
    "retraining_due": "the retraining policy requested retraining (check --trigger)",
    "rollout_advanced": "a progressive rollout started, moved to its next step or finished (fully live)",
    "rollout_aborted": "a progressive rollout was aborted and the champion is live again",
}

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Channel:
    name: str
    url_env: str  # the environment variable holding the Apprise URL


@dataclass(frozen=True)
class Route:
    channels: tuple[str, ...]
    environments: tuple[str, ...] = ()  # empty: every environment (and events of none, like retraining)

    def applies(self, environment: str | None) -> bool:
        return not self.environments or environment in self.environments


@dataclass(frozen=True)
class NotifyConfig:
    channels: dict[str, Channel] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT

    def channels_for(self, event: str, environment: str | None) -> tuple[str, ...]:
        route = self.routes.get(event)
        return route.channels if route is not None and route.applies(environment) else ()


class NotifyConfigError(SettingsError):
    """The notify section has problems (lint reports them; a release only records them)."""


def read(raw: object, environments: tuple[str, ...] | None = None) -> tuple[NotifyConfig, list[Problem]]:
    """The section and its problems; ``environments``: the configured names, to check routes against."""
    if raw is None:
        return NotifyConfig(), []
    if not isinstance(raw, Mapping):
        line = getattr(raw, "line", None)
        return NotifyConfig(), [Problem("mlrelease.yaml", line, "notify: must be a mapping (channels:, events:, timeout:)")]
    top = _Settings(raw, where="notify", kind="notify section", error=NotifyConfigError)
    problems = top.problems
    timeout = top.seconds("timeout", default=DEFAULT_TIMEOUT, maximum=300)
    channels: dict[str, Channel] = {}
    given: Mapping[str, object] = top.map("channels") or {}
    for name, value in given.items():
        sub = _sub(top, f"channels.{name}", value, "notification channel", _line(given, name))
        if sub is None:
            continue
        url_env = sub.env_name("url_env", required=True)
        sub.done_quietly()
        problems += sub.problems
        if url_env is not None:
            channels[name] = Channel(name, url_env)
    routes: dict[str, Route] = {}
    events: Mapping[str, object] = top.map("events") or {}
    for event, value in events.items():
        line = _line(events, event)
        if event not in EVENTS:
            top.problem_at(line, top.said(f"events.{event}", f"is not an event; events are {', '.join(EVENTS)}"))
            continue
        route = _route(top, event, value, environments, line)
        if route is None:
            continue
        for i, name in enumerate(route.channels):
            if name not in given:
                known = ", ".join(sorted(given)) or "none"
                where = _item_line(value, i) or line
                top.problem_at(
                    where, top.said(f"events.{event}[{i}]", f"names channel {name!r}, which is not under notify.channels ({known})")
                )
        routes[event] = route
    top.done_quietly()
    return NotifyConfig(channels, routes, timeout), problems


class _Settings(PluginSettings):
    def done_quietly(self) -> None:
        """Unknown keys become problems, without raising: the caller gathers them all."""
        for key in self.data:
            if key not in self.seen:
                self.problem_at(self.line_of(key), self.unknown(key))


def _line(mapping: object, key: str) -> int | None:
    line_of = getattr(mapping, "line_of", None)
    return line_of(key) if line_of is not None else None


def _item_line(value: object, index: int) -> int | None:
    lines = getattr(value, "item_lines", None)
    return lines[index] if lines is not None and index < len(lines) else None


def _sub(top: PluginSettings, key: str, value: object, kind: str, line: int | None) -> _Settings | None:
    if not isinstance(value, Mapping):
        top.problem_at(line, top.said(key, "must be a mapping (e.g. {url_env: MLRELEASE_SLACK_URL})"))
        return None
    return _Settings(value, where=f"notify.{key}", kind=kind, error=NotifyConfigError)


def _route(top: PluginSettings, event: str, value: object, environments: tuple[str, ...] | None, line: int | None) -> Route | None:
    """``[channel, ...]`` or ``{channels: [...], environments: [...]}``."""
    key = f"events.{event}"
    if isinstance(value, list):
        names = _names(top, key, value, line)
        return Route(names) if names is not None else None
    sub = _sub(top, key, value, "notify event route", line)
    if sub is None:
        return None
    names = sub.text_list("channels", required=True) or ()
    envs = sub.text_list("environments") or ()
    if environments is not None:
        for i, env in enumerate(envs):
            if env not in environments:
                sub.problem(f"environments[{i}]", f"names environment {env!r}, which is not configured ({', '.join(environments)})")
    sub.done_quietly()
    top.problems.extend(sub.problems)
    return Route(names, envs)


def _names(top: PluginSettings, key: str, value: list[object], line: int | None) -> tuple[str, ...] | None:
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            top.problem_at(_item_line(value, i) or line, top.said(f"{key}[{i}]", "must be a channel name"))
            return None
        out.append(item)
    return tuple(out)
