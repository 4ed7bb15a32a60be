"""`kit repro export`: one standalone .cu (harness inlined, knobs fixed) for an upstream issue."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from kit.runtime import nvcc
from kit.spec import intake
from kit.spec.build_axes import Structure
from kit.spec.model import Cell
from kit.spec.repros import HARNESS_DIR, TRACE_DEFINE, Repro, ReproKind

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"(kit_\w+\.h)"[ \t]*$', re.MULTILINE)


def standalone(repro: Repro, cell: Cell, cutlass_version: str) -> str:
    if repro.kind is not ReproKind.CUDA:
        raise ValueError(f"{repro.name} is a {repro.kind.value} repro: export writes one CUDA "
                         "source; run it with `kit repro run`")
    if len(repro.sources) != 1 or Structure.of(cell.arch, cell.knob_map).per_arch:
        raise ValueError(f"{repro.name}: export writes one translation unit; this cell is a "
                         "multi-file build (use tu_layout=single or `kit repro run`)")
    source = (repro.root / repro.sources[0]).read_text()
    body = inline_harness(source, repro.root.parent / HARNESS_DIR)
    macros = [("KIT_REPRO", f'"{repro.name}"'), ("KIT_KNOBS", f'"{nvcc.knob_string(cell)}"')]
    macros += repro.defines(cell.knob_map)
    if repro.traced(cell.knob_map):  # before any CUTLASS header, as -D puts it
        name, _, value = TRACE_DEFINE.partition("=")
        macros.append((name, value))
    # $CUTLASS stays expandable when the line is pasted into a shell; the rest is quoted.
    structure = Structure.of(cell.arch, cell.knob_map)
    gencodes = [g for arch in structure.archs for g in nvcc.gencode(arch)]
    line = " ".join([shlex.join(["nvcc", *repro.flags, *structure.compile_flags(), *gencodes]),
                     '"-I$CUTLASS/include" "-I$CUTLASS/tools/util/include"',
                     shlex.join([f"{repro.name}.cu", "-o", repro.name])])
    knobs = ", ".join(f"{k}={v}" for k, v in cell.knobs) or "(none)"
    headers = intake.local_headers((repro.root / repro.sources[0],))[0]
    local = [str(h.relative_to(repro.root)) for h in headers
             if h.is_relative_to(repro.root) and h.parent != repro.root.parent / HARNESS_DIR]
    header = [
        f"// {repro.name}: {repro.description}",
        f"// Exported by kit for CUTLASS {cutlass_version}, target {cell.arch}; knobs: {knobs}",
        "// Build (CUTLASS = a checkout or the nvidia-cutlass wheel's cutlass_library/source):",
        f"//   {line}",
        f"// Run: ./{repro.name} {shlex.join(repro.run_args)}",
        *([f"// Needs beside it: {', '.join(local)} (from {repro.root})"] if local else []),
        *(["// It prints one line `KIT_RESULT {json}`: the stage reached, the CUTLASS status, "
           "the", "// CUDA error, shared-memory sizes and the verification."]
          if repro.harness else
          ["// It prints its own lines; CUTLASS's host trace says which call failed and why."]),
        "",
    ]
    header += [f"#define {name} {value}" for name, value in macros]
    return "\n".join(header) + "\n\n" + body


def inline_harness(source: str, harness: Path, within: frozenset[str] = frozenset()) -> str:
    """Each `#include "kit_*.h"` of the harness replaced by the header's text inside an
    include guard, which does what its `#pragma once` did: an include under a disabled `#if`
    inlines a copy the preprocessor skips, the next one is still there. The exported file
    builds with CUTLASS alone."""
    def include(match: re.Match[str]) -> str:
        name = match.group(1)
        if not (harness / name).is_file():
            return match.group(0)
        if name in within:  # it includes itself through another: its guard is defined here
            return f"// ({name}: inlined around this)"
        guard = "KIT_INLINED_" + re.sub(r"\W", "_", name).upper()
        text = (harness / name).read_text().replace("#pragma once\n", "", 1)
        return (f"// ---- kit harness: {name} (inlined) ----\n#ifndef {guard}\n#define {guard}\n"
                f"{inline_harness(text, harness, within | {name})}\n"
                f"#endif  // {guard}\n// ---- end of {name} ----")
    return _INCLUDE.sub(include, source)
