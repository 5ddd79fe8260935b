"""The controls of one environment as the planner applies them: who acts, who approved, signing.

:mod:`mlrelease.release.foureyes` holds the rules; this module gathers their facts from
the registry at the commit being planned on:

* the acting person's **identity**: from ``controls/identities.yaml`` and the git
  identity, or — where the environment is ``signed: true`` — the principal that
  ``controls/allowed_signers`` gives the user's own signing key. A signed environment
  refuses, before anything is written, a user whose commits would not be signed by an
  allowed key (or whose git identity is not that key's person: the record would say one
  name and the signature another);
* who is behind each **approval**: the author of the ``mlrelease approve`` commit that
  added it — in a signed environment its signer (git checks the signature) — so an
  approval written by hand, under someone else's name, or signed by a key that is not
  allowed, never counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlrelease.errors import GateRefused, ManifestError, MlreleaseError
from mlrelease.gitstore.objects import commit_author_message
from mlrelease.registry import layout, signing, yamlsafe
from mlrelease.registry.gitio import cat_file
from mlrelease.registry.identities import Identities
from mlrelease.registry.loader import Registry
from mlrelease.registry.parse import parse_release
from mlrelease.registry.signing import OwnKey
from mlrelease.registry.source import GitRefSource
from mlrelease.registry.trailers import parse_trailers
from mlrelease.registry.types import Approval, Config, Environment
from mlrelease.release import foureyes
from mlrelease.release.livehistory import file_log
from mlrelease.release.plan import Block
from mlrelease.release.planning import Context

SETUP = "docs/controls.md, “Signed environments”"


def signing_required(config: Config, env: Environment | None) -> bool:
    """Signed commits are required here; model-wide files (rejections) follow the strictest environment."""
    if env is not None:
        return env.signed
    return any(e.signed for e in config.environments)


@dataclass
class Controls:
    """Four eyes and signing for one plan."""

    identities: Identities
    actor: str  # the acting person's identity
    policy: foureyes.Policy
    block: Block | None = None  # signing refused: nothing may be written
    signed: bool = False
    notes: list[str] = field(default_factory=list)


def for_plan(reg: Registry, env: Environment | None, actor: str, own_key: Callable[[], OwnKey | str], model: str | None = None) -> Controls:
    """``model``: the release file whose approvals count (promote, rollback, approve, review)."""
    config = reg.config
    identities = reg.identities()
    signed = signing_required(config, env)
    who = identities.who(actor)
    block = None
    if signed:
        who, block = _signer_identity(reg, identities, actor, own_key(), env)
    signer = None
    if env is not None and model is not None:
        signer = _ApprovalSigners(reg, layout.release_path(env.name, model), identities, signed)
    p = foureyes.policy(env, identities, signer) if env is not None else foureyes.policy(Environment("-"), identities)
    return Controls(identities, who, p, block, signed)


def signing_block(reg: Registry, env: Environment | None, ctx: Context) -> Block | None:
    """Why this user's commit would not be accepted here (unsigned, or by a key that is not allowed), or None."""
    if not signing_required(reg.config, env):
        return None
    return for_plan(reg, env, ctx.actor, lambda: ctx.own_key(reg.git_root or reg.root)).block


def _signer_identity(reg: Registry, ids: Identities, actor: str, key: OwnKey | str, env: Environment | None) -> tuple[str, Block | None]:
    where = f"{env.name} is signed: true" if env is not None else "rejections apply to signed environments"
    if isinstance(key, str):
        return ids.who(actor), Block(f"{where}, so every commit touching it must be signed: {key} ({SETUP})", GateRefused)
    signers = reg.allowed_signers()
    principals = signers.principals(key.keytype, key.key) if signers is not None else ()
    if not principals:
        return ids.who(actor), Block(
            f"{where}, and your signing key ({key.keytype} {key.key[:16]}…) is not in {layout.ALLOWED_SIGNERS}: "
            f"ask whoever keeps the controls to add it ({SETUP})",
            GateRefused,
        )
    people = {ids.who(p) for p in principals}
    mine = ids.who(actor)
    if mine not in people:
        return sorted(people)[0], Block(
            f"your git identity ({actor}) is not the person your signing key is allowed for ({', '.join(principals)}): "
            f"set user.email to that address, or list both under one person in {layout.IDENTITIES}",
            GateRefused,
        )
    return mine, None


class _ApprovalSigners:
    """Who is behind each approval of one release file: the commit that added it, read once, when first asked."""

    def __init__(self, reg: Registry, path: str, ids: Identities, signed: bool) -> None:
        self._reg = reg
        self._path = path
        self._ids = ids
        self._signed = signed
        self._by: dict[Approval, tuple[str | None, str]] | None = None

    def __call__(self, approval: Approval) -> tuple[str | None, str]:
        if self._by is None:
            source = self._reg.source
            self._by = {}
            if isinstance(source, GitRefSource) and self._reg.git_root is not None:
                self._by = attribute(self._reg.git_root, source.commit, source.prefix, self._path, self._ids, signed=self._signed)
        return self._by.get(approval, (None, "the commit that added it is not in this history"))


def attribute(git_root: Path, ref: str, prefix: str, path: str, ids: Identities, *, signed: bool) -> dict[Approval, tuple[str | None, str]]:
    """Every approval in the history of ``path`` → (the identity behind it, or None and why).

    An approval counts only when the commit that added it is an mlrelease approval
    (``Mlrelease-Action: approve``) by the person the approval names: one written into
    the file by hand, or under someone else's name, never counts. Where ``signed``, the
    identity is the signer of that commit, checked by git against
    ``controls/allowed_signers`` as it was in the commit's parent.

    The file's commits come from :func:`~mlrelease.release.livehistory.file_log` (the log the
    planner has just read for the order gate, kept per commit) and every object through the
    process's one ``cat-file`` pipe: no ``git log`` or pipe of its own.
    """
    git_path = f"{prefix}/{path}" if prefix else path
    cat = cat_file(git_root)
    parsed: dict[str, set[Approval]] = {}

    def approvals(blob: str | None) -> set[Approval]:
        if blob is None:
            return set()
        if blob not in parsed:
            try:
                parsed[blob] = set(parse_release(yamlsafe.load(cat.read(blob), path), path).approvals)
            except (ManifestError, MlreleaseError):
                parsed[blob] = set()
        return parsed[blob]

    # Oldest first: the first commit whose content shows an approval its first parent's did not added it.
    added: dict[Approval, str] = {}
    for commit, blob in reversed(file_log(git_root, ref, git_path)):
        before = cat.object(f"{commit}^:{git_path}")
        for a in approvals(blob) - approvals(before[0] if before is not None and before[1] == "blob" else None):
            added.setdefault(a, commit)
    facts = {c: commit_author_message(git_root, c) for c in set(added.values())}
    policy: dict[str, bytes | None] = {}
    if signed:
        signers_path = f"{prefix}/{layout.ALLOWED_SIGNERS}" if prefix else layout.ALLOWED_SIGNERS
        for commit in facts:
            found = cat.object(f"{commit}^:{signers_path}")
            policy[commit] = found[2] if found is not None and found[1] == "blob" else None
    sigs = signing.check(git_root, policy.items()) if policy else {}
    result: dict[Approval, tuple[str | None, str]] = {}
    for a, commit in added.items():
        author, message = facts[commit]
        trailers = parse_trailers(message)
        named = ids.who(a.by)
        if trailers.get("action") != "approve":
            result[a] = (None, f"it was written by hand (commit {commit[:10]} is no `mlrelease approve`)")
        elif ids.who(author) != named or ids.who(trailers.get("actor") or author) != named:
            result[a] = (None, f"commit {commit[:10]} that added it is by {author}, not by {a.by}")
        elif not signed:
            result[a] = (named, "")
        else:
            sig = sigs.get(commit, signing.UNSIGNED)
            if not sig.good:
                result[a] = (None, f"its commit {commit[:10]} {sig.describe()}")
            else:
                result[a] = (ids.who(sig.principal), "")
    return result
