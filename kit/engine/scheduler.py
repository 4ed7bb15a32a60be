"""How many compiles run at once: cores, memory, and each compile's cost as history
predicts it. Pure bookkeeping: the executor asks it what to start next."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Estimate:
    """How long the compiles of a plan should take here, from the compile history."""

    seconds: float  # the schedule's length, as the Scheduler would pack the compiles
    builds: int  # distinct binaries to compile (cached ones are free)
    measured: int  # of those, how many the history knows (the rest are guessed)


def jobs_for(steps: list[Step], opts: Options, past: dict[str, list[dict[str, Any]]]
             ) -> list[Job]:
    """One job per compile key, costed by history (the recipe's own, else its repro's)."""
    by_key: dict[str, list[Step]] = {}
    for s in steps:
        by_key.setdefault(s.compile_key, []).append(s)
    return [Job(group, history.predict(past, history.recipe_key(group[0].cell.repro, key),
                                       group[0].cell.repro, opts.compile_gb))
            for key, group in by_key.items()]


def estimate(steps: list[Step], opts: Options, *, cached: set[str] | None = None) -> Estimate:
    """Pack the plan's compiles as the Scheduler would and measure the schedule: the ETA of a
    run before it starts (plan), and of what is left while it runs."""
    jobs = [j for j in jobs_for(steps, opts, history.load())
            if j.group[0].compile_key not in (cached or set())]
    sched = Scheduler(jobs, cores=parallel_jobs(opts), budget_gb=memory_budget_gb(opts))
    clock, running = 0.0, list[tuple[float, Job]]()  # (finish time, job)
    while sched.queue or running:
        while (job := sched.next()) is not None:
            running.append((clock + job.cost.seconds, job))
        running.sort(key=lambda r: r[0])
        clock, job = running.pop(0)
        sched.done(job)
    return Estimate(clock, len(jobs), sum(j.cost.known != "default" for j in jobs))
