"""TUI scale benchmark, driven through Textual's Pilot (headless, 160×50): three timings.

* **first paint** — from starting the app to the overview table filled with every model,
  on 10,000 versions (100 models × 100 versions, 5,000 release commits): cold (the parse
  cache under .git/mlrelease deleted first) and warm. Target ≤ 1.5 s.
* **filter keystroke** — one key typed into the ``/`` filter to the repainted table, with
  1,000 models (× 10 versions = 10,000 versions), after the background status finished.
  Target ≤ 100 ms per keystroke. Measured to the last frame the app sent to the (headless)
  terminal; Pilot's own wait for idleness after a key is reported apart, as the time a key
  that changes nothing takes ("no-op key").
* **open a model** — Enter on a model with 200 versions (50 models × 200 versions) to its
  versions table filled with deltas against what is live. Target ≤ 300 ms.

Registries come from bench/synth.py and are kept under bench/out/tui-registries/
(--rebuild makes them again). The app runs in this process, so the
one-off cost of importing Textual is measured apart (a fresh interpreter importing the
app). Each timing is wall clock and, beside it, the CPU time of the whole process (every
thread): on a machine shared with other jobs the CPU figure is the steadier one. Median
of --reps runs; results also go to bench/out/tui.json.

    .venv/bin/python -m bench.tui_bench [--reps 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
SIZE = (160, 50)
TARGETS = {"first paint cold": 1.5, "first paint warm": 1.5, "filter keystroke": 0.1, "open model (200 versions)": 0.3}


def registry(models: int, versions: int, releases: int, *, rebuild: bool) -> Path:
    root = OUT / "tui-registries" / f"{models}x{versions}-h{releases}"
    if rebuild and root.exists():
        shutil.rmtree(root)
    if not root.exists():
        from bench.synth import build

        print(f"building {root.name} …", file=sys.stderr)
        build(root, models=models, versions=versions, releases=releases)
    return root


def drop_cache(root: Path) -> None:
    for path in (root / ".git" / "mlrelease").glob("parse-cache.sqlite*"):
        path.unlink()


def make_app(root: Path) -> Any:
    from mlrelease.tui.app import MlreleaseApp
    from mlrelease.tui.config import UserConfig
    from mlrelease.tui.session import Session

    return MlreleaseApp(Session(root), user_config=UserConfig(refresh_seconds=0), watch=False)


async def settle(pilot: Any, app: Any) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


Timing = tuple[float, float]  # (wall seconds, CPU seconds)


class Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> Timing:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


async def first_paint(root: Path, models: int) -> Timing:
    from mlrelease.tui.screens.overview import OverviewScreen

    app = make_app(root)
    clock = Clock()
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, OverviewScreen) and len(app.screen._rows) == models):
            await asyncio.sleep(0.002)
        await pilot.pause()  # the frame with the rows
        elapsed = clock.lap()
        await settle(pilot, app)
    return elapsed


def frames(app: Any) -> list[float]:
    """Times at which the app sent a frame to the terminal (wraps the private ``App._display``)."""
    sent: list[float] = []
    display = app._display

    def timed(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None:
            sent.append(time.perf_counter())

    app._display = timed
    return sent


async def filter_keystrokes(root: Path, needle: str) -> tuple[list[Timing], list[Timing]]:
    """(keystroke to its last frame, a no-op key through Pilot) for each character of ``needle``."""
    app = make_app(root)
    keys, noops = [], []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        sent = frames(app)
        for ch in needle:
            clock = Clock()
            await pilot.press("end")  # the cursor is already at the end: nothing changes
            await pilot.pause()
            noops.append(clock.lap())
            sent.clear()
            clock = Clock()
            await pilot.press(ch)
            await pilot.pause()
            cpu = clock.lap()[1]
            assert sent, "the keystroke sent no frame"
            keys.append((sent[-1] - clock.wall, cpu))
        assert app.screen.shown, "the filter matched nothing"
    return keys, noops


async def open_model(root: Path, name: str) -> Timing:
    from mlrelease.tui.screens.model import ModelScreen

    app = make_app(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        names = [r.summary.name for r in screen.shown]
        screen.query_one("#models").move_cursor(row=names.index(name))
        await pilot.pause()
        clock = Clock()
        await pilot.press("enter")
        while not (isinstance(app.screen, ModelScreen) and any(t.row_count for t in app.screen.query("#versions-table"))):
            await asyncio.sleep(0.002)  # the versions tab is a widget of its own, mounted with the view
        await pilot.pause()
        elapsed = clock.lap()
        assert app.screen.query_one("#versions-table").total_rows == 200
        await settle(pilot, app)
    return elapsed


def import_time() -> Timing:
    """A fresh interpreter importing the app and its services: paid once per start."""
    code = "import time; t, c = time.perf_counter(), time.process_time(); import mlrelease.tui.app; print(time.perf_counter() - t, time.process_time() - c)"
    wall, cpu = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="build the synthetic registries again")
    args = parser.parse_args()
    big = registry(100, 100, 5000, rebuild=args.rebuild)
    wide = registry(1000, 10, 2000, rebuild=args.rebuild)
    deep = registry(50, 200, 1000, rebuild=args.rebuild)
    results: dict[str, list[Timing]] = {k: [] for k in TARGETS}
    results["import mlrelease.tui.app"] = [import_time() for _ in range(args.reps)]
    for _ in range(args.reps):
        drop_cache(big)
        results["first paint cold"].append(asyncio.run(first_paint(big, 100)))
        results["first paint warm"].append(asyncio.run(first_paint(big, 100)))
    results["no-op key through Pilot"] = []
    for _ in range(args.reps):
        keys, noops = asyncio.run(filter_keystrokes(wide, "mod0042"))
        results["filter keystroke"].extend(keys)
        results["no-op key through Pilot"].extend(noops)
        results["open model (200 versions)"].append(asyncio.run(open_model(deep, "model-00007")))
    results["first paint, 1,000 models warm"] = [asyncio.run(first_paint(wide, 1000)) for _ in range(args.reps)]
    print(f"{'measurement':32} {'wall median':>12} {'wall max':>9} {'CPU median':>11} {'target':>8}")
    summary = {}
    for name, values in results.items():
        walls, cpus = [v[0] for v in values], [v[1] for v in values]
        median, worst, cpu = statistics.median(walls), max(walls), statistics.median(cpus)
        target = TARGETS.get(name)
        mark = "" if target is None else ("ok" if median <= target else "over (wall)" if cpu <= target else "OVER")
        shown = "" if target is None else f"{target * 1000:6.0f}ms"
        print(f"{name:32} {median * 1000:10.0f}ms {worst * 1000:7.0f}ms {cpu * 1000:9.0f}ms {shown:>8} {mark}")
        summary[name] = {"wall_median_s": median, "wall_max_s": worst, "cpu_median_s": cpu, "target_s": target, "runs": values}
    OUT.mkdir(exist_ok=True)
    (OUT / "tui.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
