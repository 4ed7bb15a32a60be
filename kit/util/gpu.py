"""What GPU is here (NVML), and which nvcc targets it can run.

Gating is strict because the outcome depends on it: an `a` cubin (sm_121a) loads only on the
exact compute capability, an `f` cubin (sm_120f) on its family, a plain one on the same major
with an equal or higher minor. Everything else is `skipped_arch`, never a guess.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import asdict, dataclass
from typing import Any

_ARCH = re.compile(r"^sm_(\d+)(\d)([af]?)$")
_CU_ATTR_SMEM_OPTIN = 97  # CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
# The targets worth naming when a machine's GPUs are described (doctor, cluster nodes).
INTERESTING_ARCHS = ["sm_80", "sm_89", "sm_90a", "sm_100a", "sm_120a", "sm_121a", "sm_120f"]


@dataclass(frozen=True, kw_only=True)
class Gpu:
    index: int
    name: str
    cc: tuple[int, int]
    uuid: str = ""
    memory_mib: int = 0
    smem_optin_bytes: int | None = None  # from the CUDA driver; None where it cannot be read

    @property
    def cc_text(self) -> str:
        return f"{self.cc[0]}.{self.cc[1]}"

    @property
    def is_sm12x(self) -> bool:
        return self.cc[0] == 12

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"cc": self.cc_text}


@dataclass(frozen=True, kw_only=True)
class GpuReport:
    gpus: tuple[Gpu, ...]
    driver: str = ""
    cuda_driver: str = ""  # the newest CUDA the driver supports, e.g. "13.0"
    error: str = ""  # why NVML could not answer, when it could not

    @property
    def present(self) -> bool:
        return bool(self.gpus)

    def to_dict(self) -> dict[str, Any]:
        return {"gpus": [g.to_dict() for g in self.gpus], "driver": self.driver,
                "cuda_driver": self.cuda_driver, "error": self.error}


def parse_arch(arch: str) -> tuple[int, int, str]:
    m = _ARCH.match(arch)
    if not m:
        raise ValueError(f"not an nvcc arch: {arch}")
    return int(m.group(1)), int(m.group(2)), m.group(3)


def can_run(arch: str, cc: tuple[int, int]) -> bool:
    major, minor, suffix = parse_arch(arch)
    if suffix == "a":
        return cc == (major, minor)
    if suffix == "f":
        return cc[0] == major and cc[1] >= minor
    return cc[0] == major and cc[1] >= minor


def runnable_archs(cc: tuple[int, int], candidates: list[str]) -> list[str]:
    return [a for a in candidates if can_run(a, cc)]


def gate(arch: str, report: GpuReport) -> tuple[Gpu | None, str]:
    """The GPU that can run arch, or None and the reason it is skipped."""
    if not report.present:
        return None, "no GPU" + (f" ({report.error})" if report.error else "")
    for g in report.gpus:
        if can_run(arch, g.cc):
            return g, ""
    have = ", ".join(f"{g.name} (cc {g.cc_text})" for g in report.gpus)
    return None, f"{arch} needs {_needs(arch)}; this machine has {have}"


def _needs(arch: str) -> str:
    major, minor, suffix = parse_arch(arch)
    if suffix == "a":
        return f"compute capability exactly {major}.{minor}"
    return f"compute capability {major}.{minor}+ within {major}.x"


def detect() -> GpuReport:
    """Read the GPUs through NVML; no driver or no GPU is a normal answer, not an error."""
    try:
        import pynvml
    except ImportError:
        return GpuReport(gpus=(), error="nvidia-ml-py is not installed")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return GpuReport(gpus=(), error=f"NVML unavailable: {exc} (no NVIDIA driver?)")
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda_v = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        cuda_driver = f"{cuda_v // 1000}.{(cuda_v % 1000) // 10}"
        optin = _driver_smem_optin()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            gpus.append(Gpu(index=i, name=_text(pynvml.nvmlDeviceGetName(h)), cc=(major, minor),
                            uuid=_text(pynvml.nvmlDeviceGetUUID(h)),
                            memory_mib=int(mem.total) // (1 << 20),
                            smem_optin_bytes=optin.get(i)))
        return GpuReport(gpus=tuple(gpus), driver=driver, cuda_driver=cuda_driver)
    except pynvml.NVMLError as exc:
        return GpuReport(gpus=(), error=f"NVML query failed: {exc}")
    finally:
        pynvml.nvmlShutdown()


def _driver_smem_optin() -> dict[int, int]:
    """Opt-in shared memory per block from the CUDA driver API (NVML does not expose it)."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return {}
    if cuda.cuInit(0) != 0:
        return {}
    count = ctypes.c_int()
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return {}
    out = {}
    for i in range(count.value):
        dev, value = ctypes.c_int(), ctypes.c_int()
        if (cuda.cuDeviceGet(ctypes.byref(dev), i) == 0 and
                cuda.cuDeviceGetAttribute(ctypes.byref(value), _CU_ATTR_SMEM_OPTIN, dev) == 0):
            out[i] = value.value
    return out


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
