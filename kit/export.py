"""`kit repro export`: one standalone .cu (harness inlined, knobs fixed) for an upstream issue."""

from __future__ import annotations

import re
import shlex

from kit import nvcc
from kit.build import Structure
from kit.model import Cell
from kit.repros import HARNESS_DIR, Repro

_INCLUDE = re.compile(r'^\s*#\s*include\s+"(kit_harness\.h)"\s*$', re.MULTILINE)


def standalone(repro: Repro, cell: Cell, cutlass_version: str) -> str:
    if repro.kind != "cuda":
        raise ValueError(f"{repro.name} is a {repro.kind} repro: export writes one CUDA "
                         "source; run it with `kit repro run`")
    if len(repro.sources) != 1 or Structure.of(cell.arch, cell.knob_map).per_arch:
        raise ValueError(f"{repro.name}: export writes one translation unit; this cell is a "
                         "multi-file build (use tu_layout=single or `kit repro run`)")
    source = (repro.root / repro.sources[0]).read_text()
    harness = (repro.root.parent / HARNESS_DIR / "kit_harness.h").read_text()
    harness = harness.replace("#pragma once\n", "", 1)
    body, n = _INCLUDE.subn(lambda _: f"// ---- kit harness (inlined) ----\n{harness}\n"
                                      "// ---- end of kit harness ----", source, count=1)
    if n == 0:
        body = source
    macros = [("KIT_REPRO", f'"{repro.name}"'), ("KIT_KNOBS", f'"{nvcc.knob_string(cell)}"')]
    macros += repro.defines(cell.knob_map)
    # $CUTLASS stays expandable when the line is pasted into a shell; the rest is quoted.
    structure = Structure.of(cell.arch, cell.knob_map)
    gencodes = [g for arch in structure.archs for g in nvcc.gencode(arch)]
    line = " ".join([shlex.join(["nvcc", *repro.flags, *structure.compile_flags(), *gencodes]),
                     '"-I$CUTLASS/include" "-I$CUTLASS/tools/util/include"',
                     shlex.join([f"{repro.name}.cu", "-o", repro.name])])
    knobs = ", ".join(f"{k}={v}" for k, v in cell.knobs) or "(none)"
    header = [
        f"// {repro.name}: {repro.description}",
        f"// Exported by kit for CUTLASS {cutlass_version}, target {cell.arch}; knobs: {knobs}",
        "// Build (CUTLASS = a checkout or the nvidia-cutlass wheel's cutlass_library/source):",
        f"//   {line}",
        f"// Run: ./{repro.name} {shlex.join(repro.run_args)}",
        "// It prints one line `KIT_RESULT {json}`: the stage reached, the CUTLASS status, the",
        "// CUDA error, shared-memory sizes and the verification.",
        "",
    ]
    header += [f"#define {name} {value}" for name, value in macros]
    return "\n".join(header) + "\n\n" + body
