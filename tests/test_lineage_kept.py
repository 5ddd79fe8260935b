"""``lineage --dataset NAME[@VERSION] --json`` is kept once per state of the registry (cli/kept.py).

At 100,000 versions the computed answer costs 0.9 s of CPU even with the index warm: it
lists and blob-hashes every manifest to keep only the index rows of the files as they are.
Like ``list --json``, it is now replayed while the tip and the clean work tree are the same,
and computed again on any change: a manifest edited in place, a new version, a promotion.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import commit_all, release, version, write
from tests.cli_helpers import cli
from tests.test_answers import computed, kept_files, same_as_computed


def uses(out: str) -> list[tuple[str, str, list[dict[str, object]]]]:
    return [(u["model"], u["version"], u["live_in"]) for u in json.loads(out)["uses"]]


@pytest.mark.parametrize("target", ["transactions", "transactions@2026.01"])
def test_a_kept_dataset_impact_is_replayed_only_while_nothing_changed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, repo: Path, target: str
) -> None:
    args = ("lineage", "--dataset", target, "--json")
    first = same_as_computed(capsys, monkeypatch, repo, *args)
    assert len(kept_files(repo)) == 1
    assert same_as_computed(capsys, monkeypatch, repo, *args) == first  # replayed, still what computing says
    assert len(kept_files(repo)) == 1

    data = {"train": {"dataset": "transactions", "version": "2026.01"}}
    write(repo, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0", data=data))  # uncommitted: not kept, seen
    added = same_as_computed(capsys, monkeypatch, repo, *args)
    assert ("churn", "0.3.0", []) in uses(added) and len(kept_files(repo)) == 1
    commit_all(repo, "churn 0.3.0")
    assert same_as_computed(capsys, monkeypatch, repo, *args) == added and len(kept_files(repo)) == 2

    other = {"train": {"dataset": "holdout", "version": "2026.01"}}
    write(repo, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0", data=other))  # edited in place: no longer a use
    assert ("churn", "0.3.0", []) not in uses(same_as_computed(capsys, monkeypatch, repo, *args))
    write(repo, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0", data=data))
    write(repo, "releases/staging/churn.yaml", release("churn", "staging", "0.3.0"))
    commit_all(repo, "promote churn 0.3.0")
    live = same_as_computed(capsys, monkeypatch, repo, *args)
    assert ("churn", "0.3.0", [{"environment": "staging", "role": "live", "weight": None}]) in uses(live)


def test_an_unknown_data_set_or_a_broken_manifest_is_never_kept(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, repo: Path
) -> None:
    rc, _out, err = cli(capsys, repo, "lineage", "--dataset", "nothing", "--json")
    assert rc == 1 and "nothing" in err and kept_files(repo) == []
    write(repo, "models/churn/versions/0.3.0.yaml", "model: churn\nversion: 0.3.0\nbogus: [\n")
    commit_all(repo, "broken")
    rc, out, _err = cli(capsys, repo, "lineage", "--dataset", "transactions", "--json")
    assert rc == 1 and json.loads(out)["problems"] and kept_files(repo) == []
    assert computed(capsys, monkeypatch, repo, "lineage", "--dataset", "transactions", "--json")[:2] == (rc, out)
