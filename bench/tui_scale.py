"""The TUI on a big registry: first paint, then Health/Status filled — from the process's start.

Run by :mod:`bench.scale` as a script of its own (``python bench/tui_scale.py REGISTRY``)
with the measured checkout's interpreter, so it imports that checkout's mlrelease (run as
a file, not ``-m``, so this folder's parent is not on the path). The clock starts before
mlrelease is imported: what a person waits for after typing ``mlrelease``. Textual runs
headless through Pilot at 160×50. It prints one JSON line:

* ``first_paint_s``: until the overview table holds a row for every model;
* ``filled_s``: until every model's Health column is answered (the last batch of the
  background fill: trends, gates and approvals, then health and retraining);
* ``cpu_s``: the process's CPU time (every thread) at that point; ``rss_mb`` its peak RSS.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import asyncio  # noqa: E402 - the clock must start first
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

LIMIT_S = 900.0


async def measure(root: Path) -> dict[str, float]:
    from mlrelease.tui.app import MlreleaseApp
    from mlrelease.tui.config import UserConfig
    from mlrelease.tui.screens.overview import OverviewScreen
    from mlrelease.tui.session import Session

    app = MlreleaseApp(Session(root), user_config=UserConfig(refresh_seconds=0), watch=False)
    out: dict[str, float] = {}
    async with app.run_test(size=(160, 50)) as pilot:
        while True:
            view = app.overview
            if view is not None and isinstance(app.screen, OverviewScreen) and len(app.screen._rows) == len(view.models):
                break
            if time.perf_counter() - START > LIMIT_S:
                raise SystemExit("no first paint")
            await asyncio.sleep(0.005)
        await pilot.pause()
        out["first_paint_s"] = time.perf_counter() - START
        names = [m.name for m in view.models]
        while not all(name in app.statuses and app.statuses[name].health != "pending" for name in names):
            if time.perf_counter() - START > LIMIT_S:
                raise SystemExit("the background fill did not finish")
            await asyncio.sleep(0.01)
        await pilot.pause()
        out["filled_s"] = time.perf_counter() - START
        out["cpu_s"] = time.process_time()
        out["models"] = float(len(names))
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await app.workers.wait_for_complete()
    return out


def main() -> None:
    print(json.dumps(asyncio.run(measure(Path(sys.argv[1])))))


if __name__ == "__main__":
    main()
