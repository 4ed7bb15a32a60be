"""results/<run-id>/: the manifest, one JSON file per finished cell, logs, reports.

Every file is written atomically (temporary file, fsync, rename), so a run killed at any
moment leaves each cell either fully recorded or absent: that is what makes --resume exact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kit.engine import schema
from kit.spec.model import CellResult
from kit.util.errors import ResultsError
from kit.util.files import write_json

LATEST = "latest"
# A run id or a cell id is one plain file name: nothing that could reach outside its folder.
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
# Stored outcomes that say nothing final about the kernel: a resumed run does them again.
_NOT_FINAL_CAUSES = {"compile_error": ("oom", "timeout")}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def new_run_id() -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


@dataclass
class Loaded:
    results: list[CellResult]
    broken: list[tuple[Path, str]] = field(default_factory=list)  # unreadable cell files


@dataclass
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def cells_dir(self) -> Path:
        return self.path / "cells"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def cell_path(self, cell_id: str) -> Path:
        return self.cells_dir / f"{_plain(cell_id, 'cell id')}.json"

    def log_path(self, cell_id: str) -> Path:
        return self.logs_dir / f"{_plain(cell_id, 'cell id')}.log"

    def has(self, cell_id: str) -> bool:
        """A final result is stored for this cell, so a resumed run keeps it. Not final, and
        done again: a file that does not load (truncated, edited, another schema), an
        `infra_error` (the kit or the engine failed, not the kernel) and a compile stopped by
        memory or time (a later try, with more memory or fewer jobs, may pass)."""
        path = self.cell_path(cell_id)
        try:
            data = json.loads(path.read_text())
            schema.check_cell(data, path.name)
        except (OSError, ValueError, ResultsError):
            return False
        return final(data)

    def save(self, result: CellResult) -> None:
        write_json(self.cell_path(result.cell_id), result.to_dict())

    def manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / "manifest.json").read_text())
        except FileNotFoundError:
            raise ResultsError(f"{self.path}: no manifest.json; not a kit run folder") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ResultsError(f"{self.path}/manifest.json is unreadable: {exc}") from None
        schema.check_manifest(data, f"{self.path}/manifest.json")
        manifest: dict[str, Any] = data
        return manifest

    def write_manifest(self, data: dict[str, Any]) -> None:
        write_json(self.path / "manifest.json", data)

    def load(self) -> Loaded:
        loaded = Loaded(results=[])
        if not self.cells_dir.is_dir():
            return loaded
        for path in sorted(self.cells_dir.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                schema.check_cell(data, path.name)
                _plain(data["cell_id"], f"{path.name}: cell id")  # its log is read by this name
                loaded.results.append(CellResult.from_dict(data))
            except ResultsError as exc:
                loaded.broken.append((path, exc.message))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                loaded.broken.append((path, f"{type(exc).__name__}: {exc}"))
        return loaded

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One kit process per run folder; a second one is told, not allowed to interleave.
        The lock file goes when the run ends: a finished run folder holds only results."""
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / ".lock"
        fh = self._acquire(path)
        try:
            try:
                fh.truncate(0)
                fh.write(str(os.getpid()))
                fh.flush()
            except OSError as exc:  # a full disk: the lock is held all the same
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
            yield
        finally:
            # Unlinked while held: a process that opened it meanwhile finds it gone (below).
            path.unlink(missing_ok=True)
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    def _acquire(self, path: Path) -> IO[str]:
        for _ in range(5):
            # "a+", not "w": a refused process must not blank the holder's pid before it asks.
            fh: IO[str] = path.open("a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip()
                fh.close()
                pid = f" (pid {holder})" if holder.isdigit() else ""
                raise ResultsError(f"{self.path} is in use by another kit process{pid}",
                                   hint="wait for it to finish, or run into a new folder; "
                                        "nothing in it was changed") from None
            try:
                same = os.fstat(fh.fileno()).st_ino == path.stat().st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fh
            fcntl.flock(fh, fcntl.LOCK_UN)  # the holder removed it as we locked: again
            fh.close()
        raise ResultsError(f"{self.path}: its lock keeps changing hands",
                           hint="another kit process is starting and ending runs here")


def final(cell: Any) -> bool:
    """Whether a stored cell (its JSON) says something final about the kernel: not an
    `infra_error`, nor a compile stopped by memory or time. Others are done again (--resume)
    and never reused by a later run."""
    if not isinstance(cell, dict):
        return False
    outcome = cell.get("outcome")
    evidence = cell.get("evidence")
    cause = evidence.get("cause", "") if isinstance(evidence, dict) else ""
    return outcome != "infra_error" and cause not in _NOT_FINAL_CAUSES.get(str(outcome), ())


def create(root: Path) -> RunDir:
    run = RunDir(root / new_run_id())
    run.cells_dir.mkdir(parents=True)
    run.logs_dir.mkdir()
    return run


def point_latest(run: RunDir) -> None:
    link = run.path.parent / LATEST
    tmp = run.path.parent / f".{LATEST}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run.path.name)
    tmp.replace(link)


def find(root: Path, ref: str | None) -> RunDir:
    """A run by id, by path, or `latest` (the default). A path must be a folder kit wrote
    (it has a manifest.json); anything else is an id: one plain name under `root`, never a
    way out of it."""
    ref = ref or LATEST
    candidate = Path(ref)
    if candidate.is_dir() and (candidate / "manifest.json").is_file():
        return RunDir(candidate.resolve())
    if not _PLAIN.fullmatch(ref):
        raise ResultsError(f"'{ref}' is neither a run id under {root} nor a run folder",
                           hint="a run id is a folder name such as 20261125-101500-ab12; "
                                "a path must be a folder with a manifest.json")
    path = root / ref
    if not path.is_dir():
        runs = sorted(p.name for p in root.glob("*") if (p / "manifest.json").is_file())
        hint = f"runs here: {', '.join(runs[-5:])}" if runs else "run `kit matrix run` first"
        raise ResultsError(f"no run '{ref}' under {root}", hint=hint)
    return RunDir(path.resolve())


def _plain(name: str, what: str) -> str:
    if not _PLAIN.fullmatch(name):
        raise ResultsError(f"{what} '{name}' is not a plain file name",
                           hint="the results folder holds files kit did not write")
    return name
