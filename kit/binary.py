"""Static facts about a compiled binary, read with binutils: no GPU needed.

The one that matters first: how many distinct host instantiations of
`cutlass::device_kernel<...>` the binary holds. A repro instantiates one kernel, so two means
the host side names a kernel type that the device registration does not (seen with the
kernel types declared inside a function template, where the host compiler re-derives a
`cute::C<32>` as `cute::C<32u>`): the launch and cudaFuncSetAttribute then go to a stub that
was never registered, which initialize() reports as Error Internal. Recorded as evidence,
never as a GPU outcome.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from kit import cmd

# The kernel's own host symbol (not the stubs whose names embed it): `L` marks internal
# linkage, which CUTLASS gives device_kernel (`__global__ static`).
_DEVICE_KERNEL = re.compile(r"_ZN7cutlassL?13device_kernel[A-Za-z0-9_]*$")


def inspect(binary: Path) -> dict[str, Any]:
    nm = shutil.which("nm")
    if nm is None:
        return {"nm": "unavailable (install binutils)"}
    done = cmd.run([nm, binary], timeout=120)
    if done.returncode != 0:
        return {"nm": f"failed: {done.tail(2)}"}
    symbols = sorted({name for name in _symbol_names(done.output) if _DEVICE_KERNEL.match(name)})
    facts: dict[str, Any] = {"device_kernel_instantiations": len(symbols)}
    if len(symbols) > 1:
        facts["device_kernel_symbols"] = symbols
        facts["warning"] = (f"{len(symbols)} host instantiations of cutlass::device_kernel: "
                            "host code may launch a kernel that was never registered")
    return facts


def _symbol_names(nm_output: str) -> list[str]:
    """Function symbols from `nm` lines ("address type name"), compiler clones dropped."""
    names = []
    for line in nm_output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            names.append(parts[2].split(".", 1)[0])
    return names
