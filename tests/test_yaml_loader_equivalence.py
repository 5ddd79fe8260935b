"""The one-pass loader gives exactly what the two-pass loader of 2c498d0 gave: values, types, lines, messages.

Inputs: thousands of manifests shaped like users' (bench/gen.py: both the pipeline's
block style and people's flow style, GTO-imported ones, data sets, release states,
telemetry), every YAML block of docs/format.md, the bundled example registry, the
hostile payloads, a corpus of YAML's odd corners (tags, anchors, merge keys, typing
edge cases, documents), and seeded mutations of all of them — characters YAML cares
about inserted, lines dropped, duplicated and re-indented — which reach the error paths
(syntax, depth, tags, duplicates, a second document) in every order they can meet.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import gen
from mlrelease.errors import ManifestError
from mlrelease.registry import yamlsafe
from mlrelease.registry.yamlsafe import YList, YMap
from tests import yaml_reference
from tests.test_yaml_hostile import HOSTILE

ROOT = Path(__file__).resolve().parent.parent
PATH = "models/m/versions/1.0.0.yaml"

ODD = [
    "",
    "\n",
    "# only a comment\n",
    "---\n",
    "--- \n...\n",
    "a: 1\n---\n",
    "a: 1\n--- !!map\nb: 2\n",
    "---\na: 1\n...\n---\nb: 2\n",
    "plain text\n",
    "- a\n- b\n",
    "a: 1.10\nb: 010\nc: NO\nd: on\ne: 0x1F\nf: 1:30\ng: 2026-03-01\nh: 1e5\ni: 1.5e3\nj: 1.5e+3\nk: .5\nl: -.inf\nm: .nan\n",
    "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: ''\ng: \"\"\n",
    "a: true\nb: True\nc: TRUE\nd: tRUE\ne: yes\nf: y\n",
    "a: 1_000\nb: +12\nc: -0\nd: 0\ne: 00\nf: 0b101\ng: 1__0\nh: 1.0_1\n",
    "a: =\n",
    "a: <<\n",
    "=: 1\n",
    "~: 1\n",
    "<<: 1\n",
    "'<<': 1\n",
    "a: ! 1\nb: ! '1'\nb2: ! '<<'\nc: !!str 1\nd: !!int 3\ne: !!int '3'\nf: !!float x\ng: !!bool yes\nh: !!null ''\n",
    "a: !!timestamp 2020-01-01\nb: !!binary aGk=\n",
    "a: !custom x\n",
    "!!str a: 1\n",
    "!foo a: 1\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: 1\n",
    "? !foo {a: 1}\n: 1\n",
    "[a, b]: 1\n",
    "a: !!set {x, y}\n",
    "a: !!omap [{x: 1}]\n",
    "a: !!str [x]\n",
    "a: !!map {x: 1}\n",
    "a: ! {x: 1}\n",
    "a: &x 1\n",
    "a: &x [1]\nb: *x\n",
    "a: *x\n",
    "a: 1\na: 2\n",
    "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n",
    "a: 1\nb: !!python/none x\na: 2\n",
    "a: 1\na: 2\nb: &x 1\n",
    "a: 1\na: 2\n---\nb: 1\n",
    "a: !bad 1\n---\nb: 1\n",
    "a: [1, 2\n",
    "a: 1\na: 2\nb: [\n",
    "a: |\n  line one\n  line two\nb: >-\n  folded\n  text\n",
    "a: 'it''s'\nb: \"tab\\tand\\u263a\"\n",
    "key with spaces: value with: colon\n",
    "a:\n- 1\n- - 2\n  - 3\n- {b: [4, {c: 5}]}\n",
    "- - - - - x\n",
    "a: \x01\n",
    "\ufeffa: 1\n",
    "a: 1 # comment\n# trailing\n",
    "{a: 1, b: [2, 3], c: {d: e}}\n",
    "a: b: c\n",
    "a:\tb\n",
    "\ta: 1\n",
    "%YAML 1.1\n---\na: 1\n",
    "%TAG !e! tag:example.com,2000:\n---\na: !e!foo 1\n",
    "[" * 70 + "]" * 70 + "\n",
    "".join("  " * i + "k:\n" for i in range(70)),
    "a: " + "[" * 63 + "]" * 63 + "\n",
    "a: " + "[" * 64 + "]" * 64 + "\n",
]


def shape(x: Any) -> Any:
    """Everything a caller can see of a loaded tree: values with their types, lines, raw text."""
    if isinstance(x, YMap):
        return (
            "map",
            x.line,
            [(k, x.key_lines.get(k), shape(v)) for k, v in x.items()],
            sorted(x.raw.items()),
            sorted(x.key_lines.items()),
        )
    if isinstance(x, YList):
        return ("list", x.line, list(x.item_lines), [shape(v) for v in x])
    assert not isinstance(x, dict | list), f"plain {type(x).__name__} in a loaded tree"
    return (type(x).__name__, x)


def outcome(load: Any, data: bytes | str) -> Any:
    try:
        return ("ok", shape(load(data, PATH)))
    except ManifestError as exc:
        return ("error", str(exc), [(p.path, p.line, p.message) for p in exc.problems])


def generated(count: int) -> list[str]:
    """Files like users' registries hold, from the benchmark generator (no git involved)."""
    shape_ = gen.Shape(models=12, versions=max(1, count // 12), releases=0)
    rng = random.Random(7)
    out = [gen.config(shape_)]
    for m in range(shape_.models):
        out.append(gen.model_yaml(shape_, m))
        out += [gen.version_yaml(shape_, m, j, rng) for j in range(shape_.versions)]
    out += [gen.dataset_yaml("payments-001", k, rng, holdout=k % 2 == 1) for k in range(6)]
    out += [gen.telemetry_yaml(shape_, m, "production", "1.0.0", 3, rng).decode() for m in range(3)]
    state = gen.State("fraud-0000", "production", desired={"version": "1.0.0", "promotion_id": "01J", "action": "promote"})
    state.approvals.append({"version": "1.0.1", "by": gen.PEOPLE[0], "at": "2026-01-01T00:00:00Z"})
    out.append(state.dump().decode())
    return out


def documented() -> list[str]:
    text = (ROOT / "docs" / "format.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    example = sorted((ROOT / "examples").rglob("*.yaml"))
    return blocks + [p.read_text() for p in example]


SIGNIFICANT = [
    "&a ",
    "*a",
    "!!str ",
    "!x ",
    "!! ",
    "|",
    ">",
    "'",
    '"',
    "{",
    "}",
    "[",
    "]",
    ",",
    ": ",
    ":",
    "#",
    "- ",
    "? ",
    "<<: 1\n",
    "---\n",
    "...\n",
    "\t",
    " ",
    "\n",
    "~",
    "=",
    "%",
    "@",
    "`",
    "\\",
    "\x00",
    "\x85",
    "1.5e3",
    "010",
    "yes",
    "null",
]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True) or [""]
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        i = rng.randrange(len(lines))
        if op == 0:  # insert a character YAML cares about
            at = rng.randint(0, len(lines[i]))
            lines[i] = lines[i][:at] + rng.choice(SIGNIFICANT) + lines[i][at:]
        elif op == 1 and len(lines) > 1:
            del lines[i]
        elif op == 2:  # a repeated line: duplicate keys, usually
            lines.insert(i, lines[i])
        elif op == 3:  # re-indent
            lines[i] = " " * rng.randint(0, 6) + lines[i].lstrip(" ")
        else:  # move a line
            lines.insert(rng.randrange(len(lines)), lines.pop(i))
    return "".join(lines)


def corpus() -> list[str | bytes]:
    base: list[str | bytes] = [*ODD, *documented(), *generated(360)]
    rng = random.Random(17)
    samples = [b for b in base if isinstance(b, str)]
    mutated = [mutate(rng.choice(samples), rng) for _ in range(1500)]
    return [*base, *(data for data, _ in HOSTILE.values()), *mutated]


OUTCOMES = (
    "invalid YAML",
    "nesting deeper",
    "anchors and aliases",
    "is not allowed",
    "merge keys",
    "duplicate key",
    "more than one YAML document",
    "mapping keys must be plain scalars",
    "not valid UTF-8",
    "larger than the limit",
)


def test_the_one_pass_loader_matches_the_reference_on_every_input() -> None:
    differ, seen = [], []
    for data in corpus():
        want, got = outcome(yaml_reference.load, data), outcome(yamlsafe.load, data)
        seen.append(str(want[1]))
        if want != got:
            differ.append((data[:200], want, got))
    assert not differ, f"{len(differ)} inputs differ; first: {differ[0]}"
    missing = [m for m in OUTCOMES if m not in " ".join(seen)]
    assert not missing, f"the corpus never reaches {missing}: it would prove less than it claims"


def test_bytes_and_text_give_the_same_tree() -> None:
    for text in generated(60):
        assert outcome(yamlsafe.load, text) == outcome(yamlsafe.load, text.encode())


def test_the_pure_python_parser_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where PyYAML is built without libyaml the loader falls back to PyYAML's own parser."""
    monkeypatch.setattr(yamlsafe, "_Parser", yaml.SafeLoader)
    monkeypatch.setattr(yaml_reference, "_Loader", yaml.SafeLoader)
    rng = random.Random(3)
    samples = [*ODD[:-4], *generated(24)]
    for data in [*samples, *(mutate(rng.choice(samples), rng) for _ in range(300))]:
        assert outcome(yaml_reference.load, data) == outcome(yamlsafe.load, data), data[:200]
