"""Writing a file whole or not at all: the one owner of atomic writes (results, locks, reports).

A temporary file beside the target, fsync, rename: a run killed at any moment, or a full disk,
leaves each file either as it was or complete.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from kit.util.errors import ResultsError


def write_atomic(path: Path, text: str) -> None:
    """Write all of text to path or nothing: a full disk leaves the old file as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise ResultsError(f"cannot write {path}: {exc.strerror}") from None
    try:
        # mkstemp makes 0600; results are meant to be read (a report, a bundle, a teammate)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ResultsError(f"cannot write {path}: {exc.strerror}",
                           hint="free some space; every cell already written is intact, "
                                "and `kit matrix run --resume` continues") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def _umask() -> int:
    """The process's umask, read without setting it (os.umask would, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
