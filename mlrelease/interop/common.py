"""What both imports share: name mapping, manifests and release state as files, and the report.

Names from MLflow and GTO are untrusted: each becomes a folder or file name, so it goes
through the registry's conventions (:mod:`mlrelease.registry.conventions`, which applies
the safety rules of :mod:`mlrelease.registry.names` first) before anything is written.
A name that fails is never "fixed" silently: the import stops, lists every such name with
the reason, and says how to map it (``--rename SOURCE=MODEL``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlrelease.errors import UsageError
from mlrelease.registry import conventions as conv
from mlrelease.registry import yamlsafe
from mlrelease.registry.parse import parse_model, parse_release, parse_version
from mlrelease.registry.types import Config, Desired, Live, Observed, ReleaseState
from mlrelease.release.state import dump_release
from mlrelease.textsafe import visible

BODY_LINES = 60  # lines listed in an import commit's body; the rest are counted


def pairs(items: Iterable[str] | None, flag: str) -> dict[str, str]:
    """``["a=b", ...]`` from a repeatable ``--flag A=B`` option, refusing malformed or repeated keys."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise UsageError(f"{flag} expects FROM=TO, got {item!r}")
        if key in out and out[key] != value:
            raise UsageError(f"{flag} maps {key!r} twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


def quoted(text: str) -> str:
    """An untrusted name inside a message: visible, one line, quoted."""
    return repr(visible(text, single_line=True))


def model_name(source: str, renames: Mapping[str, str], config: Config, problems: list[str], *, hint: str) -> str:
    """The registry's name for a model called ``source`` over there, or a problem noted."""
    name = renames.get(source, source)
    reason = conv.name_problem("model", name, config.conventions)
    if reason:
        via = f" (renamed from {quoted(source)})" if name != source else ""
        problems.append(f"{reason}{via}; map it with {hint} {visible(source, single_line=True)}=NAME")
    return name


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=0)


def dump_model(doc: dict[str, Any], path: str) -> bytes:
    """model.yaml bytes that are known to parse back (the import never writes a file lint cannot read)."""
    data = yamlsafe.dump(doc).encode("utf-8")
    parse_model(yamlsafe.load(data, path), path)
    return data


def dump_version(doc: dict[str, Any], path: str) -> bytes:
    data = yamlsafe.dump(doc).encode("utf-8")
    parse_version(yamlsafe.load(data, path), path)
    return data


def checked_release(state: ReleaseState, path: str) -> bytes:
    data = dump_release(state)
    parse_release(yamlsafe.load(data, path), path)
    return data


def checked_version(doc: Mapping[str, Any], path: str, config: Config) -> tuple[bytes, list[str]]:
    """A manifest's bytes (known to parse back), and what ``mlrelease lint`` will say about it.

    An import records where the artifact really is and what it really has; it does not
    invent a URI that follows the template or fill required fields, so the team sees these
    once, here, and decides (relax the convention, or edit the manifests). One dump, one
    parse: an import of hundreds of versions does each once.
    """
    data = yamlsafe.dump(dict(doc)).encode("utf-8")
    version = parse_version(yamlsafe.load(data, path), path)
    c = config.conventions
    out = []
    reason = conv.template_problem("artifact URI", c.artifact_uri, version.artifact.uri, version.model, version.version)
    if reason:
        out.append(f"{path}: {reason}")
    out += [f"{path}: missing required field {m!r} (conventions.required)" for m in conv.missing_required(version, c.required)]
    return data, out


def known_metrics(values: Mapping[str, float], config: Config, skipped: set[str]) -> dict[str, float]:
    """The metrics the registry's catalogue knows (lint refuses others); the rest are noted in ``skipped``."""
    out = {}
    for name, value in values.items():
        if name in config.metrics:
            out[name] = value
        else:
            skipped.add(name)
    return out


def ownership_problem(old: ReleaseState | None, prefix: str, path: str, importer: str) -> str | None:
    """Why an import must not change the release state at ``path``, or None: the one ownership rule of both imports.

    An import may write a release state that does not exist yet, or one that an import
    from the same kind of source wrote (its promotion id starts with ``prefix``: ``gto-``,
    ``mlflow-``). It never changes a state that mlrelease owns — promoted, rolled back or
    written by hand here (any other promotion id) — nor one that is pinned or has a
    promotion pending: those are decisions taken here, and the import stops and names the
    file instead of overwriting them. Callers ask only when the import would change what
    is live, so a source that agrees with the record is never a problem.
    """
    if old is None:
        return None
    if old.pending:
        return f"{path}: a promotion is pending there"
    if old.pin is not None:
        return f"{path} is pinned by {old.pin.by}" + (f" ({visible(old.pin.reason, single_line=True)})" if old.pin.reason else "")
    if old.desired is None or not old.desired.promotion_id.startswith(prefix):
        return f"{path} is managed by mlrelease (not by a {importer} import)"
    return None


def imported_state(
    old: ReleaseState | None,
    *,
    model: str,
    environment: str,
    version: str,
    promotion_id: str,
    action: str,
    actor: str,
    at: datetime,
    reason: str,
    backend: str,
    backend_ref: str,
) -> ReleaseState:
    """A release state for something that already happened elsewhere: desired, observed and live agree.

    Pin and approvals of an existing state are kept: they are decisions taken here.
    """
    return ReleaseState(
        model=model,
        environment=environment,
        desired=Desired(version=version, promotion_id=promotion_id, action=action, actor=actor, at=at, reason=reason or None),
        observed=Observed(phase="Succeeded", promotion_id=promotion_id, at=at, backend=backend, backend_ref=backend_ref),
        live=Live(version=version, promotion_id=promotion_id, since=at),
        pin=old.pin if old else None,
        approvals=old.approvals if old else (),
    )


def body(lines: list[str]) -> str:
    shown = lines[:BODY_LINES]
    if len(lines) > BODY_LINES:
        shown.append(f"... and {len(lines) - BODY_LINES} more")
    return "\n".join(visible(line, single_line=True) for line in shown)


@dataclass
class Report:
    """What an import did, for people (a summary) and scripts (``--json``)."""

    source: str
    commits: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # model.yaml files created
    versions: list[str] = field(default_factory=list)  # model@version manifests written
    releases: list[str] = field(default_factory=list)  # env/model release states written
    events: int = 0  # GTO: events turned into commits
    unchanged: int = 0  # items already in the registry
    skipped: list[str] = field(default_factory=list)  # left out, with the reason
    warnings: list[str] = field(default_factory=list)
    pushed: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "commits": self.commits,
            "models": self.models,
            "versions": self.versions,
            "releases": self.releases,
            "events": self.events,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "pushed": self.pushed,
            "seconds": round(self.seconds, 3),
        }
