"""Progress on long work: a live bar on a terminal, one plain line per event elsewhere.

Either way it says what is compiling and running now and how long the rest should take by
the compile history; off a terminal (CI logs, `| tee`) a status line comes at least every
HEARTBEAT seconds, so a quiet minute of compiling never looks like a hang."""

from __future__ import annotations

import sys
import threading
import time
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

HEARTBEAT = 30.0  # seconds: the most a plain log stays silent during a run


class Reporter:
    """Told what happens; shows it. Quiet mode (for --json) shows nothing."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None,
                 heartbeat: float = HEARTBEAT) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet
        self.heartbeat = heartbeat
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._lock = threading.Lock()
        self._compiling: list[str] = []
        self._running: list[str] = []
        self._done = self._total = 0
        self._started = 0.0
        self._estimate: float | None = None
        self._last = 0.0  # when the plain log last said something
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False)

    def start(self, total: int, title: str, estimate: float | None = None) -> None:
        """`estimate`: the compiles' predicted length in seconds (kit.engine.scheduler)."""
        self._total, self._done, self._estimate = total, 0, estimate
        self._started = self._last = time.monotonic()
        if self.quiet:
            return
        if not self.live:
            self._plain(f"{title}: {total} cells{self._eta_text('; ')}")
            self._stop.clear()
            self._beat = threading.Thread(target=self._beating, name="kit-progress",
                                          daemon=True)
            self._beat.start()
            return
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  TextColumn("{task.fields[eta]}"),
                                  console=self.console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(title, total=total, eta=self._eta_text())

    def compiling(self, label: str, *, started: bool) -> None:
        self._track(self._compiling, label, started)

    def running(self, label: str, *, started: bool) -> None:
        self._track(self._running, label, started)

    def status(self) -> str:
        """What is going on now, in one line."""
        with self._lock:
            parts = [f"{self._done}/{self._total} cells done"]
            if self._compiling:
                parts.append(f"compiling {_few(self._compiling)}")
            if self._running:
                parts.append(f"running {_few(self._running)}")
        elapsed = time.monotonic() - self._started
        return f"[{_clock(elapsed)}] " + "; ".join(parts) + self._eta_text("; ")

    def _eta_text(self, sep: str = "") -> str:
        if self._estimate is None or self._estimate <= 0:
            return ""
        left = self._estimate - (time.monotonic() - self._started) if self._started else \
            self._estimate
        if left <= 0:
            return f"{sep}longer than the compile history predicted"
        return f"{sep}about {_clock(left)} left by the compile history"

    def _track(self, where: list[str], label: str, started: bool) -> None:
        with self._lock:
            if started:
                where.append(label)
            elif label in where:
                where.remove(label)
        if self._progress is not None and self._task is not None:
            now = self._compiling or self._running
            self._progress.update(self._task, description=_few(now) if now else "",
                                  eta=self._eta_text())

    def _beating(self) -> None:
        while not self._stop.wait(min(1.0, self.heartbeat / 3)):
            if time.monotonic() - self._last >= self.heartbeat:
                self._plain(self.status())

    def _plain(self, line: str) -> None:
        self._last = time.monotonic()
        print(line, file=sys.stderr, flush=True)

    def cell_done(self, result: CellResult, done: int, total: int) -> None:
        if self.quiet:
            return
        self._done = done
        cached = " (cached build)" if result.compile_cached else ""
        line = (f"[{done}/{total}] {result.outcome.mark} {result.outcome.value:<20} "
                f"{result.label}{cached}")
        if self._progress is not None and self._task is not None:
            self._progress.console.print(line, highlight=False)
            self._progress.advance(self._task)
        else:
            self._plain(line)

    def stop(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
            self._beat = None
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _few(labels: list[str], most: int = 3) -> str:
    shown = ", ".join(labels[:most])
    return shown + (f" and {len(labels) - most} more" if len(labels) > most else "")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
