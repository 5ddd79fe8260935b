"""GTO 1.10's state rules, replayed one event at a time: what holds each stage after each tag.

Read from GTO's own code (``gto/base.py``, ``gto/tag.py``), and checked against ``gto show
--json`` by the tests:

* a version is **active** when its newest registration/deregistration is a registration;
  a deregistered version holds no stage, whatever its assignments say;
* an assignment names a commit; its version is the one registered at that commit, by a
  registration of any date (GTO indexes every registration before any assignment), so an
  assignment dated before its version's registration still counts;
* per (version, stage) the newest of assign/un-assign decides whether it is assigned;
* the stage is held by the active, assigned version whose newest assignment is the
  most recent ("--sort timestamp", GTO's default). Assigning prod to v2 does not take
  it from v1: v1 simply is no longer the newest, and gets it back if v2 is un-assigned
  or deregistered;
* deprecating the artifact hides it in ``gto show`` without changing its stages.

An assignment whose commit has no registered version makes GTO invent a version named
by the commit; such versions cannot become manifests here, so :meth:`Replay.version_of`
says None and the caller reports the tag as skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlrelease.interop.gto_tags import Event


class Replay:
    """GTO's state after the events applied so far (in event order)."""

    def __init__(self, events: Iterable[Event]) -> None:
        self._at_commit: dict[tuple[str, str], str] = {}  # (artifact, commit) → the version registered there
        for e in events:
            if e.kind == "register" and e.version:
                self._at_commit[(e.artifact, e.commit)] = e.version  # the latest registration wins, as GTO's newest
        self._direct: dict[tuple[str, str], str] = {}  # (artifact, version) → register | deregister
        self._stages: dict[tuple[str, str], dict[str, tuple[int, bool]]] = {}  # (artifact, stage) → version → (newest assign, assigned)
        self._held: dict[tuple[str, str], set[str]] = {}  # versions that ever held the stage
        self.deprecated: set[str] = set()
        self.registered: set[tuple[str, str]] = set()  # (artifact, version) ever registered so far

    def version_of(self, e: Event) -> str | None:
        """The GTO version an assignment or un-assignment is about, or None (no version at its commit)."""
        return self._at_commit.get((e.artifact, e.commit))

    def apply(self, index: int, e: Event) -> None:
        if e.kind in ("register", "deregister") and e.version:
            self._direct[(e.artifact, e.version)] = e.kind
            if e.kind == "register":
                self.registered.add((e.artifact, e.version))
        elif e.kind == "deprecate":
            self.deprecated.add(e.artifact)
        elif e.stage is not None:
            version = self.version_of(e)
            if version is None:
                return
            table = self._stages.setdefault((e.artifact, e.stage), {})
            newest, _on = table.get(version, (-1, False))
            table[version] = (index, True) if e.kind == "assign" else (newest, False)
        for stage in self.stages(e.artifact):
            holder = self.holder(e.artifact, stage)
            if holder is not None:
                self._held.setdefault((e.artifact, stage), set()).add(holder)

    def active(self, artifact: str, version: str) -> bool:
        return self._direct.get((artifact, version)) == "register"

    def stages(self, artifact: str) -> list[str]:
        """The stages ever assigned for ``artifact``, in the order first seen."""
        return [s for a, s in self._stages if a == artifact]

    def holder(self, artifact: str, stage: str) -> str | None:
        """The GTO version that holds ``stage`` now, or None."""
        best = self._best(artifact, stage)
        return best[1] if best else None

    def holder_event(self, artifact: str, stage: str) -> int | None:
        """The index of the assignment that put the holder there, or None."""
        best = self._best(artifact, stage)
        return best[0] if best else None

    def _best(self, artifact: str, stage: str) -> tuple[int, str] | None:
        best: tuple[int, str] | None = None
        for version, (newest, assigned) in self._stages.get((artifact, stage), {}).items():
            if assigned and newest >= 0 and self.active(artifact, version) and (best is None or newest > best[0]):
                best = (newest, version)
        return best

    def held_before(self, artifact: str, stage: str, version: str) -> bool:
        return version in self._held.get((artifact, stage), set())

    def holders(self, artifact: str) -> dict[str, str | None]:
        return {stage: self.holder(artifact, stage) for stage in self.stages(artifact)}
