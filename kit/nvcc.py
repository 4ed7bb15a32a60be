"""The nvcc command line of a cell, as an argv list (values never pass through a shell)."""

from __future__ import annotations

from collections.abc import Sequence

from kit.gpu import parse_arch
from kit.model import Cell
from kit.repros import Repro


def gencode(arch: str) -> list[str]:
    """sm_121a -> -gencode arch=compute_121a,code=sm_121a (SASS only: the cell tests the
    cubin for that exact target, not a PTX JIT fallback)."""
    parse_arch(arch)  # refuses anything that is not an arch
    return ["-gencode", f"arch=compute_{arch[3:]},code={arch}"]


def knob_string(cell: Cell) -> str:
    return ",".join(f"{k}={v}" for k, v in cell.knobs)


def defines(cell: Cell, repro: Repro) -> list[str]:
    out = [f'-DKIT_REPRO="{repro.name}"', f'-DKIT_KNOBS="{knob_string(cell)}"']
    out += [f"-D{macro}={value}" for macro, value in repro.defines(cell.knob_map)]
    return out


def argv(
    *,
    nvcc: str,
    cell: Cell,
    repro: Repro,
    sources: Sequence[str],
    include_dirs: Sequence[str],
    link_args: Sequence[str],
    output: str,
) -> list[str]:
    """Paths come from the runtime (host paths, or paths inside a container)."""
    cmd = [nvcc, *repro.flags, *gencode(cell.arch)]
    cmd += [f"-I{d}" for d in include_dirs]
    cmd += defines(cell, repro)
    cmd += list(sources)
    cmd += [*link_args, "-o", output]
    return cmd
