"""The peak memory of a process tree, sampled from /proc while it runs.

kit starts every child in its own session, so "the tree" is every process whose session id is
the child's pid: nvcc, cicc, ptxas, the host compiler. Their summed RSS, sampled a few times a
second, is what the scheduler learns a compile needs (kit.history).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def session_rss_kb(sid: int) -> int:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        # the command name (field 2) may hold spaces and parentheses: split after its ")"
        fields = text[text.rfind(")") + 2:].split()
        if len(fields) > 21 and int(fields[3]) == sid:
            total += int(fields[21]) * _PAGE_KB
    return total


class Sampler:
    """Samples a session's RSS in a thread until stopped; `peak_kb` is the largest sum."""

    def __init__(self, sid: int, interval: float = 0.25) -> None:
        self.sid = sid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._loop, name=f"peakmem-{sid}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, session_rss_kb(self.sid))
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb
