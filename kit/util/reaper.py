"""The guard that outlives kit: when kit dies without a word (`kill -9`, the OOM killer), it ends
what kit had started, so no compiler, kernel or container runs on for nobody.

kit's own exits (a finished run, Ctrl-C, an error) end their children themselves (kit.cmd); a
killed process cannot. So with the first child it starts, kit starts this small process in a
session of its own and tells it, line by line on a pipe, every process group and container
session it starts and ends. The kernel
closes the pipe however kit dies: end of input without a goodbye means kit died, and the guard
kills the groups still listed and removes the containers of the sessions it was told of.

A group is named with its leader's start time: a leader that is gone leaves its group's id
unused by anyone else while members live (Linux does not reuse a pid that is a live group's
id), and one that started later is not ours.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

GOODBYE = "done"
READY = "ready"
_ROOT = Path(__file__).resolve().parents[2]  # the folder holding this kit package


class Reaper:
    """kit's side: the guard starts with the first thing kit tells it (a child process, a
    container session), learns each start and end, and gets a goodbye when kit exits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: IO[str] | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._failed = False
        self._labels: set[str] = set()
        self._starts: dict[int, str] = {}

    def _ensure(self) -> bool:
        """Start the guard if it is not running (called with the lock held)."""
        if self._pipe is not None:
            return True
        if self._failed:
            return False
        try:
            # cwd: `-m` looks there first, and this is where this kit package lives
            proc = subprocess.Popen(
                [sys.executable, "-m", "kit.util.reaper"], cwd=_ROOT, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                start_new_session=True,  # not in the terminal's group: Ctrl-C is kit's
                env={k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"})
        except OSError as exc:
            return self._give_up(f"cannot start it: {exc.strerror}")
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        if not ready or proc.stdout.readline().strip() != READY:
            proc.kill()
            return self._give_up("it did not start")
        self._proc, self._pipe = proc, proc.stdin
        atexit.register(self.stop)
        return True

    def _give_up(self, why: str) -> bool:
        self._failed = True
        sys.stderr.write(f"warning: kit's guard ({why}): if kit is killed with -9, what it "
                         "started may run on (`kit images prune` removes containers)\n")
        return False

    def _say(self, line: str) -> None:
        """Called with the lock held."""
        if not self._ensure():
            return
        assert self._pipe is not None
        try:
            self._pipe.write(line + "\n")
            self._pipe.flush()
        except (BrokenPipeError, ValueError):  # the guard is gone: nothing to tell
            self._pipe = None

    def group(self, pid: int) -> None:
        started = start_time(pid)
        with self._lock:
            self._starts[pid] = started
            self._say(f"+group {pid} {started}")

    def group_done(self, pid: int) -> None:
        # with the start time: the pid may be another child's by the time this arrives
        with self._lock:
            self._say(f"-group {pid} {self._starts.pop(pid, '')}")

    def containers(self, label: str) -> None:
        """Containers labelled `label` (one runtime's session) are removed if kit dies."""
        with self._lock:
            if label not in self._labels:
                self._labels.add(label)
                self._say(f"+label {label}")

    def stop(self) -> None:
        """A clean exit: the guard leaves everything alone and ends."""
        with self._lock:
            pipe, proc, self._pipe, self._proc = self._pipe, self._proc, None, None
            self._labels.clear()
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                pipe.write(GOODBYE + "\n")
                pipe.close()
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


# One guard per kit process, for everything it starts: compiles, runs, pip installs, git
# fetches, containers. It starts with the first of them.
GUARD = Reaper()


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
    print(READY, flush=True)
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
            pid, _, started = rest.partition(" ")
            if groups.get(int(pid)) == started:
                del groups[int(pid)]
        elif verb == "+label":
            labels.add(rest)
    for pid, started in groups.items():  # kit died: what it started dies too
        _kill_group(pid, started)
    if labels:
        _remove_containers(labels)


if __name__ == "__main__":
    main()
