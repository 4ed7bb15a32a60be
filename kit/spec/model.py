"""The typed values every layer passes around. Frozen: parsed once at the edge, never mutated."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from kit.spec import build_axes


class Outcome(str, enum.Enum):
    """What a cell did. A kit failure is `infra_error`, never blurred into a kernel outcome."""

    OK = "ok"
    WRONG_RESULT = "wrong_result"
    CAN_IMPLEMENT_FAILED = "can_implement_failed"
    INIT_ERROR_INTERNAL = "init_error_internal"
    INIT_ERROR_OTHER = "init_error_other"
    RUN_FAILED = "run_failed"
    COMPILE_ERROR = "compile_error"
    CRASH = "crash"
    # the program ended cleanly and printed nothing kit can read as a verdict: it may not verify
    EXITED_UNVERIFIED = "exited_unverified"
    TIMEOUT = "timeout"
    SKIPPED_ARCH = "skipped_arch"
    NO_GPU = "no_gpu"
    INFRA_ERROR = "infra_error"

    @property
    def mark(self) -> str:
        return _MARKS[self]

    @property
    def is_gpu_verdict(self) -> bool:
        """True when a GPU produced this outcome (the only ones a report may call GPU results)."""
        return self in _GPU_VERDICTS


_MARKS = {
    Outcome.OK: "✅",
    Outcome.WRONG_RESULT: "❗",
    Outcome.CAN_IMPLEMENT_FAILED: "🚫",
    Outcome.INIT_ERROR_INTERNAL: "❌",
    Outcome.INIT_ERROR_OTHER: "⛔",
    Outcome.RUN_FAILED: "💥",
    Outcome.COMPILE_ERROR: "🛠",
    Outcome.CRASH: "☠",
    Outcome.EXITED_UNVERIFIED: "❔",
    Outcome.TIMEOUT: "⏱",
    Outcome.SKIPPED_ARCH: "⏭",
    Outcome.NO_GPU: "∅",
    Outcome.INFRA_ERROR: "⚠",
}

_GPU_VERDICTS = frozenset(
    {
        Outcome.OK,
        Outcome.WRONG_RESULT,
        Outcome.CAN_IMPLEMENT_FAILED,
        Outcome.INIT_ERROR_INTERNAL,
        Outcome.INIT_ERROR_OTHER,
        Outcome.RUN_FAILED,
        Outcome.CRASH,
        Outcome.EXITED_UNVERIFIED,
        Outcome.TIMEOUT,
    }
)


class SourceKind(str, enum.Enum):
    HOST = "host"
    PIP = "pip"
    IMAGE = "image"
    APT = "apt"


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    """A CUDA toolkit: a name from matrix.yaml and where it comes from."""

    name: str
    kind: SourceKind
    # host: a CUDA_HOME or "auto"; pip: the nvidia-cuda-nvcc version; image: ref@digest;
    # apt: the Debian suite.
    ref: str
    cuda: str = ""  # the CUDA version it provides, "13.0"; "" until known (host auto)

    @property
    def spec(self) -> str:
        return f"{self.kind.value}:{self.ref}"


class CutlassKind(str, enum.Enum):
    PYPI = "pypi"
    GIT = "git"
    PATH = "path"


@dataclass(frozen=True, kw_only=True)
class CutlassSource:
    name: str
    kind: CutlassKind
    ref: str  # pypi: wheel version; git: url@ref; path: a local folder

    @property
    def spec(self) -> str:
        return f"{self.kind.value}:{self.ref}"


# Axes every cell has, whatever its repro; every other axis is a repro knob.
CORE_AXES = ("repro", "cuda", "cutlass", "arch")


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One point of the matrix: a repro plus one value per axis that applies to it."""

    repro: str
    toolchain: Toolchain
    cutlass: CutlassSource
    arch: str
    knobs: tuple[tuple[str, str], ...]  # (axis, value), sorted by axis

    @property
    def knob_map(self) -> dict[str, str]:
        return dict(self.knobs)

    @property
    def axes(self) -> dict[str, str]:
        """Every axis value of this cell, core axes first."""
        core = {
            "repro": self.repro,
            "cuda": self.toolchain.name,
            "cutlass": self.cutlass.name,
            "arch": self.arch,
        }
        return core | self.knob_map

    @property
    def label(self) -> str:
        """Readable, stable name: repro-cuda-cutlass-arch-knob values (build axes only where
        they differ from the plain build: tu_layout=per_arch)."""
        parts = [self.repro, self.toolchain.name, f"cutlass{self.cutlass.name}", self.arch]
        # A build axis shows only when it is not the plain build, and says which axis it is.
        parts += [v if k not in build_axes.AXES else f"{k}={v}" for k, v in self.knobs
                  if k not in build_axes.AXES or v != build_axes.AXES[k].default]
        return "-".join(_slug(p) for p in parts)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._" else "_" for c in text)


def digest(data: Any, length: int = 12) -> str:
    """A stable content hash of JSON-able data."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Why kit classified a cell as it did, in facts a maintainer can check."""

    cause: str = ""
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CellResult:
    """What one cell did, as stored in results/<run>/cells/<id>.json."""

    cell_id: str
    label: str
    axes: dict[str, str]
    outcome: Outcome
    reason: str = ""  # one line a human reads in the table's legend
    evidence: Evidence = field(default_factory=Evidence)
    kit_result: dict[str, Any] | None = None  # the harness line, as parsed
    compile_seconds: float | None = None
    run_seconds: float | None = None
    exit_status: int | None = None
    compile_cached: bool = False
    binary: str = ""  # compile key of the binary that ran
    binary_facts: dict[str, Any] = field(default_factory=dict)  # kit.binary.inspect
    node: str = ""  # the cluster node the cell ran on ("" when it ran where kit runs)
    gpu: str = ""  # the GPU it ran on ("0: NVIDIA H100 80GB HBM3"); "" when it did not run
    # what its target would likely do, for a cell no GPU here ran (kit.engine.predict); never
    # an outcome, and never set for a cell that ran
    prediction: dict[str, Any] | None = None
    started: str = ""
    finished: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        fields = dict(data)
        fields["outcome"] = Outcome(fields["outcome"])
        fields["evidence"] = Evidence(**fields.get("evidence") or {})
        return cls(**fields)
