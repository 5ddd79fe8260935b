"""Benchmark registries shaped like users' data, written without mlrelease's own code.

A registry a team reaches after a year or two of nightly training across a few hundred
models, written the way such registries are written:

* **version manifests** like docs/format.md's "every field" example, about 2 KB each:
  6–10 metrics from a 10-metric catalogue, 5–9 params of every scalar type, three data
  roles (train, validation, test) pointing at data set manifests, a 5-feature × 6-bin
  profile, code, artifact, image. Two hands wrote them: the pipeline (block style, as
  ``mlrelease register`` writes) and people (flow mappings and comments, as the docs do);
* **data set manifests**, a new version per family per month, with a profile;
* **3 environments** (dev → staging → production, approvals in production), telemetry
  files for every live (staging, production) version with a week of daily snapshots,
  consumers in model.yaml, rejections, retraining requests;
* **one commit per registered version** (a pipeline registers each run), so history
  is as long as the registry is big;
* **release commits with real trailers**: promotions as intent + outcome, canaries,
  two approvals before production, failed deployments and their retry, rollbacks with a
  pin and the later unpin, reconciled outcomes, and the odd hand edit (no trailers);
* **a long imported history**: a quarter of the models came from GTO, so their first
  40% of versions and promotions are commits shaped like ``mlrelease import gto``'s
  (one commit per tag, ``Mlrelease-Source: gto <tag object> <tag>``, import-shaped
  manifests with ``gto:`` tags, promotion ids ``gto-…``, backend ``gto``).

Everything goes through one streamed ``git fast-import``; nothing here imports mlrelease,
so the data is not shaped by the code it measures. ``tests/test_bench_gen.py`` lints a
small one clean with mlrelease, so the generator cannot drift from the format.

    .venv/bin/python -m bench.gen DIR --versions 10000 --releases 5000 [--models N] [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrelease.registry.fields import scalar_text

START = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
SPAN_DAYS = 730
ENVS = ("dev", "staging", "production")
TELEMETRY_ENVS = ("staging", "production")
IMPORTED_SHARE = 4  # every 4th model came from GTO
IMPORTED_UNTIL = 0.4  # ... for the first 40% of the span
METRICS = (  # name, goal, kind, format, low, high
    ("precision", "max", "model", ".3f", 0.62, 0.93),
    ("recall", "max", "model", ".3f", 0.55, 0.9),
    ("f1", "max", "model", ".3f", 0.6, 0.9),
    ("auc", "max", "model", ".3f", 0.86, 0.97),
    ("value_detection_rate", "max", "business", ".1%", 0.7, 0.95),
    ("false_positive_ratio", "min", "business", ".1f", 2.0, 8.0),
    ("pr_auc", "max", "model", ".3f", 0.4, 0.8),
    ("log_loss", "min", "model", ".4f", 0.05, 0.3),
    ("brier", "min", "model", ".4f", 0.01, 0.09),
    ("latency_p99_ms", "min", "operational", ".1f", 8.0, 40.0),
)
PEOPLE = tuple(
    f"{first} {last} <{first.lower()}.{last.lower()}@northbank.example>"
    for first, last in (
        ("Priya", "Shah"),
        ("Tom", "Okafor"),
        ("Aisha", "Bello"),
        ("Marek", "Nowak"),
        ("Lena", "Fischer"),
        ("Diego", "Ramos"),
        ("Yuki", "Tanaka"),
        ("Sam", "Carter"),
    )
)
PIPELINE = "Training pipeline <ml-pipeline@northbank.example>"
FEATURES = (  # name, kind, edges or categories, dtype
    ("amount", "numeric", (10, 50, 200, 1000, 5000), "float"),
    ("hour", "numeric", (4, 8, 12, 16, 20), "int"),
    ("card_age_days", "numeric", (30, 90, 180, 365, 1095), "int"),
    ("channel", "categorical", ("chip", "contactless", "ecommerce", "atm", "mail_order", "other"), None),
    ("merchant", "categorical", ("grocery", "fuel", "travel", "electronics", "digital", "other"), None),
)
TRAILERS = (  # field → key, in mlrelease's documented order
    ("action", "Mlrelease-Action"),
    ("model", "Mlrelease-Model"),
    ("version", "Mlrelease-Version"),
    ("environment", "Mlrelease-Environment"),
    ("previous", "Mlrelease-Previous"),
    ("canary_weight", "Mlrelease-Canary-Weight"),
    ("promotion_id", "Mlrelease-Promotion-Id"),
    ("phase", "Mlrelease-Phase"),
    ("backend", "Mlrelease-Backend"),
    ("backend_ref", "Mlrelease-Backend-Ref"),
    ("actor", "Mlrelease-Actor"),
    ("source", "Mlrelease-Source"),
    ("reason", "Reason"),
)
SIZES = {  # name → (models, versions per model, release commits)
    "1k": (20, 50, 500),
    "10k": (100, 100, 5000),
    "100k": (400, 250, 20000),
}


def digest(*parts: object, n: int = 64) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ulid(at: datetime, rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = ((int(at.timestamp() * 1000) & ((1 << 48) - 1)) << 80) | rng.getrandbits(80)
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def message(subject: str, fields: dict[str, object | None], body: str = "") -> str:
    lines = [subject, ""]
    if body:
        lines += [body, ""]
    lines += [f"{key}: {fields[name]}" for name, key in TRAILERS if fields.get(name) not in (None, "")]
    return "\n".join(lines) + "\n"


def q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is a subset of YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def model_name(i: int) -> str:
    kinds = ("fraud", "churn", "credit", "aml", "propensity", "collections", "pricing", "kyc")
    return f"{kinds[i % len(kinds)]}-{i:04d}"


def version_name(j: int) -> str:
    return f"{1 + j // 400}.{(j // 20) % 20}.{j % 20}"


def month_name(k: int) -> str:
    year, month = divmod(START.month - 1 + k, 12)
    return f"{START.year + year}.{month + 1:02d}"


def month_start(k: int) -> datetime:
    year, month = divmod(START.month - 1 + k, 12)
    return datetime(START.year + year, month + 1, 1, 2, 0, tzinfo=UTC)


def month_of(at: datetime) -> int:
    return (at.year - START.year) * 12 + at.month - START.month


def fractions(rng: random.Random, n: int, skew: float = 0.0) -> list[float]:
    raw = [rng.random() + 0.2 + (skew if i == 0 else 0.0) for i in range(n)]
    total = sum(raw)
    out = [round(x / total, 3) for x in raw]
    out[-1] = round(1.0 - sum(out[:-1]), 3)
    return out


# ---- the shape of the registry ------------------------------------------------------------------


@dataclass
class Shape:
    models: int
    versions: int  # per model
    releases: int  # commits that touch releases/
    seed: int = 0
    names: list[str] = field(default_factory=list)
    families: int = 0
    end: datetime = START
    imported_until: datetime = START

    def __post_init__(self) -> None:
        self.names = [model_name(i) for i in range(self.models)]
        self.families = max(2, self.models // 4)
        self.end = START + timedelta(days=SPAN_DAYS)
        self.imported_until = START + timedelta(days=SPAN_DAYS * IMPORTED_UNTIL)

    def imported(self, m: int) -> bool:
        return m % IMPORTED_SHARE == 1

    def family(self, m: int) -> int:
        return m % self.families

    def first(self, m: int) -> datetime:
        return START + timedelta(days=40) + timedelta(hours=(m * 7919) % (24 * 120))

    def interval(self, m: int) -> timedelta:
        return (self.end - timedelta(days=10) - self.first(m)) / self.versions

    def created(self, m: int, j: int) -> datetime:
        return self.first(m) + self.interval(m) * j + timedelta(minutes=(j * 37) % 180)

    def latest(self, m: int, at: datetime) -> int | None:
        """Index of the newest version of model ``m`` registered by ``at``."""
        if at < self.created(m, 0):
            return None
        j = min(self.versions - 1, int((at - self.first(m)) / self.interval(m)))
        while j >= 0 and self.created(m, j) > at:
            j -= 1
        return j if j >= 0 else None

    def rejected(self, m: int, j: int) -> bool:
        return j > 0 and int(digest("reject", m, j, n=4), 16) % 23 == 0

    def gto(self, m: int, j: int) -> bool:
        return self.imported(m) and self.created(m, j) < self.imported_until

    def metric_names(self, m: int) -> list[str]:
        extra = (m * 3) % 5  # 6 to 10 metrics
        return [name for name, *_ in METRICS[: 6 + extra]]

    def datasets(self, f: int) -> tuple[str, str]:
        return f"payments-{f:03d}", f"payments-{f:03d}-holdout"


# ---- file contents -----------------------------------------------------------------------------


def config(shape: Shape) -> str:
    metrics = "\n".join(
        f"  {name}:\n    goal: {goal}\n    kind: {kind}\n    format: {q(fmt)}" + ("\n    unit: ms" if kind == "operational" else "")
        for name, goal, kind, fmt, *_ in METRICS
    )
    return f"""# The Northbank model registry (generated for the benchmarks)
version: 1
name: northbank-scale
conventions:
  model_name: "[a-z][a-z0-9-]{{1,40}}"
  dataset_name: "[a-z][a-z0-9-]{{1,40}}"
  version_scheme: semver
  dataset_version: "20[0-9]{{2}}\\\\.(0[1-9]|1[0-2])"
  artifact_uri: "s3://northbank-ml-artifacts/{{model}}/{{version}}/"
  image: "registry.northbank.example/ml/{{model}}:{{version}}"
metrics:
{metrics}
headline: [f1, value_detection_rate]
environments:
  - name: dev
    backend: record
  - name: staging
    requires: [dev]
    backend: record
    telemetry: {{type: file}}
    gates:
      thresholds:
        auc: {{min: 0.80}}
  - name: production
    requires: [staging]
    backend: record
    telemetry: {{type: file}}
    gates:
      thresholds:
        auc: {{min: 0.80}}
      no_regression:
        auc: {{absolute: 0.2}}
      approvals: 2
backends:
  record:
    type: record
  training-pipeline:
    type: webhook
    url: https://ci.northbank.example/api/pipelines/retrain
    secret_env: NORTHBANK_PIPELINE_HMAC
    timeout: 10
retrain:
  backend: training-pipeline
  policy:
    max_age_days: 120
    psi_threshold: 0.2
    metric_drop:
      value_detection_rate: 0.05
    cadence_days: 7
remote:
  name: origin
  branch: main
"""


def model_yaml(shape: Shape, m: int) -> str:
    name = shape.names[m]
    apps = [f"app-{(m * 5 + k) % max(3, shape.models // 3):03d}" for k in range(1 + m % 3)]
    consumers = "".join(
        f"  - name: {app}\n    environments: [{', '.join(ENVS[1 + (k % 2) :])}]\n    contact: team-{k}@northbank.example\n"
        f"    description: {q(f'Calls {name} inline ({20 + 10 * k} ms budget at p99)')}\n"
        for k, app in enumerate(apps)
    )
    return (
        f"name: {name}\nowner: team-{m % 12:02d}\ndescription: >-\n  Scores payments of family {shape.family(m)} for {name.split('-')[0]} risk.\n"
        f"task: binary-classification\ntags: [{name.split('-')[0]}, generated]\nconsumers:\n{consumers}"
    )


def _profile(rng: random.Random, indent: str, skew: float = 0.0, *, flow: bool) -> str:
    out = [f"{indent}features:"]
    for fname, kind, bins, dtype in FEATURES:
        fr = fractions(rng, 6, skew)
        out.append(f"{indent}  {fname}:")
        out.append(f"{indent}    type: {kind}")
        if kind == "numeric":
            out.append(f"{indent}    dtype: {dtype}")
            if flow:
                out.append(f"{indent}    edges: [{', '.join(map(str, bins))}]")
                out.append(f"{indent}    fractions: [{', '.join(map(str, fr))}]")
            else:
                out.append(f"{indent}    edges:")
                out.extend(f"{indent}    - {e}" for e in bins)
                out.append(f"{indent}    fractions:")
                out.extend(f"{indent}    - {x}" for x in fr)
            out.append(f"{indent}    missing: {round(rng.random() * 0.01, 4)}")
            out.append(f"{indent}    mean: {round(bins[1] * (0.5 + rng.random()), 2)}")
        elif flow:
            out.append(f"{indent}    fractions: {{{', '.join(f'{c}: {x}' for c, x in zip(bins, fr, strict=True))}}}")
        else:
            out.append(f"{indent}    fractions:")
            out.extend(f"{indent}      {c}: {x}" for c, x in zip(bins, fr, strict=True))
    return "\n".join(out)


def version_yaml(shape: Shape, m: int, j: int, rng: random.Random) -> str:
    name, version = shape.names[m], version_name(j)
    at = shape.created(m, j)
    if shape.gto(m, j):
        return gto_version_yaml(shape, m, j)
    train, holdout = shape.datasets(shape.family(m))
    month = month_name(max(0, month_of(at) - 1))
    values = {n: round(lo + (hi - lo) * rng.random(), 4) for n, _g, _k, _f, lo, hi in METRICS}
    metrics = [(n, values[n]) for n in shape.metric_names(m)]
    params: list[tuple[str, object]] = [
        ("algorithm", "lightgbm" if m % 2 else "xgboost"),
        ("num_leaves", 31 + (j % 4) * 32),
        ("learning_rate", round(0.02 + 0.01 * (j % 5), 3)),
        ("n_estimators", 400 + 100 * (j % 7)),
        ("class_weight", "balanced"),
        ("early_stopping", j % 3 != 0),
        ("seed", 1000 + j),
        ("objective", "binary:logistic"),
        ("max_bin", None),
    ][: 5 + m % 5]
    rows = 10_000_000 + (m * 7717 + j * 131) % 9_000_000
    sha, image, code = digest("artifact", name, version), digest("image", name, version), digest("code", name, version, n=40)
    author = PIPELINE if j % 5 else PEOPLE[(m + j) % len(PEOPLE)]
    parent = f"\nparent: {version_name(j - 1)}" if j else ""

    def tail(*, flow: bool) -> str:  # params, metrics and the profile: the same keys in either hand
        return (
            "params:\n"
            + "".join(f"  {k}: {scalar_text(v)}\n" for k, v in params)
            + "metrics:\n"
            + "".join(f"  {k}: {v}\n" for k, v in metrics)
            + f"profile:\n  rows: {rows // 9}\n"
            + _profile(rng, "  ", flow=flow)
        )

    if m % 3 == 2:  # written by a person, the way the docs write it
        return (
            f"# {name} {version}: retrained on {month}\nmodel: {name}\nversion: {version}\ncreated: {stamp(at)}\nauthor: {author}\n"
            f"description: Nightly retrain of {name} on {month} payments (run {j})"
            f"{parent}\nartifact:\n  uri: s3://northbank-ml-artifacts/{name}/{version}/model.onnx\n  sha256: {sha}\n  format: onnx\n"
            f"  bytes: {48_000_000 + j * 1024}\nimage:\n  ref: registry.northbank.example/ml/{name}:{version}\n  digest: sha256:{image}\n"
            f"code:\n  repo: https://git.northbank.example/ml/{name}\n  commit: {code}\n  entrypoint: train.py:main\n"
            f'data:                            # role → data set version\n  train: {{dataset: {train}, version: "{month}", rows: {rows}}}\n'
            f'  validation: {{dataset: {train}, version: "{month}", rows: {rows // 9}}}\n  test:\n    dataset: {holdout}\n'
            f'    version: "{month}"\n    digest: sha256:{digest("test", train, month)}\n' + tail(flow=True) + "\ntags: [nightly]\n"
        )
    return (  # written by the pipeline (block style, quoted where YAML 1.1 would retype)
        f"model: {name}\nversion: {version}\ncreated: '{stamp(at)}'\nauthor: {author}\n"
        f"description: Nightly retrain of {name} on {month} payments (run {j})"
        f"{parent}\nartifact:\n  uri: s3://northbank-ml-artifacts/{name}/{version}/\n  sha256: {sha}\n  format: onnx\n"
        f"  bytes: {48_000_000 + j * 1024}\nimage:\n  ref: registry.northbank.example/ml/{name}:{version}\n  digest: sha256:{image}\n"
        f"code:\n  repo: https://git.northbank.example/ml/{name}\n  commit: {code}\n  entrypoint: pipelines/train.py\n"
        f"data:\n  train:\n    dataset: {train}\n    version: '{month}'\n    rows: {rows}\n"
        f"  validation:\n    dataset: {train}\n    version: '{month}'\n    rows: {rows // 9}\n"
        f"  test:\n    dataset: {holdout}\n    version: '{month}'\n    digest: sha256:{digest('test', train, month)}\n"
        + tail(flow=False)
        + "\n"
    )


def gto_tag(shape: Shape, m: int, j: int) -> str:
    return f"{shape.names[m]}@v{version_name(j)}"


def gto_version_yaml(shape: Shape, m: int, j: int) -> str:
    """What ``mlrelease import gto`` writes for a registration: what the tag knows, no more."""
    name, version = shape.names[m], version_name(j)
    tag = gto_tag(shape, m, j)
    return (
        f"model: {name}\nversion: {version}\ncreated: '{stamp(shape.created(m, j))}'\nauthor: {PEOPLE[(m + j) % len(PEOPLE)]}\n"
        f"description: Registered with GTO ({tag})\nartifact:\n  uri: s3://northbank-ml-artifacts/{name}/{version}/\n"
        f"code:\n  repo: https://git.northbank.example/ml/gto-models\n  commit: {digest('gto-commit', name, version, n=40)}\n"
        f"tags:\n- gto:{tag}\n- gto-type:model\n"
    )


def dataset_yaml(name: str, month: int, rng: random.Random, *, holdout: bool) -> str:
    version = month_name(month)
    rows = 12_000_000 + (month * 104729) % 5_000_000
    if holdout:
        rows //= 8
    columns = "".join(
        f"  {c}: {t}\n"
        for c, t in (
            ("amount", "float"),
            ("hour", "int"),
            ("card_age_days", "int"),
            ("channel", "category"),
            ("merchant", "category"),
            ("country", "category"),
            ("is_fraud", "bool"),
        )
    )
    return (
        f"name: {name}\nversion: '{version}'\ncreated: {stamp(month_start(month) + timedelta(days=31))}\n"
        f"uri: s3://northbank-data/{name}/{version}/\ndigest: sha256:{digest('dataset', name, version)}\nrows: {rows}\n"
        f"update_frequency: monthly\ndescription: Authorised payments with fraud labels confirmed after 30 days\ncolumns:\n{columns}"
        f"profile:\n  rows: {rows}\n" + _profile(rng, "  ", flow=True) + "\n"
    )


@dataclass
class State:
    """One release file's content, as the release service would write it."""

    model: str
    env: str
    desired: dict[str, object] | None = None
    observed: dict[str, object] | None = None
    live: dict[str, object] | None = None
    pin: dict[str, object] | None = None
    approvals: list[dict[str, object]] = field(default_factory=list)
    lived: list[str] = field(default_factory=list)  # versions that were live here, oldest first (for rollbacks)

    def desired_canary(self) -> bool:
        return bool(self.desired and self.desired.get("canary"))

    def dump(self) -> bytes:
        out = [f"model: {self.model}", f"environment: {self.env}"]
        for part in ("desired", "observed", "live", "pin"):
            value = getattr(self, part)
            if value:
                out.append(f"{part}:")
                out.extend(_block(value, "  "))
        if self.approvals:
            out.append("approvals:")
            for a in self.approvals:
                lines = _block(a, "  ")
                out.append("- " + lines[0][2:])
                out.extend(lines[1:])
        return ("\n".join(out) + "\n").encode()


def _block(d: dict[str, object], indent: str) -> list[str]:
    out = []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out.append(f"{indent}{k}:")
            out.extend(_block(v, indent + "  "))
        elif isinstance(v, str):
            out.append(f"{indent}{k}: {q(v) if (':' in v or '#' in v or v[:1].isdigit()) else v}")
        else:
            out.append(f"{indent}{k}: {v}")
    return out


def telemetry_yaml(shape: Shape, m: int, env: str, version: str, days: int, rng: random.Random) -> bytes:
    name = shape.names[m]
    drifted = m % 9 == 4
    out = [f"model: {name}", f"environment: {env}", "snapshots:"]
    for d in range(days):
        at = shape.end - timedelta(days=days - 1 - d, hours=-6)
        calls = 1_500_000 + (m * 7919 + d * 104729) % 900_000
        vdr = round(0.88 - (0.09 if m % 7 == 3 else 0.0) + 0.01 * rng.random(), 4)
        out += [
            f"- at: {stamp(at)}",
            f"  version: {version}",
            f"  calls: {calls}",
            f"  errors: {calls // (200 + m % 400)}",
            f"  latency_ms: {{p50: {round(5 + rng.random(), 1)}, p95: {round(14 + 2 * rng.random(), 1)}, p99: {round(30 + 5 * rng.random(), 1)}}}",
            f"  memory_mb: {800 + m % 200}",
            f"  cpu: {round(1 + rng.random(), 2)}",
            "  metrics:",
            f"    precision: {round(0.8 + 0.1 * rng.random(), 4)}",
            f"    value_detection_rate: {vdr}",
            "  callers:",
            f"    app-{(m * 5) % max(3, shape.models // 3):03d}: {calls}",
            "  profile:",
            f"    rows: {calls}",
            _profile(rng, "    ", skew=0.6 if drifted else 0.0, flow=True),
        ]
    return ("\n".join(out) + "\n").encode()


# ---- history ------------------------------------------------------------------------------------


@dataclass(order=True)
class Commit:
    at: datetime
    seq: int
    author: str = field(compare=False)
    message: str = field(compare=False)
    files: dict[str, bytes | None] = field(compare=False)


class History:
    """Commits in time order, written by one streamed ``git fast-import``."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True)
        subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(root)], check=True)
        self.root = root
        self.count = 0
        self.release_commits = 0
        self._proc = subprocess.Popen(["git", "-C", str(root), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE)

    def write(self, c: Commit) -> None:
        assert self._proc.stdin is not None
        self.count += 1
        if any(p.startswith("releases/") and p.endswith(".yaml") for p in c.files):
            self.release_commits += 1
        msg = c.message.encode()
        name, _, email = c.author.partition(" <")
        sig = f"{name} <{email.rstrip('>')}> {int(c.at.timestamp())} +0000".encode()
        out = [b"commit refs/heads/main\n", b"author " + sig + b"\n", b"committer " + sig + b"\n", b"data %d\n" % len(msg), msg, b"\n"]
        for path, data in c.files.items():
            if data is None:
                out.append(b"D " + path.encode() + b"\n")
            else:
                out += [b"M 100644 inline " + path.encode() + b"\n", b"data %d\n" % len(data), data, b"\n"]
        self._proc.stdin.write(b"".join(out))

    def finish(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(b"done\n")
        self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise SystemExit("git fast-import failed")
        subprocess.run(["git", "-C", str(self.root), "reset", "--hard", "--quiet"], check=True)


@dataclass
class Plan:
    """Release commits planned at times; each is a function of the states when it runs."""

    at: datetime
    kind: str
    model: int
    env: str = ""
    version: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def campaigns(shape: Shape, rng: random.Random) -> list[Plan]:
    """Release actions over the span, adding up to exactly ``shape.releases`` release commits."""
    plans: list[Plan] = []
    budget = shape.releases
    busy: dict[int, datetime] = {}
    k = 0
    span = shape.end - timedelta(days=12) - (START + timedelta(days=45))
    per = 6.5
    total = max(1, int(budget / per))
    while budget > 0:
        at = START + timedelta(days=45) + span * (k / total) + timedelta(minutes=rng.randrange(0, 240))
        k += 1
        if k > total * 3:
            at = shape.end - timedelta(days=11) + timedelta(minutes=k)
        m = rng.randrange(shape.models)
        if busy.get(m, START) > at:
            continue
        j = shape.latest(m, at)
        while j is not None and shape.rejected(m, j):
            j = j - 1 if j > 0 else None
        if j is None:
            continue
        steps = _campaign(shape, m, j, at, rng, budget, k)
        budget -= sum(1 for s in steps if s.kind != "telemetry")
        plans += steps
        busy[m] = max(s.at for s in steps) + timedelta(hours=1)
    return plans


def _campaign(shape: Shape, m: int, j: int, at: datetime, rng: random.Random, budget: int, k: int) -> list[Plan]:
    """One release campaign; the rare kinds come at fixed intervals, so even a small registry has each."""
    h = timedelta(hours=1)
    if shape.gto(m, j) and at < shape.imported_until:  # GTO assignments: one commit per tag
        return [Plan(at + i * 3 * h, "gto-assign", m, env, j) for i, env in enumerate(ENVS[: min(budget, 3)])]
    if budget < 2:
        return [Plan(at, "approve", m, "production", j, {"by": PEOPLE[m % 8]})]
    if budget < 8 or (k % 7 == 2 and k % 3 != 0):  # dev only
        return [Plan(at, "promote", m, "dev", j)]
    if k % 17 == 3:  # a failed deployment, retried
        return [Plan(at, "promote", m, "dev", j, {"fail": True}), Plan(at + 2 * h, "promote", m, "dev", j)]
    if k % 19 == 5:  # a rollback in production (pinned), unpinned the next day
        return [Plan(at, "rollback", m, "production", j), Plan(at + 30 * h, "unpin", m, "production", j)]
    if k % 41 == 7:  # someone pins by hand: no trailers
        return [Plan(at, "hand-pin", m, "production", j), Plan(at + 20 * h, "unpin", m, "production", j)]
    if k % 29 == 11:  # a crash left it Pending; reconcile recorded the outcome
        return [Plan(at, "promote", m, "staging", j, {"reconcile": True})]
    out = [Plan(at, "promote", m, "dev", j), Plan(at + 2 * h, "promote", m, "staging", j)]
    a, b = rng.sample(PEOPLE, 2)
    out += [Plan(at + 20 * h, "approve", m, "production", j, {"by": a}), Plan(at + 22 * h, "approve", m, "production", j, {"by": b})]
    if k % 5 == 4 and budget >= 10:  # a canary first
        out += [Plan(at + 24 * h, "promote", m, "production", j, {"canary": 10}), Plan(at + 48 * h, "promote", m, "production", j)]
    else:
        out.append(Plan(at + 24 * h, "promote", m, "production", j))
    return out


class Writer:
    """Turns plans into commits, keeping each release file's state."""

    def __init__(self, shape: Shape, history: History, rng: random.Random) -> None:
        self.shape = shape
        self.h = history
        self.rng = rng
        self.states: dict[tuple[str, int], State] = {}
        self.seq = 0

    def commit(self, at: datetime, author: str, msg: str, files: dict[str, bytes | None]) -> Commit:
        self.seq += 1
        return Commit(at, self.seq, author, msg, files)

    def state(self, env: str, m: int) -> State:
        return self.states.setdefault((env, m), State(self.shape.names[m], env))

    def release(self, p: Plan) -> list[Commit]:
        name, version = self.shape.names[p.model], version_name(p.version)
        st = self.state(p.env, p.model)
        path = f"releases/{p.env}/{name}.yaml"
        who = PEOPLE[(p.model + p.version) % len(PEOPLE)]
        live = st.live["version"] if st.live else None
        if p.kind == "approve":
            st.approvals.append({"version": version, "by": p.extra["by"], "at": stamp(p.at), "comment": "Model risk sign-off"})
            fields = {
                "action": "approve",
                "model": name,
                "version": version,
                "environment": p.env,
                "actor": p.extra["by"],
                "reason": "Model risk sign-off",
            }
            return [self.commit(p.at, str(p.extra["by"]), message(f"Approve {name} {version} for {p.env}", fields), {path: st.dump()})]
        if p.kind == "gto-assign":
            tag = f"{name}#{p.env}#{p.version + 1}"
            oid = digest("tag", tag, n=40)
            pid = f"gto-{oid[:12]}"
            action = "promote" if live is None or live != version else "rollback"
            st.desired = {
                "version": version,
                "promotion_id": pid,
                "action": action,
                "actor": who,
                "at": stamp(p.at),
                "reason": f"GTO {tag}",
            }
            st.observed = {"phase": "Succeeded", "promotion_id": pid, "at": stamp(p.at), "backend": "gto", "backend_ref": tag}
            st.live = {"version": version, "promotion_id": pid, "since": stamp(p.at)}
            self._remember(p.env, p.model, version)
            fields = {
                "action": action,
                "model": name,
                "version": version,
                "environment": p.env,
                "previous": live,
                "promotion_id": pid,
                "phase": "Succeeded",
                "backend": "gto",
                "backend_ref": tag,
                "actor": who,
                "source": f"gto {oid} {tag}",
                "reason": f"GTO {tag}",
            }
            return [self.commit(p.at, who, message(f"Promote {name} {version} to {p.env} (GTO {tag})", fields), {path: st.dump()})]
        if p.kind == "hand-pin":
            st.pin = {"by": who, "at": stamp(p.at), "reason": "Hold over the month-end peak"}
            return [self.commit(p.at, who, f"Hold {name} in {p.env} over month end\n", {path: st.dump()})]
        if p.kind == "unpin":
            if st.pin is None:
                return []
            st.pin = None
            fields = {"action": "unpin", "model": name, "version": live, "environment": p.env, "actor": who, "reason": "Peak is over"}
            return [self.commit(p.at, who, message(f"Unpin {name} in {p.env}", fields), {path: st.dump()})]
        target = version
        action = "promote"
        if p.kind == "rollback":
            previous = self._previous(p.env, p.model)
            if previous is None:
                p = Plan(p.at, "promote", p.model, p.env, p.version)
            else:
                target, action = previous, "rollback"
        if action == "promote" and live == target and not st.desired_canary():
            return self._noop(p, st, path, who)
        pid = ulid(p.at, self.rng)
        canary = p.extra.get("canary") if live is not None else None
        reason = "Rollback after alert" if action == "rollback" else f"Nightly {p.env} promotion"
        desired: dict[str, object] = {"version": live if canary else target}
        if canary:
            desired["canary"] = {"version": target, "weight": canary}
        desired |= {"promotion_id": pid, "action": action, "actor": who, "at": stamp(p.at), "reason": reason}
        st.desired = desired
        st.observed = {"phase": "Pending", "promotion_id": pid, "at": stamp(p.at), "backend": "record"}
        if action == "rollback":
            st.pin = {"by": who, "at": stamp(p.at), "reason": reason}
        fields: dict[str, object | None] = {
            "action": action,
            "model": name,
            "version": target,
            "environment": p.env,
            "previous": live,
            "canary_weight": canary,
            "promotion_id": pid,
            "backend": "record",
            "actor": who,
            "reason": reason,
        }
        verb = f"Roll back {name} in {p.env} to {target} (pinned)" if action == "rollback" else f"Promote {name} {target} to {p.env}"
        if canary:
            verb += f" (canary {canary}%)"
        out = [self.commit(p.at, who, message(verb, fields | {"phase": "Pending"}), {path: st.dump()})]
        done = p.at + timedelta(seconds=4)
        ok = not p.extra.get("fail")
        st.observed = {
            "phase": "Succeeded" if ok else "Failed",
            "promotion_id": pid,
            "at": stamp(done),
            "backend": "record",
            "backend_ref": pid,
            "message": "recorded in git" if ok else "deploy hook answered 503",
        }
        if ok:
            since = st.live["since"] if st.live and st.live["version"] == desired["version"] else stamp(done)
            st.live = {"version": desired["version"], "promotion_id": pid, "since": since}
            if canary:
                st.live["canary"] = {"version": target, "weight": canary}
            self._remember(p.env, p.model, target)
        kind = "reconcile" if p.extra.get("reconcile") else "outcome"
        if ok:
            subject = f"{name} {target} is live in {p.env}" + (f" (canary {canary}%)" if canary else "")
        else:
            subject = f"{name} {target} failed to deploy to {p.env}"
        if kind == "reconcile":
            subject = f"Reconcile: {subject}"
        fields |= {"action": kind, "phase": st.observed["phase"], "backend_ref": pid}
        out.append(self.commit(done, who, message(subject, fields, f"Backend message: {st.observed['message']}"), {path: st.dump()}))
        return out

    def _noop(self, p: Plan, st: State, path: str, who: str) -> list[Commit]:
        """Promoting what is already live: someone approves it instead (keeps the count exact)."""
        name, version = self.shape.names[p.model], version_name(p.version)
        st.approvals.append({"version": version, "by": who, "at": stamp(p.at)})
        fields = {"action": "approve", "model": name, "version": version, "environment": p.env, "actor": who}
        first = self.commit(p.at, who, message(f"Approve {name} {version} for {p.env}", fields), {path: st.dump()})
        if p.extra.get("single"):
            return [first]
        st.approvals.append({"version": version, "by": PEOPLE[(PEOPLE.index(who) + 1) % 8], "at": stamp(p.at + timedelta(minutes=5))})
        fields["actor"] = PEOPLE[(PEOPLE.index(who) + 1) % 8]
        second = self.commit(
            p.at + timedelta(minutes=5), str(fields["actor"]), message(f"Approve {name} {version} for {p.env}", fields), {path: st.dump()}
        )
        return [first, second]

    def _remember(self, env: str, m: int, version: str) -> None:
        hist = self.state(env, m).lived
        if not hist or hist[-1] != version:
            hist.append(version)

    def _previous(self, env: str, m: int) -> str | None:
        hist = self.state(env, m).lived
        return hist[-2] if len(hist) >= 2 else None


def events(shape: Shape, rng: random.Random) -> Iterator[tuple[datetime, int, str, tuple[int, ...]]]:
    """Registrations, data set publications, rejections and retraining requests in time order."""
    out: list[tuple[datetime, int, str, tuple[int, ...]]] = []
    months = month_of(shape.end) + 1
    for k in range(months):
        out.append((month_start(k) + timedelta(days=31), 0, "datasets", (k,)))
    for m in range(shape.models):
        for j in range(shape.versions):
            at = shape.created(m, j)
            out.append((at, 1, "register", (m, j)))
            if shape.rejected(m, j) and not shape.gto(m, j):
                out.append((at + timedelta(hours=3), 2, "reject", (m, j)))
        if m % 10 == 7:
            for n, day in enumerate(range(200, SPAN_DAYS - 15, 90)):
                out.append((START + timedelta(days=day, hours=m % 24), 3, "retrain", (m, n)))
    out.sort()
    yield from out


def build(root: Path, *, models: int, versions: int, releases: int, seed: int = 0) -> dict[str, object]:
    """Write the registry as a new git repository at ``root``; returns what was built."""
    started = time.perf_counter()
    shape = Shape(models, versions, releases, seed)
    rng = random.Random(seed)
    history = History(root)
    writer = Writer(shape, history, random.Random(seed + 1))
    first = START - timedelta(days=1)
    init_files: dict[str, bytes | None] = {"mlrelease.yaml": config(shape).encode(), "README.md": b"# Northbank models\n"}
    init_files |= {f"{top}/.gitkeep": b"" for top in ("models", "datasets", "releases", "telemetry", "retrain")}
    commits: list[Commit] = [
        writer.commit(first, PEOPLE[0], message("Initialise the registry", {"action": "init", "actor": PEOPLE[0]}), init_files)
    ]
    rejected: dict[int, list[str]] = {}
    requests: dict[int, list[str]] = {}
    for at, _rank, kind, args in events(shape, rng):
        if kind == "datasets":
            (k,) = args
            files: dict[str, bytes | None] = {}
            for f in range(shape.families):
                train, holdout = shape.datasets(f)
                files[f"datasets/{train}/{month_name(k)}.yaml"] = dataset_yaml(train, k, rng, holdout=False).encode()
                files[f"datasets/{holdout}/{month_name(k)}.yaml"] = dataset_yaml(holdout, k, rng, holdout=True).encode()
            commits.append(writer.commit(at, PEOPLE[4], f"Publish the {month_name(k)} payment data sets\n", files))
        elif kind == "register":
            m, j = args
            name, version = shape.names[m], version_name(j)
            files = {f"models/{name}/versions/{version}.yaml": version_yaml(shape, m, j, rng).encode()}
            if j == 0:
                files[f"models/{name}/model.yaml"] = model_yaml(shape, m).encode()
            if shape.gto(m, j):
                tag = gto_tag(shape, m, j)
                oid = digest("tag", tag, n=40)
                who = PEOPLE[(m + j) % len(PEOPLE)]
                fields = {
                    "action": "register",
                    "model": name,
                    "version": version,
                    "actor": who,
                    "source": f"gto {oid} {tag}",
                    "reason": f"Registered {tag}",
                }
                commits.append(writer.commit(at, who, message(f"Register {name} {version} (GTO {tag})", fields), files))
            else:
                fields = {"action": "register", "model": name, "version": version, "actor": PIPELINE}
                commits.append(writer.commit(at, PIPELINE, message(f"Register {name} {version}", fields), files))
        elif kind == "reject":
            m, j = args
            name, version = shape.names[m], version_name(j)
            who = PEOPLE[(m * 3 + j) % len(PEOPLE)]
            rejected.setdefault(m, []).append(
                f"- version: {version}\n  by: {who}\n  at: {stamp(at)}\n  reason: {q(f'Under-flags card-not-present fraud in run {j}')}\n"
            )
            body = f"model: {name}\nrejected:\n" + "".join(rejected[m])
            fields = {
                "action": "reject",
                "model": name,
                "version": version,
                "actor": who,
                "reason": f"Under-flags card-not-present fraud in run {j}",
            }
            commits.append(
                writer.commit(at, who, message(f"Reject {name} {version}", fields), {f"models/{name}/rejections.yaml": body.encode()})
            )
        elif kind == "retrain":
            m, n = args
            name = shape.names[m]
            rid = ulid(at, rng)
            path = f"retrain/{name}.yaml"
            entry = f"- id: {rid}\n  at: {stamp(at)}\n  actor: mlrelease check (nightly)\n  reason: {q('PSI of amount in production is 0.24 (threshold 0.2)')}\n  trigger: policy:psi\n  backend: training-pipeline\n"
            pending = f"model: {name}\nrequests:\n" + "".join(requests.get(m, [])) + entry + "  phase: Pending\n"
            fields = {
                "action": "retrain",
                "model": name,
                "promotion_id": rid,
                "phase": "Pending",
                "backend": "training-pipeline",
                "actor": "mlrelease check (nightly)",
                "reason": "PSI of amount in production is 0.24 (threshold 0.2)",
            }
            commits.append(writer.commit(at, PEOPLE[1], message(f"Request retraining of {name}", fields), {path: pending.encode()}))
            requests.setdefault(m, []).append(
                entry + f"  backend_ref: pipeline-{88000 + m * 10 + n}\n  phase: Succeeded\n  message: pipeline started\n"
            )
            done = f"model: {name}\nrequests:\n" + "".join(requests[m])
            fields |= {"action": "outcome", "phase": "Succeeded", "backend_ref": f"pipeline-{88000 + m * 10 + n}"}
            commits.append(
                writer.commit(at + timedelta(seconds=3), PEOPLE[1], message(f"Retraining of {name} started", fields), {path: done.encode()})
            )
    plans = campaigns(shape, rng)
    # Interleave release commits with the rest by time; release plans need the states in order.
    releases_done = 0
    pending = sorted(commits)
    plans.sort(key=lambda p: p.at)
    i = 0
    for p in plans:
        while i < len(pending) and pending[i].at <= p.at:
            history.write(pending[i])
            i += 1
        left = shape.releases - releases_done
        if left <= 0:
            break
        if left == 1 and p.kind == "promote":
            p = Plan(p.at, "approve", p.model, p.env, p.version, {"by": PEOPLE[p.model % 8]})
        made = writer.release(p) if p.kind != "promote" or left >= 2 else []
        if p.kind == "unpin" and not made:
            continue
        made = made[:left]
        for c in made:
            history.write(c)
        releases_done += len(made)
    while i < len(pending):
        history.write(pending[i])
        i += 1
    _telemetry(shape, writer, history)
    history.finish()
    return {
        "root": str(root),
        "models": shape.models,
        "versions": shape.models * shape.versions,
        "release_commits": history.release_commits,
        "commits": history.count,
        "imported_models": sum(1 for m in range(shape.models) if shape.imported(m)),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _telemetry(shape: Shape, writer: Writer, history: History, days: int = 7) -> None:
    """A week of daily snapshots for every live version in staging and production, a commit a day."""
    live = {(env, m): st.live["version"] for (env, m), st in writer.states.items() if env in TELEMETRY_ENVS and st.live}
    for d in range(1, days + 1):
        at = shape.end - timedelta(days=days - d, hours=-7)
        files: dict[str, bytes | None] = {
            f"telemetry/{env}/{shape.names[m]}.yaml": telemetry_yaml(shape, m, env, str(v), d, random.Random(f"{m}{env}{d}"))
            for (env, m), v in sorted(live.items())
        }
        if files:
            history.write(writer.commit(at, "Telemetry exporter <telemetry@northbank.example>", "Telemetry snapshot\n", files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="where to create the registry (must not exist)")
    parser.add_argument("--size", choices=sorted(SIZES), help="a preset: models, versions and release commits")
    parser.add_argument("--models", type=int)
    parser.add_argument("--versions", type=int, help="versions in total (spread over the models)")
    parser.add_argument("--releases", type=int, help="commits that touch releases/")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models, per, releases = SIZES[args.size or "10k"]
    if args.versions:
        models = args.models or max(2, args.versions // 250 if args.versions >= 50_000 else args.versions // 100)
        per = max(1, args.versions // models)
    elif args.models:
        models = args.models
    releases = args.releases if args.releases is not None else releases
    info = build(args.path, models=models, versions=per, releases=releases, seed=args.seed)
    print(json.dumps(info), file=sys.stdout)


if __name__ == "__main__":
    main()
