"""Start the dashboard: resolve the registry and the user's config first, then run the app.

Everything that can be wrong before the first frame (no registry, a broken mlrelease.yaml,
a bad keymap, no terminal) is an :class:`~mlrelease.errors.MlreleaseError` raised here, so
the CLI prints it as one line with its exit code and the app never starts half set up.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

from mlrelease.errors import UsageError
from mlrelease.registry.loader import open_registry
from mlrelease.tui.config import load_user_config


def run_tui(repo: Path | None, ref: str | None = None, *, readonly: bool = False, as_of: datetime | None = None) -> int:
    # `mlrelease serve` (textual-serve) runs the app with Textual's web driver: the browser
    # is the terminal, over pipes.
    served = os.environ.get("TEXTUAL_DRIVER") == "textual.drivers.web_driver:WebDriver"
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the dashboard needs a terminal; for scripts use the commands (mlrelease --help), e.g. `mlrelease list --json`")
    user_config = load_user_config()
    with open_registry(repo, ref) as reg:
        reg.config  # noqa: B018 - a broken mlrelease.yaml is reported before the app starts
        root = reg.root
    from mlrelease.tui.app import MlreleaseApp
    from mlrelease.tui.session import Session

    app = MlreleaseApp(Session(root, ref), readonly=readonly or ref is not None, user_config=user_config, as_of=as_of)
    app.run()
    return app.return_code or 0
