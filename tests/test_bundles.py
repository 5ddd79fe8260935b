"""Release bundles (issue 14.2), end to end: real git repositories, a bare remote, a real webhook on 127.0.0.1.

The production backend is a webhook served by the test; it deploys what it is told unless
the test says which model's deploy to fail (HTTP 500), to cut (no answer: outcome unknown)
or to kill the promoting process at (kill -9 mid-bundle).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.registry.trailers import parse_trailers
from mlrelease.release.plan import PlanChanged, Request
from mlrelease.release.service import ReleaseService
from tests.builders import ORIGIN, commit_all, config, git, make_registry, model, release, version, write
from tests.cli_helpers import cli
from tests.local_http import respond, serving
from tests.release_helpers import state_at

BUNDLES = {"fraud-stack": ["fraud-card", "churn", "scorer"]}


@dataclass
class Hook:
    """The deployment webhook: what it was asked, and how it answers each model."""

    url: str = ""
    seen: list[dict[str, object]] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)  # models whose deploy answers 500
    cut: set[str] = field(default_factory=set)  # models whose request gets no answer (connection closed)
    kill: dict[str, int] = field(default_factory=dict)  # model → pid to kill -9 when its deploy arrives
    lock: threading.Lock = field(default_factory=threading.Lock)

    def asked(self) -> list[tuple[object, object, object]]:
        return [(s["action"], s["model"], s["version"]) for s in self.seen]


def _handler(hook: Hook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            with hook.lock:
                hook.seen.append(body)
            name = str(body["model"])
            if body["action"] == "promote" and name in hook.kill:
                os.kill(hook.kill.pop(name), signal.SIGKILL)
                self.close_connection = True
                return
            if body["action"] == "promote" and name in hook.cut:
                self.close_connection = True
                return
            if body["action"] == "promote" and name in hook.fail:
                respond(self, 500, b"deploy broke")
                return
            respond(self, 200, json.dumps({"reference": f"d-{name}-{body['version']}"}).encode())

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    monkeypatch.setenv("BUNDLE_HOOK_SECRET", "bundle-hook-secret-4f1e2d")
    h = Hook()
    with serving(_handler(h)) as url:
        h.url = url
        yield h


def _registry(tmp_path: Path, hook: Hook, **gates: object) -> tuple[Path, Path]:
    """Three models live in production (fraud-card 1.0.0, churn 0.2.0, scorer 2.0.0), each with a newer
    version; production deploys through the webhook; a bare remote that every action pushes to."""
    root = make_registry(tmp_path / "repo")
    write(root, "models/scorer/model.yaml", model("scorer"))
    for ver in ("2.0.0", "2.1.0"):
        write(root, f"models/scorer/versions/{ver}.yaml", version("scorer", ver, f1=0.9))
    write(root, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0", f1=0.7))
    write(root, "releases/production/scorer.yaml", release("scorer", "production", "2.0.0"))
    cfg = config(remote=ORIGIN, bundles=BUNDLES)
    cfg["backends"] = {
        "record": {"type": "record"},
        "hook": {"type": "webhook", "url": f"{hook.url}/deploy", "secret_env": "BUNDLE_HOOK_SECRET", "retries": 0},
    }
    production: dict[str, object] = {"name": "production", "backend": "hook"}
    if gates:
        production["gates"] = gates
    cfg["environments"] = [{"name": "dev", "backend": "record"}, {"name": "staging", "backend": "record"}, production]
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "scorer; production deploys through the webhook; a bundle")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(root), str(bare))
    git(root, "remote", "add", "origin", str(bare))
    git(root, "fetch", "-q", "origin")
    git(root, "branch", "-q", "--set-upstream-to=origin/main", "main")
    git(root, "tag", "setup")
    return root, bare


def _live(root: Path, name: str, ref: str = "origin/main") -> str | None:
    s = state_at(root, "production", name, ref)
    return s.live.version if s.live else None


def _bundle_commits(bare: Path, since: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for sha in git(bare, "rev-list", "--reverse", f"{since}..main").split():
        message = git(bare, "log", "-1", "--format=%B", sha)
        out.append((message.splitlines()[0], parse_trailers(message)))
    return out


def _verify_ok(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    """Every commit since the set-up (whose release files the fixture wrote by hand) is a verified action."""
    git(root, "fetch", "-q", "origin")
    git(root, "merge", "-q", "--ff-only", "origin/main")
    rc, out, _err = cli(capsys, root, "verify", "--since", "setup", "--json")
    report = json.loads(out)
    assert rc == 0 and report["ok"], report["findings"]


PROMOTE = ("promote", "--bundle", "fraud-stack", "fraud-card@1.1.0", "churn@0.3.0", "--to", "production", "--reason", "new stack")


# ---- the happy path: one plan, one chain of intents, one id ---------------------------------------


def test_a_bundle_moves_every_model_as_one_change_tied_by_one_id(tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]) -> None:
    root, bare = _registry(tmp_path, hook)
    before = git(bare, "rev-parse", "main").strip()
    rc, out, err = cli(capsys, root, *PROMOTE, "--dry-run", "--json")
    plan = json.loads(out)["plan"]
    assert rc == 0 and [m["model"] for m in plan["members"]] == ["fraud-card", "churn", "scorer"]
    assert [m["version"] for m in plan["members"]] == ["1.1.0", "0.3.0", "2.1.0"]  # scorer: its latest
    assert {g["name"].split(":")[0] for g in plan["gates"]} == {"fraud-card", "churn", "scorer"}
    assert hook.seen == [] and git(bare, "rev-parse", "main").strip() == before

    rc, out, err = cli(capsys, root, *PROMOTE, "--yes", "--json")
    result = json.loads(out)["result"]
    assert rc == 0, err
    assert [_live(root, m) for m in ("fraud-card", "churn", "scorer")] == ["1.1.0", "0.3.0", "2.1.0"]
    assert hook.asked() == [("promote", "fraud-card", "1.1.0"), ("promote", "churn", "0.3.0"), ("promote", "scorer", "2.1.0")]
    written = _bundle_commits(bare, before)
    assert len(written) == 6 and len({t["bundle"] for _, t in written}) == 1
    assert [t["phase"] for _, t in written] == ["Pending"] * 3 + ["Succeeded"] * 3  # the intents first, as one chain
    assert result["action_id"] == written[0][1]["bundle"]
    assert [i["phase"] for i in result["items"]] == ["Succeeded"] * 3
    _verify_ok(capsys, root)

    rc, out, _ = cli(capsys, root, "history", "--json")
    events = json.loads(out)["events"]
    assert events[0]["action"] == "bundle" and events[0]["bundle"] == result["action_id"] and len(events[0]["members"]) == 6
    assert events[0]["phase"] == "Succeeded" and "fraud-card 1.1.0: Succeeded" in events[0]["note"]
    rc, out, _ = cli(capsys, root, "history", "--limit", "3")
    assert "bundle" in out and result["action_id"][:10] in out.replace("\n", "")

    # One command rolls the whole bundle back: a bundle of its own, each member pinned.
    rc, out, err = cli(capsys, root, "rollback", "--bundle", result["action_id"], "--reason", "bad night", "--yes", "--json")
    assert rc == 0, err
    assert [_live(root, m) for m in ("fraud-card", "churn", "scorer")] == ["1.0.0", "0.2.0", "2.0.0"]
    assert all(state_at(root, "production", m, "origin/main").pin is not None for m in ("fraud-card", "churn", "scorer"))
    _verify_ok(capsys, root)


# ---- all or nothing --------------------------------------------------------------------------------


def test_a_failing_gate_of_one_member_moves_nothing_and_writes_nothing(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    root, bare = _registry(tmp_path, hook, thresholds={"f1": {"min": 0.75}})  # churn 0.3.0 has f1 0.7
    before = git(bare, "rev-parse", "main").strip()
    rc, out, err = cli(capsys, root, *PROMOTE, "--yes")
    assert rc == 3 and "churn: threshold:f1" in out + err
    assert git(bare, "rev-parse", "main").strip() == before and git(root, "rev-parse", "main").strip() == before
    assert hook.seen == []


def test_a_backend_failing_part_way_rolls_back_what_moved_and_records_each_fate(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _bare = _registry(tmp_path, hook)
    hook.fail.add("churn")
    rc, out, err = cli(capsys, root, *PROMOTE, "--yes", "--json")
    assert rc == 5, err
    result = json.loads(out)["result"]
    assert [_live(root, m) for m in ("fraud-card", "churn", "scorer")] == ["1.0.0", "0.2.0", "2.0.0"]  # nothing of it stays live
    assert hook.asked() == [("promote", "fraud-card", "1.1.0"), ("promote", "churn", "0.3.0"), ("rollback", "fraud-card", "1.0.0")]
    messages = [i["message"] for i in result["items"]]
    assert "Succeeded, then rolled back to 1.0.0" in messages[0] and "Failed" in messages[1] and "not attempted" in messages[2]
    scorer = state_at(root, "production", "scorer", "origin/main")
    assert scorer.observed is not None and scorer.observed.phase == "Failed" and "not attempted" in (scorer.observed.message or "")
    fraud = state_at(root, "production", "fraud-card", "origin/main")
    assert fraud.desired is not None and fraud.desired.undo and fraud.pin is None  # put back, not held
    rc, out, _ = cli(capsys, root, "history", "--json")
    event = json.loads(out)["events"][0]
    assert event["action"] == "bundle" and event["phase"] == "Failed"
    assert event["note"] == "fraud-card 1.1.0: Succeeded, then rolled back to 1.0.0; churn 0.3.0: Failed; scorer 2.1.0: not attempted"
    _verify_ok(capsys, root)


# ---- faults: kill -9, an outcome nobody knows, someone pushed first -----------------------------------


def test_kill_9_mid_bundle_then_reconcile_finishes_it_or_undoes_it_truthfully(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _bare = _registry(tmp_path, hook)
    # The CLI in its own process, so the webhook can kill it (-9) while churn's deploy call is in flight.
    child = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlrelease"), "--repo", str(root), *PROMOTE, "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    hook.kill["churn"] = child.pid
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    git(root, "fetch", "-q", "origin")
    phases = [state_at(root, "production", m, "origin/main").observed for m in ("fraud-card", "churn", "scorer")]
    assert [p.phase if p else None for p in phases] == ["Succeeded", "Pending", "Pending"]
    assert _live(root, "fraud-card") == "1.1.0" and _live(root, "churn") == "0.2.0"  # the record claims nothing it does not know

    hook.fail.add("churn")  # asked again (same id), the deploy fails: reconcile undoes the bundle
    rc, out, err = cli(capsys, root, "reconcile", "--yes", "--json")
    assert rc == 5, err
    assert [_live(root, m) for m in ("fraud-card", "churn", "scorer")] == ["1.0.0", "0.2.0", "2.0.0"]
    assert ("promote", "scorer", "2.1.0") not in hook.asked()  # never called: recorded as not attempted
    assert hook.asked()[-1] == ("rollback", "fraud-card", "1.0.0")
    rc, out, _ = cli(capsys, root, "history", "--json")
    assert json.loads(out)["events"][0]["note"] == (
        "fraud-card 1.1.0: Succeeded, then rolled back to 1.0.0; churn 0.3.0: Failed; scorer 2.1.0: not attempted"
    )
    _verify_ok(capsys, root)


def test_an_outcome_nobody_knows_stops_the_bundle_pending_and_reconcile_finishes_it(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _bare = _registry(tmp_path, hook)
    hook.cut.add("churn")
    rc, _, err = cli(capsys, root, *PROMOTE, "--yes")
    assert rc == 5 and "reconcile" in err
    phases = [state_at(root, "production", m, "origin/main").observed for m in ("fraud-card", "churn", "scorer")]
    assert [p.phase if p else None for p in phases] == ["Succeeded", "Pending", "Pending"]  # Pending, never Succeeded
    hook.cut.clear()
    rc, _out, err = cli(capsys, root, "reconcile", "--yes")
    assert rc == 0, err
    assert [_live(root, m) for m in ("fraud-card", "churn", "scorer")] == ["1.1.0", "0.3.0", "2.1.0"]
    _verify_ok(capsys, root)


def test_when_someone_moved_a_member_first_the_bundle_is_refused_whole(tmp_path: Path, hook: Hook) -> None:
    root, bare = _registry(tmp_path, hook)
    service = ReleaseService(root)
    plan = service.prepare_bundle([("fraud-card", "1.1.0"), ("churn", "0.3.0")], "production", reason="stack")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    git(other, "config", "user.email", "bob@example.com")
    git(other, "config", "user.name", "Bob")
    assert main(["--repo", str(other), "promote", "churn@0.1.0", "--to", "production", "--reason", "bob first", "--yes"]) == 0
    tip = git(bare, "rev-parse", "main").strip()
    with pytest.raises(PlanChanged) as caught:
        service.execute(plan)
    assert "churn" in str(caught.value) and caught.value.plan.members  # the fresh bundle plan, to show again
    assert git(bare, "rev-parse", "main").strip() == tip
    assert [s["model"] for s in hook.seen] == ["churn"]  # Bob's promotion only


# ---- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("promote", "--bundle", "nope", "--to", "production", "--reason", "x", "--yes"), 1, "no bundle 'nope'"),
        (("promote", "--bundle", "fraud-stack", "other@1.0.0", "--to", "production", "--reason", "x", "--yes"), 2, "not in bundle"),
        (("promote", "fraud-card@1.1.0", "churn@0.3.0", "--to", "production", "--force", "--reason", "x", "--yes"), 2, "--force"),
        (("promote", "fraud-card@1.1.0", "fraud-card@1.0.0", "--to", "production", "--reason", "x", "--yes"), 2, "named twice"),
        (("promote", "--to", "production", "--reason", "x", "--yes"), 2, "MODEL@VERSION"),
        (("rollback", "--bundle", "01NOPE", "--reason", "x", "--yes"), 1, "no release bundle"),
        (("rollback", "churn", "--bundle", "01NOPE", "--reason", "x", "--yes"), 2, "takes no MODEL"),
    ],
)
def test_bad_bundle_commands_say_why_and_write_nothing(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, message: str
) -> None:
    root, bare = _registry(tmp_path, hook)
    before = git(bare, "rev-parse", "main").strip()
    rc, _out, err = cli(capsys, root, *args)
    assert rc == code and message in err
    assert git(bare, "rev-parse", "main").strip() == before and hook.seen == []


def test_lint_names_every_bad_bundle_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_registry(tmp_path / "repo")
    text = (root / "mlrelease.yaml").read_text()
    text += "bundles:\n  stack: [fraud-card, ghost]\n  alone: [churn]\n  twice: [churn, churn]\n  odd: {a: 1}\n"
    (root / "mlrelease.yaml").write_text(text)
    lines = text.splitlines()
    at = {name: lines.index(next(x for x in lines if x.startswith(f"  {name}:"))) + 1 for name in ("stack", "alone", "twice", "odd")}
    rc, out, err = cli(capsys, root, "lint")
    said = out + err
    assert rc != 0
    assert f"mlrelease.yaml:{at['alone']}" in said and "at least two models" in said
    assert f"mlrelease.yaml:{at['twice']}" in said and "more than once" in said
    assert f"mlrelease.yaml:{at['odd']}" in said and "list of model names" in said
    text = text.replace("  alone: [churn]\n  twice: [churn, churn]\n  odd: {a: 1}\n", "")
    (root / "mlrelease.yaml").write_text(text)
    rc, out, err = cli(capsys, root, "lint")
    assert rc != 0 and f"mlrelease.yaml:{at['stack']}" in out + err and "'ghost', which does not exist" in out + err


def test_verify_refuses_an_undo_that_no_bundle_made(tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]) -> None:
    """An unpinned rollback is a bundle's undo only: one made through the API without a bundle is forged."""
    root, _bare = _registry(tmp_path, hook)
    assert main(["--repo", str(root), "promote", "churn@0.3.0", "--to", "production", "--reason", "r", "--yes"]) == 0
    service = ReleaseService(root)
    plan = service.prepare(Request("rollback", "churn", "0.2.0", "production", "sneak back, no pin", undo=True))
    assert service.execute(plan).status == "done"
    assert state_at(root, "production", "churn", "origin/main").pin is None
    git(root, "merge", "-q", "--ff-only", "origin/main")
    capsys.readouterr()
    rc, out, _ = cli(capsys, root, "verify", "--since", "setup", "--json")
    messages = [f["message"] for f in json.loads(out)["findings"]]
    assert (
        rc != 0
        and "only a bundle's rollback is an undo" in messages
        and "a rollback pins the environment, and this one did not" in messages
    )


# ---- a shallow clone (a CI runner's `git clone --depth 1`) --------------------------------------------


@pytest.mark.parametrize("churn", ["deploys", "fails"])
def test_a_bundle_from_a_shallow_clone_records_only_what_happened_and_leaves_the_clone_whole(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str], churn: str
) -> None:
    """The undo of a failed bundle and the gates read history a depth-1 clone lacks: the record must still be
    exactly what the backends did, and the clone must end consistent (whole objects, its remote ref on the tip)."""
    _root, bare = _registry(tmp_path, hook)
    before = git(bare, "rev-parse", "main").strip()
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{bare}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    if churn == "fails":
        hook.fail.add("churn")
    rc, out, err = cli(capsys, clone, *PROMOTE, "--yes", "--json")
    result = json.loads(out)["result"]
    live = [_live(clone, m) for m in ("fraud-card", "churn", "scorer")]
    written = _bundle_commits(bare, before)
    if churn == "deploys":
        assert rc == 0, err
        assert live == ["1.1.0", "0.3.0", "2.1.0"]
        assert [t["phase"] for _, t in written] == ["Pending"] * 3 + ["Succeeded"] * 3
    else:
        assert rc == 5, err
        assert live == ["1.0.0", "0.2.0", "2.0.0"]  # what moved was put back, from history the clone had to fetch
        assert hook.asked()[-1] == ("rollback", "fraud-card", "1.0.0")
        assert [i["phase"] for i in result["items"]][1:] == ["Failed", "Failed"]
    assert len({t["bundle"] for _, t in written}) == 1 and result["action_id"] == written[0][1]["bundle"]
    # The clone is whole: its remote ref is the remote's tip, every object is there, nothing is left staged.
    assert git(clone, "rev-parse", "origin/main").strip() == git(bare, "rev-parse", "main").strip()
    git(clone, "fsck", "--connectivity-only", "--no-progress")
    assert git(clone, "status", "--porcelain", "--untracked-files=no") == ""
    git(clone, "merge", "-q", "--ff-only", "origin/main")
    rc, out, _err = cli(capsys, clone, "verify", "--since", before, "--json")
    assert rc == 0 and json.loads(out)["ok"], out


# ---- a bundle's row in the history: every model's commits, with their marks ----------------------------


def _rewrite(root: Path, pick: str, edit: Callable[[str], str]) -> str:
    """Write the bundle's commits again, the first whose message has every word of ``pick`` edited by hand; its old sha.

    What someone with push rights can do: the same trees, a message changed, the later
    commits on top of it again.
    """
    chain = git(root, "rev-list", "--reverse", "setup..HEAD").split()
    messages = {c: git(root, "show", "-s", "--format=%B", c) for c in chain}
    target = next(c for c in chain if all(word in messages[c] for word in pick.split()))
    parent = git(root, "rev-parse", f"{target}^").strip()
    for c in chain[chain.index(target) :]:
        body = edit(messages[c]) if c == target else messages[c]
        parent = subprocess.run(
            ["git", "commit-tree", f"{c}^{{tree}}", "-p", parent, "-m", body], cwd=root, check=True, capture_output=True, text=True
        ).stdout.strip()
    git(root, "reset", "-q", "--hard", parent)
    return target


def test_history_of_one_model_shows_the_other_models_fate_and_marks_on_its_bundle_row(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10: ``history fraud-card`` folded a bundle from fraud-card's commits alone, so
    its row said neither churn's fate nor that churn's commit of the bundle was hand-edited.
    Here churn's outcome commit lost its Mlrelease-Action trailer, as if someone wrote it by
    hand: verify calls it a hand edit, no outcome of churn's promotion (churn is Pending), and
    that hand edit, which still says which bundle it claims to be of, is on the bundle's row."""
    root, _ = _registry(tmp_path, hook)
    assert cli(capsys, root, *PROMOTE, "--yes")[0] == 0
    _rewrite(
        root, "churn Succeeded", lambda body: "".join(line for line in body.splitlines(True) if not line.startswith("Mlrelease-Action:"))
    )

    for who in ("fraud-card", "churn", None):  # every model's history, and the whole one, say the same of the bundle
        rc, out, err = cli(capsys, root, "history", *([who] if who else []), "--json")
        assert rc == 0, err
        [row] = [e for e in json.loads(out)["events"] if e["action"] == "bundle"]
        assert "churn 0.3.0: Pending" in row["note"] and "fraud-card 1.1.0: Succeeded" in row["note"], (who, row["note"])
        assert row["marks"] == ["hand-edited"] and len(row["members"]) == 6, (who, row)
    rc, out, err = cli(capsys, root, "history", "fraud-card", "--limit", "5")
    assert rc == 0, err
    assert "churn 0.3.0: Pending" in out and "hand-edited" in out


def test_a_bundle_row_says_the_forced_gates_and_break_glass_of_every_member_not_the_first_alone(
    tmp_path: Path, hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    """registry.bundles.folded took ``forced`` and ``break_glass`` from the bundle's first
    intent (fraud-card's), so a forced gate or break-glass on churn's commit of the bundle
    (here written into its intent by hand: verify finds it too) was on no face but the TUI's."""
    root, _ = _registry(tmp_path, hook)
    assert cli(capsys, root, *PROMOTE, "--yes")[0] == 0
    forged = "Mlrelease-Forced-Gates: rejected\nMlrelease-Break-Glass: bob@bank.example\n"
    _rewrite(root, "Promote churn", lambda body: body.rstrip("\n") + "\n" + forged)

    rc, out, err = cli(capsys, root, "history", "--json")
    assert rc == 0, err
    [row] = [e for e in json.loads(out)["events"] if e["action"] == "bundle"]
    assert row["forced"] == "churn: rejected" and row["break_glass"] == "bob@bank.example", row
    rc, out, err = cli(capsys, root, "history", "--limit", "5")
    assert rc == 0, err
    flat = " ".join(out.split())
    assert "forced gates: churn: rejected" in flat and "break-glass by bob@bank.example" in flat, out
