"""Matrix cells + facts about this machine -> the steps of a run. Pure: touches nothing.

Each cell gets a content id (what it is made of) and a compile key (what its binary is made
of): cells that differ only in run arguments share one binary, and a cell whose inputs did not
change keeps its id, so a resumed run skips it.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kit.runtime import pyrepro
from kit.spec import build_axes
from kit.spec.model import Cell, Outcome, digest
from kit.spec.repros import TRACE_DEFINE, Repro, ReproKind
from kit.util import gpu as gpumod


class RunDecision(str, enum.Enum):
    RUN = "run"
    SKIPPED_ARCH = Outcome.SKIPPED_ARCH.value
    NO_GPU = Outcome.NO_GPU.value
    # every GPU that could run it faulted during this run (kit.engine.routing)
    GPU_FAULTED = Outcome.INFRA_ERROR.value


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What the planner needs to know about the world, gathered by the caller."""

    toolchain_ids: dict[str, str]  # toolchain name -> identity (nvcc version...) or spec
    cutlass_ids: dict[str, str]  # CUTLASS source name -> identity (wheel sha, commit)
    source_digests: dict[str, str]  # repro name -> digest of its sources + harness
    gpus: gpumod.GpuReport
    # (toolchain, CUTLASS) -> what a python repro's build there is made with beyond them (the
    # prod image's PyTorch); absent where nothing more is known
    python_ids: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Step:
    cell: Cell
    cell_id: str
    compile_key: str
    run: RunDecision
    reason: str  # why it will not run, when it will not
    gpu_index: int | None = None
    gpu: gpumod.Gpu | None = None  # the GPU it runs on: its limits where a program prints none
    # what a translation unit's object depends on beside its nvcc line (toolchain, CUTLASS,
    # sources): cells that differ only in link order share their objects
    inputs_key: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"cell_id": self.cell_id, "axes": self.cell.axes, "compile_key": self.compile_key,
                "run": self.run.value, "reason": self.reason, "gpu": self.gpu_index}


def plan(cells: list[Cell], repros: dict[str, Repro], facts: Facts) -> list[Step]:
    steps = []
    for cell in cells:
        repro = repros[cell.repro]
        build: dict[str, Any] = {
            "toolchain": facts.toolchain_ids[cell.toolchain.name],
            "cutlass": facts.cutlass_ids[cell.cutlass.name],
            "source": facts.source_digests[cell.repro],
            "arch": cell.arch,
            "flags": list(repro.flags),
            "defines": repro.defines(cell.knob_map),
        }
        if repro.kind is ReproKind.PYTHON:  # its knobs set no macros: they are what it is made of
            build["knobs"] = cell.knob_map
            build["launcher"] = pyrepro.LAUNCHER_VERSION
            python = facts.python_ids.get((cell.toolchain.name, cell.cutlass.name))
            if python:
                build["python"] = python
        if repro.traced(cell.knob_map):  # absent otherwise: harness builds keep their keys
            build["trace"] = TRACE_DEFINE
        if any(axis in build_axes.AXES for axis in repro.knobs):
            build["structure"] = build_axes.Structure.of(cell.arch, cell.knob_map).to_dict()
        compile_key = digest(build, 16)
        cell_id = f"{cell.label}-{digest({**build, 'run_args': list(repro.run_args)}, 8)}"
        gpu, reason = gpumod.gate(cell.arch, facts.gpus)
        if gpu is not None:
            decision = RunDecision.RUN
        elif facts.gpus.present:
            decision = RunDecision.SKIPPED_ARCH
        else:
            decision = RunDecision.NO_GPU
        inputs_key = digest({k: build[k] for k in ("toolchain", "cutlass", "source")}, 16)
        steps.append(Step(cell=cell, cell_id=cell_id, compile_key=compile_key, run=decision,
                          inputs_key=inputs_key,
                          reason=reason, gpu_index=gpu.index if gpu else None, gpu=gpu))
    return steps


def summary(steps: list[Step]) -> dict[str, int]:
    counts = Counter(s.run.value for s in steps)
    return {"cells": len(steps), "binaries": len({s.compile_key for s in steps}), **counts}
