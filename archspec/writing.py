"""Output files written whole or not at all, and a failed write said in one line.

Every file a command writes (weights, diagrams, source) goes through `write_atomically`:
to a temporary file beside the target, flushed to disk, renamed into place. Whatever
fails on the way (no space, a file-size limit, a read-only folder, no permission, a
folder in the way) ends as one `WriteFailed` (an OSError) naming the path and the cause,
and nothing is left behind: not the temporary file, and not a changed target.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path


class WriteFailed(OSError):
    """A file could not be written: `filename` is its path, `strerror` says why, in the
    operating system's words ("No space left on device", "File too large")."""


def write_atomically(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call `write(temporary_path)`, then rename the complete file to `path`."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise WriteFailed(e.errno, _cause(e), str(path)) from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # on disk before it takes the name: a crash leaves the old file or the new one
        os.replace(tmp, path)
    except Exception as e:
        cause = _cause(e)
        if cause is None:
            raise
        raise WriteFailed(getattr(e, "errno", None), cause, str(path)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _cause(error: Exception) -> str | None:
    """Why a write failed, for an OSError or a writer library's I/O error; None for other errors."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if type(error).__module__.partition(".")[0] == "safetensors":
        # "Error while serializing: I/O error: File too large (os error 27)"
        found = re.search(r"\(os error (\d+)\)", str(error))
        return os.strerror(int(found[1])) if found else str(error)
    return None
