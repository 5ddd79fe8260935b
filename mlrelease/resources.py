"""Files shipped beside the code: ``templates/`` and ``examples/``.

In a wheel they are packaged as ``mlrelease/_templates`` and ``mlrelease/_examples``; in
a source checkout (editable install) they are the top-level folders.
"""

from __future__ import annotations

from pathlib import Path


def resource_dir(name: str) -> Path:
    here = Path(__file__).resolve().parent
    packaged = here / f"_{name}"
    return packaged if packaged.is_dir() else here.parent / name
