"""What a command selects: the matrix file, preset, filters and overrides, extra repro
folders; the cells that makes; and the command line that makes them again."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from kit.spec import matrix, selectors
from kit.spec.model import Cell
from kit.spec.repros import Repro, discover
from kit.util.errors import KitError, UsageError


@dataclass(frozen=True, kw_only=True)
class Selection:
    matrix_path: Path
    preset: str | None = None
    only: tuple[str, ...] = ()
    axis: tuple[str, ...] = ()
    # how cells run (--runtime, --base): not part of the selection, part of re-running it
    runtime_args: tuple[str, ...] = ()
    # repros from folders beside the project's repros/ (`kit repro run FILE.cu` makes one)
    repro_dirs: tuple[Path, ...] = ()
    # the command that makes this selection when it is not `kit matrix run` (re-run lines)
    command: str = ""


def load(sel: Selection) -> tuple[matrix.Matrix, list[Cell]]:
    m = matrix.load(sel.matrix_path, repros_of(sel.matrix_path, sel.repro_dirs))
    only = selectors.parse_only(sel.only, m.known_axes())
    selectors.check_values("--only", only, m.axis_values)
    overrides = selectors.parse_axis_overrides(sel.axis, m.known_axes())
    cells = matrix.expand(m, preset=sel.preset, only=only, overrides=overrides)
    if not cells:
        raise KitError("no cell matches this selection",
                       hint="`kit matrix plan` without --only shows the cells there are")
    return m, cells


def rerun_args(sel: Selection) -> str:
    """The options of `kit matrix run` that select these cells again."""
    args: list[str] = []
    if sel.matrix_path.name != "matrix.yaml" or sel.matrix_path.parent != Path():
        args += ["--matrix", str(sel.matrix_path)]
    if sel.preset:
        args += ["--preset", sel.preset]
    for o in sel.only:
        args += ["--only", o]
    for a in sel.axis:
        args += ["--axis", a]
    args += sel.runtime_args
    return shlex.join(args)


def repros_of(matrix_path: Path, more: tuple[Path, ...] = ()) -> dict[str, Repro]:
    """The repros beside a matrix file (its folder's repros/), and those in `more`."""
    found = discover(matrix_path.parent / "repros")
    for folder in more:
        found |= discover(folder)
    return found


def one_cell(matrix_path: Path, name: str, defines: tuple[str, ...], cuda: str | None,
             cutlass: str | None, arch: str | None,
             repro_dirs: tuple[Path, ...] = ()) -> tuple[matrix.Matrix, Cell]:
    """One cell for `kit repro run/export`: a repro, -D knob values, toolchain, CUTLASS, arch
    (the matrix's first toolchain / CUTLASS and the repro's first target by default)."""
    m = matrix.load(matrix_path, repros_of(matrix_path, repro_dirs))
    if name not in m.repros:
        raise UsageError(f"unknown repro '{name}'", hint=f"repros: {', '.join(m.repros)}")
    repro = m.repros[name]
    knobs = {k: kn.default for k, kn in repro.knobs.items()}
    for d in defines:
        key, sep, value = d.partition("=")
        if not sep:
            raise UsageError(f"-D {d}: expected KNOB=VALUE with KNOB one of "
                             f"{', '.join(repro.knobs)}")
        problem = repro.knob_problem(key, value)
        if problem is not None:
            raise UsageError(f"-D {d}: {problem[0]}", hint=problem[1])
        knobs[key] = value
    tc = cuda or next(iter(m.toolchains))
    cl = cutlass or next(iter(m.cutlass))
    if tc not in m.toolchains or cl not in m.cutlass:
        raise UsageError(f"unknown toolchain '{tc}' or CUTLASS '{cl}'",
                         hint=f"toolchains: {', '.join(m.toolchains)}; cutlass: "
                              f"{', '.join(m.cutlass)}")
    target = arch or repro.archs[0]
    if target not in repro.archs:
        raise UsageError(f"{name} is written for {', '.join(repro.archs)}, not {target}")
    return m, Cell(repro=name, toolchain=m.toolchains[tc], cutlass=m.cutlass[cl], arch=target,
                   knobs=tuple(sorted(repro.pinned(knobs).items())))
