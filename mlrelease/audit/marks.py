"""The words every face shows beside events and states that ``mlrelease verify`` does not accept.

``history``, ``list`` and the TUI never decide for themselves what is trustworthy: they
ask :func:`report` (one verify of the history at the registry's tip, kept under
``.git/mlrelease/verify/`` so that asking again costs a file read) and show these words:

* an event whose commit has findings: ``hand-edited`` (no Mlrelease-Action trailer),
  ``unsigned`` (signing required and missing or not allowed), or ``unverified: KIND``
  (forged trailers, out of sequence, a deleted record, a gate that did not hold…);
* a release state any finding touched: the same words, so a forged "live" never looks
  like a genuine one in ``list`` or the overview.

Forced gates and break-glass need no verify: the record itself says them
(``desired.forced``, ``break_glass``), and the faces read them from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from mlrelease import __version__
from mlrelease.errors import MlreleaseError
from mlrelease.registry import layout
from mlrelease.registry.cache import SCHEMA
from mlrelease.registry.fields import parse_timestamp
from mlrelease.registry.gitio import git, git_dir
from mlrelease.registry.history import Event
from mlrelease.registry.loader import Registry
from mlrelease.registry.overview import Overview

from .verify import Finding, Report, verify

WORDS = {"hand-edit": "hand-edited", "unsigned": "unsigned"}


def word(kind: str) -> str:
    return WORDS.get(kind, f"unverified: {kind}")


def _cache_file(reg: Registry, tip: str) -> Path | None:
    if reg.git_root is None:
        return None
    prefix = reg.root.resolve().relative_to(reg.git_root.resolve()).as_posix()
    salt = hashlib.sha256(f"{prefix}\0{__version__}\0{SCHEMA}".encode()).hexdigest()[:12]
    key = f"{tip}-{salt}"
    return git_dir(reg.git_root) / "mlrelease" / "verify" / f"{key}.json"


def _tip(reg: Registry) -> str | None:
    if reg.git_root is None:
        return None
    proc = git(reg.git_root, "rev-parse", "--verify", "--quiet", f"{reg.ref or 'HEAD'}^{{commit}}", check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def findings(reg: Registry) -> list[Finding]:
    """Verify's findings over the registry's whole history (cached per tip commit)."""
    tip = _tip(reg)
    if tip is None:
        return []
    path = _cache_file(reg, tip)
    if path is not None and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [_finding(d) for d in data["findings"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a broken cache is read again from git
    report: Report = verify(reg)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"findings": [f.to_json() for f in report.findings]}), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only clone: verify again next time
    return report.findings


def _finding(d: dict[str, object]) -> Finding:
    at = parse_timestamp(str(d["at"])) or datetime.fromtimestamp(0, UTC)
    path = d.get("path")
    signer = d.get("signer")
    return Finding(
        str(d["commit"]),
        str(d["author"]),
        at,
        str(d["kind"]),
        str(d["message"]),
        str(path) if path else None,
        str(signer) if signer else None,
    )


def by_commit(found: Iterable[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in found:
        out.setdefault(f.commit, []).append(f)
    return out


def mark_events(events: Iterable[Event], found: list[Finding]) -> Iterator[Event]:
    """Each event with the words of its commit's findings (those of its own file, or of the whole commit), lazily."""
    index = by_commit(found)
    for e in events:
        mine = [f for f in index.get(e.commit, ()) if f.path is None or e.path is None or f.path == e.path]
        words = tuple(dict.fromkeys(word(f.kind) for f in mine))
        yield dataclasses.replace(e, marks=words) if words else e


def state_marks(found: list[Finding]) -> dict[str, tuple[str, ...]]:
    """Registry path of a release state → the words of every finding that touched it."""
    out: dict[str, dict[str, None]] = {}
    for f in found:
        if f.path is not None:
            out.setdefault(f.path, {})[word(f.kind)] = None
    return {path: tuple(words) for path, words in out.items()}


def safe_findings(reg: Registry) -> tuple[list[Finding], str | None]:
    """Findings, or none and why verify could not run (a face shows the reason, and the rest of its view)."""
    try:
        return findings(reg), None
    except MlreleaseError as exc:
        return [], str(exc)


def mark_overview(view: Overview, found: list[Finding]) -> Overview:
    """The overview with each release state's marks (``list`` and the TUI's overview)."""
    paths = state_marks(found)
    if not paths:
        return view
    models = tuple(
        dataclasses.replace(
            m,
            environments=tuple(
                dataclasses.replace(e, marks=paths.get(layout.release_path(e.environment, m.name), ())) for e in m.environments
            ),
        )
        for m in view.models
    )
    return dataclasses.replace(view, models=models)
