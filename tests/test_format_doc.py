"""docs/format.md's examples are real: each parses with its kind's parser, and together they lint clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlrelease.registry import yamlsafe
from mlrelease.registry.lint import Located, lint, locate
from mlrelease.registry.loader import CONFIG, Registry
from mlrelease.registry.parse import PARSERS

DOC = Path(__file__).resolve().parent.parent / "docs" / "format.md"
_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
_MARK = re.compile(r"# file: (\S+)\n")


def blocks() -> list[tuple[str, str]]:
    """(registry path, YAML text) of every ```yaml block; each must name its file on line 1."""
    out = []
    for text in _BLOCK.findall(DOC.read_text(encoding="utf-8")):
        mark = _MARK.match(text)
        assert mark, f"a yaml block in docs/format.md does not start with '# file: PATH':\n{text[:200]}"
        out.append((mark.group(1), text))
    return out


def kind_of(path: str) -> str:
    if path == CONFIG:
        return "config"
    loc = locate(path)
    assert isinstance(loc, Located), f"docs/format.md names {path}, which is not in the layout: {loc}"
    return loc.kind


def test_every_file_kind_has_an_example() -> None:
    assert {kind_of(path) for path, _ in blocks()} == set(PARSERS)


@pytest.mark.parametrize(("path", "text"), blocks(), ids=[p for p, _ in blocks()])
def test_example_parses_with_its_parser(path: str, text: str) -> None:
    PARSERS[kind_of(path)](yamlsafe.load(text.encode("utf-8"), path), path)


def test_examples_together_are_a_registry_that_lints_clean(tmp_path: Path) -> None:
    for path, text in blocks():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    with Registry(tmp_path, use_cache=False) as reg:
        result = lint(reg)
    assert [str(p) for p in result.problems] == []
    assert result.files == len(blocks())


def test_unquoted_versions_in_the_examples_stay_as_written() -> None:
    texts = dict(blocks())
    assert "\nversion: 2026.02 " in texts["datasets/card-transactions/2026.02.yaml"]  # unquoted on purpose
    dataset = PARSERS["dataset"](yamlsafe.load(texts["datasets/card-transactions/2026.02.yaml"], "d"), "d")
    assert dataset.version == "2026.02"
