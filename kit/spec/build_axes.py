"""The build structure as matrix axes: which translation units, for which archs, linked in which
order, with which nvcc stub and relocatable-device-code modes.

Production libraries (FlashInfer, vLLM) instantiate one header-defined launcher in one
translation unit per arch and link them into one library; a single-file repro never exercises
that. A repro opts in with `build_axes:` in its repro.yaml (and `units:` for a multi-TU
layout); kit then reads these axis values to write the nvcc commands (kit.nvcc).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TU_LAYOUT = "tu_layout"
ARCH_LIST = "arch_list"
LINK_ORDER = "link_order"
STUB = "static_global_template_stub"
RDC = "rdc"
TRACE = "cutlass_trace"

_ARCH = r"sm_\d{2,3}[af]?"
_ARCH_LIST = rf"{_ARCH}(\+{_ARCH})*"


@dataclass(frozen=True)
class AxisSpec:
    default: str
    values: tuple[str, ...]
    pattern: str = ""  # further values, e.g. an arch list
    about: str = ""
    needs_units: bool = False  # only meaningful for a repro with `units:`


AXES: dict[str, AxisSpec] = {
    TU_LAYOUT: AxisSpec("single", ("single", "per_arch"), needs_units=True),
    ARCH_LIST: AxisSpec("cell", ("cell",), _ARCH_LIST, "archs joined by + (sm_80+sm_90a)"),
    LINK_ORDER: AxisSpec("as_listed", ("as_listed", "reversed"), needs_units=True),
    # nvcc 13 made -static-global-template-stub=true the default; "default" passes nothing,
    # so the axis also runs on a 12.x nvcc that has no such option.
    STUB: AxisSpec("default", ("default", "true", "false")),
    RDC: AxisSpec("off", ("off", "on")),
    # CUTLASS's host trace (-DCUTLASS_DEBUG_TRACE_LEVEL=1): "default" does what the repro.yaml
    # says (`trace:`); on / off measure that compiling it in changes no outcome.
    TRACE: AxisSpec("default", ("default", "on", "off")),
}


def axis(name: str, *, has_units: bool) -> AxisSpec:
    """The spec of a build axis a repro asks for; KeyError with the reason if it can't."""
    if name not in AXES:
        raise KeyError(f"'{name}' is not a build axis")
    spec = AXES[name]
    if spec.needs_units and not has_units:
        raise KeyError(f"build axis '{name}' needs the repro's `units:` (a multi-TU layout)")
    return spec


@dataclass(frozen=True, kw_only=True)
class Structure:
    """How one cell is built, read from its axis values (absent axes take their defaults)."""

    per_arch: bool
    archs: tuple[str, ...]
    reversed_link: bool
    stub: str
    rdc: bool

    @classmethod
    def of(cls, arch: str, knobs: dict[str, str]) -> Structure:
        listed = knobs.get(ARCH_LIST, "cell")
        return cls(per_arch=knobs.get(TU_LAYOUT) == "per_arch",
                   archs=(arch,) if listed == "cell" else tuple(listed.split("+")),
                   reversed_link=knobs.get(LINK_ORDER) == "reversed",
                   stub=knobs.get(STUB, "default"),
                   rdc=knobs.get(RDC) == "on")

    def compile_flags(self) -> list[str]:
        flags = [] if self.stub == "default" else [f"-static-global-template-stub={self.stub}"]
        return flags + (["-rdc=true"] if self.rdc else [])

    def to_dict(self) -> dict[str, Any]:
        return {"per_arch": self.per_arch, "archs": list(self.archs),
                "reversed_link": self.reversed_link, "stub": self.stub, "rdc": self.rdc}


def is_cell(arch: str, knobs: dict[str, str]) -> bool:
    """A cell gated on `arch` must compile for it: an arch list without it is not a cell."""
    return arch in Structure.of(arch, knobs).archs


def tu_arch(arch: str) -> str:
    """The number a per-arch unit gets as KIT_TU_ARCH: sm_90a -> 90."""
    match = re.fullmatch(r"sm_(\d+)[af]?", arch)
    if match is None:
        raise ValueError(f"not an arch: {arch}")
    return match.group(1)
