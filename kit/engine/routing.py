"""Every GPU of the machine: one queue each, a cell routed to the least busy GPU whose compute
capability can run its target (the gate's rule: exact for sm_XXa, family for sm_XXf, major
for plain), and a GPU that faults (a sticky CUDA error, an Xid) taking no more cells while the
others go on. Pure bookkeeping: the executor owns the queues."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from kit.spec.model import CellResult, Outcome
from kit.util.gpu import Gpu, can_run

# Errors after which a CUDA context, and often the device, is unusable until reset.
_STICKY = re.compile(r"cudaErrorIllegalAddress|cudaErrorLaunchFailure|cudaErrorECCUncorrectable|"
                     r"cudaErrorHardwareStackError|cudaErrorIllegalInstruction|"
                     r"cudaErrorMisalignedAddress|cudaErrorInvalidPc|\bXid\b|"
                     r"unspecified launch failure|uncorrectable ECC error")


@dataclass
class Router:
    gpus: tuple[Gpu, ...]
    busy: dict[int, int] = field(default_factory=dict)  # GPU index -> cells queued or running
    faulted: dict[int, str] = field(default_factory=dict)  # GPU index -> why it stopped
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def over(cls, gpus: tuple[Gpu, ...], limit: int | None = None) -> Router:
        """The first `limit` GPUs (--gpus N), all by default."""
        return cls(gpus[:limit] if limit else gpus)

    def route(self, arch: str) -> Gpu | None:
        """The least busy healthy GPU that can run `arch` (lowest index on a tie)."""
        with self._lock:
            able = [g for g in self.gpus if can_run(arch, g.cc) and g.index not in self.faulted]
            if not able:
                return None
            chosen = min(able, key=lambda g: (self.busy.get(g.index, 0), g.index))
            self.busy[chosen.index] = self.busy.get(chosen.index, 0) + 1
            return chosen

    def done(self, result: CellResult, index: int) -> str | None:
        """A cell left GPU `index`; the fault it showed, if any (the GPU then takes no more)."""
        with self._lock:
            self.busy[index] = max(0, self.busy.get(index, 0) - 1)
            why = fault_of(result)
            if why and index not in self.faulted:
                self.faulted[index] = why
            return why

    def why_none(self, arch: str) -> str:
        able = [g for g in self.gpus if can_run(arch, g.cc)]
        return "; ".join(f"GPU {g.index} faulted: {self.faulted[g.index]}" for g in able
                         if g.index in self.faulted) or f"no GPU here can run {arch}"


def fault_of(result: CellResult) -> str | None:
    """The sticky error a run left its GPU in, from what the run said."""
    if result.outcome not in (Outcome.RUN_FAILED, Outcome.CRASH, Outcome.WRONG_RESULT,
                              Outcome.INFRA_ERROR):
        return None
    text = " ".join((result.reason, result.evidence.detail))
    m = _STICKY.search(text)
    return m.group(0) if m else None
