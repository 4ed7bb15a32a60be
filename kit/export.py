"""`kit repro export`: one standalone .cu (harness inlined, knobs fixed) for an upstream issue."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from kit import nvcc
from kit.build import Structure
from kit.model import Cell
from kit.repros import HARNESS_DIR, Repro

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"(kit_\w+\.h)"[ \t]*$', re.MULTILINE)


def standalone(repro: Repro, cell: Cell, cutlass_version: str) -> str:
    if repro.kind != "cuda":
        raise ValueError(f"{repro.name} is a {repro.kind} repro: export writes one CUDA "
                         "source; run it with `kit repro run`")
    if len(repro.sources) != 1 or Structure.of(cell.arch, cell.knob_map).per_arch:
        raise ValueError(f"{repro.name}: export writes one translation unit; this cell is a "
                         "multi-file build (use tu_layout=single or `kit repro run`)")
    source = (repro.root / repro.sources[0]).read_text()
    body = inline_harness(source, repro.root.parent / HARNESS_DIR, set())
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


def inline_harness(source: str, harness: Path, seen: set[str]) -> str:
    """Each `#include "kit_*.h"` of the harness replaced by the header's text, once (as its
    `#pragma once` would): the exported file builds with CUTLASS alone."""
    def include(match: re.Match[str]) -> str:
        name = match.group(1)
        if not (harness / name).is_file():
            return match.group(0)
        if name in seen:
            return f"// ({name}: inlined above)"
        seen.add(name)
        text = (harness / name).read_text().replace("#pragma once\n", "", 1)
        return (f"// ---- kit harness: {name} (inlined) ----\n"
                f"{inline_harness(text, harness, seen)}\n// ---- end of {name} ----")
    return _INCLUDE.sub(include, source)
