"""GTO's tags as events: the tag grammar of GTO 1.10, read in one ``git for-each-ref`` pass.

GTO keeps a registry in annotated git tags (``name@v1.2.3`` registers a version,
``name#stage#N`` assigns a stage, ``name#stage!#N`` un-assigns it, ``name@v1.2.3!``
deregisters a version, ``name@deprecated`` deprecates the artifact). Name, tag object,
commit, tagger, date and message of every tag come from one ``git for-each-ref`` call;
lightweight tags and tags outside the grammar are counted and left out, as GTO does.

Event order is the tagger time, then registration before assignment, then GTO's
per-artifact counter — so two assignments in the same second keep their real order
(GTO itself would compare only the seconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mlrelease.registry.gitio import git, git_text

# GTO 1.10's tag grammar (gto/constants.py), read-only: artifact names may carry a
# monorepo folder written ``dir=name`` in the tag (``dir:name`` in GTO's own output).
_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
TAG = re.compile(
    rf"(?P<artifact>(?:[a-zA-Z0-9\-_./]+=)?{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)|@(?P<deprecated>deprecated)|@(?P<created>created))"
    r"(?:#(?P<counter>[0-9]+))?"
)
RANK = {"register": 0, "assign": 1, "unassign": 1, "deregister": 2, "deprecate": 3}
PREFIX = "gto-"  # promotion ids of imported assignments
SOURCE = "gto"  # first word of Mlrelease-Source on every commit this import makes
REASON_LIMIT = 1000
_OID = re.compile(r"^gto ([0-9a-f]{40}) (\S+)")


@dataclass(frozen=True)
class Event:
    """One annotated GTO tag, parsed."""

    tag: str
    oid: str  # the tag object: unique and the same in every clone
    commit: str
    tagger: str  # "Name <email>"
    tagger_name: str
    tagger_email: str
    at: datetime
    message: str
    kind: str  # register | deregister | assign | unassign | deprecate
    artifact: str  # as GTO shows it (dir:name for a monorepo artifact)
    version: str | None = None  # GTO's version, v1.2.3
    stage: str | None = None
    counter: int | None = None

    @property
    def order(self) -> tuple[object, ...]:
        return (self.at, RANK[self.kind], -1 if self.counter is None else self.counter, self.tag)

    @property
    def source(self) -> str:
        return f"{SOURCE} {self.oid} {self.tag}"


def parse_tag(name: str) -> dict[str, Any] | None:
    """GTO's reading of a tag name, or None for a tag that is not GTO's."""
    m = TAG.fullmatch(name)
    if m is None or m["created"]:
        return None
    artifact = m["artifact"].replace("=", ":")
    counter = int(m["counter"]) if m["counter"] else None
    if m["deprecated"]:
        return {"kind": "deprecate", "artifact": artifact, "counter": counter}
    if m["stage"]:
        return {"kind": "unassign" if m["cancel"] else "assign", "artifact": artifact, "stage": m["stage"], "counter": counter}
    return {"kind": "deregister" if m["cancel"] else "register", "artifact": artifact, "version": m["version"], "counter": counter}


def read_events(repo: Path) -> tuple[list[Event], int]:
    """Every GTO event of ``repo`` in event order, and how many tags were not GTO's (or lightweight)."""
    fields = (
        "refname",
        "objecttype",
        "objectname",
        "*objectname",
        "*objecttype",
        "taggername",
        "taggeremail",
        "taggerdate:iso-strict",
        "contents",
    )
    fmt = "%00".join(f"%({f})" for f in fields) + "%00%00"
    out = git(repo, "for-each-ref", f"--format={fmt}", "refs/tags").stdout.decode("utf-8", "replace")
    events: list[Event] = []
    ignored = 0
    for record in out.split("\0\0\n"):
        parts = record.split("\0")
        if len(parts) != len(fields):
            continue
        ref, kind, oid, commit, target_kind, name, email, date, message = parts
        parsed = parse_tag(ref.removeprefix("refs/tags/"))
        when = _date(date)
        if parsed is None or kind != "tag" or target_kind != "commit" or when is None:
            ignored += 1  # not GTO's, lightweight (GTO ignores those too), or not on a commit
            continue
        email = email.strip().strip("<>")
        events.append(
            Event(
                tag=ref.removeprefix("refs/tags/"),
                oid=oid,
                commit=commit,
                tagger=f"{name} <{email}>" if email else name or "unknown",
                tagger_name=name or "unknown",
                tagger_email=email or "unknown@unknown.invalid",
                at=when,
                message=message.strip(),
                **parsed,
            )
        )
    events.sort(key=lambda e: e.order)
    return events, ignored


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def imported_tags(git_root: Path, ref: str) -> dict[str, str]:
    """Tags already imported, tag object id → tag name: read from ``Mlrelease-Source`` trailers on ``ref``."""
    out = git_text(
        git_root, "log", "--format=%(trailers:key=Mlrelease-Source,valueonly)", "--fixed-strings", "--grep=Mlrelease-Source: gto ", ref
    )
    return {m.group(1): m.group(2) for line in out.splitlines() if (m := _OID.match(line.strip()))}
