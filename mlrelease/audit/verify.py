"""``mlrelease verify``: replay the release history and report every change that is not a verified action.

For every commit (oldest first) that changed a release state, a model's rejections or
its retraining requests, it checks, against the registry as it was in the commit's
parent (its ``mlrelease.yaml``, ``controls/`` and manifests):

1. **an action made it**: the commit carries ``Mlrelease-Action`` and the file it wrote
   is exactly what that action writes from the file before (:mod:`mlrelease.audit.checks`):
   intent then outcome per promotion id, one approval or rejection added, nothing
   removed, trailers agreeing with the file;
2. **by whom it says**: ``Mlrelease-Actor`` is the commit's author (the same identity),
   and where the environment is ``signed: true`` the commit is signed by a key in
   ``controls/allowed_signers`` (as the file was in the parent) whose identity is the actor;
3. **the gates held**: a promotion's or rollback's gates, recomputed at its parent with
   four eyes (distinct allowed identities other than the promoter, signers where signed),
   either pass or were forced; forced gates that are not overridable used a break-glass
   approval by an allowed identity other than the promoter;
4. **approvals by allowed identities**: an approval is from someone ``gates.approvers``
   allowed at that commit.

A merge may only bring files as they are in one of its parents (whose commits are
checked themselves). Imported history (``mlrelease import``) is accepted as the record it
came with, unless it rewrites a file mlrelease already manages. Changes of the controls
themselves (``mlrelease.yaml``, ``controls/``) are listed as notices with who made them.
Changes of ``audit/accepted.yaml`` (findings a second person accepted, ``review --finding``)
are checked by :mod:`mlrelease.audit.acceptances`; what they accept is settled on the
whole report (:meth:`Report.settle`), so it does not depend on how the walk is split.

Nothing here writes. History comes from the registry's commit log (.git/mlrelease/), blobs
a window of commits at a time in one ``git cat-file --batch`` each, signatures in one
check per allowed-signers file (docs/controls.md). A model's checks depend only on its
own files and the controls, so a long history is walked on every core, the models split
between the walks (:func:`_groups`), and their findings merged back into the order one
walk finds them: the report is the same, byte for byte (tests/test_verify_same_report.py).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from typing import Any

from mlrelease.errors import MlreleaseError, NotFound
from mlrelease.registry import layout, signing
from mlrelease.registry.gitio import git
from mlrelease.registry.identities import Identities
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import Approval, Config, Environment, ReleaseState
from mlrelease.release import foureyes, gates, livehistory
from mlrelease.release.plan import GateResult

from . import acceptances, checks
from .report import Claim
from .report import Finding as Finding  # re-exported: verify reports them
from .report import Report as Report
from .state import WalkState
from .walk import AUDITED, NULL, WATCHED, Blobs, Change, Commit, Tree, commits


def verify(reg: Registry, since: str | None = None, *, workers: int | None = None) -> Report:
    """Audit the history reachable from the registry's ref (or HEAD), or only what ``since`` does not reach.

    ``workers``: processes to walk in (None: one per core for a long history; see :func:`_groups`).
    """
    if reg.git_root is None:
        raise MlreleaseError(f"verify reads the history from git, and {reg.root} is not in a git repository")
    rev = reg.ref or "HEAD"
    proc = git(reg.git_root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if proc.returncode != 0:
        if reg.ref is not None:
            raise NotFound(f"--ref {reg.ref!r}: no such commit")
        return Report(None, since)
    tip = proc.stdout.decode().strip()
    base = None
    if since is not None:
        p = git(reg.git_root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}", check=False)
        if p.returncode != 0:
            raise NotFound(f"--since {since!r}: no such commit, branch or tag")
        base = p.stdout.decode().strip()
    return _Verifier(reg, tip, base, workers=workers).run().settle()


def resume(
    reg: Registry, tip: str, base: str | None = None, seed: WalkState | None = None, *, workers: int | None = None
) -> tuple[Report, WalkState]:
    """Verify the commits from ``base`` (exclusive; None: the root) to ``tip``, starting from the walk's state at ``base``.

    With ``seed`` being the state a verify up to ``base`` ended with, and the commits after
    ``base`` a single line on top of it, the findings are exactly those a full verify at
    ``tip`` finds after ``base`` (tests/test_verify_incremental.py); the state returned is
    the one to resume from at ``tip``. Its acceptances are not settled yet: :meth:`Report.then`
    settles them against the findings open at ``base`` and after.
    """
    v = _Verifier(reg, tip, base, seed or WalkState(), workers=workers)
    return v.run(), v.state


# A finding's place in the report: (commit's index in the walk, part, change's index, order within).
# Parts: 0 the controls changed (notices, their signature), 1 the actor trailer, 2 one audited change.
Key = tuple[int, int, int, int]


@dataclasses.dataclass
class _Part:
    """What one walk over some models found, each finding with its key (the report is their merge)."""

    findings: list[tuple[Key, Finding, str | None]] = dataclasses.field(default_factory=list)  # (key, finding, once-per-commit tag)
    notices: list[tuple[Key, Finding]] = dataclasses.field(default_factory=list)
    claims: list[Claim] = dataclasses.field(default_factory=list)  # acceptances, in walk order (the lead walk's)
    checked: int = 0
    state: WalkState = dataclasses.field(default_factory=WalkState)


class _Verifier:
    def __init__(self, reg: Registry, tip: str, since: str | None, seed: WalkState | None = None, *, workers: int | None = None) -> None:
        assert reg.git_root is not None
        self.reg = reg
        self.git_root = reg.git_root
        prefix = reg.root.resolve().relative_to(reg.git_root.resolve()).as_posix()
        self.prefix = "" if prefix == "." else prefix + "/"
        self.tip, self.since = tip, since
        self.workers = workers
        self.report = Report(tip, since)
        # No parse cache: a whole-history verify is kept as its report (audit/marks.py), and
        # writing thousands of parsed states for a later run cost more than it saved.
        self.blobs = Blobs(self.git_root)
        self.sigs: dict[str, signing.Signature] = {}
        # What earlier commits tell (audit/state.py). Without a seed, a verify --since does not know
        # it and asks git where a check needs it (``partial``); with one it is a full verify's.
        self.partial = since is not None and seed is None
        self.state = seed or WalkState()
        self.live = self.state.live
        self.approvers = self.state.approvers
        self.managed = self.state.managed
        self.rejected = self.state.rejected
        self.part = _Part(state=self.state)
        self.slot: tuple[int, int, int] = (0, 0, 0)
        self.said: set[tuple[str, str]] = set()  # (commit, tag): said once per commit (signature findings)

    def parsed(self, tree: Tree, kind: str, path: str) -> Any:
        return self.blobs.parse(kind, path, tree.files.get(path))[0]

    def config(self, tree: Tree) -> Config | None:
        value: Config | None = self.parsed(tree, "config", layout.CONFIG)
        return value

    def identities(self, tree: Tree) -> Identities:
        value: Identities | None = self.parsed(tree, "identities", layout.IDENTITIES)
        return value or Identities()

    def signers_bytes(self, tree: Tree) -> bytes | None:
        oid = tree.files.get(layout.ALLOWED_SIGNERS)
        return self.blobs.read(oid) if oid else None

    # ---- the walk ---------------------------------------------------------------------------

    def steps(self, history: list[Commit], start: Tree) -> Iterator[tuple[int, Commit, Tree]]:
        """Each commit with the tree of its first parent (the registry it was made against), from ``start``."""
        tree = start.copy()
        for i, c in enumerate(history):
            tree.move_to(c.parents[0] if c.parents else None)
            yield i, c, tree
            tree.step(c)

    def run(self) -> Report:
        history = commits(self.reg, self.tip, self.since)
        self.report.commits = len(history)
        start = Tree(self.git_root, self.prefix)
        start.move_to(history[0].parents[0] if history and history[0].parents else None)
        try:
            at_tip = self.check_signatures(history, start)
            groups = _groups(history, self.workers)
            if len(groups) == 1:
                parts = [self.walk(history, start, None, lead=True)]
            else:
                parts = _walk_forked(self, history, start, groups)
            self.join(parts)
            self.open_break_glass(history, at_tip)
        finally:
            self.blobs.close()
        return self.report

    def walk(self, history: list[Commit], start: Tree, models: frozenset[str] | None, *, lead: bool) -> _Part:
        """Check the changes of ``models`` (None: all); the ``lead`` walk also checks merges and the controls' changes."""
        upto = 0
        for i, c, tree in self.steps(history, start):
            if i >= upto:
                upto = self.fetch_ahead(history, i, tree, models, lead)
            if len(c.parents) > 1:
                if lead:
                    self.slot = (i, 0, 0)
                    self.merge(c)
            elif any(ch.kind in WATCHED for ch in c.changes):
                self.commit(i, c, tree, models, lead)
        return self.part

    def fetch_ahead(self, history: list[Commit], i: int, tree: Tree, models: frozenset[str] | None, lead: bool) -> int:
        """Fetch what the next :data:`WINDOW` commits will read, in two batches; the index to fetch again at.

        First the files their changes wrote (of ``models``), then what their promotions'
        gates read at the parent: rejections, manifests, the other environments' states.
        The window ends early where the walk leaves a straight line (after a merge).
        """
        window: list[Commit] = []
        look = tree.copy()
        for c in history[i : i + WINDOW]:
            if (c.parents[0] if c.parents else None) != look.at:
                break
            window.append(c)
            look.step(c)

        def owned(ch: Change) -> bool:
            return ch.kind in AUDITED and _owns(models, ch, lead=lead)

        self.blobs.fetch(oid for c in window if len(c.parents) < 2 for ch in c.changes if owned(ch) for oid in (ch.old, ch.new))
        wanted: list[str] = []
        look = tree.copy()
        for c in window:
            for ch in c.changes if len(c.parents) < 2 else ():
                after = self.blobs.ahead(ch.kind, ch.path, ch.new) if ch.kind == "release" and owned(ch) and ch.new != NULL else None
                if not isinstance(after, ReleaseState) or after.desired is None:
                    continue
                d, model = after.desired, after.model
                paths = [("rejections", layout.rejections_path(model))]
                paths += [("version", layout.version_path(model, v)) for v in {d.version, d.canary.version if d.canary else d.version}]
                before = self.blobs.ahead(ch.kind, ch.path, ch.old) if ch.old != NULL else None
                if isinstance(before, ReleaseState) and before.live is not None:
                    paths.append(("version", layout.version_path(model, before.live.version)))
                paths += [("release", f"{layout.releases_folder()}{e}/{model}.yaml") for e in self.environments(look)]
                for kind, path in paths:
                    oid = look.files.get(path)
                    if oid is not None and not self.blobs.known(kind, path, oid):
                        wanted.append(oid)
            look.step(c)
        self.blobs.fetch(wanted, keep=True)
        return i + max(1, len(window))

    def join(self, parts: list[_Part]) -> None:
        """The parts' findings in the order one walk finds them, saying a signature finding once per commit as it does."""
        said: set[tuple[str, str]] = set()
        for _key, f, once in sorted((x for part in parts for x in part.findings), key=lambda x: x[0]):
            if once is not None and (f.commit, once) in said:
                continue
            said.update(_says(f))
            self.report.findings.append(f)
        self.report.notices += [f for _key, f in sorted((x for part in parts for x in part.notices), key=lambda x: x[0])]
        self.report.checked = sum(part.checked for part in parts)
        self.report.claims += [claim for part in parts for claim in part.claims]  # audit/accepted.yaml: the lead walk's alone
        for part in parts[1:]:  # each walk changed only its own models' facts
            self.state.live.update(part.state.live)
            self.state.approvers.update(part.state.approvers)
            self.state.managed |= part.state.managed
            self.state.rejected.update(part.state.rejected)

    def environments(self, tree: Tree) -> tuple[str, ...]:
        cfg = self.config(tree)
        return cfg.environment_names if cfg else ()

    def signed(self, cfg: Config | None, change_kind: str, environment: str | None) -> bool:
        if cfg is None:
            return False
        if change_kind in ("rejections", "accepted", "config", "identities", "signers"):
            return any(e.signed for e in cfg.environments)
        env = cfg.environment(environment or "")
        return env is not None and env.signed

    def check_signatures(self, history: list[Commit], start: Tree) -> Tree:
        """One pass to see which commits must be signed, then one signature check per allowed-signers file.

        Returns the tree at the end of the walk (the tip's, for the break-glass notices).
        """
        wanted: list[tuple[str, bytes | None]] = []
        tree = start
        for _i, c, tree in self.steps(history, start):
            cfg = self.config(tree)
            if any(
                self.signed(cfg, ch.kind, ch.environment) for ch in c.changes if ch.kind in (*AUDITED, "config", "identities", "signers")
            ):
                wanted.append((c.oid, self.signers_bytes(tree)))
        if wanted:
            self.sigs = signing.check(self.git_root, wanted)
        return tree

    # ---- one commit ---------------------------------------------------------------------------

    def find(self, c: Commit, kind: str, message: str, path: str | None = None, *, notice: bool = False, once: str | None = None) -> None:
        """A finding (or notice) at the current slot; ``once``: a tag said at most once per commit."""
        sig = self.sigs.get(c.oid)
        f = Finding(c.oid, c.author, c.at, kind, message, path, sig.principal if sig and sig.good else None)
        key = (*self.slot, len(self.part.findings) + len(self.part.notices))
        if notice:
            self.part.notices.append((key, f))
        else:
            self.part.findings.append((key, f, once))
            self.said.update(_says(f))

    def merge(self, c: Commit) -> None:
        for ch in c.audited:
            blobs = set()
            for parent in c.parents[1:]:
                out = git(self.git_root, "ls-tree", parent, "--", self.prefix + ch.path).stdout.decode().split()
                blobs.add(out[2] if len(out) >= 3 else NULL)
            if ch.new not in blobs:
                self.find(c, "merge", "the merge wrote this file as none of its parents has it", ch.path)

    def commit(self, i: int, c: Commit, tree: Tree, models: frozenset[str] | None, lead: bool) -> None:
        cfg = self.config(tree)
        ids = self.identities(tree)
        t = c.trailers
        action = t.get("action")
        for n, ch in enumerate(c.changes):
            if lead and ch.kind in ("config", "identities", "signers"):
                self.slot = (i, 0, n)
                self.find(c, "policy", f"the controls changed ({ch.path})", ch.path, notice=True)
                if self.signed(cfg, ch.kind, None):
                    self.signature(c, ch.path, ids, t)
        if not c.audited:
            return
        author = ids.who(c.author)
        if lead and action and "actor" in t and ids.who(t["actor"]) != author:
            self.slot = (i, 1, 0)
            self.find(c, "forged", f"the trailers say the actor is {t['actor']}, and the commit's author is {c.author}")
        for n, ch in enumerate(c.changes):
            if ch.kind not in AUDITED or not _owns(models, ch, lead=lead):
                continue
            self.slot = (i, 2, n)
            self.part.checked += 1
            before, _ = self.blobs.parse(ch.kind, ch.path, ch.old)
            after, unreadable = self.blobs.parse(ch.kind, ch.path, ch.new)
            signer = self.signature(c, ch.path, ids, t) if self.signed(cfg, ch.kind, ch.environment) else None
            if unreadable:
                self.find(c, "hand-edit" if not action else "forged", f"the file cannot be read after this commit: {unreadable}", ch.path)
            elif ch.kind == "accepted":
                self.acceptance(c, ch.path, action, t, before, after, cfg, ids, signer)
            elif not action:
                self.find(c, "hand-edit", checks.hand_edit(ch.kind, before, after), ch.path)
                for k, message in checks.deletions(ch.kind, before, after):
                    self.find(c, k, message, ch.path)
            elif action == "import" or "source" in t:  # imported (mlrelease import: gto, mlflow), whatever action it maps to
                if ch.path in self.managed:
                    self.find(c, "forged", "an import rewrote a file that mlrelease actions already manage", ch.path)
                else:
                    self.find(c, "import", f"imported ({t.get('source') or 'no source named'}): taken as the record", ch.path, notice=True)
            else:
                self.managed.add(ch.path)
                self.action(c, tree, ch.path, ch.kind, action, t, before, after, cfg, ids, signer)
            if ch.kind == "rejections":
                held = self.rejected.setdefault(ch.path, {})
                for r in (*(before or ()), *(after or ())):
                    held.setdefault((r.version, r.by, r.at), r)
            if ch.kind == "release" and isinstance(after, ReleaseState) and after.live is not None:
                seen = self.live.setdefault(ch.path, [])
                if not seen or seen[-1] != after.live.version:
                    seen.append(after.live.version)

    def acceptance(
        self,
        c: Commit,
        path: str,
        action: str | None,
        t: dict[str, str],
        before: Any,
        after: Any,
        cfg: Config | None,
        ids: Identities,
        signer: str | None,
    ) -> None:
        """A change of ``audit/accepted.yaml`` (audit/acceptances.py): a claim when valid in itself, settled after the walk."""
        who = signer if self.signed(cfg, "accepted", None) else ids.who(c.author)
        problems, entry = acceptances.check(action, t, before, after, who, cfg, ids, self.made_by)
        for k, message in problems:
            self.find(c, k, message, path)
        if entry is None:
            return
        if self.partial and self.since is not None and self.before_since(entry.commit):
            # its findings are before --since, out of this report: only a whole verify can settle it
            message = f"accepts findings of {entry.commit[:10]}, from before --since: checked in itself; a whole verify settles it"
            self.find(c, "acceptance", message, path, notice=True)
            return
        self.part.claims.append(Claim(c.oid, c.author, c.at, entry))

    def before_since(self, commit: str) -> bool:
        assert self.since is not None
        return git(self.git_root, "merge-base", "--is-ancestor", commit, self.since, check=False).returncode == 0

    def made_by(self, commit: str) -> tuple[str, str | None] | None:
        """The author and (good) signer of ``commit``, or None when it is not in the repository."""
        if not re.fullmatch(r"[0-9a-f]{40}", commit):  # the parser says so too; never an option to git
            return None
        proc = git(self.git_root, "show", "-s", "--format=%an <%ae>", f"{commit}^{{commit}}", "--", check=False)
        if proc.returncode != 0:
            return None
        sig = self.sigs.get(commit)
        return proc.stdout.decode("utf-8", "replace").strip(), sig.principal if sig is not None and sig.good else None

    def signature(self, c: Commit, path: str, ids: Identities, t: dict[str, str]) -> str | None:
        """The signer's identity, or a finding (once per commit) when the commit is not signed by an allowed key."""
        sig = self.sigs.get(c.oid, signing.UNSIGNED)
        if not sig.good:
            if (c.oid, "unsigned") not in self.said:
                self.find(
                    c, "unsigned", f"the environment requires signed commits, and this commit {sig.describe()}", path, once="unsigned"
                )
            return None
        who = ids.who(sig.principal)
        claimed = ids.who(t.get("actor") or c.author)
        if who != claimed and (c.oid, "signed-by") not in self.said:
            self.find(c, "forged", f"signed by {sig.principal}, and the record names {t.get('actor') or c.author}", path, once="signed-by")
        return who

    def action(
        self,
        c: Commit,
        tree: Tree,
        path: str,
        kind: str,
        action: str,
        t: dict[str, str],
        before: Any,
        after: Any,
        cfg: Config | None,
        ids: Identities,
        signer: str | None,
    ) -> None:
        if kind == "rejections":
            problems = checks.rejections(action, t, before, after)
        elif kind == "retrain":
            problems = checks.retrain(action, t, before, after)
        else:
            problems = checks.release(action, t, before, after)
        for k, message in problems:
            self.find(c, k, message, path)
        if kind != "release" or problems or not isinstance(after, ReleaseState) or cfg is None:
            return
        env = cfg.environment(after.environment)
        if env is None:
            self.find(c, "forged", f"environment {after.environment!r} is not in mlrelease.yaml at this commit", path)
            return
        p = foureyes.policy(env, ids, lambda a: self.approver(tree, path, a, ids, env))
        if action == "approve":
            new = after.approvals[-1]
            who = signer if env.signed else ids.who(new.by)
            self.approvers[(path, new)] = who
            if who is not None and not p.allowed(who):
                self.find(c, "approval", f"{who} approved {new.version}, and may not approve in {env.name}", path)
        elif action in ("promote", "rollback"):
            self.gates(c, tree, path, action, env, cfg, p, before, after, signer)
        for k, message in checks.carried_out(env, ids, t, after) if action in ("outcome", "reconcile") else ():
            self.find(c, k, message, path)

    def approver(self, tree: Tree, path: str, a: Approval, ids: Identities, env: Environment) -> tuple[str | None, str]:
        if (path, a) in self.approvers:
            who = self.approvers[(path, a)]
            return who, "" if who else "its commit is not signed by an allowed key"
        if not self.partial or self.since is None:
            return None, "it was not added by an mlrelease approval"
        from mlrelease.release.controls import attribute  # approvals from before --since: ask their commits

        found = attribute(self.git_root, self.since, self.prefix.rstrip("/"), path, ids, signed=env.signed)
        for approval, verdict in found.items():
            self.approvers[(path, approval)] = verdict[0]
        return found.get(a, (None, "its commit is not in this history"))

    def gates(
        self,
        c: Commit,
        tree: Tree,
        path: str,
        action: str,
        env: Environment,
        cfg: Config,
        p: foureyes.Policy,
        before: ReleaseState | None,
        after: ReleaseState,
        signer: str | None,
    ) -> None:
        d = after.desired
        assert d is not None
        state = before or ReleaseState(after.model, after.environment)
        version = d.canary.version if d.canary else d.version
        promoter = signer if env.signed and signer else p.identities.who(d.actor)
        model = after.model
        rejections = self.parsed(tree, "rejections", layout.rejections_path(model)) or ()
        rejections = (*rejections, *self.rejected.get(layout.rejections_path(model), {}).values())  # removed ones still hold
        if action == "rollback":
            ever = self.ever_live(path)
            results = [
                gates.rejected(version, rejections),
                GateResult("history", version in ever, f"{version} {'was' if version in ever else 'has never been'} live in {env.name}"),
            ]
        else:
            manifest = self.parsed(tree, "version", layout.version_path(model, version))
            if manifest is None:
                self.find(c, "gate", f"{model} {version} has no readable manifest at this commit", path)
                return
            live_metrics = None
            if state.live is not None and env.gates.no_regression:
                live_manifest = self.parsed(tree, "version", layout.version_path(model, state.live.version))
                live_metrics = live_manifest.metrics if live_manifest else None
            approvals = foureyes.approvals_for(env, state, version, promoter, p)
            results = gates.promote_gates(
                version,
                env,
                cfg,
                metrics=manifest.metrics,
                rejections=rejections,
                state=state,
                order_results=gates.order(version, env, self.order_evidence(tree, model, version, env)),
                live_metrics=live_metrics,
                approvals=approvals,
                now=d.at,
            )
        forced = set(d.forced)
        for g in results:
            if not g.passed and g.name not in forced:
                self.find(c, "gate", f"{g.name} failed at this commit and was not forced: {g.detail}", path)
        locked = [name for name in d.forced if not env.gates.may_override(name)]
        if locked:
            used = next(
                (a for a in state.approvals if a.break_glass and dataclasses.replace(a, used_by=d.promotion_id) in after.approvals), None
            )
            who = p.signer(used)[0] if used is not None else None
            if used is None or who is None or who == promoter or not p.allowed(who):
                why = "no break-glass approval" if used is None else f"a break-glass approval by {who or used.by}, who may not give it"
                self.find(c, "break-glass", f"forced {', '.join(locked)}, not overridable in {env.name}, with {why}", path)

    def ever_live(self, path: str) -> list[str]:
        if path not in self.live and self.partial and self.since is not None:
            changes = livehistory.live_changes(self.git_root, self.since, self.prefix + path)
            self.live[path] = [ch.version for ch in reversed(changes)]
        return self.live.get(path, [])

    def order_evidence(self, tree: Tree, model: str, version: str, env: Environment) -> dict[str, tuple[str | None, str | None]]:
        out: dict[str, tuple[str | None, str | None]] = {}
        for req in env.requires:
            path = layout.release_path(req, model)
            there: ReleaseState | None = self.parsed(tree, "release", path)
            live_now = there.live.version if there and there.live else None
            how = "is live" if live_now == version else ("was live" if version in self.ever_live(path) else None)
            out[req] = (live_now, how)
        return out

    def open_break_glass(self, history: list[Commit], tree: Tree) -> None:
        """Break-glass promotions at the tip that nobody has reviewed: notices (every face flags them)."""
        tree.move_to(self.tip)
        for path, oid in sorted(tree.files.items()):
            if not path.startswith(layout.releases_folder()):
                continue
            state = self.blobs.parse("release", path, oid)[0]
            for b in state.unreviewed if isinstance(state, ReleaseState) else ():
                at = history[-1] if history else None
                self.report.notices.append(
                    Finding(
                        at.oid if at else self.tip,
                        b.promoter,
                        b.at,
                        "open-break-glass",
                        f"break-glass promotion {b.promotion_id} of {state.model} {b.version} (forced {', '.join(b.gates)}, "
                        f"approved by {b.approver}) is not reviewed yet: `mlrelease review {state.model} --env {state.environment}`",
                        path,
                    )
                )


def _says(f: Finding) -> set[tuple[str, str]]:
    """The once-per-commit tags a finding says (a second signature finding of the commit is not made)."""
    if f.kind == "unsigned":
        return {(f.commit, "unsigned")}
    if f.kind == "forged" and "signed by" in f.message:
        return {(f.commit, "signed-by")}
    return set()


WINDOW = 1000  # commits whose blobs are fetched at a time (memory: a window's blobs, not the history's)


def _owns(models: frozenset[str] | None, ch: Change, *, lead: bool = True) -> bool:
    """Whether the walk over ``models`` (None: all) checks this change; a file of no model is the lead walk's."""
    if models is None or ch.model is None:
        return lead
    return ch.model in models


PARALLEL_AT = 2000  # audited changes below which one walk in this process is quicker than forking


def _groups(history: list[Commit], workers: int | None) -> list[frozenset[str] | None]:
    """The models each walk checks: one walk of all (None), or the models split between ``workers`` walks by their changes.

    A model's checks depend only on its own files' history (its release states, rejections,
    retraining requests) and on the controls, never on another model's, so walks over
    disjoint sets of models find, together, exactly what one walk finds.
    """
    load: dict[str, int] = {}
    for c in history:
        for ch in c.changes:
            if ch.kind in AUDITED and ch.model is not None:
                load[ch.model] = load.get(ch.model, 0) + 1
    if workers is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = cores if sum(load.values()) >= PARALLEL_AT else 1
    workers = min(workers, len(load)) if load else 1
    if workers <= 1 or not _forkable():
        return [None]
    sets: list[set[str]] = [set() for _ in range(workers)]
    sizes = [0] * workers
    for model, n in sorted(load.items(), key=lambda kv: (-kv[1], kv[0])):  # the biggest first, each to the least loaded
        k = sizes.index(min(sizes))
        sets[k].add(model)
        sizes[k] += n
    return [frozenset(s) for s in sets]


def _forkable() -> bool:
    import multiprocessing  # here: verifying a few commits (after an action) need not import it

    return "fork" in multiprocessing.get_all_start_methods()


_FORKED: dict[str, Any] = {}  # what a forked walk needs, set before the fork (inherited, never pickled)


def _walk_forked(v: _Verifier, history: list[Commit], start: Tree, groups: list[frozenset[str] | None]) -> list[_Part]:
    """The first group walked here (with the merges and the controls), the others each in a forked process."""
    import multiprocessing

    _FORKED.update(verifier=v, history=history, start=start)
    try:
        with multiprocessing.get_context("fork").Pool(processes=len(groups) - 1) as pool:
            pending = [pool.apply_async(_walk_group, (g,)) for g in groups[1:]]
            parts = [v.walk(history, start, groups[0], lead=True)]
            parts += [p.get() for p in pending]
    finally:
        _FORKED.clear()
    return parts


def _walk_group(models: frozenset[str]) -> _Part:
    v: _Verifier = _FORKED["verifier"]
    v.blobs = Blobs(v.git_root)  # the parent's cat-file pipe stays the parent's
    try:
        return v.walk(_FORKED["history"], _FORKED["start"], models, lead=False)
    finally:
        v.blobs.close()
