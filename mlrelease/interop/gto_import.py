"""``mlrelease import gto``: a GTO-managed repository's tags into manifests and release history.

GTO keeps a registry in annotated git tags (``name@v1.2.3`` registers a version,
``name#stage#N`` assigns a stage, ``name#stage!#N`` un-assigns it, ``name@v1.2.3!``
deregisters a version, ``name@deprecated`` deprecates the artifact) plus an
``artifacts.yaml`` (type, path, description, labels, custom). GTO rebuilds its state from
every tag on every command; we read the tags once with ``git for-each-ref`` (name, tag
object, commit, tagger, date and message in one call) and artifacts.yaml only at the
commits that were registered (one ``git cat-file --batch`` pipe).

Each event becomes ONE commit, in event order, authored by the tagger at the tag's date,
with the tag message as the reason and ``Mlrelease-Source: gto <tag object id> <tag>``,
so ``mlrelease history`` shows the team's past as it happened:

* registration → the version manifest (and model.yaml for a new model);
* assignment → the environment's release state (desired, observed Succeeded with backend
  ``gto`` and the tag as reference, live), action ``promote``, or ``rollback`` when the
  version had held that stage before;
* un-assignment → GTO's rule decides what holds the stage now (the most recent active
  assignment): a ``rollback`` to it, or, when nothing is left, ``unassign`` (the release
  state file is removed);
* deregistration / deprecation → the tag ``deregistered`` on the manifest / ``deprecated``
  on model.yaml.

Event order is the tagger time, then registration before assignment, then GTO's
per-artifact counter — so two assignments in the same second keep their real order
(GTO itself would compare only the seconds). Stages map to environments with
``--stage-map STAGE=ENV`` (default: same name); a stage with no environment stops the
import and lists them all. Running the import again skips every tag already imported
(found by its tag object id in the trailers); an event that changes nothing makes no commit.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mlrelease.errors import ImportProblems, ManifestError, MlreleaseError, NotFound
from mlrelease.interop import common
from mlrelease.interop.common import Report, quoted
from mlrelease.interop.mlflow_api import safe_uri
from mlrelease.registry import conventions as conv
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.gitio import CatFile, git, git_text, git_toplevel
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import format_message
from mlrelease.release import gitwrite, transaction
from mlrelease.textsafe import visible

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
_OID = re.compile(r"^gto ([0-9a-f]{40})\b")


@dataclass(frozen=True)
class GtoOptions:
    models: tuple[str, ...] = ()  # GTO artifact names; empty: all
    stage_map: Mapping[str, str] = field(default_factory=dict)  # stage → environment
    renames: Mapping[str, str] = field(default_factory=dict)  # artifact → model name
    owner: str | None = None
    push: bool = False  # push the chain to the config's remote (default origin)


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


def imported_oids(git_root: Path, ref: str) -> set[str]:
    """Tag object ids already imported: read from ``Mlrelease-Source`` trailers on ``ref``."""
    out = git_text(
        git_root, "log", "--format=%(trailers:key=Mlrelease-Source,valueonly)", "--fixed-strings", "--grep=Mlrelease-Source: gto ", ref
    )
    return {m.group(1) for line in out.splitlines() if (m := _OID.match(line.strip()))}


# ---- the import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Commit:
    files: dict[str, bytes | None]
    message: str
    event: Event


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
    t = _target(registry_root, opts.push)
    plan = _Planner(top, report, opts)
    try:
        made, note = _write_chain(t, lambda reg, done: plan.commits(reg, events, done))
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


def _target(registry_root: Path, push: bool) -> transaction.Target:
    """Where the chain goes: the checked-out branch, and the config's remote when pushing."""
    if not push:
        return transaction.target(registry_root)
    with Registry(registry_root) as reg:
        remote = reg.config.remote
    return transaction.target(registry_root, remote=remote.name if remote else "origin", branch=remote.branch if remote else None)


def _write_chain(t: transaction.Target, build: Callable[[Registry, set[str]], list[_Commit]]) -> tuple[list[str], str | None]:
    """Commit a chain of dated, authored commits on the branch tip, then move the branch once.

    One compare-and-swap for the whole chain (like :func:`transaction.apply` for one
    commit): a writer that moved the branch meanwhile makes this fail cleanly, never
    lose either side. With a remote, the chain is built on the fetched remote tip (so
    tags already imported there are not imported again), pushed, and rebuilt on the new
    tip after a recognised rejection, bounded like every push; then the local branch is
    fast-forwarded where that loses nothing. Returns the commits and a note, if any.
    """
    with gitwrite.repo_lock(t.git_root):
        if t.remote is None:
            return _write_local(t, build), None
        remote = t.remote
        who = gitwrite.identity(t.git_root)

        def attempt() -> tuple[list[str], str | None] | None:
            tip = gitwrite.fetch(t.git_root, remote, t.branch)
            with Registry(t.registry_root, tip) as reg:
                chain = build(reg, imported_oids(t.git_root, tip))
            if not chain:
                return [], None
            made = _fast_import(t, tip, chain, who)
            result = gitwrite.push(t.git_root, remote, made[-1], t.branch)
            if result.ok:
                paths = sorted({t.git_path(p) for c in chain for p in c.files})
                return made, transaction.fast_forward_local(t, made[-1], paths)
            if not result.retryable:
                raise MlreleaseError(f"git push to {remote} was refused: {result.detail} (nothing was imported there)")
            return None

        return gitwrite.retrying(attempt)


def _write_local(t: transaction.Target, build: Callable[[Registry, set[str]], list[_Commit]]) -> list[str]:
    tip = gitwrite.rev(t.git_root, f"refs/heads/{t.branch}")
    if tip is None:
        raise MlreleaseError(f"branch {t.branch} has no commits yet in {t.git_root}; commit the registry first")
    with Registry(t.registry_root, tip) as reg:
        chain = build(reg, imported_oids(t.git_root, tip))
    if not chain:
        return []
    paths = sorted({t.git_path(p) for c in chain for p in c.files})
    if gitwrite.current_branch(t.git_root) == t.branch:
        dirty = gitwrite.dirty_paths(t.git_root, paths)
        if dirty:
            raise MlreleaseError(
                f"{dirty[0]}: has uncommitted changes in your checkout; commit or discard them first (nothing was imported)"
            )
    made = _fast_import(t, tip, chain, gitwrite.identity(t.git_root))
    gitwrite.advance_branch(t.git_root, t.branch, made[-1], tip, paths=paths)
    return made


def _fast_import(t: transaction.Target, tip: str, chain: list[_Commit], committer: gitwrite.Identity) -> list[str]:
    """Write the whole chain with one ``git fast-import`` (a commit each costs ~7 git calls otherwise).

    The commits land on a private temporary ref, are read back by mark, and the ref is
    deleted: no branch moves here. Each commit keeps the tag's own time and UTC offset.
    """
    ref = f"refs/mlrelease/import-{secrets.token_hex(6)}"
    out = bytearray()
    for n, c in enumerate(chain, start=1):
        e = c.event
        when = f"{int(e.at.timestamp())} {_offset(e.at)}"
        message = c.message.encode("utf-8")
        out += f"commit {ref}\nmark :{n}\n".encode()
        out += f"author {_ident(e.tagger_name, e.tagger_email)} {when}\n".encode()
        out += f"committer {_ident(committer.name, committer.email)} {when}\n".encode()
        out += b"data %d\n%s\n" % (len(message), message)
        if n == 1:
            out += f"from {tip}\n".encode()
        for path, data in c.files.items():
            full = t.git_path(path)
            if data is None:
                out += f"D {full}\n".encode()
            else:
                out += f"M 100644 inline {full}\ndata {len(data)}\n".encode() + data + b"\n"
    out += b"done\n"
    with tempfile.TemporaryDirectory(prefix="mlrelease-import-") as tmp:
        marks = Path(tmp) / "marks"
        try:
            git(
                t.git_root,
                "fast-import",
                "--quiet",
                "--done",
                "--date-format=raw",
                f"--export-marks={marks}",
                input=bytes(out),
                timeout=600,
            )
        finally:
            git(t.git_root, "update-ref", "-d", ref, check=False)
        by_mark = dict(line.split(" ", 1) for line in marks.read_text().split("\n") if line.startswith(":"))
    return [by_mark[f":{n}"].strip() for n in range(1, len(chain) + 1)]


def _ident(name: str, email: str) -> str:
    """``Name <email>`` for git: the characters git itself refuses in an identity are dropped."""

    def clean(text: str) -> str:
        return "".join(ch for ch in text if ch not in "<>\n\r\0").strip()

    return f"{clean(name) or 'unknown'} <{clean(email)}>"


def _offset(at: datetime) -> str:
    minutes = int((at.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


class _Planner:
    """Replays every event (GTO's state rules) and turns the new ones into commits."""

    def __init__(self, repo: Path, report: Report, opts: GtoOptions) -> None:
        self.repo = repo
        self.report = report
        self.opts = opts
        self.url = _repo_url(repo)
        self._cat = CatFile(repo)
        self._index: dict[str, Any] = {}  # commit → artifacts.yaml (parsed), read once

    def close(self) -> None:
        self._cat.close()

    # -- names ------------------------------------------------------------------------------

    def _names(self, reg: Registry, events: list[Event]) -> tuple[dict[str, str], dict[str, str], dict[tuple[str, str], str]]:
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
        return models, stages, versions

    # -- the replay -----------------------------------------------------------------------

    def commits(self, reg: Registry, events: list[Event], done: set[str]) -> list[_Commit]:
        models, stages, versions = self._names(reg, events)
        registered: dict[tuple[str, str], str] = {}  # (artifact, commit) → GTO version (the latest registered there)
        holders: dict[tuple[str, str], dict[str, tuple[int, bool]]] = {}  # (model, env) → version → (last event, active)
        after: dict[int, str | None] = {}  # event index → what holds its stage after it
        held: dict[tuple[str, str], list[tuple[int, str | None]]] = {}  # (model, env) → (event index, holder), in order
        last_done: dict[tuple[str, str], int] = {}
        for i, e in enumerate(events):
            if e.kind == "register" and e.version:
                registered[(e.artifact, e.commit)] = e.version
            if e.kind not in ("assign", "unassign") or e.stage is None:
                continue
            key = (models[e.artifact], stages[e.stage])
            gto_version = registered.get((e.artifact, e.commit))
            if gto_version is None:
                if e.oid not in done:
                    self.report.skipped.append(f"{e.tag}: no version of {e.artifact} is registered at commit {e.commit[:10]}")
                continue
            table = holders.setdefault(key, {})
            table[versions[(e.artifact, gto_version)]] = (i, e.kind == "assign")
            active = [(n, v) for v, (n, on) in table.items() if on]
            after[i] = max(active)[1] if active else None
            held.setdefault(key, []).append((i, after[i]))
            if e.oid in done:
                last_done[key] = i
        return self._new_commits(reg, events, done, models, stages, versions, after, held, last_done)

    def _new_commits(
        self,
        reg: Registry,
        events: list[Event],
        done: set[str],
        models: dict[str, str],
        stages: dict[str, str],
        versions: dict[tuple[str, str], str],
        after: dict[int, str | None],
        held: dict[tuple[str, str], list[tuple[int, str | None]]],
        last_done: dict[tuple[str, str], int],
    ) -> list[_Commit]:
        files = _Files(reg)
        problems: list[str] = []
        out: list[_Commit] = []
        ever: dict[tuple[str, str], set[str]] = {}  # versions that held a stage, as replayed so far
        for i, e in enumerate(events):
            model = models[e.artifact]
            key = (model, stages[e.stage]) if e.stage and i in after else None
            commit = None
            if e.oid in done:
                self.report.unchanged += 1
            elif e.kind == "register" and e.version:
                commit = self._register(files, e, model, versions[(e.artifact, e.version)], problems)
            elif e.kind == "deregister" and e.version:
                commit = self._mark(
                    files, e, layout.version_path(model, versions[(e.artifact, e.version)]), "deregistered", "deregister", model
                )
            elif e.kind == "deprecate":
                commit = self._mark(files, e, layout.model_path(model), "deprecated", "deprecate", model)
            elif key is not None:
                # A tag that arrives late (dated before events already imported for the same
                # model and stage) must not roll the present back: it takes effect as of now.
                j = max(i, last_done.get(key, -1))
                holder = [h for n, h in held[key] if n <= j][-1]
                commit = self._stage(files, e, key, holder, holder in ever.get(key, set()), problems)
            if key is not None and after[i] is not None:
                ever.setdefault(key, set()).add(after[i])  # type: ignore[arg-type]
            if commit is not None:
                out.append(commit)
        if problems:
            raise ImportProblems(f"import from {self.report.source}", problems)
        return out

    # -- one event each ---------------------------------------------------------------------

    def _message(self, subject: str, e: Event, **fields: object) -> str:
        reason = visible(e.message, single_line=True)[:200] if e.message else None
        return format_message(f"{subject} (GTO {e.tag})", {**fields, "actor": e.tagger, "reason": reason, "source": e.source})

    def _register(self, files: _Files, e: Event, model: str, version: str, problems: list[str]) -> _Commit | None:
        path = layout.version_path(model, version)
        if files.exists(path):
            problems.append(f"{path} exists and was not imported from GTO tag {quoted(e.tag)}; released manifests are not overwritten")
            return None
        entry = self._entry(e)
        model_path = layout.model_path(model)
        changes: dict[str, bytes | None] = {}
        if not files.exists(model_path):
            custom = entry.get("custom")
            owner = custom.get("owner") if isinstance(custom, dict) and isinstance(custom.get("owner"), str) else None
            doc: dict[str, Any] = {"name": model, "owner": owner or self.opts.owner or "unknown"}
            if isinstance(entry.get("description"), str):
                doc["description"] = entry["description"]
            changes[model_path] = common.dump_model(doc, model_path)
            self.report.models.append(model)
        manifest = self._manifest(files.reg, e, model, version, entry)
        changes[path] = common.dump_version(manifest, path)
        self.report.warnings += common.lint_warnings(manifest, path, files.reg.config)
        self.report.versions.append(f"{model}@{version}")
        files.update(changes)
        return _Commit(changes, self._message(f"Register {model} {version}", e, action="register", model=model, version=version), e)

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

    def _mark(self, files: _Files, e: Event, path: str, tag: str, action: str, model: str) -> _Commit | None:
        """Add ``tag`` to the tags of a manifest or model.yaml the import wrote (GTO's flags)."""
        doc = files.load(path)
        if doc is None:
            self.report.skipped.append(f"{e.tag}: {path} does not exist")
            return None
        tags = list(doc.get("tags") or [])
        if tag in tags:
            return None
        doc["tags"] = [*tags, tag]
        loc = layout.locate(path)
        version = loc.version if isinstance(loc, layout.Located) and loc.kind == "version" else None
        data = common.dump_version(doc, path) if version is not None else common.dump_model(doc, path)
        files.update({path: data})
        subject = f"{action.capitalize()} {model}" + (f" {version}" if version else "")
        return _Commit({path: data}, self._message(subject, e, action=action, model=model, version=version), e)

    def _stage(
        self, files: _Files, e: Event, key: tuple[str, str], holder: str | None, was_held: bool, problems: list[str]
    ) -> _Commit | None:
        model, env = key
        path = layout.release_path(env, model)
        old = files.release(path)
        if old is not None and (old.desired is None or not old.desired.promotion_id.startswith(PREFIX)):
            problems.append(f"{path} is managed by mlrelease (not by a GTO import); GTO tag {quoted(e.tag)} would overwrite it")
            return None
        current = old.live.version if old is not None and old.live is not None else None
        if holder == current:
            return None
        fields: dict[str, object] = {"model": model, "environment": env, "previous": current}
        if holder is None:
            files.update({path: None})
            self.report.releases.append(f"{env}/{model}")
            return _Commit({path: None}, self._message(f"Unassign {model} from {env}", e, action="unassign", **fields), e)
        action = "promote" if e.kind == "assign" and not was_held else "rollback"
        promotion_id = PREFIX + e.oid[:12]
        state = common.imported_state(
            old,
            model=model,
            environment=env,
            version=holder,
            promotion_id=promotion_id,
            action=action,
            actor=e.tagger,
            at=e.at,
            reason=e.message[:REASON_LIMIT],
            backend=SOURCE,
            backend_ref=e.tag,
        )
        data = common.checked_release(state, path)
        files.update({path: data})
        self.report.releases.append(f"{env}/{model}")
        verb = f"Promote {model} {holder} to {env}" if action == "promote" else f"Roll back {model} in {env} to {holder}"
        fields.update(action=action, version=holder, promotion_id=promotion_id, phase="Succeeded", backend=SOURCE, backend_ref=e.tag)
        return _Commit({path: data}, self._message(verb, e, **fields), e)


class _Files:
    """The registry at the tip plus what this import has written so far (the chain is built in memory)."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self._written: dict[str, bytes | None] = {}

    def update(self, changes: Mapping[str, bytes | None]) -> None:
        self._written.update(changes)

    def exists(self, path: str) -> bool:
        if path in self._written:
            return self._written[path] is not None
        return self.reg.source.exists(path)

    def _bytes(self, path: str) -> bytes | None:
        if path in self._written:
            return self._written[path]
        return self.reg.source.read(path) if self.reg.source.exists(path) else None

    def load(self, path: str) -> dict[str, Any] | None:
        data = self._bytes(path)
        if data is None:
            return None
        tree = yamlsafe.load(data, path)
        return dict(tree) if isinstance(tree, dict) else None

    def release(self, path: str) -> Any:
        from mlrelease.registry.parse import parse_release

        data = self._bytes(path)
        return None if data is None else parse_release(yamlsafe.load(data, path), path)
