"""Compiled translation units, cached by what makes them: a multi-TU cell (one `nvcc -c` per
unit and arch, then a link) shares its objects with every cell that compiles the same unit the
same way, e.g. the same units linked in the other order."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kit.spec.model import digest
from kit.util import cache, cmd


@dataclass(frozen=True)
class ObjectCache:
    folder: Path  # where the build's commands run (the objects they name land here)
    key: str  # the cell's inputs: toolchain, CUTLASS and source identities
    log: Path | None = None  # the build's log, which says what was reused

    def reuse(self, argv: list[str]) -> cmd.Completed | None:
        """Put the cached object in place of running argv, if argv compiles one."""
        stored = self._stored(argv)
        if stored is None or not stored.is_file():
            return None
        name = argv[argv.index("-o") + 1]
        shutil.copyfile(stored, self.folder / name)
        done = cmd.Completed(tuple(argv), 0, f"[object cached: {stored}]\n", 0.0)
        if self.log is not None:
            cmd.append_log(self.log, done)
        return done

    def keep(self, argv: list[str]) -> None:
        stored = self._stored(argv)
        made = self.folder / argv[argv.index("-o") + 1] if stored else None
        if stored is None or made is None or not made.is_file():
            return
        stored.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".obj.", dir=stored.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            shutil.copyfile(made, tmp)
            tmp.replace(stored)  # whole or not at all; a twin process's copy is as good
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _stored(self, argv: list[str]) -> Path | None:
        if "-c" not in argv or "-o" not in argv:
            return None
        return cache.objects() / f"{digest([self.key, argv], 20)}.o"
