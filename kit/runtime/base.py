"""The interface the executor sees; it never knows whether Docker is there."""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.runtime.objects import ObjectCache
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec.model import Cell, CutlassSource, Toolchain
from kit.spec.options import Options
from kit.spec.repros import Repro
from kit.util import cmd
from kit.util.gpu import GpuReport


@dataclass(frozen=True, kw_only=True)
class CompileJob:
    cell: Cell
    repro: Repro
    cutlass: ResolvedCutlass
    output: Path  # where the binary must land (on the host)
    log: Path
    timeout: float
    objects_key: str = ""  # set: `nvcc -c` objects are cached under it (kit.objects)


@dataclass(frozen=True, kw_only=True)
class RunJob:
    binary: Path
    args: tuple[str, ...]
    gpu_index: int  # -1: no GPU (a facts-only run)
    log: Path
    timeout: float
    env: dict[str, str] = field(default_factory=dict)  # beside what the runtime sets


def run_commands(commands: Sequence[list[str]], one: Callable[[list[str], float], cmd.Completed],
                 *, timeout: float, objects: ObjectCache | None = None) -> cmd.Completed:
    """Run a build's commands in order under one time limit; stop at the first that fails.
    What they printed is joined, as a person running them one after another would see. With
    `objects`, a `-c` step whose object is cached is not run again."""
    for argv in commands:  # before any runs: nvcc hands its arguments to /bin/sh
        cmd.refuse_shell_text(argv)
    started = time.monotonic()
    outputs: list[str] = []
    done: cmd.Completed | None = None
    peak = 0
    for argv in commands:
        left = max(1.0, timeout - (time.monotonic() - started))
        done = objects.reuse(argv) if objects else None
        if done is None:
            done = one(argv, left)
            if objects and done.returncode == 0 and not done.timed_out:
                objects.keep(argv)
        outputs.append(done.output)
        peak = max(peak, done.peak_rss_kb or 0)
        if done.returncode != 0 or done.timed_out:
            break
    assert done is not None, "a build has at least one command"
    return cmd.Completed(done.argv, done.returncode, "".join(outputs),
                         time.monotonic() - started, done.timed_out, peak or None)


def objects_of(job: CompileJob) -> ObjectCache | None:
    """The job's object cache (its objects land next to its binary), if it has a key."""
    return ObjectCache(job.output.parent, job.objects_key, job.log) if job.objects_key \
        else None


class Runtime(abc.ABC):
    name: str
    # whether a binary may run here with no GPU for the facts its host side knows
    # (KIT_FACTS_ONLY=1): predictions for cells no GPU here can run
    facts_runs = False

    def warnings(self, pairs: list[tuple[Toolchain, CutlassSource]]) -> list[str]:
        """What a run of these toolchain x CUTLASS pairs would meet here, said before it
        starts (kit matrix plan)."""
        return []

    def routes_gpus(self) -> bool:
        """Whether kit keeps a queue per GPU of runtime.gpus() (a cluster places runs itself)."""
        return True

    def capacity(self, opts: Options) -> Options:
        """The run's limits where this runtime decides them (a cluster: its nodes' compile
        slots and memory, not this machine's); as given elsewhere."""
        return opts

    @abc.abstractmethod
    def gpus(self) -> GpuReport:
        """The GPUs a run in this runtime would see."""

    @abc.abstractmethod
    def toolchain_identity(self, tc: Toolchain) -> str:
        """What fixes the binaries this toolchain produces (nvcc version, image digest)."""

    @abc.abstractmethod
    def prepare(self, tc: Toolchain, cutlass: CutlassSource) -> None:
        """Install / build what compiling with this pair needs. Raises a KitError if it can't."""

    def prepare_python(self, tc: Toolchain, cutlass: CutlassSource) -> None:  # noqa: B027
        """What python repros' cells of this pair need beyond prepare(): nothing on the
        host; the prod image in Docker. Raises a KitError if it can't."""

    @abc.abstractmethod
    def compile(self, job: CompileJob) -> cmd.Completed:
        """Compile one cell. A failed compile is a normal result, not an exception."""

    @abc.abstractmethod
    def run(self, job: RunJob) -> cmd.Completed:
        """Run a compiled binary on one GPU with a timeout that kills it."""

    def python_identity(self, tc: Toolchain, cutlass: CutlassSource) -> str:
        """What a python repro's build is made with beyond the toolchain and CUTLASS (an
        image's PyTorch), so that changing it makes new builds; "" where nothing is known."""
        return ""

    def describe(self) -> str:
        return self.name

    def record(self) -> dict[str, Any]:
        """What the run's manifest keeps about where cells ran, beyond describe() (a
        cluster's nodes and what each compiled and ran); nothing for one machine."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook: release connections
        """Release what the runtime holds open (an engine connection)."""

    def check(self) -> None:  # noqa: B027 - optional hook; the host has no engine to lose
        """Raise a KitError if the runtime itself is gone (an engine that stopped), so that a
        run stops instead of filling every cell left with infra_error."""

    def cleanup(self) -> None:  # noqa: B027 - optional hook; the host runtime has nothing to do
        """Stop and remove whatever this runtime still has running (Ctrl-C, a crash)."""
