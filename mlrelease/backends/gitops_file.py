"""``gitops-file``: write the version's image (or artifact, version, digest) into a YAML key
of a deployment repository, commit and push — the edit Argo CD and Flux users make by hand.

Two places the file can live:

* ``repo`` + ``file``: another git repository (https, ssh or a local path). mlrelease
  keeps a bare clone of it under the registry's ``.git/mlrelease/gitops/<name>`` and
  never touches anyone's checkout of it.
* ``path``: a file inside this registry's repository, written through
  :func:`mlrelease.gitstore.transaction.apply` like every registry change (a private
  index, the writer lock, the user's uncommitted edits never touched or committed, and a
  push when mlrelease.yaml configures ``remote:``).

Every attempt recomputes the edit on the newest remote tip (fetch → read the file →
set the key → commit → ``push --porcelain``) and is retried only on a recognised push
rejection, with jittered backoff, bounded in attempts and seconds; history stays linear.
When the file already holds the value there is no commit, so a repeated call is a no-op.

The edit is made in place where the key holds a single-line scalar, so comments and
formatting survive; otherwise (a block scalar, flow style) the file is rewritten by
mlrelease's YAML writer, which keeps keys and order but not comments or quoting
(:mod:`mlrelease.backends.yamledit`).
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

from mlrelease.backends.base import Action, BackendContext, Health, Outcome
from mlrelease.backends.settings import Settings
from mlrelease.backends.support import file_name, one_line
from mlrelease.backends.yamledit import Edit, current_value, set_value
from mlrelease.errors import EditError, MlreleaseError
from mlrelease.gitstore import gitwrite, locks, objects, transaction
from mlrelease.gitstore.gitwrite import Identity
from mlrelease.registry import layout, yamlsafe
from mlrelease.registry.gitio import cat_file, git, git_dir, git_text, git_toplevel
from mlrelease.registry.loader import Registry
from mlrelease.registry.trailers import format_message

VALUES = ("image", "artifact", "version", "image_digest")
KEY_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")
_SCP = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.*")
_TRANSPORT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_ACTOR = re.compile(r"\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>\s]+)>\s*")
REGISTRY_OWN = (layout.CONFIG, *layout.FOLDERS)
ATTEMPTS = gitwrite.PUSH_ATTEMPTS
SECONDS = gitwrite.PUSH_SECONDS
LOCK_TIMEOUT = 60.0
HEALTH_TIMEOUT = 10.0


# ---- settings helpers ------------------------------------------------------------------------


def _keys(s: Settings) -> tuple[str, ...]:
    text = s.text("key", required=True)
    if text is None:
        return ()
    parts = tuple(text.split("."))
    if not all(KEY_PART.fullmatch(p) for p in parts):
        s.problem("key", f"must be a dotted path of plain keys (letters, digits, _ and -), e.g. image.tag, not {text!r}")
        return ()
    return parts


def _rel_file(s: Settings, key: str, text: str | None) -> str | None:
    if text is None:
        return None
    p = PurePosixPath(text)
    if p.is_absolute() or ".." in p.parts or text.startswith("-") or not p.parts or str(p) != text.rstrip("/"):
        s.problem(key, f"must be a plain relative path such as deploy/prod/values.yaml, not {text!r}")
        return None
    return str(p)


def _repo_url(s: Settings, text: str | None, root: Path) -> str | None:
    """https, ssh (URL or scp-like) or file URLs, or a local path; never a git transport helper."""
    if text is None:
        return None
    if text.startswith("-") or _TRANSPORT.match(text):
        s.problem("repo", f"{text!r} is not an https, ssh or file URL or a local path")
        return None
    parts = urllib.parse.urlsplit(text)
    if parts.scheme in ("https", "ssh"):
        if parts.password:
            s.problem("repo", "must not hold a password; use a git credential helper or an SSH key")
            return None
        return text
    if parts.scheme == "file":
        return text
    if parts.scheme in ("http", "git"):
        s.problem("repo", f"{parts.scheme}:// is not encrypted; use https:// or ssh")
        return None
    if _SCP.fullmatch(text):
        return text
    if parts.scheme:
        s.problem("repo", f"{text!r}: unsupported URL scheme {parts.scheme!r} (use https, ssh or file)")
        return None
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_dir():
        s.problem("repo", f"{text!r} is not a git repository URL or an existing folder")
        return None
    return str(path)


def _actor(text: str) -> Identity | None:
    m = _ACTOR.fullmatch(text)
    return Identity(m["name"], m["email"]) if m else None


def _locked(path: Path, timeout: float = LOCK_TIMEOUT) -> contextlib.AbstractContextManager[None]:
    """Serialise users of one cache clone on this machine.

    The lock file sits beside the clone, not in it, so a broken clone can be removed and
    made again while the lock is held.
    """
    return locks.file_lock(path, timeout=timeout, holder=str(path))


def _clear_stale_locks(clone: Path) -> None:
    """Remove git lock files a killed git left in our clone; under our lock nobody else uses it."""
    for pattern in ("*.lock", "refs/**/*.lock"):
        for lock in clone.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()


@dataclass(frozen=True)
class Landed:
    commit: str | None  # None: the value was already there
    tip: str | None
    how: str
    attempts: int


# ---- the backend ------------------------------------------------------------------------------


class GitopsFileBackend:
    type_name: ClassVar[str] = "gitops-file"

    def __init__(self, name: str, settings: Mapping[str, object], context: BackendContext) -> None:
        s = Settings(name, self.type_name, settings)
        self.name = name
        self.root = context.registry_root.resolve()
        self.repo = _repo_url(s, s.text("repo"), self.root)
        self.file = _rel_file(s, "file", s.text("file"))
        self.path = _rel_file(s, "path", s.text("path"))
        self.branch = s.text("branch")
        self.keys = _keys(s)
        self.value = s.choice("value", VALUES, default="image") or "image"
        if s.has("repo") == s.has("path"):
            s.problem("repo", "set either repo (with file) for a deployment repository, or path for a file in this registry")
        elif s.has("repo") and not s.has("file"):
            s.problem("file", "is required with repo: the YAML file inside the deployment repository")
        elif s.has("path") and (s.has("file") or s.has("branch")):
            s.problem("path", "takes neither file nor branch: the file is written on the registry's own branch")
        if self.path and PurePosixPath(self.path).parts[0] in REGISTRY_OWN:
            s.problem("path", f"{self.path!r} is one of the registry's own files; choose a deployment file such as deploy/prod/values.yaml")
        if self.path and not self._inside(self.path):
            s.problem("path", f"{self.path!r} leads outside the registry folder")
        if self.branch is not None and (not BRANCH.fullmatch(self.branch) or ".." in self.branch or self.branch.endswith((".lock", "/"))):
            s.problem("branch", f"{self.branch!r} is not a valid branch name")
        s.done()

    def _inside(self, rel: str) -> bool:
        full = (self.root / rel).resolve()
        return self.root in full.parents

    @property
    def where(self) -> str:
        """The file, named for people: ``deploy/values.yaml`` or ``values.yaml in <repo>``."""
        if self.path:
            return self.path
        return f"{self.file} in {self.repo}"

    # ---- what to write ----------------------------------------------------------------------

    def _value_of(self, action: Action) -> str:
        if action.kind not in ("promote", "rollback"):
            raise EditError(f"gitops-file deploys versions; it does not handle {action.kind!r} (use another backend for retraining)")
        if self.value == "image":
            value = action.image
        elif self.value == "artifact":
            value = action.artifact
        elif self.value == "version":
            value = action.version
        else:
            value = action.image_digest or (action.image.partition("@")[2] if action.image and "@sha256:" in action.image else None)
        if not value:
            raise EditError(
                f"{action.model} {action.version or ''} has no {self.value.replace('_', ' ')} in its manifest (backends.{self.name}.value)"
            )
        if not value.isprintable():
            raise EditError(f"the {self.value} of {action.model} {action.version or ''} contains control characters; refused")
        return value

    def _message(self, action: Action, value: str, file: str) -> str:
        subject = f"{action.kind} {action.model} {action.version or ''} to {action.environment or '?'}: set {'.'.join(self.keys)} in {file}"
        fields = {
            "action": action.kind,
            "model": action.model,
            "version": action.version,
            "environment": action.environment,
            "previous": action.previous,
            "promotion_id": action.promotion_id,
            "backend": self.name,
            "actor": action.actor,
            "reason": action.reason,
        }
        return format_message(subject, fields, body=f"{'.'.join(self.keys)}: {one_line(value, 500)}")

    def _edit(self, data: bytes | None, file: str, value: str) -> Edit:
        if data is None:
            raise EditError(f"{file}: no such file on the deployment branch (mlrelease edits a file; it does not create one)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise EditError(f"{file}: not valid UTF-8") from None
        return set_value(text, file, self.keys, value)

    # ---- a deployment repository (repo + file) ---------------------------------------------

    def _clone_dir(self) -> Path:
        top = git_toplevel(self.root)
        if top is None:
            raise MlreleaseError(f"{self.root} is not in a git repository; gitops-file keeps its clone under .git")
        return git_dir(top) / "mlrelease" / "gitops" / file_name(self.name)

    @contextlib.contextmanager
    def _clone(self) -> Iterator[Path]:
        """The locked bare clone of the deployment repository, created on first use."""
        clone = self._clone_dir()
        with _locked(clone.with_name(f"{clone.name}.lock")):
            if not (clone / "HEAD").is_file() or not (clone / "objects").is_dir():
                clone.mkdir(parents=True, exist_ok=True)
                git(clone.parent, "init", "--bare", "--quiet", str(clone))
            assert self.repo is not None
            git(clone, "config", "remote.origin.url", self.repo)
            _clear_stale_locks(clone)
            yield clone

    def _read(self, clone: Path, tip: str, file: str) -> bytes | None:
        """The file at ``tip``, through the clone's shared ``cat-file`` pipe (the commit that follows uses it too)."""
        entry = objects.entry_at(clone, tip, file)
        if entry is None:
            return None
        mode, kind, oid = entry
        if kind != "blob" or mode == "120000":
            raise EditError(f"{file}: is not a regular file on the deployment branch ({kind} {mode})")
        return cat_file(clone).read(oid)

    def _land_in_repo(self, action: Action, value: str, author: Identity | None, committer: Identity) -> Landed:
        assert self.file is not None
        file, branch = self.file, self.branch or "main"
        tries = 0
        with self._clone() as clone:
            contention = gitwrite.Contention(clone, "origin", branch, nothing=f"nothing was changed in {self.repo}")

            def attempt() -> Landed | None:
                nonlocal tries
                tries += 1
                tip = gitwrite.fetch(clone, "origin", branch)
                edit = self._edit(self._read(clone, tip, file), file, value)
                commit = None
                if edit.text is not None:
                    message = self._message(action, value, file)
                    changes = {file: edit.text.encode("utf-8")}
                    commit = gitwrite.commit_files(clone, parent=tip, changes=changes, message=message, author=author, committer=committer)
                if commit is None:
                    return Landed(None, tip, edit.how, tries)
                pushed = gitwrite.push(clone, "origin", commit, branch)
                if pushed.ok:
                    return Landed(commit, tip, edit.how, tries)
                contention.rejected(pushed, tip)
                return None

            return gitwrite.retrying(attempt, attempts=ATTEMPTS, seconds=SECONDS)

    # ---- a file in this registry (path) -----------------------------------------------------

    def _target(self) -> transaction.Target:
        with Registry(self.root) as reg:
            remote = reg.config.remote
        if remote is None:
            return transaction.target(self.root)
        return transaction.target(self.root, remote=remote.name, branch=remote.branch)

    def _land_in_registry(self, action: Action, value: str, author: Identity | None) -> Landed:
        assert self.path is not None
        path = self.path
        how: list[str] = []

        def build(reg: Registry) -> transaction.Change | None:
            data = reg.source.read(path) if reg.source.exists(path) else None
            edit = self._edit(data, path, value)
            how.append(edit.how)
            if edit.text is None:
                return None
            return transaction.Change({path: edit.text.encode("utf-8")}, self._message(action, value, path))

        done = transaction.apply(self._target(), build, author=author, attempts=ATTEMPTS, seconds=SECONDS)
        return Landed(done.commit, None, how[-1] if how else "", done.attempts)

    # ---- the protocol -------------------------------------------------------------------------

    def execute(self, action: Action) -> Outcome:
        try:
            value = self._value_of(action)
            author = _actor(action.actor)
            committer = gitwrite.identity(self.root)
            if self.repo:
                landed = self._land_in_repo(action, value, author, committer)
            else:
                landed = self._land_in_registry(action, value, author or committer)
        except MlreleaseError as exc:
            return Outcome(ok=False, message=one_line(f"gitops-file {self.where}: {exc}"))
        key = ".".join(self.keys)
        tries = f" after {landed.attempts} attempts" if landed.attempts > 1 else ""
        if landed.commit is None:
            return Outcome(ok=True, reference=landed.tip, message=one_line(f"{self.where}: {key} is already {value}; nothing to commit"))
        return Outcome(
            ok=True,
            reference=landed.commit,
            message=one_line(f"{self.where}: set {key} = {value} in commit {landed.commit[:12]}{tries}"),
            log=one_line(f"{landed.how}; commit {landed.commit}{tries}", 1000),
        )

    def status(self, action: Action) -> Outcome | None:
        try:
            value = self._value_of(action)
            tip: str | None
            if self.repo:
                with self._clone() as clone:
                    tip = gitwrite.fetch(clone, "origin", self.branch or "main")
                    data = self._read(clone, tip, self.file or "")
            else:
                t = self._target()
                tip = gitwrite.fetch(t.git_root, t.remote, t.branch) if t.remote else gitwrite.rev(t.git_root, f"refs/heads/{t.branch}")
                if tip is None:
                    return None
                with Registry(self.root, tip) as reg:
                    data = reg.source.read(self.path or "") if reg.source.exists(self.path or "") else None
            loaded = yamlsafe.load(data, self.where) if data is not None else None
        except MlreleaseError:
            return None  # the far side could not be read: unknown, never a guess
        key = ".".join(self.keys)
        found = current_value(loaded, self.keys) if loaded is not None else None
        if found == value:
            return Outcome(ok=True, reference=tip, message=one_line(f"{self.where}: {key} is {value}"))
        return Outcome(ok=False, message=one_line(f"{self.where}: {key} is {found or 'not set'}, not {value}"))

    def health(self) -> Health:
        try:
            if self.repo:
                branch = self.branch or "main"
                out = git_text(self.root, "ls-remote", "--heads", "--", self.repo, f"refs/heads/{branch}", timeout=HEALTH_TIMEOUT)
                if not out.strip():
                    return Health(False, one_line(f"{self.repo}: no branch {branch}"))
                return Health(True, one_line(f"{self.repo}: branch {branch} at {out.split()[0][:12]}"))
            t = self._target()
            if not (self.root / (self.path or "")).is_file():
                return Health(False, one_line(f"{self.path}: no such file in the registry folder"))
            return Health(True, one_line(f"{self.path} in this repository (branch {t.branch}{', remote ' + t.remote if t.remote else ''})"))
        except MlreleaseError as exc:
            return Health(False, one_line(str(exc)))

    def describe(self, action: Action) -> str:
        try:
            value = self._value_of(action)
        except EditError as exc:
            return one_line(f"gitops-file: would fail: {exc}", 1000)
        branch = f" on branch {self.branch or 'main'}" if self.repo else " on the registry's branch"
        return one_line(
            f"gitops-file: set {'.'.join(self.keys)} = {value} in {self.where}{branch}; commit and push (retried on rejection)", 1000
        )


def factory(name: str, settings: Mapping[str, object], context: BackendContext) -> GitopsFileBackend:
    return GitopsFileBackend(name, settings, context)
