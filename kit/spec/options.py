"""How a run runs, declared once: each setting's flag, KIT_* variable, default and help live
here, and the command line builds its options from them (nox keeps its options the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from kit.util.peakmem import DEFAULT_COMPILE_GB


@dataclass(frozen=True)
class Setting:
    flags: tuple[str, ...]
    env: str  # the KIT_* variable that sets it when the flag is not given
    default: int | float | None
    help: str
    kind: type = float
    minimum: float = 0


SETTINGS: dict[str, Setting] = {
    "jobs": Setting(("-j", "--jobs"), "KIT_JOBS", None,
                    "Parallel compiles [cores, capped by memory].", int, 1),
    "mem_gb": Setting(("--mem",), "KIT_MEM", None,
                      "GiB kit may use for compiles [MemAvailable].", float, 1),
    "compile_gb": Setting(("--compile-gb",), "KIT_COMPILE_GB", DEFAULT_COMPILE_GB,
                          "Expected peak memory of one compile, GiB.", float, 0.5),
    "compile_timeout": Setting(("--compile-timeout",), "KIT_COMPILE_TIMEOUT", 1800.0,
                               "Seconds before a compile is killed (compile_error: timeout).",
                               float, 1),
    "run_timeout": Setting(("--run-timeout",), "KIT_RUN_TIMEOUT", 120.0,
                           "Seconds before a running kernel is killed (outcome: timeout).",
                           float, 1),
    "gpus": Setting(("--gpus",), "KIT_GPUS", None,
                    "How many of the machine's GPUs run cells, one queue each [all].", int, 1),
    "max_cells": Setting(("--max-cells",), "KIT_MAX_CELLS", 2000,
                         "A run of more cells is refused (a typo in an axis can multiply a "
                         "matrix); raise it to mean it.", int, 1),
}


@dataclass(frozen=True, kw_only=True)
class Options:
    """The settings of one run (SETTINGS gives each its default), plus whether it resumes."""

    jobs: int | None = None
    mem_gb: float | None = None
    compile_gb: float = DEFAULT_COMPILE_GB
    compile_timeout: float = 1800.0
    run_timeout: float = 120.0
    max_cells: int = 2000
    resume: bool = False
    compile_only: bool = False  # compile every cell, run none (then `kit pack` carries them)
    gpus: int | None = None  # the first N GPUs take cells (--gpus); all by default


def _check() -> None:
    """Options' defaults are SETTINGS' defaults: one source, checked at import."""
    for f in fields(Options):
        if f.name in SETTINGS and f.default != SETTINGS[f.name].default:
            raise AssertionError(f"Options.{f.name} default differs from SETTINGS")


_check()
