#!/usr/bin/env python3
"""Stand-in for starting the training pipeline, called by the `training-pipeline` backend.

At Northbank proper this is a signed webhook to CI (see the comment in mlrelease.yaml).
This script only says which run it would start, so `mlrelease retrain` works offline in
the demo; the run id it prints (``MLRELEASE_REF=...``) is recorded with the request.
"""

import argparse
import hashlib

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", required=True)
parser.add_argument("--id", required=True, help="request id: the idempotency key")
parser.add_argument("--reason", default="")
args = parser.parse_args()

run = "pipeline-run-" + str(int(hashlib.sha256(args.id.encode()).hexdigest()[:6], 16) % 9000 + 1000)
print(f"starting {run}: retrain {args.model} ({args.reason or 'no reason given'})")
print(f"MLRELEASE_REF={run}")
