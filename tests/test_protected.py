"""Protected production branches (issue 14 item 4): a promotion opens a pull/merge request; its merge is carried out by reconcile.

The git half is real: a bare remote whose ``pre-receive`` hook refuses direct pushes of
``releases/production/`` to ``main`` (GitHub's GH006 wording) unless the pusher is the CI
job (``MLRELEASE_TEST_PUSHER=ci``, standing for the identity the branch protection lets
push). The API half is a loopback server per provider that checks the documented requests
and answers as documented (tests/forge_servers.py), and misbehaves where a test says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlrelease.registry import yamlsafe
from mlrelease.registry.parse import parse_release
from mlrelease.registry.trailers import parse_trailers
from mlrelease.registry.types import ReleaseState
from tests.builders import ORIGIN, commit_all, config, git, make_registry, write
from tests.forge_servers import TOKEN, Forge, api_of, forge_server
from tests.local_http import free_port

EXE = str(Path(sys.executable).with_name("mlrelease"))
HOOK = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = "refs/heads/main" ] && [ "$MLRELEASE_TEST_PUSHER" != "ci" ] && [ "$old" != 0000000000000000000000000000000000000000 ]; then
    if git diff --name-only "$old" "$new" | grep -q '^releases/production/'; then
      echo "GH006: Protected branch update failed for refs/heads/main: changes must be made through a pull request." >&2
      exit 1
    fi
  fi
done
exit 0
"""
IDENTITIES = {
    "people": {
        "alice": {"emails": ["alice@bank.example"], "github": ["alice-gh"], "gitlab": ["alice-gl"]},
        "bob": {"emails": ["bob@bank.example"], "github": ["bob-gh"], "gitlab": ["bob-gl"]},
        "carol": {"emails": ["carol@bank.example"], "github": ["Carol-GH"], "gitlab": ["carol-gl"]},
    }
}
ALICE = {"GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@bank.example", "GIT_COMMITTER_NAME": "Alice"}
ALICE |= {"GIT_COMMITTER_EMAIL": "alice@bank.example"}
CI = {"GIT_AUTHOR_NAME": "release-bot", "GIT_AUTHOR_EMAIL": "release-bot@bank.example", "GIT_COMMITTER_NAME": "release-bot"}
CI |= {"GIT_COMMITTER_EMAIL": "release-bot@bank.example", "MLRELEASE_TEST_PUSHER": "ci"}
HOOK_SECRET = "whk-5c2e81d04f7a4b9e-protected"


@dataclass
class Setup:
    bare: Path
    clone: Path
    base: str  # main before the promotion
    forge: Forge | None


def registry(
    tmp_path: Path, forge: Forge | None, *, approvals: int = 0, backend: str = "record", webhook: str | None = None, protected: Any = None
) -> Setup:
    seed = make_registry(tmp_path / "seed")
    cfg = config(remote=ORIGIN)
    cfg["environments"] = [{"name": e, "backend": "record"} for e in ("dev", "staging", "production")]
    prod = cfg["environments"][2]
    prod["backend"] = backend
    if forge is not None and protected is None:
        protected = {"provider": forge.provider, "api": api_of(forge), "repo": forge.repo, "token_env": "FORGE_TOKEN", "timeout": 3}
    if approvals:
        prod["gates"] = {"approvals": approvals}
    if protected is not None:
        prod["protected"] = protected
    if webhook:
        cfg["backends"]["deploy"] = {"type": "webhook", "url": webhook, "secret_env": "HOOK_SECRET", "retries": 0, "timeout": 5}
    write(seed, "mlrelease.yaml", cfg)
    write(seed, "controls/identities.yaml", IDENTITIES)
    commit_all(seed, "protect production")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    if forge is not None:
        forge.bare = bare
    return Setup(bare, clone, git(bare, "rev-parse", "main").strip(), forge)


def run(root: Path, *args: str, who: dict[str, str] = ALICE, token: str | None = TOKEN, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k not in ("FORGE_TOKEN", "MLRELEASE_TEST_PUSHER")}
    env |= who | {"HOOK_SECRET": HOOK_SECRET} | extra
    if token is not None:
        env["FORGE_TOKEN"] = token
    return subprocess.run([EXE, "--repo", str(root), *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def promote(s: Setup, *extra: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(
        s.clone, "promote", "fraud-card@1.2.0", "--to", "production", "--reason", "ship *it* <b>now</b> ``` @team", "--yes", *extra, **kw
    )


def branches(bare: Path) -> list[str]:
    return [b for b in git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split() if b != "main"]


def release_file(bare: Path, ref: str = "main") -> str:
    return git(bare, "show", f"{ref}:releases/production/fraud-card.yaml")


def release_state(bare: Path) -> ReleaseState:
    path = "releases/production/fraud-card.yaml"
    return parse_release(yamlsafe.load(release_file(bare), path), path)


def records(clone: Path) -> list[dict[str, Any]]:
    folder = clone / ".git" / "mlrelease" / "proposals"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


@pytest.fixture(params=["github", "gitlab"])
def forge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Forge]:
    repo = "bank/model-registry" if request.param == "github" else "risk/ml/model-registry"
    with forge_server(request.param, tmp_path / "remote.git", repo) as f:
        yield f


# ---- the git half: the hook refuses a plain promote -------------------------------------------------


def test_a_plain_promote_to_the_protected_branch_is_declined_in_the_hooks_words(tmp_path: Path) -> None:
    s = registry(tmp_path, None)
    proc = promote(s)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "declined" in proc.stderr and "GH006: Protected branch update failed" in proc.stderr
    assert git(s.bare, "rev-parse", "main").strip() == s.base and branches(s.bare) == []
    ok = run(s.clone, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "r", "--yes")
    assert ok.returncode == 0, ok.stderr  # other environments still push directly


# ---- the API half: the request opened, as each provider documents it ---------------------------------


def test_a_promotion_to_a_protected_environment_opens_a_request_with_the_plan_and_changes_nothing_on_main(
    tmp_path: Path, forge: Forge
) -> None:
    s = registry(tmp_path, forge, approvals=1)
    proc = promote(s, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    result = doc["result"]
    assert result["status"] == "proposed" and result["phase"] == "Pending", result
    pr = forge.proposals[0]
    url = pr["html_url"] if forge.provider == "github" else pr["web_url"]
    assert result["proposal"] == {"provider": forge.provider, "number": 1, "url": url, "branch": forge.branch_of(pr), "state": "open"}
    assert url in result["message"]
    assert git(s.bare, "rev-parse", "main").strip() == s.base  # nothing on the branch of record
    [branch] = branches(s.bare)
    assert branch == f"mlrelease/production/fraud-card/{result['action_id']}" == forge.branch_of(pr)
    intent = parse_trailers(git(s.bare, "log", "-1", "--format=%B", branch))
    assert intent["action"] == "promote" and intent["phase"] == "Pending" and intent["promotion_id"] == result["action_id"]
    assert git(s.bare, "rev-parse", f"{branch}^").strip() == s.base  # built on the remote tip
    assert "Pending" in release_file(s.bare, branch)  # the intent, as a direct promotion writes it
    # The requests, as documented: look first, then create, with the auth and version headers.
    calls = [(r["method"], r["path"]) for r in forge.requests]
    if forge.provider == "github":
        assert calls == [("GET", "/repos/bank/model-registry/pulls"), ("POST", "/repos/bank/model-registry/pulls")]
        assert forge.requests[0]["query"]["head"] == [f"bank:{branch}"]
        sent = forge.requests[1]["body"]
        assert {k: sent[k] for k in ("head", "base", "maintainer_can_modify")} == {
            "head": branch,
            "base": "main",
            "maintainer_can_modify": False,
        }
        body = sent["body"]
        headers = forge.requests[1]["headers"]
        assert headers["Authorization"] == f"Bearer {TOKEN}" and headers["X-GitHub-Api-Version"] == "2022-11-28"
    else:
        project = "/api/v4/projects/risk%2Fml%2Fmodel-registry/merge_requests"
        assert calls == [("GET", project), ("POST", project)]
        sent = forge.requests[1]["body"]
        assert sent["source_branch"] == branch and sent["target_branch"] == "main" and sent["remove_source_branch"] is True
        body = sent["description"]
        assert forge.requests[1]["headers"]["PRIVATE-TOKEN"] == TOKEN and "Authorization" not in forge.requests[1]["headers"]
    assert sent["title"] == "Promote fraud-card 1.2.0 to production"
    # The plan is in the body; the reason, untrusted, only inside a fence it cannot close.
    fence = "````"  # the reason holds ``` so the fence is one longer
    assert f"{fence}text\n" in body and body.count(fence) == 2
    inside = body.split(fence)[1]
    assert "reason: ship *it* <b>now</b> ``` @team" in inside and "@team" not in body.replace(inside, "")
    assert "approvals: deferred to the" in inside and "1 approving review" in body
    [rec] = records(s.clone)
    assert rec["state"] == "open" and rec["url"] == url and rec["branch"] == branch
    assert TOKEN not in proc.stdout + proc.stderr + json.dumps(rec)


def test_the_plan_says_where_a_protected_promotion_goes_and_touches_nothing(tmp_path: Path) -> None:
    with forge_server("github", tmp_path / "remote.git", "bank/model-registry") as forge:
        s = registry(tmp_path, forge, approvals=2)
        proc = run(s.clone, "plan", "fraud-card@1.2.0", "--to", "production")
        assert proc.returncode == 0, proc.stderr
        assert "production is protected" in proc.stdout and "pull request" in proc.stdout
        assert "deferred to the pull request" in proc.stdout
        assert forge.requests == [] and branches(s.bare) == []


# ---- faults: nothing half-written, no branch left behind unsaid ---------------------------------------


@pytest.mark.parametrize(
    ("provider", "fault", "words"),
    [
        ("github", 401, "answered 401"),
        ("gitlab", 403, "answered 403"),
        ("github", 500, "answered 500"),
        ("gitlab", 502, "answered 502"),
        ("github", "cut", "failed"),
        ("gitlab", "cut", "failed"),
        ("github", 301, "a redirect"),
        ("gitlab", "trickle", "no answer within 3 s"),
    ],
)
def test_a_request_that_cannot_be_opened_leaves_the_remote_as_it_was(tmp_path: Path, provider: str, fault: object, words: str) -> None:
    with forge_server(provider, tmp_path / "remote.git", "bank/model-registry") as forge:
        check_withdrawn(tmp_path, forge, fault, words)


def check_withdrawn(tmp_path: Path, forge: Forge, fault: object, words: str) -> None:
    s = registry(tmp_path, forge)
    forge.faults.append(("POST", "merge_requests" if forge.provider == "gitlab" else "/pulls", fault))
    proc = promote(s)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("mlrelease: error:")]
    assert len(lines) == 1, proc.stderr  # one line, whatever went wrong
    line = lines[0]
    assert "could not open the" in line and words in line and "was deleted from origin again: nothing changed on the remote" in line
    assert branches(s.bare) == [] and git(s.bare, "rev-parse", "main").strip() == s.base
    assert forge.proposals == []
    [rec] = records(s.clone)
    assert rec["state"] == "branch deleted again" and words in rec["error"]
    assert TOKEN not in proc.stdout + proc.stderr


def test_bad_credentials_are_the_forges_own_words_on_one_line(tmp_path: Path, forge: Forge) -> None:
    s = registry(tmp_path, forge)
    proc = promote(s, token="ghp_wrong_token_value_12345")
    assert proc.returncode == 1
    expected = "Bad credentials" if forge.provider == "github" else "401 Unauthorized"
    assert expected in proc.stderr and "ghp_wrong_token_value_12345" not in proc.stderr
    assert branches(s.bare) == []


def test_a_missing_token_refuses_before_anything_is_pushed(tmp_path: Path, forge: Forge) -> None:
    s = registry(tmp_path, forge)
    proc = promote(s, token=None)
    assert proc.returncode == 1
    assert "environment variable FORGE_TOKEN is not set" in proc.stderr
    assert branches(s.bare) == [] and forge.requests == [] and records(s.clone) == []


@pytest.mark.parametrize("fault", ["cut-after", "502-after"])
def test_a_request_created_but_unanswered_is_found_again_and_taken(tmp_path: Path, forge: Forge, fault: str) -> None:
    s = registry(tmp_path, forge)
    forge.faults.append(("POST", "", fault))  # created on the forge, and the answer is lost
    proc = promote(s, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(forge.proposals) == 1 and json.loads(proc.stdout)["result"]["proposal"]["number"] == 1
    assert [r["method"] for r in forge.requests] == ["GET", "POST", "GET"]  # looked again after the lost answer
    assert len(branches(s.bare)) == 1


def test_a_request_that_already_exists_is_taken_not_opened_twice(tmp_path: Path, forge: Forge) -> None:
    s = registry(tmp_path, forge)
    forge.faults.append(("GET", "", "race"))  # the first look misses it: another attempt opens it meanwhile
    proc = promote(s, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    codes = {"github": 422, "gitlab": 409}
    assert len(forge.proposals) == 1, forge.proposals
    assert forge.answers[1] == codes[forge.provider], forge.answers  # the create answered "already exists"
    assert json.loads(proc.stdout)["result"]["proposal"]["number"] == 1


def test_a_token_is_never_sent_over_plain_http_but_to_loopback(tmp_path: Path) -> None:
    protected = {"provider": "github", "api": "http://github.bank.example/api/v3", "repo": "bank/r", "token_env": "FORGE_TOKEN"}
    s = registry(tmp_path, None, protected=protected)
    proc = promote(s)
    assert proc.returncode == 1 and "plain http:// is allowed only for a loopback host" in proc.stderr
    assert branches(s.bare) == []


# ---- end to end: promote → request → merge → reconcile in CI → Succeeded; history and verify agree -----


@dataclass
class Hook:
    url: str
    calls: list[dict[str, Any]]


@pytest.fixture
def deploy_hook() -> Iterator[Hook]:
    from http.server import BaseHTTPRequestHandler

    from tests.local_http import respond, serving

    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append({"headers": dict(self.headers), "body": body})
            respond(self, 200, json.dumps({"reference": f"deploy-{len(calls)}"}).encode(), {"Content-Type": "application/json"})

    with serving(Handler) as url:
        yield Hook(f"{url}/deploy", calls)


def ci_clone(s: Setup, tmp_path: Path) -> Path:
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(s.bare), str(ci))
    return ci


def test_end_to_end_the_merged_request_is_carried_out_by_reconcile_and_verify_accepts_it(
    tmp_path: Path, forge: Forge, deploy_hook: Hook
) -> None:
    s = registry(tmp_path, forge, approvals=2, backend="deploy", webhook=deploy_hook.url)
    proc = promote(s, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pid = json.loads(proc.stdout)["result"]["action_id"]
    login = {"github": ("alice-gh", "bob-gh", "carol-gh"), "gitlab": ("alice-gl", "bob-gl", "carol-gl")}[forge.provider]
    forge.approve(1, login[0])  # the promoter's own: never counts
    forge.approve(1, login[1])
    forge.approve(1, login[2])  # Carol-GH in identities.yaml: logins ignore case
    forge.merge(1)
    assert deploy_hook.calls == []  # nothing deployed by the merge itself
    ci = ci_clone(s, tmp_path)
    done = run(ci, "reconcile", "--env", "production", "--yes", "--json", who=CI)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(deploy_hook.calls) == 1 and deploy_hook.calls[0]["body"]["promotion_id"] == pid
    state = release_state(s.bare)
    assert state.observed is not None and state.observed.phase == "Succeeded" and state.live is not None and state.live.version == "1.2.0"
    outcome = parse_trailers(git(s.bare, "log", "-1", "--format=%B", "main"))
    url = forge.proposals[0]["html_url" if forge.provider == "github" else "web_url"]
    assert outcome["action"] == "reconcile" and outcome["phase"] == "Succeeded" and outcome["proposal"] == url
    assert outcome["approved_by"] == ", ".join(f"{forge.provider}:{x}" for x in login)
    assert outcome["actor"].endswith("<release-bot@bank.example>")
    git(s.clone, "pull", "-q", "--ff-only")
    history = run(s.clone, "history", "fraud-card", "--env", "production", "--json")
    assert history.returncode == 0, history.stderr
    kinds = [(e["action"], e.get("phase")) for e in json.loads(history.stdout)["events"]][:2]
    assert kinds == [("reconcile", "Succeeded"), ("promote", "Pending")], kinds
    verify = run(s.clone, "verify", "--since", s.base)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    again = run(ci, "reconcile", "--env", "production", "--yes", who=CI)
    assert again.returncode == 0 and len(deploy_hook.calls) == 1  # nothing left Pending: no second call


@pytest.mark.parametrize("case", ["own-and-unknown", "not-merged", "stale-approval"])
def test_a_merged_intent_without_enough_approvals_is_recorded_failed_and_never_deployed(
    tmp_path: Path, deploy_hook: Hook, case: str
) -> None:
    with forge_server("github", tmp_path / "remote.git", "bank/model-registry") as forge:
        s = registry(tmp_path, forge, approvals=1, backend="deploy", webhook=deploy_hook.url)
        assert promote(s).returncode == 0
        if case == "own-and-unknown":
            forge.approve(1, "alice-gh")  # the promoter
            forge.approve(1, "mallory")  # nobody in identities.yaml
            forge.merge(1)
            expected = "0 of 1 approvals"
        elif case == "stale-approval":
            forge.approve(1, "bob-gh", commit="0" * 40)  # approved another head than the one merged
            forge.merge(1)
            expected = "0 of 1 approvals"
        else:  # the intent reached main by a push the protection let through, no merged request behind it
            branch = branches(s.bare)[0]
            git(s.bare, "update-ref", "refs/heads/main", branch)
            expected = "is open"
        ci = ci_clone(s, tmp_path)
        done = run(ci, "reconcile", "--env", "production", "--yes", who=CI)
        assert done.returncode == 3, done.stdout + done.stderr
        assert deploy_hook.calls == []
        state = release_state(s.bare)
        assert state.observed is not None and state.observed.phase == "Failed", state
        assert state.live is not None and state.live.version == "1.0.0"
        assert expected in (state.observed.message or ""), state.observed
        verify = run(ci, "verify", "--since", s.base)
        assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_forge_that_cannot_be_asked_leaves_the_merged_intent_pending(tmp_path: Path, deploy_hook: Hook) -> None:
    with forge_server("gitlab", tmp_path / "remote.git", "risk/model-registry") as forge:
        s = registry(tmp_path, forge, backend="deploy", webhook=deploy_hook.url)
        assert promote(s).returncode == 0
        forge.merge(1)
        forge.faults.append(("GET", "", 503))
        ci = ci_clone(s, tmp_path)
        done = run(ci, "reconcile", "--env", "production", "--yes", who=CI)
        assert done.returncode != 0 and "answered 503" in done.stdout + done.stderr
        assert deploy_hook.calls == [] and release_state(s.bare).pending
        ok = run(ci, "reconcile", "--env", "production", "--yes", who=CI)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert len(deploy_hook.calls) == 1 and release_state(s.bare).live.version == "1.2.0"  # type: ignore[union-attr]


def test_verify_finds_a_protected_deployment_whose_recorded_approvals_do_not_count(tmp_path: Path, deploy_hook: Hook) -> None:
    with forge_server("github", tmp_path / "remote.git", "bank/model-registry") as forge:
        s = registry(tmp_path, forge, approvals=1, backend="deploy", webhook=deploy_hook.url)
        assert promote(s).returncode == 0
        forge.approve(1, "bob-gh")
        forge.merge(1)
        ci = ci_clone(s, tmp_path)
        assert run(ci, "reconcile", "--env", "production", "--yes", who=CI).returncode == 0
        # Rewrite the outcome's trailers as if only the promoter had approved: verify recomputes and refuses.
        message = git(s.bare, "log", "-1", "--format=%B", "main").replace("github:bob-gh", "github:alice-gh")
        tree = git(s.bare, "rev-parse", "main^{tree}").strip()
        parent = git(s.bare, "rev-parse", "main^").strip()
        forged = subprocess.run(
            ["git", "-C", str(s.bare), "commit-tree", tree, "-p", parent, "-m", message],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **{k: v for k, v in CI.items() if k.startswith("GIT_")}},
        ).stdout.strip()
        git(s.bare, "update-ref", "refs/heads/main", forged)
        git(ci, "fetch", "-q", "origin")
        verify = run(ci, "verify", "--since", s.base, "--ref", "origin/main")
        assert verify.returncode == 11, verify.stdout + verify.stderr
        assert "gate" in verify.stdout and "0 of 1 approvals" in verify.stdout


def test_the_forge_at_a_closed_port_is_one_line_and_nothing_stays(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{free_port()}"
    s = registry(tmp_path, None, protected={"provider": "github", "api": api, "repo": "bank/r", "token_env": "FORGE_TOKEN"})
    proc = promote(s)
    assert proc.returncode == 1
    assert "is not reachable: connection refused" in proc.stderr and "deleted from origin again" in proc.stderr
    assert branches(s.bare) == []


def test_a_protected_promotion_and_its_reconcile_from_shallow_clones_record_what_happened(
    tmp_path: Path, forge: Forge, deploy_hook: Hook
) -> None:
    """A CI runner's checkout is ``git clone --depth 1``: the promoter's and the CI job's may both be shallow.
    The request is still built on the remote tip, main is untouched until the merge, reconcile deploys once and
    records it, and each clone ends whole (every object there, its remote ref on the remote's tip)."""
    s = registry(tmp_path, forge, approvals=1, backend="deploy", webhook=deploy_hook.url)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{s.bare}", str(shallow))
    assert git(shallow, "rev-parse", "--is-shallow-repository").strip() == "true"
    proc = promote(Setup(s.bare, shallow, s.base, forge), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["result"]
    assert result["status"] == "proposed" and result["phase"] == "Pending", result
    assert git(s.bare, "rev-parse", "main").strip() == s.base and deploy_hook.calls == []
    [branch] = branches(s.bare)
    assert git(s.bare, "rev-parse", f"{branch}^").strip() == s.base  # built on the remote tip
    [rec] = records(shallow)
    assert rec["state"] == "open" and rec["branch"] == branch
    git(shallow, "fsck", "--connectivity-only", "--no-progress")
    assert git(shallow, "status", "--porcelain", "--untracked-files=no") == ""

    forge.approve(1, "bob-gh" if forge.provider == "github" else "bob-gl")
    forge.merge(1)
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{s.bare}", str(ci))
    assert git(ci, "rev-parse", "--is-shallow-repository").strip() == "true"
    done = run(ci, "reconcile", "--env", "production", "--yes", "--json", who=CI)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(deploy_hook.calls) == 1 and deploy_hook.calls[0]["body"]["promotion_id"] == result["action_id"]
    state = release_state(s.bare)
    assert state.observed is not None and state.observed.phase == "Succeeded" and state.live is not None and state.live.version == "1.2.0"
    assert parse_trailers(git(s.bare, "log", "-1", "--format=%B", "main"))["approved_by"].endswith(("bob-gh", "bob-gl"))
    assert git(ci, "rev-parse", "origin/main").strip() == git(s.bare, "rev-parse", "main").strip()
    git(ci, "fsck", "--connectivity-only", "--no-progress")
    verify = run(ci, "verify", "--since", s.base, "--ref", "origin/main")
    assert verify.returncode == 0, verify.stdout + verify.stderr
