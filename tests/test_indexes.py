"""The indexes (data set → versions, parent → children, consumer → models) and lint's cached verdicts.

Every answer is compared three ways: from the index updated incrementally as the registry
changes, from an index rebuilt from nothing, and from parsing every manifest (the way the
commands answered before there was an index). A corrupt, truncated or foreign index file
is rebuilt, never trusted.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlrelease.errors import ManifestError, Problem
from mlrelease.registry import layout, lintcache
from mlrelease.registry.index import FILE, Indexes
from mlrelease.registry.lineage import _children_parsed, _uses_parsed, dataset_impact, lineage
from mlrelease.registry.lint import lint
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, model, version, write


def index_file(root: Path) -> Path:
    return root / ".git" / "mlrelease" / FILE


def answers(root: Path, ref: str | None = None) -> dict[str, object]:
    """Everything the indexes answer about the test registry, through the index."""
    with Registry(root, ref) as reg, Indexes(reg) as idx:
        out: dict[str, object] = {}
        for ds, dsv in (("transactions", "2026.01"), ("transactions", "2026.02"), ("holdout", "2026.01"), ("nothing", "1")):
            uses, broken = idx.dataset_uses(ds, dsv)
            out[f"uses {ds}@{dsv}"] = ([(u.model, u.version, u.roles, u.used) for u in uses], broken)
        uses, broken = idx.dataset_uses("transactions")
        out["uses transactions"] = ([(u.model, u.version, u.roles, u.used) for u in uses], broken)
        for m in reg.model_names():
            for v in reg.version_names(m):
                out[f"children {m}@{v}"] = idx.children(m, v)
        for app in ("card-gateway", "crm-app", "nobody"):
            out[f"consumers {app}"] = idx.consumers(app)
        return out


def parsed_answers(root: Path, ref: str | None = None) -> dict[str, object]:
    """The same by parsing every manifest (the index's reference)."""
    with Registry(root, ref, use_cache=False) as reg:
        out: dict[str, object] = {}
        for ds, dsv in (
            ("transactions", "2026.01"),
            ("transactions", "2026.02"),
            ("holdout", "2026.01"),
            ("nothing", "1"),
            ("transactions", None),
        ):
            problems: list[Problem] = []
            found = _uses_parsed(reg, ds, dsv, problems)
            uses = [(m, v, tuple(r for r, _ in refs), tuple(u for _, u in refs)) for m in sorted(found) for v, refs in found[m]]
            out["uses transactions" if dsv is None else f"uses {ds}@{dsv}"] = (uses, problems)
        for m in reg.model_names():
            for v in reg.version_names(m):
                problems = []
                children = _children_parsed(reg, m, v, problems)
                out[f"children {m}@{v}"] = (list(children), problems)
        for app in ("card-gateway", "crm-app", "nobody"):
            found_models = []
            for m in reg.model_names():
                try:
                    info = reg.model(m)
                except ManifestError:  # a broken model.yaml names no consumer
                    continue
                found_models += [(m, c.environments) for c in info.consumers if c.name == app]
            out[f"consumers {app}"] = found_models
        return out


def fresh_answers(root: Path, ref: str | None = None) -> dict[str, object]:
    index_file(root).unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{index_file(root)}{suffix}").unlink(missing_ok=True)
    return answers(root, ref)


def agree(root: Path, ref: str | None = None) -> dict[str, object]:
    incremental = answers(root, ref)
    assert incremental == parsed_answers(root, ref)
    assert incremental == fresh_answers(root, ref)
    return incremental


def test_an_index_updated_as_the_registry_changes_answers_like_one_rebuilt_and_like_parsing(repo: Path) -> None:
    first = agree(repo)
    assert first["uses transactions@2026.01"][0] == [  # type: ignore[index]
        ("churn", "0.1.0", ("train",), ("2026.01",)),
        ("churn", "0.2.0", ("train",), ("2026.01",)),
        ("fraud-card", "1.0.0", ("train",), ("2026.01",)),
        ("fraud-card", "1.1.0", ("train",), ("2026.01",)),
        ("fraud-card", "1.2.0", ("train",), ("2026.01",)),
    ]
    assert first["children fraud-card@1.0.0"] == (["1.1.0"], [])
    assert first["consumers card-gateway"] == [("fraud-card", ("production",))]

    # Register versions with other data, a branch of children, and a broken manifest; edit one in place.
    data = {
        "train": {"dataset": "transactions", "version": "2026.02"},
        "test": {"dataset": "holdout", "version": "2026.01"},
        "validation": {"dataset": "transactions", "version": "2026.01"},
    }
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="1.1.0", data=data))
    write(repo, "models/fraud-card/versions/1.4.0.yaml", version("fraud-card", "1.4.0", parent="1.1.0"))
    write(repo, "models/churn/versions/0.3.0.yaml", "model: churn\nversion: 0.3.0\nbogus: [\n")
    write(
        repo,
        "models/churn/versions/0.1.0.yaml",
        version("churn", "0.1.0", data={"validation": {"dataset": "transactions", "version": "2026.02"}}),
    )
    write(repo, "models/churn/model.yaml", model("churn", consumers=[{"name": "card-gateway", "environments": ["staging"]}]))
    second = agree(repo)  # uncommitted: the work tree is what is read
    assert second["children fraud-card@1.1.0"] == (["1.2.0", "1.3.0", "1.4.0"], [])
    assert second["uses holdout@2026.01"][0] == [("fraud-card", "1.3.0", ("test",), ("2026.01",))]  # type: ignore[index]
    # Any version of a data set: one use per manifest, its roles in the manifest's order with their versions.
    assert ("fraud-card", "1.3.0", ("train", "validation"), ("2026.02", "2026.01")) in second["uses transactions"][0]  # type: ignore[index]
    assert any("0.3.0.yaml" in p.path for p in second["uses transactions@2026.01"][1])  # type: ignore[index]
    assert second["consumers card-gateway"] == [("churn", ("staging",)), ("fraud-card", ("production",))]

    commit_all(repo, "More versions")
    (repo / "models/fraud-card/versions/1.2.0.yaml").unlink()
    (repo / "models/churn/versions/0.3.0.yaml").unlink()
    third = agree(repo)
    assert third["children fraud-card@1.1.0"] == (["1.3.0", "1.4.0"], [])
    assert not third["uses transactions@2026.01"][1]  # type: ignore[index]
    # An older ref answers as it was then, from the same index file.
    assert agree(repo, "HEAD~1") == first


def test_a_registry_in_a_subfolder_and_a_model_folder_without_model_yaml(tmp_path: Path) -> None:
    from tests.builders import git, make_registry

    top = tmp_path / "mono"
    top.mkdir()
    git(top, "init", "-q", "-b", "main")
    root = make_registry(top / "ml" / "registry", init=False)
    write(root, "models/orphan/versions/1.0.0.yaml", version("orphan", "1.0.0"))
    assert agree(root)["uses transactions@2026.01"][0][-1][0] == "fraud-card"  # type: ignore[index]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign schema", "dropped table"])
def test_a_corrupt_index_is_rebuilt_not_trusted(repo: Path, damage: str) -> None:
    good = agree(repo)
    path = index_file(repo)
    if damage == "garbage":
        path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:700])
    elif damage == "foreign schema":
        with sqlite3.connect(path) as db:
            db.execute("UPDATE meta SET value = '999' WHERE key = 'schema'")
            db.execute("DELETE FROM uses")  # what a foreign index holds is not ours to read
    else:
        with sqlite3.connect(path) as db:
            db.execute("DROP TABLE uses")
    for suffix in ("-wal", "-shm"):
        if damage in ("garbage", "truncated"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert answers(repo) == good
    with sqlite3.connect(path) as db:  # and the file is whole again
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] != "999"
        assert db.execute("SELECT COUNT(*) FROM uses").fetchone()[0] > 0


def test_lineage_commands_answer_from_the_index(repo: Path) -> None:
    with Registry(repo) as reg:
        impact = dataset_impact(reg, "transactions", "2026.01")
        assert [(u.model, u.version) for u in impact.uses][:2] == [("churn", "0.1.0"), ("churn", "0.2.0")]
        assert lineage(reg, "fraud-card", "1.0.0").children == ("1.1.0",)
    assert index_file(repo).is_file()


# ---- lint's cached verdicts --------------------------------------------------------------------------------


def uncached_check_files(reg: Registry, located: list[layout.Located], config: object, config_oid: object, index: object, check: object):  # type: ignore[no-untyped-def]
    """Lint's per-file loop as it was before verdicts were cached: parse everything, check against the whole index."""
    parsed = reg.parse_many([(loc.kind, loc.path) for loc in located])
    for loc in located:
        status, value = parsed[(loc.kind, loc.path)]
        if status == "err":
            yield value
        elif config is not None:
            yield check(value, loc, config, index)  # type: ignore[operator]


def reference_problems(root: Path) -> list[Problem]:
    """What lint says without any cache: the reference for every cached run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lintcache, "check_files", uncached_check_files)
        with Registry(root, use_cache=False) as reg:
            return lint(reg).problems


def lint_problems(root: Path) -> list[Problem]:
    with Registry(root) as reg:
        return lint(reg).problems


def test_lint_reuses_a_verdict_only_while_its_questions_have_the_same_answers(repo: Path) -> None:
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="1.2.5"))  # parent missing
    cold = lint_problems(repo)
    assert any("parent version '1.2.5'" in p.message for p in cold)
    assert cold == reference_problems(repo)
    assert lint_problems(repo) == cold  # warm: every verdict from the cache
    # The missing parent appears: only the files that asked about it change their verdict.
    write(repo, "models/fraud-card/versions/1.2.5.yaml", version("fraud-card", "1.2.5", parent="1.2.0"))
    fixed = lint_problems(repo)
    assert not any("1.2.5" in p.message for p in fixed)
    assert fixed == reference_problems(repo)
    # A data set folder appears: references to versions it does not have become problems.
    write(repo, "datasets/transactions/2026.02.yaml", {"name": "transactions", "version": "2026.02", "uri": "s3://x/"})
    (repo / "datasets/transactions/2026.01.yaml").unlink()
    moved = lint_problems(repo)
    assert any("has no version '2026.01'" in p.message for p in moved)
    assert moved == reference_problems(repo)
    # mlrelease.yaml changes: every verdict is checked again.
    (repo / "mlrelease.yaml").write_text((repo / "mlrelease.yaml").read_text().replace("  f1:\n", "  f_one:\n"))
    assert lint_problems(repo) == reference_problems(repo)


def test_a_warm_lint_answers_whole_folders_from_one_row_each_and_never_a_stale_one(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Folder rows (every file of a folder the same blob, the union of their questions) hold only as the files' own would."""
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="1.2.5"))  # parent missing
    cold = lint_problems(repo)
    assert cold == reference_problems(repo)
    asked: list[list[str]] = []
    rows = lintcache._rows

    def recording(store: object, keys: list[str]) -> object:
        asked.append(keys)
        return rows(store, keys)  # type: ignore[arg-type]

    monkeypatch.setattr(lintcache, "_rows", recording)
    assert lint_problems(repo) == cold
    assert asked[0] and all(k.startswith("folder:") for k in asked[0]) and asked[1] == []  # no file asked for by itself
    # one file edited in the work tree: its folder's files are looked up one by one, the rest by folder
    asked.clear()
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="1.2.0"))
    edited = lint_problems(repo)
    assert edited == reference_problems(repo) and edited != cold
    assert asked[1] and all(k.endswith(".yaml") and ":models/fraud-card/versions/" in k for k in asked[1])
    # an answer changes (the parent appears elsewhere in the folder; a data set version goes): no folder row is trusted then
    write(repo, "models/fraud-card/versions/1.2.5.yaml", version("fraud-card", "1.2.5", parent="1.2.0"))
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="1.2.5"))
    assert lint_problems(repo) == reference_problems(repo)
    write(repo, "datasets/transactions/2026.02.yaml", {"name": "transactions", "version": "2026.02", "uri": "s3://x/"})
    (repo / "datasets/transactions/2026.01.yaml").unlink()
    incremental = lint_problems(repo)
    assert any("has no version '2026.01'" in p.message for p in incremental)
    assert incremental == reference_problems(repo)
    # damaged folder rows are checked again, and a rebuilt index answers the same
    with sqlite3.connect(index_file(repo)) as db:
        db.execute("UPDATE lint SET problems = '[[', questions = 'not json' WHERE key LIKE 'folder:%'")
    assert lint_problems(repo) == incremental
    index_file(repo).unlink()
    assert lint_problems(repo) == incremental == lint_problems(repo)


def test_a_corrupt_lint_cache_is_rebuilt(repo: Path) -> None:
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="9.9.9"))
    before = lint_problems(repo)
    index_file(repo).write_bytes(b"not a database at all")
    assert lint_problems(repo) == before
    with sqlite3.connect(index_file(repo)) as db:
        assert db.execute("SELECT COUNT(*) FROM lint").fetchone()[0] > 0


def test_a_cold_lint_builds_the_indexes_on_the_way(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlrelease.registry import index as index_module

    write(repo, "models/churn/versions/0.3.0.yaml", "model: churn\nversion: 0.3.0\nbogus: [\n")
    lint_problems(repo)

    def parse_again(*_args: object) -> None:
        raise AssertionError("a manifest was parsed again: lint had indexed it")

    monkeypatch.setattr(index_module, "facts_of", parse_again)
    assert answers(repo) == parsed_answers(repo)


def test_verdicts_and_facts_written_by_other_code_are_not_read(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an upgrade (or any change to the parser or lint), the index is rebuilt, not trusted."""
    from mlrelease.registry import index as index_module
    from mlrelease.registry import parallel

    lint_problems(repo)
    answers(repo)
    files: list[int] = []
    real = parallel.map_files

    def counting(items, *args, **kwargs):  # type: ignore[no-untyped-def]
        files.append(len(items))
        return real(items, *args, **kwargs)

    monkeypatch.setattr(lintcache, "map_files", counting)
    monkeypatch.setattr(index_module, "map_files", counting)
    lint_problems(repo)
    assert sum(files) == 0  # warm: nothing read again
    monkeypatch.setattr(index_module, "schema", lambda: "another version of mlrelease")
    assert lint_problems(repo) == reference_problems(repo)
    assert sum(files) > 0


def test_two_processes_building_the_index_at_once_both_answer_right(repo: Path) -> None:
    import json
    import subprocess
    import sys

    for i in range(120):
        write(repo, f"models/fraud-card/versions/3.{i}.0.yaml", version("fraud-card", f"3.{i}.0", parent="1.2.0"))
    argv = [sys.executable, "-m", "mlrelease", "--repo", str(repo), "lineage", "--dataset", "transactions@2026.01", "--json"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err.decode() for _out, err in outs]
    results = [json.loads(out) for out, _err in outs]
    assert results[0] == results[1] == results[2]
    assert len(results[0]["uses"]) == 125


def test_the_children_of_a_version_index_only_its_model(repo: Path) -> None:
    """`show MODEL@VERSION` on a cold index reads one model's manifests, not the registry's."""
    with Registry(repo) as reg:
        assert lineage(reg, "fraud-card", "1.0.0").children == ("1.1.0",)
    with sqlite3.connect(index_file(repo)) as db:
        indexed = {str(path) for (path,) in db.execute("SELECT path FROM files WHERE kind = 'version'")}
    assert indexed == {f"models/fraud-card/versions/{v}.yaml" for v in ("1.0.0", "1.1.0", "1.2.0")}
    assert agree(repo)["children fraud-card@1.0.0"] == (["1.1.0"], [])  # the rest is indexed when asked


def test_a_cold_lineage_parses_each_manifest_of_its_model_once_and_no_other_models(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 100k, `lineage MODEL@VERSION` hashed all 100,000 files and parsed the model's twice (0.9 s); now one model, once."""
    from mlrelease.registry import index, loader

    parsed: list[str] = []
    parse = loader.parse_blob

    def counted(kind: str, data: bytes, path: str) -> object:
        parsed.append(path)
        return parse(kind, data, path)

    monkeypatch.setattr(loader, "parse_blob", counted)
    monkeypatch.setattr(index, "parse_blob", counted)
    with Registry(repo) as reg:
        lin = lineage(reg, "fraud-card", "1.2.0")
    assert [a.version for a in lin.parents.ancestors] == ["1.1.0", "1.0.0"]
    manifests = [p for p in parsed if p.startswith("models/")]
    assert sorted(manifests) == sorted(set(manifests)), "a manifest was parsed twice"
    assert {p for p in manifests if "/versions/" in p} == {f"models/fraud-card/versions/{v}.yaml" for v in ("1.0.0", "1.1.0", "1.2.0")}


def test_children_asked_first_of_a_cold_index_answer_like_parsing(repo: Path) -> None:
    """Each question on its own fresh index and on one kept since: the one-model listing answers as the whole one."""

    def children_alone(root: Path) -> dict[str, object]:
        out: dict[str, object] = {}
        with Registry(root) as reg:
            names = [(m, v) for m in reg.model_names() for v in reg.version_names(m)]
        for m, v in names:
            index_file(root).unlink(missing_ok=True)
            answers = []
            for _run in ("from nothing", "kept"):
                with Registry(root) as reg, Indexes(reg) as idx:
                    answers.append(idx.children(m, v))
            assert answers[0] == answers[1]
            out[f"children {m}@{v}"] = answers[0]
        return out

    def parsed(root: Path) -> dict[str, object]:
        return {k: v for k, v in parsed_answers(root).items() if k.startswith("children ")}

    assert children_alone(repo) == parsed(repo)
    write(repo, "models/fraud-card/versions/1.3.0.yaml", version("fraud-card", "1.3.0", parent="1.1.0"))
    write(repo, "models/churn/versions/0.3.0.yaml", "model: churn\nversion: 0.3.0\nbogus: [\n")
    (repo / "models/fraud-card/versions/1.2.0.yaml").unlink()
    assert children_alone(repo) == parsed(repo)
