"""The nvcc commands of a cell, as argv lists (values never pass through a shell).

One command for a single translation unit; for a multi-TU layout one `nvcc -c` per unit (per
arch for `per_arch` units) and a link step, objects in the cell's link order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from kit.spec.build_axes import AXES, Structure, tu_arch
from kit.spec.model import Cell
from kit.spec.repros import TRACE_DEFINE, Repro
from kit.util.gpu import parse_arch


def gencode(arch: str) -> list[str]:
    """sm_121a -> -gencode arch=compute_121a,code=sm_121a (SASS only: the cell tests the
    cubin for that exact target, not a PTX JIT fallback)."""
    parse_arch(arch)  # refuses anything that is not an arch
    return ["-gencode", f"arch=compute_{arch[3:]},code={arch}"]


def knob_string(cell: Cell) -> str:
    """The knobs the source sees (KIT_KNOBS). Build axes are left out: they are how the
    source is built, not what it is, and a unit's object stays the same whatever its link
    order (kit.objects shares it)."""
    return ",".join(f"{k}={v}" for k, v in cell.knobs if k not in AXES)


def defines(cell: Cell, repro: Repro) -> list[str]:
    out = [f'-DKIT_REPRO="{repro.name}"', f'-DKIT_KNOBS="{knob_string(cell)}"']
    out += [f"-D{macro}={value}" for macro, value in repro.defines(cell.knob_map)]
    return out


def commands(
    *,
    nvcc: str,
    cell: Cell,
    repro: Repro,
    place: Callable[[Path], str],
    include_dirs: Sequence[str],
    link_args: Sequence[str],
    output: str,
    cutlass_root: Path,
) -> list[list[str]]:
    """`place` names a host path as the compiler sees it (itself, or its path in a container);
    objects land next to `output` (the commands run in its folder)."""
    structure = Structure.of(cell.arch, cell.knob_map)
    gencodes = [g for a in structure.archs for g in gencode(a)]
    common = [*repro.flags, *structure.compile_flags(), *(f"-I{d}" for d in include_dirs),
              *defines(cell, repro)]
    if repro.traced(cell.knob_map):
        common.append(f"-D{TRACE_DEFINE}")
    if not structure.per_arch:
        sources = [place(p) for p in repro.source_paths(cutlass_root)]
        return [[nvcc, *common, *gencodes, *sources, *link_args, "-o", output]]
    steps: list[list[str]] = []
    objects: list[str] = []
    for unit in repro.units:
        src = place(repro.root / unit.source)
        stem = Path(unit.source).stem
        if not unit.per_arch:
            objects.append(f"{stem}.o")
            steps.append([nvcc, "-c", *common, *gencodes, src, "-o", objects[-1]])
            continue
        for arch in structure.archs:
            objects.append(f"{stem}.{arch}.o")
            steps.append([nvcc, "-c", *common, *gencode(arch), f"-DKIT_TU_ARCH={tu_arch(arch)}",
                          src, "-o", objects[-1]])
    if structure.reversed_link:
        objects.reverse()
    rdc = ["-rdc=true"] if structure.rdc else []
    steps.append([nvcc, *rdc, *gencodes, *objects, *link_args, "-o", output])
    return steps
