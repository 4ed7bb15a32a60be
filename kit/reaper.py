"""The guard that outlives kit: when kit dies without a word (`kill -9`, the OOM killer), it ends
what kit had started, so no compiler, kernel or container runs on for nobody.

kit's own exits (a finished run, Ctrl-C, an error) end their children themselves (kit.cmd); a
killed process cannot. So a run starts this small process in a session of its own and tells
it, line by line on a pipe, every process group and container it starts and ends. The kernel
closes the pipe however kit dies: end of input without a goodbye means kit died, and the guard
kills the groups still listed and removes the containers of the sessions it was told of.

A group is named with its leader's start time: a leader that is gone leaves its group's id
unused by anyone else while members live (Linux does not reuse a pid that is a live group's
id), and one that started later is not ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

GOODBYE = "done"


class Reaper:
    """kit's side: start the guard, tell it what runs, say goodbye on a clean exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: IO[str] | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._labels: set[str] = set()

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "kit.reaper"], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,  # not in the terminal's group: Ctrl-C is kit's to handle
            env={k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"})
        self._pipe = self._proc.stdin

    def _say(self, line: str) -> None:
        with self._lock:
            if self._pipe is None:
                return
            try:
                self._pipe.write(line + "\n")
                self._pipe.flush()
            except (BrokenPipeError, ValueError):  # the guard is gone: nothing to tell
                self._pipe = None

    def group(self, pid: int) -> None:
        self._say(f"+group {pid} {start_time(pid)}")

    def group_done(self, pid: int) -> None:
        self._say(f"-group {pid}")

    def containers(self, label: str) -> None:
        """Containers labelled `label` (one runtime's session) are removed if kit dies."""
        if label not in self._labels:
            self._labels.add(label)
            self._say(f"+label {label}")

    def stop(self) -> None:
        """A clean exit: the guard leaves everything alone and ends."""
        self._say(GOODBYE)
        with self._lock:
            pipe, self._pipe = self._pipe, None
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)


_current: Reaper | None = None


def begin() -> Reaper:
    """While kit runs cells: what it starts is ended even if kit is killed. end() it."""
    global _current
    guard = Reaper()
    guard.start()
    _current = guard
    return guard


def end(guard: Reaper) -> None:
    global _current
    if _current is guard:
        _current = None
    guard.stop()


def current() -> Reaper | None:
    return _current


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rfind(")") + 2:].split()[19]


def _kill_group(pid: int, started: str) -> None:
    now = start_time(pid)
    if now and now != started:  # the pid is another process's now
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _remove_containers(labels: set[str]) -> None:
    try:
        import docker

        client = docker.from_env(timeout=30)
    except Exception:  # no SDK or no engine: nothing of ours can be running there
        return
    for label in labels:
        with contextlib.suppress(Exception):
            for found in client.containers.list(all=True, filters={"label": label}):
                with contextlib.suppress(Exception):
                    found.remove(force=True)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the end of input speaks to the guard
    groups: dict[int, str] = {}
    labels: set[str] = set()
    for line in sys.stdin:
        verb, _, rest = line.strip().partition(" ")
        if verb == GOODBYE:
            return
        if verb == "+group":
            pid, _, started = rest.partition(" ")
            groups[int(pid)] = started
        elif verb == "-group":
            groups.pop(int(rest), None)
        elif verb == "+label":
            labels.add(rest)
    for pid, started in groups.items():  # kit died: what it started dies too
        _kill_group(pid, started)
    if labels:
        _remove_containers(labels)


if __name__ == "__main__":
    main()
