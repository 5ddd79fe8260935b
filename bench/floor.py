"""The floor a registry-wide command is measured against, in a process of its own.

Reads every blob of the registry at HEAD through one ``git ls-tree -r`` and one
``git cat-file --batch`` (the cheapest way to get every file's bytes), then parses every
registry YAML file with PyYAML's C loader (``yaml.load(data, CSafeLoader)``) on one core,
and prints one JSON line: seconds and bytes for each step. It imports PyYAML, never
mlrelease, so it measures the parser and git, not our code.

    python -m bench.floor REGISTRY
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

FOLDERS = ("models/", "datasets/", "releases/", "telemetry/", "retrain/")


def main() -> None:
    root = Path(sys.argv[1])
    t0 = time.perf_counter()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    listing = subprocess.run(["git", "-C", str(root), "ls-tree", "-r", "-z", "HEAD"], capture_output=True, check=True).stdout
    oids, paths = [], []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        _mode, kind, oid = meta.split()
        if kind == b"blob":
            oids.append(oid)
            paths.append(path.decode())
    proc = subprocess.run(["git", "-C", str(root), "cat-file", "--batch"], input=b"\n".join(oids) + b"\n", capture_output=True, check=True)
    out = proc.stdout
    blobs: list[bytes] = []
    at = 0
    for _ in oids:
        nl = out.index(b"\n", at)
        size = int(out[at:nl].split()[2])
        blobs.append(out[nl + 1 : nl + 1 + size])
        at = nl + 2 + size
    read_s = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wanted = [(p, b) for p, b in zip(paths, blobs, strict=True) if p.endswith(".yaml") and (p.startswith(FOLDERS) or p == "mlrelease.yaml")]
    p0, cpu0 = time.perf_counter(), time.process_time()
    for _path, data in wanted:
        yaml.load(data, Loader=yaml.CSafeLoader)  # the C *safe* loader
    parse_s, parse_cpu = time.perf_counter() - p0, time.process_time() - cpu0
    docs = [yaml.load(d, Loader=yaml.CSafeLoader) for _p, d in wanted[:2000]]  # json.loads of a sample, for scale
    text = [json.dumps(d, default=str) for d in docs]
    j0 = time.perf_counter()
    for t in text:
        json.loads(t)
    json_per_file = (time.perf_counter() - j0) / max(1, len(text))
    print(
        json.dumps(
            {
                "blobs": len(blobs),
                "bytes": len(out),
                "read_s": round(read_s, 4),
                "read_git_cpu_s": round((c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime), 4),
                "yaml_files": len(wanted),
                "yaml_bytes": sum(len(d) for _p, d in wanted),
                "c_parse_s": round(parse_s, 4),
                "c_parse_cpu_s": round(parse_cpu, 4),
                "json_loads_s_estimate": round(json_per_file * len(wanted), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
