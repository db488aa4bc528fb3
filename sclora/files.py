"""Crash-safe file writes: write beside the target, then rename over it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_file_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, then rename onto ``path``.

    A crash never leaves a half-written ``path`` (the earlier version, if any, stays) nor a temp file.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}-", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
