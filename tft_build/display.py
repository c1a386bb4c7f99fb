"""How tft_build shows a path to the user: as they would type it."""

import os
from pathlib import Path


def shown(path: str | Path, base: str | Path | None = None) -> str:
    """``path`` relative to ``base`` (the current dir by default) when inside it, else as given."""
    relative = os.path.relpath(path, base or os.curdir)
    return str(path) if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative
