"""Predictions for the GPU that is not here: what a cell would do on its target, from what is
known without the part. Labelled as such, shown beside outcomes, never counted as one.

What is known per cell: the kernel's shared memory (the harness reports sizeof(SharedStorage)
from the host side alone, KIT_FACTS_ONLY=1) against the target's opt-in limit; whether the
binary holds a cubin for the target (cuobjdump); the static check (a kernel named two ways on
the host). A cause needs a GPU; these are hazards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kit.spec.model import CellResult, Outcome

# Opt-in shared memory per block (cudaDevAttrMaxSharedMemoryPerBlockOptin), by compute
# capability: the CUDA C Programming Guide's table of technical specifications per compute
# capability (9.0: 227 KB, 10.x: 227 KB, 12.x: 99 KB), as the driver reports them in bytes
# (an H100 reported 232,448 here). A GPU that is present is asked instead (NVML / the harness).
SMEM_OPTIN = {(9, 0): 232_448, (10, 0): 232_448, (10, 3): 232_448, (12, 0): 101_376,
              (12, 1): 101_376}


# The causes a prediction can name: the same hazards whichever call a program reports them
# from (CUTLASS's initialize(), or a plain CUDA program's own failed call).
HAZARDS = frozenset({"smem_exceeds_optin", "unregistered_kernel_stub", "no_kernel_image"})


@dataclass(frozen=True)
class Prediction:
    outcome: str  # "init_error_internal", "no_kernel_image", or "none" (no known hazard)
    cause: str  # smem_exceeds_optin, unregistered_kernel_stub, no_kernel_image, ""
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def target_cc(arch: str) -> tuple[int, int] | None:
    digits = arch.removeprefix("sm_").rstrip("af")
    if not digits.isdigit() or len(digits) < 2:
        return None
    return int(digits[:-1]), int(digits[-1])


def predict(arch: str, facts: dict[str, Any] | None,
            binary_facts: dict[str, Any]) -> Prediction:
    """What `arch`'s GPU would most likely do with this binary. The first hazard found, in
    the order kit's classifier would name the cause."""
    cc = target_cc(arch)
    smem = (facts or {}).get("smem_bytes")
    optin = SMEM_OPTIN.get(cc) if cc else None
    if isinstance(smem, int) and smem > 0 and optin is not None and smem > optin:
        return Prediction("init_error_internal", "smem_exceeds_optin",
                          f"shared memory {smem:,} B > {arch}'s opt-in {optin:,} B")
    cubins = binary_facts.get("cubins")
    mine = [c for c in cubins if str(c.get("arch", "")).startswith(arch.rstrip("af"))] \
        if isinstance(cubins, list) else None
    cutlass_kernel = isinstance(cubins, list) and any(c.get("device_kernels") for c in cubins)
    if isinstance(cubins, list) and cubins and mine is not None and (
            not mine or (cutlass_kernel and not any(c.get("device_kernels") for c in mine))):
        return Prediction("no_kernel_image", "no_kernel_image",
                          f"no cubin for {arch} holds the kernel "
                          f"({', '.join(sorted({str(c.get('arch')) for c in cubins}))})")
    if binary_facts.get("kernels_named_twice"):
        spellings = " vs ".join(binary_facts.get("spellings") or ["C<N>", "C<Nu>"])
        return Prediction("init_error_internal", "unregistered_kernel_stub",
                          f"the host names the kernel two ways ({spellings})")
    return Prediction("none", "", "no known hazard")


def score(predicted: list[CellResult], real: list[CellResult]) -> dict[str, Any]:
    """Predictions of one run against real outcomes of another, cell by cell (matched by label:
    the same repro, toolchain, CUTLASS, target and knobs). Per hazard: hits, misses (a real
    Error Internal of that cause not predicted), false alarms (predicted, and it ran fine)."""
    real_by = {r.label: r for r in real if r.outcome.is_gpu_verdict}
    table: dict[str, dict[str, int]] = {}
    pairs = []
    none_right = 0  # predicted no hazard, and none seen
    for p in predicted:
        guess = (p.prediction or {}).get("cause", "") if p.prediction else None
        truth = real_by.get(p.label)
        if guess is None or truth is None:
            continue
        got = truth.evidence.cause if truth.outcome is Outcome.INIT_ERROR_INTERNAL or (
            truth.outcome is Outcome.RUN_FAILED and truth.evidence.cause in HAZARDS) else ""
        pairs.append({"cell": p.label, "predicted": guess or "none", "real":
                      f"{truth.outcome.value}" + (f" ({got})" if got else "")})
        if not guess and not got:
            none_right += 1
        for cause in {guess, got} - {""}:
            row = table.setdefault(cause, {"hits": 0, "misses": 0, "false_alarms": 0})
            if guess == cause and got == cause:
                row["hits"] += 1
            elif got == cause:
                row["misses"] += 1
            else:
                row["false_alarms"] += 1
    return {"cells": len(pairs), "per_cause": table, "no_hazard_and_none_seen": none_right,
            "pairs": pairs}
