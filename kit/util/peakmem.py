"""The peak memory of a process tree, sampled from /proc while it runs.

"The tree" is the child and its descendants: nvcc, cicc, ptxas, the host compiler. Their summed
RSS, sampled a few times a second, is what the scheduler learns a compile needs (kit.history).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def tree_rss_kb(root: int) -> int:
    """The summed RSS of root and its descendants, walked through /proc's children lists
    (a few small reads, not a scan of every process on the machine)."""
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KB
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):  # it ended while we looked
            continue
    return total


class Sampler:
    """Samples a process tree's RSS in a thread until stopped; `peak_kb` is the largest sum."""

    def __init__(self, sid: int, interval: float = 0.3) -> None:
        self.sid = sid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._loop, name=f"peakmem-{sid}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.sid))
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kb


# What one CUTLASS grouped GEMM compile is expected to peak at (nvcc/cicc: 3.5-8 GB) before
# kit.history has measured it.
DEFAULT_COMPILE_GB = 6.0


def meminfo_gb(field: str) -> float | None:
    """One /proc/meminfo figure (MemTotal, MemAvailable) in GiB; None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / (1 << 20)
    except (OSError, ValueError):
        pass
    return None


def total_gb() -> float:
    """The machine's memory (MemTotal); 16 GiB where it cannot be read."""
    return meminfo_gb("MemTotal") or 16.0


def available_gb() -> float:
    """What the machine has free now (MemAvailable), or one compile's worth if unknown."""
    return meminfo_gb("MemAvailable") or DEFAULT_COMPILE_GB
