"""The one owner of subprocesses: argv lists only, never a shell string."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kit.util import peakmem, reaper
from kit.util.errors import CommandError, UsageError

log = logging.getLogger("kit.util.cmd")

# Every child still running, so that Ctrl-C in the main thread can end the ones that worker
# threads started (they live in their own sessions and do not get the terminal's SIGINT).
_live: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()

# Secrets stay with kit: no child (a compiler, a foreign kernel, pip, git) inherits them, so
# none can print one into a log that a bundle or a gist carries. The names redact.py redacts.
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY)$")

# nvcc runs each of its steps (preprocessor, cicc, ptxas, the host compiler) through /bin/sh
# with every argument inside double quotes, and reads backslashes itself: seen with nvcc 13.0,
# `-DX=$(touch /tmp/x)` passed as one argv element creates /tmp/x. `;`, `|`, quotes and
# newlines stay literal inside those quotes; `$`, backquotes and backslashes do not.
_SHELL_ACTIVE = re.compile(r"[$`\\]")


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr interleaved, as a person would have seen them
    seconds: float
    timed_out: bool = False
    peak_rss_kb: int | None = None
    node: str = ""  # the cluster node it ran on ("" on this machine)

    @property
    def signal(self) -> int | None:
        """The signal that killed the process, if one did."""
        return -self.returncode if self.returncode < 0 else None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log_file: Path | None = None,
    measure_memory: bool = False,
) -> Completed:
    """Run argv to completion and return what happened; never raises for a non-zero exit.

    The process gets its own session so that a timeout or Ctrl-C kills its whole tree
    (nvcc forks cicc/ptxas; a hung kernel may have children).
    """
    args = tuple(str(a) for a in argv)
    log.debug("$ %s", shlex.join(args))
    full_env = {**child_environment(), **(env or {})}
    start = time.monotonic()
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    with _live_lock:
        _live.add(proc)
    reaper.GUARD.group(proc.pid)  # ends the group even if kit is killed
    sampler = peakmem.Sampler(proc.pid) if measure_memory else None
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_tree(proc)
        out, _ = proc.communicate()
    except BaseException:  # Ctrl-C included: leave no orphan compiler or kernel behind
        _kill_tree(proc)
        proc.wait()
        raise
    finally:
        with _live_lock:
            _live.discard(proc)
        reaper.GUARD.group_done(proc.pid)
        peak = sampler.stop() if sampler else None
    done = Completed(args, proc.returncode, out.decode("utf-8", errors="replace"),
                     time.monotonic() - start, timed_out, peak or None)
    if log_file is not None:
        append_log(log_file, done)
    return done


def child_environment() -> dict[str, str]:
    """kit's environment less every variable named like a secret (*_TOKEN, *_SECRET...)."""
    return {k: v for k, v in os.environ.items() if not _SECRET_NAME.search(k.upper())}


def refuse_shell_text(argv: Sequence[str], *, program: str = "nvcc") -> None:
    """Raise UsageError if an argument would mean something to the shell `program` runs its
    steps through (nvcc: see _SHELL_ACTIVE); nothing has run when it does."""
    for arg in argv:
        found = _SHELL_ACTIVE.search(arg)
        if found:
            raise UsageError(
                f"refusing to pass {arg!r} to {program}: {program} runs its steps through "
                f"/bin/sh, which would expand the {found.group(0)!r} in it",
                hint="a knob value, macro text, flag or path that reaches nvcc may not hold "
                     "$, ` or \\; rename it (repro.yaml, matrix.yaml, KIT_CACHE)")


def append_log(log_file: Path, done: Completed) -> None:
    """The command line, what it printed and how it ended, as a person reads a log."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {shlex.join(done.argv)}\n{done.output}")
        why = " (timeout)" if done.timed_out else ""
        fh.write(f"[exit {done.returncode}{why}, {done.seconds:.1f}s]\n")


def check(argv: Sequence[str | os.PathLike[str]], *, what: str, hint: str | None = None,
          **kwargs: object) -> Completed:
    """Run argv and raise CommandError with the output's tail if it fails."""
    done = run(argv, **kwargs)  # type: ignore[arg-type]
    if done.returncode != 0 or done.timed_out:
        raise CommandError(
            f"{what} failed (exit {done.returncode}): {shlex.join(done.argv)}\n{done.tail()}",
            hint=hint,
        )
    return done


def kill_all() -> int:
    """Kill every child process tree kit started; returns how many there were."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_tree(proc)
    return len(procs)


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
