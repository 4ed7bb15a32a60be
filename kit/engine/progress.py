"""Progress on long work: a live bar on a terminal, one plain line per event elsewhere."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from kit.spec.model import CellResult


class Reporter:
    """Told what happens; shows it. Quiet mode (for --json) shows nothing."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False)

    def start(self, total: int, title: str) -> None:
        if self.quiet:
            return
        if not self.live:
            self.note(f"{title}: {total} cells")
            return
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  console=self.console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(title, total=total)

    def activity(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)

    def cell_done(self, result: CellResult, done: int, total: int) -> None:
        if self.quiet:
            return
        cached = " (cached build)" if result.compile_cached else ""
        line = (f"[{done}/{total}] {result.outcome.mark} {result.outcome.value:<20} "
                f"{result.label}{cached}")
        if self._progress is not None and self._task is not None:
            self._progress.console.print(line, highlight=False)
            self._progress.advance(self._task)
        else:
            print(line, file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
