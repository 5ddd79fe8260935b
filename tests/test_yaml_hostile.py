"""Hostile YAML: each payload gives one clear line naming the file, fast, through the loader and the CLI.

"Fast" is asserted with generous bounds (the real cost is milliseconds): the point is that
nothing hangs, blows up memory or crashes the interpreter, as PyYAML and libyaml would
unguarded (alias expansion, a libyaml stack overflow near 50,000 levels).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.errors import ManifestError
from mlrelease.registry import yamlsafe
from tests.builders import config as make_config
from tests.builders import version, write

PATH = "models/fraud-card/versions/1.1.0.yaml"

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "alias bomb": (BOMB.encode(), f"{PATH}:1: YAML anchors and aliases are not allowed"),
    # libyaml's scanner stops this one itself ("exceeded maximum nesting depth"), before our count does
    "100,000-deep flow nesting": (b"[" * 100_000 + b"]" * 100_000, f"{PATH}:1: "),
    "100,000-deep mapping nesting": (b"{a: " * 100_000 + b"}" * 100_000, f"{PATH}:1: nesting deeper than 64 levels"),
    "deep block nesting": ("".join("  " * i + "a:\n" for i in range(200)).encode(), f"{PATH}:65: nesting deeper than 64 levels"),
    "10 MB file": (b"model: " + b"x" * 10_000_000 + b"\n", f"{PATH}: file is larger than the limit of 1,048,576 bytes"),
    "python object tag": (
        b"model: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
        f"{PATH}:1: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
    "python object document": (
        b"!!python/object:__main__.Evil {}\n",
        f"{PATH}:1: YAML tag 'tag:yaml.org,2002:python/object:__main__.Evil'",
    ),
    "duplicate keys": (b"model: fraud-card\nversion: 1.1.0\nmodel: evil\n", f"{PATH}:3: duplicate key 'model' (first at line 1)"),
    "merge key": (b"model: fraud-card\nartifact:\n  <<: {uri: s3://x/}\n", f"{PATH}:3: YAML merge keys (<<) are not allowed"),
    "invalid UTF-8": (b"model: fraud-card\nauthor: \xff\xfe\xfd\n", f"{PATH}:2: file is not valid UTF-8"),
    "two documents": (b"model: a\n---\nmodel: b\n", f"{PATH}:3: more than one YAML document in the file"),
    "not YAML": (b"model: [unclosed\n", f"{PATH}:2: invalid YAML: "),
    "a list, not a mapping": (b"- 1\n- 2\n", f"{PATH}:1: the file must be a mapping, not a list"),
}


# Seconds allowed: the work takes milliseconds; the bound only proves nothing hangs or explodes
# (an unguarded alias bomb or libyaml's recursion runs for minutes or kills the interpreter).
# It is a hang guard, not a speed test (speed is bench/'s), so it holds on a loaded machine.
BOUND = 10.0


@pytest.mark.parametrize("case", list(HOSTILE))
def test_loader_refuses_with_one_line_naming_the_file(case: str) -> None:
    data, expected = HOSTILE[case]
    start = time.perf_counter()
    with pytest.raises(ManifestError) as info:
        from mlrelease.registry.parse import parse_version

        parse_version(yamlsafe.load(data, PATH), PATH)
    assert time.perf_counter() - start < BOUND
    message = str(info.value)
    assert message.startswith(expected), message
    if "nesting" in case:
        assert "nesting" in message
    assert "\n" not in message


@pytest.mark.parametrize("case", list(HOSTILE))
def test_lint_and_show_report_it_and_keep_going(repo: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    data, expected = HOSTILE[case]
    (repo / PATH).write_bytes(data)
    write(repo, "models/churn/notes.txt", "another problem, in another file\n")

    start = time.perf_counter()
    code = main(["--repo", str(repo), "lint"])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == 1
    assert elapsed < 2 * BOUND  # includes git start-up and every other file
    assert [line for line in out.splitlines() if line.startswith(PATH)] == [
        next(line for line in out.splitlines() if line.startswith(expected))
    ]
    assert "Traceback" not in out + err
    assert out.startswith("models/churn/notes.txt: unknown file")  # lint kept going past the hostile file

    code = main(["--repo", str(repo), "lint", "--json"])
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert code == 1 and [p["path"] for p in problems] == ["models/churn/notes.txt", PATH]

    start = time.perf_counter()
    code = main(["--repo", str(repo), "show", "fraud-card@1.1.0"])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == 1
    assert elapsed < 2 * BOUND
    assert err.startswith(f"mlrelease: error: {expected}"), err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("written", ["1.10", "010", "NO", "1.0", "2026.10", "0x1F", "1e3", "on"])
def test_versions_stay_the_written_string_and_the_scheme_judges_them(repo: Path, capsys: pytest.CaptureFixture[str], written: str) -> None:
    rel = f"models/fraud-card/versions/{written}.yaml"
    manifest = version("fraud-card", "0.0.0", artifact={"uri": f"s3://ml-models/fraud-card/{written}/"})
    text = yamlsafe.dump(manifest).replace("version: 0.0.0", f"version: {written}").replace("version: '0.0.0'", f"version: {written}")
    assert f"\nversion: {written}\n" in text  # written unquoted, as a person would
    write(repo, rel, text)

    code = main(["--repo", str(repo), "lint"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines() == [f"{rel}:2: version {written!r} is not semver (MAJOR.MINOR.PATCH, e.g. 1.4.0)"]

    write(repo, "mlrelease.yaml", make_config(conventions={"version_scheme": "regex", "version_pattern": "[0-9A-Za-z.]+"}))
    assert main(["--repo", str(repo), "lint"]) == 0
    capsys.readouterr()
    assert main(["--repo", str(repo), "show", f"fraud-card@{written}", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["manifest"]["version"] == written
