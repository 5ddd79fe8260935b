"""Property-style hostile input (issue 11): mutated manifests and hostile names through every read command.

Each example mutates one file of a valid registry (a value replaced by a hostile one, a
key dropped or added, the file replaced), commits it, and runs every read command from
the work tree and from ``--ref HEAD``. Whatever the files say: no traceback, a documented
exit code, ``--json`` that a strict parser reads, no line longer than a bounded message,
and — watched by an audit hook that sees every file Python opens or lists — no read of a
path outside the repository. Bounded (a few dozen examples, fixed seed) to stay well
under a minute.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlrelease
from mlrelease.registry import yamlsafe
from tests import hostile_helpers
from tests.builders import commit_all, git, make_registry, write
from tests.hostile_helpers import FORMS, opened, run

READS = [*hostile_helpers.READS, ["lineage", "--dataset", "transactions@2026.01"]]
JSON_READS = [c for c in READS if c[0] != "lint"]
EXIT_CODES = {0, 1, 8}  # ok, a problem, retraining due (check)
LONGEST_LINE = 5_000

FILES = [
    "mlrelease.yaml",
    "models/fraud-card/model.yaml",
    "models/fraud-card/versions/1.2.0.yaml",
    "models/fraud-card/versions/1.1.0.yaml",
    "models/fraud-card/rejections.yaml",
    "datasets/transactions/2026.01.yaml",
    "releases/dev/fraud-card.yaml",
    "releases/production/fraud-card.yaml",
    "telemetry/production/fraud-card.yaml",
    "retrain/fraud-card.yaml",
]

# Values written as raw YAML text (what a dump cannot produce), then typed ones.
RAW = [
    "7" * 5000,
    "7" * 401,
    "-" + "9" * 30,
    "NaN",
    ".nan",
    "-1.0e+400",
    "1e309",
    "'9999-12-31T23:59:59-23:59'",
    "'0001-01-01T00:00:00+14:00'",
    "2026-13-45T99:99:99Z",
    "!!python/object:os.system",
    "*alias",
    "{a: [1, {b: 2}]}",
    "[[[[[[[[[[]]]]]]]]]]",
]
NAMES = [
    "../../outside",
    "../x",
    ".",
    "..",
    "/etc/passwd",
    "CON",
    "aux.txt",
    "trailing.",
    "a\nb",
    "a\x1b[31mred",
    "\u202eevil",
    "-rf",
    "fr\u0430ud-card",
    "\uff46raud",
    "\U0001d51e" * 70,
    "e" * 129,
    "x" * 20_000,
    "",
    " ",
    "fraud-card@1.0.0",
    "$(reboot)",
]
TYPED: list[object] = [None, True, 0, -1, 3.5, "", "line\nFAKE: all is well", "x" * 50_000, [], {}, [1, "a"], {"k": None}, *NAMES]


def _mutate(tree: object, path: list[Any], value: object) -> object:
    """``tree`` with the node at ``path`` replaced (a missing path adds the key at its end)."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
        out[key] = _mutate(tree.get(key), rest, value)
        return out
    if isinstance(tree, list) and isinstance(key, int) and tree:
        out_list = list(tree)
        out_list[key % len(out_list)] = _mutate(tree[key % len(tree)], rest, value)
        return out_list
    return value


def _paths(tree: object, prefix: list[Any] | None = None) -> list[list[Any]]:
    """Every key path in ``tree`` (mappings and lists), the tree itself included."""
    prefix = prefix or []
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, [*prefix, k])
    elif isinstance(tree, list):
        for i, v in enumerate(tree[:3]):
            out += _paths(v, [*prefix, i])
    return out


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# ---- the registry and the guard ------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = make_registry(tmp_path_factory.mktemp("fuzz") / "registry")
    write(
        root,
        "models/fraud-card/rejections.yaml",
        {"model": "fraud-card", "rejected": [{"version": "1.1.0", "by": "Bo", "at": "2026-03-01T00:00:00Z", "reason": "bias"}]},
    )
    write(
        root,
        "retrain/fraud-card.yaml",
        {"model": "fraud-card", "requests": [{"id": "r-1", "at": "2026-03-03T00:00:00Z", "actor": "Bo", "reason": "drift"}]},
    )
    snapshot = {
        "at": "2026-03-04T00:00:00Z",
        "version": "1.0.0",
        "calls": 100,
        "errors": 1,
        "metrics": {"precision": 0.8},
        "profile": {"features": {"amount": {"type": "numeric", "edges": [10, 100], "fractions": [0.2, 0.5, 0.3]}}},
    }
    write(root, "telemetry/production/fraud-card.yaml", {"model": "fraud-card", "environment": "production", "snapshots": [snapshot]})
    commit_all(root, "rejections, retrain requests, telemetry")
    yield root, git(root, "rev-parse", "HEAD").strip()


# What Python itself reads while a command runs (modules, time zones), never registry data.
_ALLOWED = tuple(
    os.path.realpath(p)
    for p in {
        sys.prefix,
        sys.base_prefix,
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["purelib"],
        str(Path(mlrelease.__file__).parent),
        "/usr/share/zoneinfo",
        "/usr/lib/python3",
        "/dev/null",
        "/etc/localtime",
    }
)


@contextmanager
def guarded(root: Path) -> Iterator[None]:
    """Fail if any path outside ``root`` (and Python's own files) is opened or listed meanwhile."""
    inside = os.path.realpath(root)
    with opened() as seen:
        yield
    outside = sorted({p for p in seen if not (p == inside or p.startswith(inside + os.sep) or p.startswith(_ALLOWED))})
    assert not outside, f"a read left the repository: {outside[:5]}"


def check_every_read(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    """Every read command from the work tree and from the ref, and in JSON (the work tree's, to stay quick)."""
    with guarded(root):
        for args in [[*form, *cmd] for form in FORMS for cmd in READS] + [[*cmd, "--json"] for cmd in JSON_READS]:
            code, out, err = run(capsys, root, *args)
            assert code in EXIT_CODES, f"{args}: {code}\n{err}"
            lines = (out + err).splitlines()
            assert all(len(line) < LONGEST_LINE for line in lines), f"{args}: a line of {max(map(len, lines))} characters"
            assert not any(line.lstrip(" │┃|").startswith("FAKE") for line in lines), f"{args}: a value faked a line"
            if args[-1] == "--json":
                _strict_json(args, out)


def _strict_json(args: list[str], text: str) -> None:
    def refuse(name: str) -> None:
        pytest.fail(f"{args}: {name} is not JSON")

    json.loads(text, parse_constant=refuse)


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)


def reset(root: Path, base: str) -> None:
    git(root, "reset", "-q", "--hard", base)
    git(root, "clean", "-qfdx", "-e", ".git")


FUZZ = settings(
    max_examples=int(os.environ.get("MLRELEASE_FUZZ_EXAMPLES", "12")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(data=st.data())
def test_mutated_manifests_through_every_read_command(
    registry: tuple[Path, str], capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    root, base = registry
    rel = data.draw(st.sampled_from(FILES), label="file")
    tree = _plain(yamlsafe.load((root / rel).read_bytes(), rel))
    where = data.draw(st.sampled_from(_paths(tree)), label="where")
    kind = data.draw(st.sampled_from(["raw", "typed", "drop", "add"]), label="mutation")
    try:
        if kind == "drop" and where:
            node = tree
            for key in where[:-1]:
                node = node[key] if isinstance(node, dict) else node[key % len(node)]
            if isinstance(node, dict):
                node.pop(where[-1], None)
            text = yamlsafe.dump(tree)
        elif kind == "add":
            text = yamlsafe.dump(_mutate(tree, [*where, data.draw(st.sampled_from(["colour", "treshold", "CON", "../x"]))], 1))
        elif kind == "typed":
            text = yamlsafe.dump(_mutate(tree, where, data.draw(st.sampled_from(TYPED), label="value")))
        else:
            text = yamlsafe.dump(_mutate(tree, where, "@@RAW@@")).replace("'@@RAW@@'", "@@RAW@@")
            text = text.replace("@@RAW@@", data.draw(st.sampled_from(RAW), label="raw"))
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        return  # a path the mutation does not apply to
    (root / rel).write_text(text, encoding="utf-8")
    try:
        commit(root, f"fuzz {rel}")
        check_every_read(capsys, root)
    finally:
        reset(root, base)


@FUZZ
@given(name=st.sampled_from(NAMES), place=st.sampled_from(["model folder", "environment", "version file", "argument"]))
def test_hostile_names_through_every_read_command(
    registry: tuple[Path, str], capsys: pytest.CaptureFixture[str], name: str, place: str
) -> None:
    root, base = registry
    try:
        if place == "argument":
            with guarded(root):
                for form in FORMS:
                    for args in (
                        ["show", name],
                        ["show", f"fraud-card@{name}"],
                        ["telemetry", name],
                        ["history", name],
                        ["lineage", f"{name}@1.0.0"],
                        ["check", name],
                    ):
                        code, out, err = run(capsys, root, *form, *args)
                        assert code in (*EXIT_CODES, 2), f"{args}: {code}\n{err}"
                        assert all(len(line) < LONGEST_LINE for line in (out + err).splitlines())
            return
        if "/" in name or name in ("", ".", "..") or "\n" in name or len(name.encode()) > 250:
            return  # not a name a file system holds as one folder or file; the other places test it
        try:
            if place == "model folder":
                write(root, f"models/{name}/model.yaml", {"name": name, "owner": "x"})
            elif place == "version file":
                write(root, f"models/fraud-card/versions/{name}.yaml", {"model": "fraud-card", "version": name})
            else:
                cfg = yamlsafe.load((root / "mlrelease.yaml").read_bytes(), "mlrelease.yaml")
                cfg["environments"].append({"name": name})
                write(root, "mlrelease.yaml", _plain(cfg))
        except (OSError, ValueError):
            return  # the file system itself refuses this name
        commit(root, f"a hostile name in a {place}")
        check_every_read(capsys, root)
    finally:
        reset(root, base)
