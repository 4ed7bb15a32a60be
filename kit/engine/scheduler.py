"""How many compiles run at once: cores, memory, and each compile's cost as history
predicts it. Pure bookkeeping: the executor asks it what to start next."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kit.engine import history
from kit.engine.plan import Step
from kit.spec.options import Options
from kit.util import peakmem


def parallel_jobs(opts: Options) -> int:
    """The most compiles at once (-j, else cores); memory then decides how many really run."""
    return opts.jobs or os.cpu_count() or 1


def memory_budget_gb(opts: Options) -> float:
    """What compiles may use together: --mem, else what the machine has free, less a margin
    for kit, the kernels it runs and everything else on the box."""
    if opts.mem_gb is not None:
        return opts.mem_gb
    return max(1.0, peakmem.available_gb() * 0.9 - 0.5)


@dataclass
class Job:
    group: list[Step]
    cost: history.Cost


class Scheduler:
    """Starts compiles while cores and memory allow: the longest predicted first (so the last
    to finish is not a long one started late), each counted at its predicted peak. One job
    always runs, whatever its prediction, so a matrix never stalls."""

    def __init__(self, jobs: list[Job], *, cores: int, budget_gb: float) -> None:
        self.queue = sorted(jobs, key=lambda j: -j.cost.seconds)
        self.cores = cores
        self.budget_gb = budget_gb
        self.running_gb = 0.0
        self.running = 0

    def next(self) -> Job | None:
        if self.running >= self.cores:
            return None
        for i, job in enumerate(self.queue):
            if self.running == 0 or self.running_gb + job.cost.gb <= self.budget_gb:
                self.running += 1
                self.running_gb += job.cost.gb
                return self.queue.pop(i)
        return None

    def done(self, job: Job) -> None:
        self.running -= 1
        self.running_gb -= job.cost.gb
