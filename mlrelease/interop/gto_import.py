"""``mlrelease import gto``: a GTO-managed repository's tags into manifests and release history.

GTO keeps its registry in annotated git tags plus an ``artifacts.yaml``
(:mod:`~mlrelease.interop.gto_tags` reads them). GTO rebuilds its state from every tag on
every command; this import replays the same rules (:mod:`~mlrelease.interop.gto_replay`)
once and turns **each tag into one commit** (:mod:`~mlrelease.interop.gto_chain` writes
them), in event order, authored by the tagger at the tag's date, with the tag message as
the reason and ``Mlrelease-Source: gto <tag object id> <tag>``:

* registration → the version manifest (and model.yaml for a new model; its description
  follows artifacts.yaml);
* assignment → the environment's release state when it changes what holds the stage
  (``promote``, or ``rollback`` when that version had held it before);
* un-assignment → GTO's rule decides what holds the stage now: a ``rollback`` to it, or
  ``unassign`` when nothing is left (the release state file is removed);
* deregistration → the manifest is tagged ``deregistered`` and the version is rejected
  (``models/<model>/rejections.yaml``: never promotable, shown by ``show`` and ``list``),
  and every stage it held falls to what GTO says holds it now;
* deprecation → model.yaml is tagged ``deprecated``;
* a tag that changes nothing (a re-assignment of the holder, an un-assignment of a
  version that did not hold the stage) is still one commit, with no file changed
  (action ``assign`` / ``unassign``), so ``history`` shows every GTO event.

Running it again imports only the tags not imported yet (found by tag object id in the
trailers). Whatever a fresh import would end in, an incremental one ends in too: tags
dated before events already imported are recorded (they cannot be put back in time),
tags deleted since (``gto deprecate --delete``) stop counting, and one ``reconcile``
commit then brings every release state, deregistration and deprecation to GTO's state
now; the report lists those tags, which is all that differs from a fresh import.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlrelease.clients.mlflow_connection import safe_uri
from mlrelease.errors import ImportProblems, ManifestError, MlreleaseError, NotFound
from mlrelease.gitstore import gitwrite
from mlrelease.interop import common
from mlrelease.interop.common import Report, quoted
from mlrelease.interop.gto_chain import Commit, target, write_chain
from mlrelease.interop.gto_files import DEPRECATED, DEREGISTERED, Files, set_flag, set_rejection
from mlrelease.interop.gto_replay import Replay
from mlrelease.interop.gto_tags import PREFIX, REASON_LIMIT, SOURCE, Event, parse_tag, read_events
from mlrelease.registry import conventions as conv
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.gitio import CatFile, git, git_toplevel
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import format_message
from mlrelease.textsafe import visible


@dataclass(frozen=True)
class GtoOptions:
    models: tuple[str, ...] = ()  # GTO artifact names; empty: all
    stage_map: Mapping[str, str] = field(default_factory=dict)  # stage → environment
    renames: Mapping[str, str] = field(default_factory=dict)  # artifact → model name
    owner: str | None = None
    push: bool = False  # push the chain to the config's remote (default origin)


def import_gto(registry_root: Path, repo: Path, opts: GtoOptions) -> Report:
    started = time.monotonic()
    top = git_toplevel(repo) if repo.is_dir() else None
    if top is None:
        raise MlreleaseError(f"{repo}: not a git repository (import gto reads a GTO repository's tags)")
    events, ignored = read_events(top)
    report = Report(source=f"gto {_repo_url(top)}")
    if opts.models:
        known = sorted({e.artifact for e in events})
        missing = [m for m in opts.models if m not in known]
        if missing:
            raise NotFound(f"{top}: no GTO artifact {quoted(missing[0])} (artifacts: {', '.join(known[:10]) or 'none'})")
        events = [e for e in events if e.artifact in opts.models]
    if not events:
        report.warnings.append(f"{top}: no GTO tags found ({ignored} other tags)")
    t = target(registry_root, opts.push)
    plan = _Planner(top, report, opts)
    try:
        made, note = write_chain(t, lambda reg, done: plan.commits(reg, events, done, gitwrite.identity(t.git_root)))
    finally:
        plan.close()
    report.pushed = bool(made) and t.remote is not None
    if note:
        report.warnings.append(note)
    report.commits = made
    report.events = len(made)
    report.seconds = time.monotonic() - started
    return report


def _repo_url(top: Path) -> str:
    """Where the GTO repository lives, fit to record: its origin (without credentials), else its path."""
    proc = git(top, "remote", "get-url", "origin", check=False)
    url = proc.stdout.decode("utf-8", "replace").strip() if proc.returncode == 0 else ""
    return safe_uri(url) if url else top.resolve().as_uri()


@dataclass
class _Names:
    models: dict[str, str]  # artifact → model
    stages: dict[str, str]  # stage → environment
    versions: dict[tuple[str, str], str]  # (artifact, GTO version) → version


@dataclass
class _Step:
    """What one event does to the registry: files, and the words of its commit."""

    changes: dict[str, bytes | None] = field(default_factory=dict)
    subject: str = ""
    fields: dict[str, object] = field(default_factory=dict)


class _Planner:
    """Replays every event (GTO's state rules) and turns the new ones into commits."""

    def __init__(self, repo: Path, report: Report, opts: GtoOptions) -> None:
        self.repo = repo
        self.report = report
        self.opts = opts
        self.url = _repo_url(repo)
        self._cat = CatFile(repo)
        self._index: dict[str, Any] = {}  # commit → artifacts.yaml (parsed), read once
        self._warnings = list(report.warnings)

    def close(self) -> None:
        self._cat.close()

    # -- names ------------------------------------------------------------------------------

    def _names(self, reg: Registry, events: list[Event]) -> _Names:
        """artifact → model, stage → environment, (artifact, GTO version) → version; or every problem at once."""
        config = reg.config
        problems: list[str] = []
        models: dict[str, str] = {}
        for artifact in dict.fromkeys(e.artifact for e in events):
            models[artifact] = common.model_name(artifact, self.opts.renames, config, problems, hint="--rename")
        stages = {e.stage: self.opts.stage_map.get(e.stage, e.stage) for e in events if e.stage}
        unknown = sorted(s for s, env in stages.items() if config.environment(env) is None)
        if unknown:
            problems.append(
                f"GTO stages with no environment in mlrelease.yaml: {', '.join(unknown)} "
                f"(environments: {', '.join(config.environment_names)}); map them with --stage-map STAGE=ENV"
            )
        versions: dict[tuple[str, str], str] = {}
        for e in events:
            if e.version and (e.artifact, e.version) not in versions:
                version = e.version[1:]
                reason = conv.version_problem(version, config.conventions)
                if reason:
                    problems.append(f"{quoted(e.tag)}: {reason}")
                versions[(e.artifact, e.version)] = version
        if problems:
            raise ImportProblems(f"import from {self.report.source}", problems)
        return _Names(models, stages, versions)

    # -- the replay -------------------------------------------------------------------------

    def commits(self, reg: Registry, events: list[Event], done: Mapping[str, str], who: gitwrite.Identity) -> list[Commit]:
        """The commits for every event not in ``done`` (tag object id → tag), then the reconcile, if needed."""
        r = self.report
        r.models, r.versions, r.releases, r.skipped, r.warnings, r.unchanged = [], [], [], [], list(self._warnings), 0
        names = self._names(reg, events)
        events = _after_the_record(events, done)
        replay = Replay(events)
        files = Files(reg)
        problems: list[str] = []
        out: list[Commit] = []
        last_done = max((i for i, e in enumerate(events) if e.oid in done), default=-1)
        late: list[str] = []
        for i, e in enumerate(events):
            gto_version = e.version if e.stage is None else replay.version_of(e)
            was_held = gto_version is not None and e.stage is not None and replay.held_before(e.artifact, e.stage, gto_version)
            before = replay.holders(e.artifact)
            replay.apply(i, e)
            if e.oid in done:
                r.unchanged += 1
                continue
            if e.stage is not None and gto_version is None:
                r.skipped.append(f"{e.tag}: no version of {e.artifact} is registered at commit {e.commit[:10]}")
                continue
            if i < last_done:
                late.append(e.tag)
            step = self._step(files, e, names, gto_version, was_held, before, replay, i < last_done, problems)
            if step is not None:
                fields = {**step.fields, "actor": e.tagger, "reason": _reason(e), "source": e.source}
                message = format_message(f"{step.subject} (GTO {e.tag})", fields)
                out.append(Commit(step.changes, message, e.tagger_name, e.tagger_email, e.at))
        deleted = {oid: tag for oid, tag in done.items() if oid not in {e.oid for e in events}}
        fix = self._reconcile(files, events, names, replay, deleted, late, who, problems)
        if problems:
            raise ImportProblems(f"import from {r.source}", problems)
        if deleted:
            r.warnings.append(
                "GTO tags deleted since they were imported (their events stay in history; the state now follows GTO): "
                + ", ".join(sorted(deleted.values()))
            )
        if late:
            r.warnings.append(
                "GTO tags dated before events already imported, recorded now (history lists them out of date order): " + ", ".join(late)
            )
        return out + ([fix] if fix is not None else [])

    def _step(
        self,
        files: Files,
        e: Event,
        names: _Names,
        gto_version: str | None,
        was_held: bool,
        before: Mapping[str, str | None],
        replay: Replay,
        late: bool,
        problems: list[str],
    ) -> _Step | None:
        model = names.models[e.artifact]
        version = names.versions[(e.artifact, gto_version)] if gto_version else None
        step = _Step(fields={"action": e.kind, "model": model, "version": version})
        if e.kind == "register" and version:
            step.subject = f"Register {model} {version}"
            self._register(files, e, model, version, step, problems)
        elif e.kind == "deregister" and version:
            step.subject = f"Deregister {model} {version}"
            self._note(set_flag(files, step.changes, layout.version_path(model, version), DEREGISTERED, on=True))
            set_rejection(files, step.changes, model, version, on=True, by=e.tagger, at=e.at, why=e.message)
        elif e.kind == "deprecate":
            step.subject = f"Deprecate {model}"
            step.fields["version"] = None
            self._note(set_flag(files, step.changes, layout.model_path(model), DEPRECATED, on=True))
        moved = [] if late else self._stages(files, e, names, before, replay, step, problems)
        if e.stage is not None:
            env = names.stages[e.stage]
            step.fields["environment"] = env
            ours = [m for m in moved if m[0] == env]
            if not ours:
                held = replay.holder(e.artifact, e.stage)
                now = names.versions[(e.artifact, held)] if held else "nothing"
                verb = "Assign" if e.kind == "assign" else "Unassign"
                why = "dated before events already imported, applied by the reconcile below" if late else f"no change, {now} holds it"
                step.subject = f"{verb} {model} {version} {'to' if e.kind == 'assign' else 'from'} {env}: {why}"
            else:
                _env, previous, holder = ours[0]
                step.fields.update(previous=previous, version=holder, phase="Succeeded", backend=SOURCE, backend_ref=e.tag)
                step.fields["promotion_id"] = PREFIX + e.oid[:12] if holder else None
                if holder is None:
                    step.fields["action"] = "unassign"
                    step.subject = f"Unassign {model} from {env}"
                elif e.kind == "assign" and not was_held:
                    step.fields["action"] = "promote"
                    step.subject = f"Promote {model} {holder} to {env}"
                else:
                    step.fields["action"] = "rollback"
                    step.subject = f"Roll back {model} in {env} to {holder}"
        elif len(moved) == 1:
            step.fields.update(environment=moved[0][0], previous=moved[0][1])
        return step

    def _stages(
        self, files: Files, e: Event, names: _Names, before: Mapping[str, str | None], replay: Replay, step: _Step, problems: list[str]
    ) -> list[tuple[str, str | None, str | None]]:
        """Write each stage whose holder this event changed: [(environment, previous, now)]."""
        model = names.models[e.artifact]
        out: list[tuple[str, str | None, str | None]] = []
        for stage, held in replay.holders(e.artifact).items():
            if before.get(stage) == held:
                continue
            version = names.versions[(e.artifact, held)] if held else None
            moved = self._put_state(files, model, names.stages[stage], version, e, step, problems)
            if moved is not None:
                out.append((names.stages[stage], moved, version))
        return out

    def _put_state(
        self, files: Files, model: str, env: str, version: str | None, e: Event | None, step: _Step, problems: list[str]
    ) -> str | None:
        """Make the release state say ``version`` (put there by tag ``e``) is live, or nothing is (None).

        Returns the previous live version ("" for none), or None when nothing changed.
        """
        path = layout.release_path(env, model)
        old = files.release(path)
        current = old.live.version if old is not None and old.live is not None else None
        if current == version:
            return None
        reason = common.ownership_problem(old, PREFIX, path, "GTO")
        if reason:
            problems.append(f"{reason}; GTO tag {quoted(e.tag)} would change it" if e else f"{reason}; GTO's tags now say nothing is there")
            return None
        if version is None or e is None:
            data = None
        else:
            state = common.imported_state(
                old,
                model=model,
                environment=env,
                version=version,
                promotion_id=PREFIX + e.oid[:12],
                action="promote" if e.kind == "assign" else "rollback",
                actor=e.tagger,
                at=e.at,
                reason=one_line(e.message)[:REASON_LIMIT],
                backend=SOURCE,
                backend_ref=e.tag,
            )
            data = common.checked_release(state, path)
        files.update({path: data})
        step.changes[path] = data
        self.report.releases.append(f"{env}/{model}")
        return current or ""

    # -- one event each ---------------------------------------------------------------------

    def _register(self, files: Files, e: Event, model: str, version: str, step: _Step, problems: list[str]) -> None:
        path = layout.version_path(model, version)
        entry = self._entry(e)
        mark = f"gto:{e.artifact}@{e.version}"
        if files.exists(path):
            existing = files.load(path) or {}
            if mark not in (existing.get("tags") or []):
                problems.append(f"{path} exists and was not imported from GTO tag {quoted(e.tag)}; released manifests are not overwritten")
                return
            # Registered again after a deregistration (or after its tags were deleted and made anew).
            self._note(set_flag(files, step.changes, path, DEREGISTERED, on=False))
            set_rejection(files, step.changes, model, version, on=False)
            return
        model_path = layout.model_path(model)
        description = entry.get("description") if isinstance(entry.get("description"), str) else None
        if not files.exists(model_path):
            custom = entry.get("custom")
            owner = custom.get("owner") if isinstance(custom, dict) and isinstance(custom.get("owner"), str) else None
            doc: dict[str, Any] = {"name": model, "owner": owner or self.opts.owner or "unknown"}
            if description:
                doc["description"] = description
            step.changes[model_path] = common.dump_model(doc, model_path)
            self.report.models.append(model)
        elif description:
            current = files.load(model_path) or {}
            if current.get("description") != description:  # the artifact's description as of this version
                step.changes[model_path] = common.dump_model({**current, "description": description}, model_path)
        manifest = self._manifest(files.reg, e, model, version, entry)
        step.changes[path], warnings = common.checked_version(manifest, path, files.reg.config)
        self.report.warnings += warnings
        self.report.versions.append(f"{model}@{version}")
        files.update(step.changes)

    def _manifest(self, reg: Registry, e: Event, model: str, version: str, entry: Mapping[str, Any]) -> dict[str, Any]:
        path = entry.get("path") if isinstance(entry.get("path"), str) else None
        template = reg.config.conventions.artifact_uri
        if path and "://" in path:
            uri = path
        elif template:
            uri = conv.expand(template, model, version)
        else:
            uri = f"git+{self.url}@{e.commit}" + (f"#{path}" if path else "")
        doc: dict[str, Any] = {"model": model, "version": version, "created": format_timestamp(e.at), "author": e.tagger}
        description = entry.get("description") if isinstance(entry.get("description"), str) else None
        if description or e.message:
            doc["description"] = description or e.message[:REASON_LIMIT]
        doc["artifact"] = {"uri": uri}
        doc["code"] = {"repo": self.url, "commit": e.commit}
        labels = entry.get("labels")
        tags = [f"gto:{e.artifact}@{e.version}"]
        if isinstance(entry.get("type"), str):
            tags.append(f"gto-type:{entry['type']}")
        if isinstance(labels, list):
            tags += [str(label) for label in labels if isinstance(label, str | int | float) and not isinstance(label, bool)]
        doc["tags"] = tags
        return doc

    def _entry(self, e: Event) -> dict[str, Any]:
        """The artifact's entry in artifacts.yaml at the registered commit ({} when there is none)."""
        if e.commit not in self._index:
            label = f"{e.commit[:10]}:artifacts.yaml"
            try:
                data = self._cat.read(f"{e.commit}:artifacts.yaml")
            except MlreleaseError:
                data = None  # no artifacts.yaml at that commit: GTO allows it
            try:
                parsed = yamlsafe.load(data, label) if data is not None else {}
            except ManifestError as exc:
                self.report.warnings.append(f"{exc}; descriptions and paths from it were not imported")
                parsed = {}
            self._index[e.commit] = parsed if isinstance(parsed, dict) else {}
        entry = self._index[e.commit].get(e.artifact.split(":")[-1])
        return dict(entry) if isinstance(entry, dict) else {}

    def _note(self, problem: str | None) -> None:
        if problem:
            self.report.skipped.append(problem)

    # -- the reconcile ----------------------------------------------------------------------

    def _reconcile(
        self,
        files: Files,
        events: list[Event],
        names: _Names,
        replay: Replay,
        deleted: Mapping[str, str],
        late: list[str],
        who: gitwrite.Identity,
        problems: list[str],
    ) -> Commit | None:
        """One commit that brings the registry to GTO's state now, when late or deleted tags left it elsewhere."""
        if not deleted and not late:
            return None
        keys: dict[tuple[str, str], tuple[str, str]] = {}  # (artifact, stage) → (model, environment)
        flags: dict[tuple[str, str], str] = {}  # (artifact, GTO version) → model
        for artifact, model in names.models.items():
            keys.update({(artifact, s): (model, names.stages[s]) for s in replay.stages(artifact)})
        for e in events:
            if e.version:
                flags[(e.artifact, e.version)] = names.models[e.artifact]
        for tag in deleted.values():
            parsed = parse_tag(tag) or {}
            artifact = parsed.get("artifact", "")
            model = names.models.get(artifact) or self.opts.renames.get(artifact, artifact)
            if parsed.get("stage"):
                keys.setdefault((artifact, parsed["stage"]), (model, self.opts.stage_map.get(parsed["stage"], parsed["stage"])))
            if parsed.get("version"):
                flags.setdefault((artifact, parsed["version"]), model)
        step = _Step()
        for (artifact, stage), (model, env) in sorted(keys.items()):
            held = replay.holder(artifact, stage)
            at = replay.holder_event(artifact, stage)
            source = events[at] if at is not None else None
            version = names.versions.get((artifact, held)) if held else None
            self._put_state(files, model, env, version, source, step, problems)
        for (artifact, gto_version), model in sorted(flags.items()):
            path = layout.version_path(model, gto_version[1:])
            doc = files.load(path) if files.exists(path) else None
            if doc is None or f"gto:{artifact}@{gto_version}" not in (doc.get("tags") or []):
                continue
            gone = not replay.active(artifact, gto_version)
            self._note(set_flag(files, step.changes, path, DEREGISTERED, on=gone))
            why = "its GTO tags were deleted" if (artifact, gto_version) not in replay.registered else ""
            set_rejection(files, step.changes, model, gto_version[1:], on=gone, by=str(who), why=why)
        for artifact, model in sorted(set(names.models.items())):
            if files.exists(layout.model_path(model)):
                self._note(set_flag(files, step.changes, layout.model_path(model), DEPRECATED, on=artifact in replay.deprecated))
        if not step.changes:
            return None
        what = [f"deleted: {', '.join(sorted(deleted.values()))}" if deleted else "", f"dated late: {', '.join(late)}" if late else ""]
        reason = "GTO's state now, after tags " + "; ".join(w for w in what if w)
        fields = {"action": "reconcile", "actor": str(who), "reason": reason[:REASON_LIMIT], "source": self.report.source}
        message = format_message("Reconcile with GTO's tags as they are now", fields)
        return Commit(step.changes, message, who.name, who.email, datetime.now(UTC).replace(microsecond=0))


def _after_the_record(events: list[Event], done: Mapping[str, str]) -> list[Event]:
    """Event order with every new tag no older than the newest imported one moved after the imported ones.

    Tags are dated to the second, and a same-second tie is broken by kind (an assignment sorts
    before a deregistration). Within one import that is the best guess; across two it is wrong
    for a tag made in the second of the newest imported event: it came after everything on the
    record, so it is the next event, not a late one.
    """
    newest = max((e.at for e in events if e.oid in done), default=None)
    if newest is None:
        return events
    after = [e for e in events if e.oid not in done and e.at >= newest]
    return [e for e in events if e.oid in done or e.at < newest] + after


def _reason(e: Event) -> str | None:
    """The tag message as a one-line reason: its lines joined with " / " (never a literal ``\\x0a``)."""
    return visible(one_line(e.message), single_line=True)[:200] if e.message else None


def one_line(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())
