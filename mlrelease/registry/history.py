"""Release events read from the git history of the registry: releases, versions, rejections, retrain.

The audit trail is git itself. Commits made by mlrelease carry trailers
(:mod:`mlrelease.registry.trailers`) and are read from those alone. Anything else that
touched a release state, rejections or retrain requests — a hand edit, a merge of
someone's branch — still shows: its before and after blobs are parsed and the event is
derived from what changed (desired and live versions of a release state, new
rejections, new or changed retrain requests). A version manifest or model.yaml changed
by hand is not an event; registrations, deregistrations and deprecations made by
mlrelease (``register``, ``import gto``, ``import mlflow``) are.

One commit can hold several events: a commit that touches the files of several models
or environments without naming one in its trailers (an import, a reconcile) gives one
event per file, each with the model and environment its path names, and a release
state's from → to read from the file itself when the trailers do not say it. So every
filter (``MODEL``, ``--env ENV``, both) sees the same events. A commit that touches no
file but carries ``Mlrelease-Action`` (an imported GTO tag that changed nothing, kept so
the team's whole past shows) is one event from its trailers.

Speed: commits come from the indexed history (:mod:`.commitlog`): each commit is read
from git once (``git log --raw``, so each changed file comes with its old and new blob
ids) and kept by commit id under ``.git/mlrelease/``; later runs read only the commits
made since, and a filter (``MODEL``, ``--env``) reads only the commits that touched its
files. Only commits without trailers (and imports, for their from → to) cost blob reads,
through one ``git cat-file --batch`` pipe. With a limit, reading stops once enough
events are found.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from mlrelease.errors import ManifestError, MlreleaseError
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.commitlog import CommitLog
from mlrelease.registry.gitio import cat_file
from mlrelease.registry.loader import Registry
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.overview import require_environment
from mlrelease.registry.parse import parse_rejections, parse_release, parse_retrain_requests
from mlrelease.registry.trailers import parse_trailers
from mlrelease.registry.types import ReleaseState

EDIT = "edit"  # the action of a change made without mlrelease (no Mlrelease-Action trailer)


@dataclass(frozen=True)
class Event:
    commit: str
    at: datetime  # the commit's author date
    author: str  # the commit's author, "Name <email>"
    action: str  # promote | rollback | outcome | approve | reject | retrain | unpin | reconcile | import | ... | edit
    subject: str  # first line of the commit message
    structured: bool  # True: read from trailers; False: derived from the diff of ``path``
    actor: str | None = None  # Mlrelease-Actor: who acted, when a service committed for them
    model: str | None = None
    environment: str | None = None
    previous: str | None = None  # from ...
    version: str | None = None  # ... to
    canary_weight: str | None = None
    reason: str | None = None
    promotion_id: str | None = None
    phase: str | None = None
    backend: str | None = None
    backend_ref: str | None = None
    forced: str | None = None  # gates overridden with --force
    break_glass: str | None = None  # the break-glass approver, for an approval or a promotion that used one
    source: str | None = None  # import: where the history came from
    path: str | None = None  # registry file the event was derived from
    note: str | None = None  # what a hand edit changed, in words
    marks: tuple[str, ...] = ()  # what `mlrelease verify` says of this event's commit (mlrelease.audit.marks)
    accepted: tuple[str, ...] = ()  # findings of this event's commit a second person accepted (review --finding)
    bundle: str | None = None  # Mlrelease-Bundle: the release bundle this event is part of
    bundle_fate: str | None = None  # Mlrelease-Bundle-Fate: "not attempted" | "undo"
    members: tuple[Event, ...] = ()  # a bundle shown as one event (mlrelease.registry.bundles): its members' events

    @property
    def who(self) -> str:
        return self.actor or self.author


@dataclass(frozen=True)
class _Commit:
    oid: str
    at: datetime
    author: str
    message: str
    changes: tuple[tuple[str, str, str], ...]  # (registry path, old blob, new blob) of the files we read
    touched: bool = True  # False: the commit changed no file at all


def history(reg: Registry, model: str | None = None, env: str | None = None, limit: int | None = None) -> list[Event]:
    """Events newest first, for one model and/or environment if given, at most ``limit``."""
    return list(iter_history(reg, model, env, limit))


def iter_history(reg: Registry, model: str | None = None, env: str | None = None, limit: int | None = None) -> Iterator[Event]:
    """:func:`history` one event at a time, so a face can write 100,000 events without holding them.

    Bad arguments raise here, before the first event is asked for.
    """
    if reg.git_root is None:
        raise MlreleaseError(f"history is read from git, and {reg.root} is not in a git repository")
    if model is not None and (unsafe_reason(model) is not None or not reg.source.exists(layout.model_path(model))):
        reg.model(model)  # raises NotFound (or names the unsafe character)
    if env is not None:
        require_environment(reg, env)
    if limit is not None and limit < 1:
        raise MlreleaseError("--limit must be at least 1")
    # A --ref was resolved when the registry was opened, and the commit log resolves the tip
    # itself (none: a repository without commits, no events): nothing to ask git here.
    return _events(reg, model, env, limit)


def _events(reg: Registry, model: str | None, env: str | None, limit: int | None) -> Iterator[Event]:
    reader = _Reader(reg)
    try:
        found = 0
        for commit in _commits(reg, model, env):
            for event in reader.events(_only(commit, model, env)):
                if (model is None or event.model == model) and (env is None or event.environment == env):
                    yield event
                    found += 1
                    if limit is not None and found >= limit:
                        return
    finally:
        reader.close()


def _only(c: _Commit, model: str | None, env: str | None) -> _Commit:
    """The commit with only the changes a filter asks for (as a git pathspec would have limited them)."""
    if model is None and env is None:
        return c
    kept = []
    for change in c.changes:
        _kind, path_model, path_env = _classify(change[0])
        if (model is None or path_model == model) and (env is None or path_env == env):
            kept.append(change)
    return replace(c, changes=tuple(kept), touched=c.touched)


def _commits(reg: Registry, model: str | None, env: str | None) -> Iterator[_Commit]:
    """Every commit that touched a registry file we read, or touched nothing and carries trailers.

    From the indexed history (:mod:`.commitlog`: each commit read from git once), newest
    first. With a filter only the commits that changed a file of that model or environment
    (or touched nothing) are read at all; :func:`_only` then limits their changes.
    """
    with CommitLog(reg) as log:
        for r in log.commits(model=model, environment=env, kinds=_EVENT_KINDS if model or env else None, untouched=True):
            changes = tuple(ch for ch in r.changes if _classify(ch[0])[0] is not None)
            if changes or (not r.touched and _ACTION in r.message):
                yield _Commit(r.oid, r.at, r.author, r.message, changes, r.touched)


_ACTION = "Mlrelease-Action:"


class _Reader:
    """Turns commits into events; reads blobs only for commits without trailers."""

    def __init__(self, reg: Registry) -> None:
        assert reg.git_root is not None
        self._cat = cat_file(reg.git_root)  # the process's one pipe (a --ref registry reads through it too)
        self._parsed: dict[tuple[str, str], tuple[Any, str | None]] = {}  # a file's "after" is the next edit's "before"

    def close(self) -> None:
        self._parsed.clear()

    def events(self, c: _Commit) -> list[Event]:
        trailers = parse_trailers(c.message)
        subject = c.message.split("\n", 1)[0].strip()
        base = Event(commit=c.oid, at=c.at, author=c.author, action=EDIT, subject=subject, structured=False)
        if "action" in trailers:
            return self._structured_events(base, trailers, c)
        # A hand edit that names a bundle is shown inside that bundle's row (registry.bundles),
        # where its marks are, and never counts as a member's outcome.
        base = replace(base, reason=trailers.get("reason"), bundle=trailers.get("bundle"))
        out: list[Event] = []
        for path, old, new in c.changes:
            out.extend(self._derived(replace(base, path=path), path, old, new))
        return out

    def _structured_events(self, base: Event, t: dict[str, str], c: _Commit) -> list[Event]:
        """One event, or one per release file (plus the model's own) when the commit spans several."""
        if not c.changes:
            return [self._structured(base, t, None)] if not c.touched else []  # else: outside the filter
        kinds = [(change, *_classify(change[0])) for change in c.changes]
        models = {m for _c, _k, m, _e in kinds}
        envs = {e for _c, _k, _m, e in kinds if e is not None}
        if len(c.changes) == 1:
            return [self._structured(base, t, c.changes[0])]
        if t["action"] != "import" and len(models) == 1 and (len(envs) <= 1 or "environment" in t):
            one = {**t, "model": t.get("model") or next(iter(models)) or "", "environment": t.get("environment") or next(iter(envs), "")}
            return [self._structured(base, one, None)]
        own = {k: v for k, v in t.items() if k not in ("model", "environment", "previous", "version")}
        out = [self._structured(base, own, ch, derive=True) for ch, k, _m, _e in kinds if k == "release"]
        for m in sorted(models, key=str):
            rest = [ch for ch, k, mm, _e in kinds if mm == m and k != "release"]
            versions = [ch for ch in rest if _classify(ch[0])[0] == "version"]
            if t["action"] == "import":
                out += [self._structured(base, own, ch) for ch in versions]  # each imported version is a registration
            elif rest:
                single = {**t, "model": m or "", "environment": ""} if len(models) > 1 else {**t, "environment": ""}
                out.append(self._structured(base, single, rest[0] if len(rest) == 1 else None))
        return out

    def _structured(self, base: Event, t: dict[str, str], change: tuple[str, str, str] | None, *, derive: bool = False) -> Event:
        model, env = t.get("model") or None, t.get("environment") or None
        previous, version = t.get("previous"), t.get("version")
        path = None
        if change is not None:  # fill what the trailers left out from the file touched
            path = change[0]
            kind, path_model, path_env = _classify(path)
            model = model or path_model
            env = env or path_env
            if kind == "version" and version is None:
                loc = layout.locate(path)
                version = loc.version if isinstance(loc, layout.Located) else None
            if kind == "release" and version is None and (derive or t["action"] == "import"):  # from → to, from the file
                before, _ = self._load(change[1], path, parse_release)
                after, _ = self._load(change[2], path, parse_release)
                previous, version = _live(before), _live(after)
        return replace(
            base,
            action=t["action"],
            path=path,
            structured=True,
            actor=t.get("actor"),
            model=model,
            environment=env,
            previous=previous,
            version=version,
            canary_weight=t.get("canary_weight"),
            reason=t.get("reason"),
            promotion_id=t.get("promotion_id"),
            phase=t.get("phase"),
            backend=t.get("backend"),
            backend_ref=t.get("backend_ref"),
            forced=t.get("forced"),
            break_glass=t.get("break_glass"),
            source=t.get("source"),
            bundle=t.get("bundle"),
            bundle_fate=t.get("bundle_fate"),
        )

    def _load(self, oid: str, path: str, parse: Any) -> tuple[Any, str | None]:
        """(parsed, None), (None, None) for no file, or (None, problem) for an unreadable one."""
        if not oid.strip("0"):  # git's null id: the file did not exist on this side
            return None, None
        key = (oid, path)
        if key not in self._parsed:
            try:
                self._parsed[key] = parse(yamlsafe.load(self._cat.read(oid), path), path), None
            except ManifestError as exc:
                self._parsed[key] = None, str(exc.problems[0])
            except MlreleaseError as exc:
                self._parsed[key] = None, str(exc)
        return self._parsed[key]

    def _derived(self, base: Event, path: str, old: str, new: str) -> list[Event]:
        kind, model, env = _classify(path)
        base = replace(base, model=model, environment=env)
        if kind == "release":
            return [self._release_edit(base, path, old, new)]
        if kind == "rejections":
            return self._rejections_edit(base, path, old, new)
        if kind == "retrain":
            return self._retrain_edit(base, path, old, new)
        return []

    def _release_edit(self, base: Event, path: str, old: str, new: str) -> Event:
        before, err_before = self._load(old, path, parse_release)
        after, err_after = self._load(new, path, parse_release)
        if err_after:
            return replace(base, note=f"unreadable after this commit: {err_after}")
        if after is None:
            return replace(base, previous=_live(before) or _desired(before), note="release state deleted")
        b_live, a_live = _live(before), _live(after)
        b_want, a_want = _desired(before), _desired(after)
        notes = ["repaired (unreadable before)"] if err_before else []
        if b_live != a_live:
            previous, version = b_live, a_live
            notes.append(f"live {b_live or 'nothing'} → {a_live or 'nothing'}")
        else:
            previous, version = b_want or b_live, a_want or a_live
            if b_want != a_want:
                notes.append(f"desired {b_want or 'nothing'} → {a_want or 'nothing'}")
        b_pid = before.desired.promotion_id if before and before.desired else None
        if after.desired is not None and b_pid != after.desired.promotion_id and b_want == a_want:
            notes.append(f"promotion id {b_pid or 'none'} → {after.desired.promotion_id}")
        b_pin = before is not None and before.pin is not None
        if b_pin != (after.pin is not None):
            notes.append("pinned" if after.pin else "unpinned")
        b_phase = before.observed.phase if before and before.observed else None
        a_phase = after.observed.phase if after.observed else None
        if b_phase != a_phase:
            notes.append(f"phase {b_phase or 'none'} → {a_phase or 'none'}")
        canary = after.live.canary if after.live and after.live.canary else after.desired.canary if after.desired else None
        desired = after.desired
        return replace(
            base,
            previous=previous,
            version=version,
            phase=a_phase,
            canary_weight=f"{canary.weight:g}" if canary else None,
            promotion_id=desired.promotion_id if desired else None,
            backend=after.observed.backend if after.observed else None,
            backend_ref=after.observed.backend_ref if after.observed else None,
            reason=base.reason or (desired.reason if desired and b_want != a_want else None),
            forced=", ".join(desired.forced) if desired and desired.forced and b_want != a_want else None,
            note="; ".join(notes) or "release state edited",
        )

    def _rejections_edit(self, base: Event, path: str, old: str, new: str) -> list[Event]:
        before, _ = self._load(old, path, parse_rejections)
        after, err = self._load(new, path, parse_rejections)
        if err:
            return [replace(base, note=f"unreadable after this commit: {err}")]
        seen, kept = set(before or ()), set(after or ())
        added = [r for r in after or () if r not in seen]
        removed = [r for r in before or () if r not in kept]  # mlrelease never removes one: a hand edit, shown as such
        return [replace(base, action="reject", actor=r.by, version=r.version, reason=r.reason, note="rejection added") for r in added] + [
            replace(base, version=r.version, reason=r.reason, note=f"rejection of {r.version} by {r.by} removed") for r in removed
        ]

    def _retrain_edit(self, base: Event, path: str, old: str, new: str) -> list[Event]:
        before, _ = self._load(old, path, parse_retrain_requests)
        after, err = self._load(new, path, parse_retrain_requests)
        if err:
            return [replace(base, note=f"unreadable after this commit: {err}")]
        known = {r.id: r for r in before or ()}
        out = []
        for r in after or ():
            was = known.get(r.id)
            if was == r:
                continue
            note = "retrain requested" if was is None else f"retrain {r.id}: phase {was.phase} → {r.phase}"
            out.append(
                replace(
                    base,
                    action="retrain",
                    actor=r.actor,
                    reason=r.reason,
                    promotion_id=r.id,
                    phase=r.phase,
                    backend=r.backend,
                    backend_ref=r.backend_ref,
                    note=note,
                )
            )
        return out


_EVENT_KINDS = ("release", "rejections", "retrain", "version", "model")  # versions and models: when mlrelease made the change


@functools.lru_cache(maxsize=8192)  # asked several times per change of every commit
def _classify(path: str) -> tuple[str | None, str | None, str | None]:
    """(kind, model, environment) of a registry path, or Nones for a path we do not read."""
    loc = layout.locate(path)
    if isinstance(loc, str) or loc.kind not in _EVENT_KINDS:
        return None, None, None
    return loc.kind, loc.model, loc.environment


def _live(state: ReleaseState | None) -> str | None:
    return state.live.version if state is not None and state.live is not None else None


def _desired(state: ReleaseState | None) -> str | None:
    return state.desired.version if state is not None and state.desired is not None else None
