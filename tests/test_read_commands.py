"""list and show end to end on real git repositories; --ref equals a checkout; hostile text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.registry.loader import Registry
from mlrelease.registry.overview import overview
from tests.builders import commit_all, config, git, model, release, version, write
from tests.cli_helpers import cli

MLRELEASE = Path(sys.executable).parent / "mlrelease"


def cli_json(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> dict:
    rc, out, err = cli(capsys, root, *args, "--json")
    assert rc == 0, err
    return json.loads(out)


# ---- list ------------------------------------------------------------------------------


def test_list_json_shape_and_values(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    data = cli_json(capsys, repo, "list")
    assert data["environments"] == ["dev", "staging", "production"]
    assert [m["name"] for m in data["models"]] == ["churn", "fraud-card"]
    churn, fraud = data["models"]
    assert fraud["owner"] == "team-fraud"
    assert fraud["versions"] == 3
    assert fraud["latest"] == "1.2.0"
    assert {e: s["live"] for e, s in fraud["environments"].items()} == {"dev": "1.2.0", "staging": "1.1.0", "production": "1.0.0"}
    assert fraud["headline"]["environment"] == "production"
    assert fraud["headline"]["version"] == "1.0.0"
    assert [(h["name"], h["value"], h["display"]) for h in fraud["headline"]["metrics"]] == [
        ("f1", 0.8, "0.800"),
        ("value_detection_rate", 0.7, "70.0%"),
    ]
    assert fraud["candidate"] == "1.2.0"
    assert fraud["flags"] == ["unverified", "candidate"]  # the fixture's states were written by hand: verify says so
    assert churn["environments"]["dev"]["live"] is None
    assert churn["candidate"] is None  # 0.2.0 is what production runs
    assert churn["flags"] == ["unverified"]
    assert data["problems"] == []


def test_list_table_shows_every_model_and_live_versions(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, out, _ = cli(capsys, repo, "list")
    assert rc == 0
    fraud_line = next(line for line in out.splitlines() if line.strip().startswith("fraud-card"))
    for word in ("team-fraud", "1.2.0", "1.1.0", "1.0.0", "f1 0.800", "candidate 1.2.0"):
        assert word in fraud_line or word in out
    assert "churn" in out


def test_list_shows_canary_pending_failed_and_pin(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", f1=0.9, parent="1.2.0"))
    canary = release("fraud-card", "production", "1.0.0")
    canary["live"]["canary"] = {"version": "1.1.0", "weight": 10}
    canary["pin"] = {"by": "Carol <carol@example.com>", "at": "2026-03-03T10:00:00Z", "reason": "incident"}
    write(repo, "releases/production/fraud-card.yaml", canary)
    pending = release("fraud-card", "staging", "1.2.0", promotion_id="p-2", phase="Pending")
    pending["live"] = {"version": "1.1.0", "promotion_id": "p-1", "since": "2026-03-02T10:00:05Z"}
    write(repo, "releases/staging/fraud-card.yaml", pending)
    failed = release("fraud-card", "dev", "1.3.0", promotion_id="p-3", phase="Failed")
    failed["live"] = {"version": "1.2.0", "promotion_id": "p-1", "since": "2026-03-02T10:00:05Z"}
    write(repo, "releases/dev/fraud-card.yaml", failed)
    commit_all(repo, "hand edits")

    fraud = cli_json(capsys, repo, "list")["models"][1]
    envs = fraud["environments"]
    assert envs["production"]["canary"] == {"version": "1.1.0", "weight": 10}
    assert envs["production"]["pinned"] is True
    assert envs["production"]["pin"]["reason"] == "incident"
    assert (envs["staging"]["live"], envs["staging"]["desired"], envs["staging"]["pending"]) == ("1.1.0", "1.2.0", True)
    assert (envs["dev"]["live"], envs["dev"]["desired"], envs["dev"]["failed"]) == ("1.2.0", "1.3.0", True)
    assert fraud["flags"] == ["unverified", "candidate", "pending", "failed", "pinned"]
    assert fraud["candidate"] == "1.3.0"

    rc, out, _ = cli(capsys, repo, "list")
    assert rc == 0
    for words in ("+ canary 1.1.0 @ 10%", "⧗ 1.2.0 pending", "✗ 1.3.0 failed", "⚑ pinned", "candidate 1.3.0"):
        assert words in out


def test_list_candidate_skips_rejected_versions_and_uses_model_headline(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    write(
        repo,
        "models/fraud-card/rejections.yaml",
        {"model": "fraud-card", "rejected": [{"version": "1.2.0", "by": "Bob", "at": "2026-03-04T10:00:00Z", "reason": "bias"}]},
    )
    write(repo, "models/fraud-card/model.yaml", model("fraud-card", headline=["auc", "not-in-catalogue"]))
    commit_all(repo, "reject 1.2.0")
    fraud = cli_json(capsys, repo, "list")["models"][1]
    assert fraud["candidate"] == "1.1.0"
    assert [(h["name"], h["display"], h["goal"]) for h in fraud["headline"]["metrics"]] == [
        ("auc", "0.900", "max"),
        ("not-in-catalogue", "—", None),
    ]


def test_list_reports_a_broken_file_and_still_lists_the_rest(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    write(repo, "models/fraud-card/versions/1.0.0.yaml", "model: fraud-card\nversion: [\n")
    write(repo, "models/churn/model.yaml", "name: churn\nowner: team-crm\nowner: twice\n")
    rc, out, err = cli(capsys, repo, "list", "--json")
    assert rc == 1
    data = json.loads(out)
    churn, fraud = data["models"]
    assert churn["owner"] is None
    assert fraud["environments"]["production"]["live"] == "1.0.0"
    assert fraud["headline"]["metrics"][0]["value"] is None
    paths = {p["path"] for p in data["problems"]}
    assert paths == {"models/fraud-card/versions/1.0.0.yaml", "models/churn/model.yaml"}
    assert "mlrelease: problem: models/fraud-card/versions/1.0.0.yaml" in err


def test_list_names_a_live_version_without_manifest(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    (repo / "models/fraud-card/versions/1.0.0.yaml").unlink()
    rc, _, err = cli(capsys, repo, "list")
    assert rc == 1
    assert "releases/production/fraud-card.yaml: live version '1.0.0' of 'fraud-card' has no manifest" in err


def test_list_of_an_empty_registry(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    write(root, "mlrelease.yaml", config())
    rc, out, _ = cli(capsys, root, "list")
    assert rc == 0
    assert "No models yet" in out
    assert cli_json(capsys, root, "list")["models"] == []


def test_list_reads_only_live_manifests(repo: Path) -> None:
    """The cheap path: version files that are not live are never parsed."""
    write(repo, "models/fraud-card/versions/1.5.0.yaml", "this: [is, broken")
    with Registry(repo, use_cache=False) as reg:
        view = overview(reg)
    assert view.problems == ()
    assert view.models[1].version_count == 4
    assert view.models[1].latest == "1.5.0"


# ---- show ------------------------------------------------------------------------------


def test_show_model_table_and_json(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, out, _ = cli(capsys, repo, "show", "fraud-card")
    assert rc == 0
    assert "owner team-fraud" in out
    lines = out.splitlines()
    row = next(line for line in lines if line.strip().startswith("1.1.0"))
    assert "0.830" in row and "staging" in row
    assert lines.index(next(line for line in lines if line.strip().startswith("1.2.0"))) < lines.index(row)  # newest first

    data = cli_json(capsys, repo, "show", "fraud-card")
    assert data["model"]["name"] == "fraud-card"
    assert data["model"]["consumers"] == [{"name": "card-gateway", "environments": ["production"], "contact": None, "description": None}]
    assert [v["version"] for v in data["versions"]] == ["1.0.0", "1.1.0", "1.2.0"]
    assert data["versions"][0]["live_in"] == [{"environment": "production", "role": "live", "weight": None}]
    assert data["versions"][2]["metrics"]["f1"] == 0.85
    assert data["metrics"][:3] == ["precision", "recall", "f1"]
    assert data["environments"]["staging"]["live"] == "1.1.0"


def test_show_version_whole_manifest_lineage_and_where_live(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    manifest = version(
        "fraud-card",
        "1.2.0",
        f1=0.85,
        parent="1.1.0",
        code={"repo": "https://git.example.com/fraud", "commit": "abc123", "entrypoint": "train.py"},
        image={"ref": "registry.example.com/fraud:1.2.0", "digest": "sha256:" + "b" * 64},
        tags=["gbm"],
        profile={"rows": 500, "features": {"amount": {"type": "numeric", "edges": [10, 100], "fractions": [0.2, 0.5, 0.3], "mean": 42.0}}},
    )
    write(repo, "models/fraud-card/versions/1.2.0.yaml", manifest)
    commit_all(repo, "richer manifest")
    rc, out, _ = cli(capsys, repo, "show", "fraud-card@1.2.0")
    assert rc == 0
    for text in (
        "abc123",
        "registry.example.com/fraud:1.2.0",
        "train.py",
        "max_depth",
        "transactions",
        "amount",
        "500 rows",
        "higher is better",
        "lower is better",
        "parents: 1.1.0 ← 1.0.0",
        "live in: dev",
    ):
        assert text in out, text

    data = cli_json(capsys, repo, "show", "fraud-card@1.2.0")
    assert data["manifest"]["code"]["commit"] == "abc123"
    assert data["manifest"]["created"] == "2026-03-01T10:00:00Z"
    assert data["manifest"]["profile"]["features"]["amount"]["bins"] == {"<10": 0.2, "[10,100)": 0.5, ">=100": 0.3}
    assert "lines" not in data["manifest"]
    assert data["live_in"] == [{"environment": "dev", "role": "live", "weight": None}]
    assert [a["version"] for a in data["lineage"]["upstream"]["parents"]] == ["1.1.0", "1.0.0"]
    assert data["rejection"] is None


def test_show_version_with_rejection_and_approvals(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    write(
        repo,
        "models/fraud-card/rejections.yaml",
        {"model": "fraud-card", "rejected": [{"version": "1.2.0", "by": "Bob", "at": "2026-03-04T10:00:00Z", "reason": "bias found"}]},
    )
    state = release("fraud-card", "production", "1.0.0")
    state["approvals"] = [{"version": "1.2.0", "by": "Dana <dana@example.com>", "at": "2026-03-04T09:00:00Z", "comment": "looks good"}]
    write(repo, "releases/production/fraud-card.yaml", state)
    commit_all(repo, "reject and approve")
    rc, out, _ = cli(capsys, repo, "show", "fraud-card@1.2.0")
    assert rc == 0
    assert "REJECTED by Bob" in out and "bias found" in out
    assert "Dana <dana@example.com>" in out and "looks good" in out
    data = cli_json(capsys, repo, "show", "fraud-card@1.2.0")
    assert data["rejection"]["reason"] == "bias found"
    assert data["approvals"]["production"][0]["by"] == "Dana <dana@example.com>"


def test_show_model_with_a_broken_version_shows_the_rest(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    write(repo, "models/fraud-card/versions/1.1.0.yaml", "model: fraud-card\nversion: 1.1.0\n")
    rc, out, err = cli(capsys, repo, "show", "fraud-card")
    assert rc == 1
    assert "unreadable manifest" in out
    assert "1.2.0" in out
    assert "models/fraud-card/versions/1.1.0.yaml" in err and "missing required field" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "nope"], 1, "no model 'nope'"),
        (["show", "fraud-card@9.9.9"], 1, "model 'fraud-card' has no version '9.9.9'"),
        (["show", "nope@1.0.0"], 1, "no model 'nope'"),
        (["show", "fraud-card@"], 2, "expected MODEL@VERSION"),
        (["show", "@1.0.0"], 2, "expected MODEL@VERSION"),
        (["show", "../etc"], 1, "path separator"),
        (["--ref", "no-such-ref", "show", "fraud-card"], 1, "no-such-ref"),
    ],
)
def test_show_errors(capsys: pytest.CaptureFixture[str], repo: Path, args: list[str], code: int, message: str) -> None:
    rc, out, err = cli(capsys, repo, *args)
    assert rc == code
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_errors_in_json_mode_are_json(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    rc, out, _ = cli(capsys, repo, "show", "nope", "--json")
    assert rc == 1
    assert json.loads(out)["exit_code"] == 1


# ---- --ref reads exactly what the ref holds ----------------------------------------------


def test_ref_output_equals_a_checkout_of_that_ref(capsys: pytest.CaptureFixture[str], repo: Path, tmp_path: Path) -> None:
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", f1=0.9, parent="1.2.0"))
    write(repo, "releases/production/fraud-card.yaml", release("fraud-card", "production", "1.1.0", promotion_id="p-9"))
    commit_all(repo, "newer state")
    # the work tree differs from both commits: --ref must not read it
    write(repo, "releases/production/fraud-card.yaml", release("fraud-card", "production", "1.2.0", promotion_id="p-x"))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", "--detach", "HEAD~1")
    commands = [
        ["list"],
        ["list", "--json"],
        ["show", "fraud-card"],
        ["show", "fraud-card@1.1.0", "--json"],
        ["diff", "fraud-card@1.0.0", "fraud-card@1.2.0"],
        ["lineage", "fraud-card@1.1.0", "--json"],
        ["lineage", "--dataset", "transactions@2026.01"],
        ["history", "--json"],
    ]
    for command in commands:
        at_ref = cli(capsys, repo, "--ref", "HEAD~1", *command)
        checked_out = cli(capsys, clone, *command)
        assert at_ref == checked_out, command
    # and the newer commit really is different
    assert cli(capsys, repo, "--ref", "HEAD", "list", "--json") != cli(capsys, clone, "list", "--json")


# ---- hostile text ------------------------------------------------------------------------

HOSTILE = "[bold]x[/bold] [/oops] [@click=app.quit] \x1b]0;title\x07 \x1b[2J \u202eevil"


def _assert_safe(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text


def test_hostile_text_comes_out_literal(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    consumers = [{"name": HOSTILE, "environments": ["dev"]}]
    write(repo, "models/fraud-card/model.yaml", model("fraud-card", owner=HOSTILE, description=HOSTILE, consumers=consumers))
    manifest = version("fraud-card", "1.2.0", f1=0.85, parent="1.1.0", author=HOSTILE, description=HOSTILE)
    manifest["metrics"]["[red]m[/red]\x1b[2J"] = 1.5
    manifest["params"]["[/oops]"] = HOSTILE
    write(repo, "models/fraud-card/versions/1.2.0.yaml", manifest)
    commit_all(repo, "hostile")
    for command in (
        ["list"],
        ["show", "fraud-card"],
        ["show", "fraud-card@1.2.0"],
        ["diff", "fraud-card@1.1.0", "fraud-card@1.2.0"],
        ["diff", "fraud-card@1.1.0", "fraud-card@1.2.0", "--format", "markdown"],
        ["lineage", "fraud-card@1.2.0"],
    ):
        rc, out, err = cli(capsys, repo, *command)
        assert rc == 0, (command, err)
        _assert_safe(out)
        _assert_safe(err)
        if "markdown" not in command:
            assert "[/oops]" in out or "[@click=app.quit]" in out, command
            assert "\\x1b" in out, command
    rc, out, _ = cli(capsys, repo, "show", "fraud-card@1.2.0", "--json")
    assert out.isascii()
    assert json.loads(out)["manifest"]["author"] == HOSTILE


# ---- the installed command ------------------------------------------------------------------


def test_installed_command_lists_and_shows(repo: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([str(MLRELEASE), "list", "--json"], cwd=repo, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [m["name"] for m in json.loads(proc.stdout)["models"]] == ["churn", "fraud-card"]
    proc = subprocess.run([str(MLRELEASE), "show", "fraud-card@1.0.0"], cwd=repo, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "fraud-card@1.0.0" in proc.stdout
    proc = subprocess.run([str(MLRELEASE), "show", "fraud-card@"], cwd=repo, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("mlrelease: error:") and "Traceback" not in proc.stderr


def test_read_commands_never_import_textual() -> None:
    code = (
        "import sys\n"
        "import mlrelease.cli.commands.list_, mlrelease.cli.commands.show, mlrelease.cli.commands.diff\n"
        "import mlrelease.cli.commands.lineage, mlrelease.cli.commands.history\n"
        "import mlrelease.registry.overview, mlrelease.registry.compare, mlrelease.registry.lineage, mlrelease.registry.history\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_show_limit_keeps_the_newest_and_every_live_version(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    for minor in (4, 5):
        write(repo, f"models/fraud-card/versions/1.{minor}.0.yaml", version("fraud-card", f"1.{minor}.0"))
    write(repo, "models/fraud-card/versions/1.3.0.yaml", "broken: [")  # not shown, so never parsed
    commit_all(repo, "more versions")
    data = cli_json(capsys, repo, "show", "fraud-card", "--limit", "2")
    assert data["total"] == 6
    # the newest two, plus 1.0.0, 1.1.0 and 1.2.0: live in production, staging and dev
    assert [v["version"] for v in data["versions"]] == ["1.0.0", "1.1.0", "1.2.0", "1.4.0", "1.5.0"]
    rc, out, _ = cli(capsys, repo, "show", "fraud-card", "--limit", "2")
    assert rc == 0
    assert "5 of 6 versions" in out and "… 1 older versions not shown" in out
    rc, _, err = cli(capsys, repo, "show", "fraud-card", "--json")  # all: now the broken one is read
    assert rc == 1 and "models/fraud-card/versions/1.3.0.yaml" in err
    with pytest.raises(SystemExit):
        main(["--repo", str(repo), "show", "fraud-card", "--limit", "0"])
