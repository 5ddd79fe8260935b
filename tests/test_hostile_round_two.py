"""Hostile input, round two (issue 11): no read leaves the repository, no value makes a
traceback, no output fakes a line. Every named item, end to end through the CLI, from the
work tree and from ``--ref HEAD``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlrelease.registry import yamlsafe
from tests.builders import commit_all, config, git, model, release, version, write
from tests.hostile_helpers import FORMS, READS, opened, run


def every_read(
    capsys: pytest.CaptureFixture[str], root: Path, *, json_too: bool = False
) -> Iterator[tuple[list[str], int | str, str, str]]:
    for form in FORMS:
        for cmd in READS:
            args = [*form, *cmd]
            yield args, *run(capsys, root, *args)
            if json_too and cmd[0] != "lint":
                yield [*args, "--json"], *run(capsys, root, *args, "--json")


def raw(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def edit(root: Path, rel: str, change: Callable[[dict[str, Any]], None]) -> None:
    data = yamlsafe.load((root / rel).read_bytes(), rel)
    change(data)
    write(root, rel, data)


def assert_clean(args: list[str], code: int | str, out: str, err: str) -> None:
    assert isinstance(code, int), f"{args}: {code}"
    assert "Traceback" not in out + err, args
    assert code in (0, 1, 8), f"{args}: exit {code}: {err}"


# ---- 1. names from files never become paths outside the repository --------------------------------


def test_an_environment_name_from_the_config_never_leads_a_read_outside(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside-env"
    write(outside.parent, "outside-env/fraud-card.yaml", release("fraud-card", "x", "6.6.6"))
    cfg = config()
    cfg["environments"].append({"name": "../../outside-env"})
    write(repo, "mlrelease.yaml", cfg)
    commit_all(repo, "an environment named like a path")
    with opened() as seen:
        results = list(every_read(capsys, repo))
    for args, code, out, err in results:
        assert_clean(args, code, out, err)
        assert "6.6.6" not in out + err, args
        if args[-1] != "history":  # history reads git's log, not the config
            assert code == 1, args
            assert "mlrelease.yaml:" in err + out and "../../outside-env" in err + out, (args, err)
    assert not [p for p in seen if p.startswith(str(outside))]


def test_a_model_name_from_model_yaml_never_leads_a_read_outside(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bait = tmp_path / "x.yaml"  # <repo>/releases/dev/../../../x.yaml
    write(tmp_path, "x.yaml", release("x", "dev", "6.6.6"))
    edit(repo, "models/fraud-card/model.yaml", lambda d: d.update(name="../../../x"))
    commit_all(repo, "a model named like a path")
    with opened() as seen:
        results = list(every_read(capsys, repo))
    for args, code, out, err in results:
        assert_clean(args, code, out, err)
        assert "6.6.6" not in out, args
    assert str(bait) not in seen  # telemetry read <repo>/releases/dev/../../../x.yaml
    lint_code, lint_out = results[8][1], results[8][2]
    assert lint_code == 1 and "models/fraud-card/model.yaml:1: 'name' must be a safe name" in lint_out


# ---- 2. symbolic links are never followed, on reads or writes ------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the registry holding what a link would smuggle in."""
    root = tmp_path / "outside"
    write(root, "model.yaml", model("evil", owner="SMUGGLED"))
    write(root, "fraud-card.yaml", release("fraud-card", "staging", "6.6.6"))
    return root


def test_a_linked_model_folder_is_refused_and_reported(repo: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "models" / "evil").symlink_to(outside, target_is_directory=True)
    with opened() as seen:
        code, out, err = run(capsys, repo, "show", "evil")
        assert code == 1 and "SMUGGLED" not in out
        assert "models/evil: a symbolic link" in err
        code, out, err = run(capsys, repo, "lint")
        assert code == 1 and "models/evil: a symbolic link" in out
        code, out, err = run(capsys, repo, "list")
        assert code == 1 and "models/evil: a symbolic link" in err and "SMUGGLED" not in out
    assert not [p for p in seen if p.startswith(str(outside))]


def test_a_linked_environment_folder_is_refused_by_every_read(repo: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    staging = repo / "releases" / "staging"
    for f in staging.iterdir():
        f.unlink()
    staging.rmdir()
    staging.symlink_to(outside, target_is_directory=True)
    with opened() as seen:
        for args in (["show", "fraud-card"], ["lineage", "fraud-card@1.1.0"], ["list"], ["lint"], ["check"]):
            code, out, err = run(capsys, repo, *args)
            assert_clean(args, code, out, err)
            assert code == 1, args
            assert "releases/staging: a symbolic link" in out + err, args
            assert "6.6.6" not in out, args
    assert not [p for p in seen if p.startswith(str(outside))]


def test_a_linked_file_is_reported_not_skipped(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = repo / "releases" / "dev" / "fraud-card.yaml"
    (repo / "elsewhere.yaml").write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(repo / "elsewhere.yaml")
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and "releases/dev/fraud-card.yaml: a symbolic link" in out
    code, out, err = run(capsys, repo, "show", "fraud-card")
    assert code == 1 and "releases/dev/fraud-card.yaml: a symbolic link" in err


def test_a_committed_link_is_refused_at_a_ref(repo: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "rm", "-q", "-r", "releases/staging")
    (repo / "releases" / "staging").symlink_to(outside, target_is_directory=True)
    git(repo, "add", "releases/staging")
    git(repo, "commit", "-q", "-m", "a link in git (mode 120000)")
    assert "120000" in git(repo, "ls-tree", "HEAD", "releases/staging")
    code, out, _ = run(capsys, repo, "--ref", "HEAD", "lint")
    assert code == 1 and "releases/staging: a symbolic link" in out
    code, out, err = run(capsys, repo, "--ref", "HEAD", "show", "fraud-card")
    assert code == 1 and "releases/staging: a symbolic link" in err and "6.6.6" not in out


def test_register_never_writes_through_a_linked_folder(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = repo / "models" / "fraud-card" / "versions"
    elsewhere = tmp_path / "elsewhere-versions"
    versions.rename(elsewhere)
    versions.symlink_to(elsewhere, target_is_directory=True)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"f1": 0.9}))
    head = git(repo, "rev-parse", "HEAD").strip()
    code, _out, err = run(
        capsys, repo, "register", "fraud-card", "1.3.0", "--metrics", str(metrics), "--artifact", "s3://ml-models/fraud-card/1.3.0/"
    )
    assert code == 1 and "models/fraud-card/versions: a symbolic link" in err and "never writes through" in err
    assert versions.is_symlink() and git(repo, "rev-parse", "HEAD").strip() == head
    assert not (elsewhere / "1.3.0.yaml").exists()


# ---- 3. small values never make a traceback -------------------------------------------------------

MANIFEST = "models/fraud-card/versions/1.2.0.yaml"


def _replace_line(root: Path, rel: str, start: str, new: str) -> None:
    path = root / rel
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.lstrip().startswith(start))
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = indent + new
    path.write_text("\n".join(lines) + "\n")


SMALL_VALUES: dict[str, Callable[[Path], None]] = {
    "an integer of 5,000 digits": lambda r: _replace_line(r, MANIFEST, "f1:", "f1: " + "7" * 5000),
    "a 401-digit number where a number is meant": lambda r: _replace_line(r, MANIFEST, "f1:", "f1: " + "7" * 401),
    "a time in year 10000 once in UTC": lambda r: _replace_line(r, MANIFEST, "created:", "created: '9999-12-31T23:59:59-23:59'"),
    "a time in year 0 once in UTC": lambda r: _replace_line(r, MANIFEST, "created:", "created: '0001-01-01T00:00:00+14:00'"),
    "a live time in year 10000": lambda r: edit(
        r, "releases/dev/fraud-card.yaml", lambda d: d["live"].update(since="9999-12-31T23:59:59-23:59")
    ),
    "a numeric feature without edges": lambda r: edit(
        r, MANIFEST, lambda d: d.update(profile={"features": {"amount": {"type": "numeric", "fractions": [1.0]}}})
    ),
    "an environment name of 280 bytes": lambda r: write(
        r, "mlrelease.yaml", config(environments=[*config()["environments"], {"name": "\U0001d51e" * 70}])
    ),
}


@pytest.mark.parametrize("case", list(SMALL_VALUES))
def test_small_values_give_a_problem_line_never_a_traceback(repo: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    SMALL_VALUES[case](repo)
    commit_all(repo, case)
    results = list(every_read(capsys, repo, json_too=True))
    for args, code, out, err in results:
        assert_clean(args, code, out, err)
    lint_code, lint_out = next((c, o) for a, c, o, _e in results if a == ["lint"])
    assert lint_code == 1 and any(
        line.split(":")[0] in (MANIFEST, "mlrelease.yaml", "releases/dev/fraud-card.yaml") for line in lint_out.splitlines()
    )
    for args, code, _out, _err in results:
        if "show" in args and "fraud-card@1.2.0" in args:
            assert code == 1 or case.startswith(("a live", "an environment")), args


def test_a_huge_whole_number_in_telemetry_observations_is_a_problem(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Not on 2c498d0 (observations came with rollouts), the same defect in newer code: float() of 401 digits overflows.
    snapshot = {"at": "2026-03-02T10:00:00Z", "version": "1.2.0", "observations": {"latency": {"samples": [int("7" * 401)]}}}
    write(repo, "telemetry/dev/fraud-card.yaml", {"model": "fraud-card", "environment": "dev", "snapshots": [snapshot]})
    commit_all(repo, "a 401-digit sample")
    for args in (["telemetry", "fraud-card"], ["--ref", "HEAD", "telemetry", "fraud-card"], ["lint"]):
        code, out, err = run(capsys, repo, *args)
        assert code == 1 and "telemetry/dev/fraud-card.yaml:" in out + err, (args, code, err)


@pytest.mark.parametrize("value", ["7" * 401, "7" * 5000, ".nan"])
def test_register_refuses_a_metric_that_is_not_a_finite_number(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    metrics = tmp_path / "metrics.yaml"
    metrics.write_text(f"f1: {value}\n")
    head = git(repo, "rev-parse", "HEAD").strip()
    code, _out, err = run(capsys, repo, "register", "fraud-card", "1.3.0", "--metrics", str(metrics), "--artifact", "s3://m/1.3.0/")
    assert code == 1 and "metrics.yaml:1:" in err and len(err) < 500, (code, err[:500])
    assert git(repo, "rev-parse", "HEAD").strip() == head


def test_a_name_of_280_bytes_on_the_command_line_is_one_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["show", "\U0001d51e" * 70], ["telemetry", "\U0001d51e" * 70], ["history", "\U0001d51e" * 70]):
        code, _out, err = run(capsys, repo, *args)
        assert isinstance(code, int) and code == 1, (args, code)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# ---- 4. every number follows the format; --json is always JSON -------------------------------------


def _strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("good", "bad"), [("0.38", "NaN"), ("0.38", "'0.38'"), ("10.0", "-1.0e+400")]
)  # text that float() takes, quoted text, an infinity as the first edge
def test_profile_numbers_refuse_text_nan_and_infinities(repo: Path, capsys: pytest.CaptureFixture[str], good: str, bad: str) -> None:
    feature = {"type": "numeric", "edges": [10.0, 100.0], "fractions": [0.3, 0.38, 0.32]}
    edit(repo, MANIFEST, lambda d: d.update(profile={"features": {"amount": feature}}))
    _replace_line(repo, MANIFEST, f"- {good}", f"- {bad}")
    commit_all(repo, f"profile with {bad}")
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and f"{MANIFEST}:" in out and "profile.features.amount" in out, out
    for form in FORMS:
        for args in (
            ["show", "fraud-card@1.2.0", "--json"],
            ["show", "fraud-card", "--json"],
            ["list", "--json"],
            ["telemetry", "fraud-card", "--json"],
        ):
            code, out, _err = run(capsys, repo, *form, *args)
            assert isinstance(code, int), code
            _strict(out)


def test_params_refuse_infinities_and_json_stays_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace_line(repo, MANIFEST, "max_depth:", "max_depth: 1.0e+400")  # an infinity once read
    commit_all(repo, "an infinite param")
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and "params.max_depth" in out
    code, out, _ = run(capsys, repo, "show", "fraud-card@1.2.0", "--json")
    _strict(out)
    assert code == 1


# ---- 5. reads refuse what lint calls an error ------------------------------------------------------


def test_a_manifest_that_names_another_model_is_not_shown_as_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("other-model", "9.9.9"))
    commit_all(repo, "a manifest of another model in fraud-card's folder")
    for form in FORMS:
        code, out, err = run(capsys, repo, *form, "show", "fraud-card@1.3.0")
        assert code == 1 and "other-model@9.9.9" not in out
        assert "the folder says model 'fraud-card' but the manifest says 'other-model'" in err
        code, out, err = run(capsys, repo, *form, "show", "fraud-card")
        assert code == 1 and "9.9.9" not in out and "models/fraud-card/versions/1.3.0.yaml:" in err


@pytest.mark.parametrize("name", ["../x", "e" * 129])
def test_reads_refuse_an_environment_lint_refuses(repo: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    write(repo, "mlrelease.yaml", config(environments=[*config()["environments"], {"name": name}]))
    commit_all(repo, "an environment lint refuses")
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and "mlrelease.yaml:" in out
    for form in FORMS:
        for args in (["list"], ["show", "fraud-card"], ["check"]):
            code, out, err = run(capsys, repo, *form, *args)
            assert code == 1 and "mlrelease.yaml:" in err, (args, code, err)


# ---- 6. an error quotes a bounded piece of what it found -------------------------------------------


def test_error_lines_are_bounded_and_say_what_was_cut(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    huge = "d" * 1_040_000
    edit(repo, MANIFEST, lambda d: d["data"]["train"].update(dataset=huge))
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0" + "x" * 1_040_000))
    commit_all(repo, "megabyte names")
    for args, code, out, err in every_read(capsys, repo):
        assert_clean(args, code, out, err)
        longest = max((len(line) for line in (out + err).splitlines()), default=0)
        assert longest < 5_000, (args, longest)
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and "more characters" in out


# ---- 7. no value fakes a line in the CLI's output --------------------------------------------------

FAKE = "\nFAKE: mlrelease says all is well"


def test_single_line_fields_never_start_a_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "models/fraud-card/model.yaml", lambda d: d.update(owner="team" + FAKE, task="task" + FAKE))
    edit(repo, "models/fraud-card/model.yaml", lambda d: d.update(consumers=[{"name": "gateway" + FAKE, "environments": ["production"]}]))
    edit(
        repo,
        MANIFEST,
        lambda d: (
            d.update(code={"repo": "https://git.example/x" + FAKE}),
            d["artifact"].update(uri="s3://ml-models/fraud-card/1.2.0/" + FAKE),
        ),
    )
    write(
        repo,
        "models/fraud-card/rejections.yaml",
        {"model": "fraud-card", "rejected": [{"version": "1.1.0", "by": "Bo", "at": "2026-03-01T00:00:00Z", "reason": "bad" + FAKE}]},
    )
    commit_all(repo, "line feeds in one-line fields")
    for form in FORMS:
        for args in (
            ["show", "fraud-card"],
            ["show", "fraud-card@1.2.0"],
            ["show", "fraud-card@1.1.0"],
            ["lineage", "fraud-card@1.2.0"],
            ["list"],
        ):
            code, out, err = run(capsys, repo, *form, *args)
            assert isinstance(code, int), code
            faked = [line for line in (out + err).splitlines() if line.lstrip(" │┃|").startswith("FAKE")]
            assert not faked, (args, faked)


# ---- 8. names risky on other systems ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["CON", "nul", "COM1", "aux.txt", "fraud.", "con"])
def test_device_names_and_trailing_dots_are_refused_always(repo: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    conventions = {**config()["conventions"], "model_name": ".+"} if name != "con" else config()["conventions"]
    write(repo, "mlrelease.yaml", config(conventions=conventions))
    write(repo, f"models/{name}/model.yaml", model(name))
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and f"models/{name}/:" in out and ("device name" in out or "ends with '.'" in out), out


@pytest.mark.parametrize("name", ["fr\u0430ud-card", "\uff46raud-card"])  # a Cyrillic а; a fullwidth ｆ
def test_look_alike_names_are_flagged_by_lint(repo: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    write(repo, "mlrelease.yaml", config(conventions={**config()["conventions"], "model_name": ".+"}))
    write(repo, f"models/{name}/model.yaml", model(name))
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and ("mixes scripts" in out or "stand for others" in out), out


def test_data_roles_follow_the_same_rules(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, MANIFEST, lambda d: d["data"].update({"CON": {"dataset": "transactions", "version": "2026.01"}}))
    code, out, _ = run(capsys, repo, "lint")
    assert code == 1 and "data role 'CON' is a device name" in out


# ---- 9. smaller ------------------------------------------------------------------------------------


def test_a_model_named_dot_is_called_what_it_is(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, repo, "show", ".")
    assert code == 1 and "contains '..'" not in err and "'.'" in err


def test_a_linked_mlrelease_yaml_is_called_a_link_not_missing(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file = repo / "mlrelease.yaml"
    (tmp_path / "real.yaml").write_bytes(config_file.read_bytes())
    config_file.unlink()
    config_file.symlink_to(tmp_path / "real.yaml")
    for args in (["list"], ["lint"]):
        code, out, err = run(capsys, repo, *args)
        assert code == 1 and "mlrelease.yaml: a symbolic link" in out + err and "not found" not in out + err, args


def test_planning_needs_no_remote(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "mlrelease.yaml", config(remote={"name": "origin", "branch": "main"}))
    commit_all(repo, "a remote in the config, none in git")
    for args in (
        ["plan", "promote", "fraud-card@1.2.0", "--to", "staging"],
        ["promote", "fraud-card@1.2.0", "--to", "staging", "--dry-run"],
    ):
        code, out, err = run(capsys, repo, *args, "--reason", "try")
        assert code == 0, (args, err)
        assert "Promote fraud-card 1.2.0 to staging" in out
    code, _out, err = run(capsys, repo, "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes")
    assert code == 1 and "git remote 'origin' is not configured" in err  # writing still needs it
