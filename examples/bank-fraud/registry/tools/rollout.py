#!/usr/bin/env python3
"""Stand-in for the platform team's rollout tool, called by the `rollout` backend.

The real tool updates the model's deployment in the production cluster and waits for it
to become healthy. This one only says what it would do, so the example works offline:
promotions to production from `mlrelease demo` succeed, and the reference it prints
(``MLRELEASE_REF=...``) is what mlrelease records as the backend reference.
"""

import argparse
import hashlib

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", required=True)
parser.add_argument("--version", required=True)
parser.add_argument("--env", required=True)
parser.add_argument("--image", default="")
parser.add_argument("--id", required=True, help="promotion id: the idempotency key")
args = parser.parse_args()

ref = "rollout-" + hashlib.sha256(args.id.encode()).hexdigest()[:8]
print(f"rolling out {args.model} {args.version} to {args.env} ({args.image or 'no image'})")
print(f"{ref}: healthy")
print(f"MLRELEASE_REF={ref}")
