"""The host runtime: the toolchains on (or installed by kit onto) this machine."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

from kit.runtime import nvcc, pyrepro
from kit.runtime.base import CompileJob, RunJob, Runtime, objects_of, run_commands
from kit.sources import jithome, toolchains
from kit.sources.toolchains import ResolvedToolchain
from kit.spec.model import CutlassSource, SourceKind, Toolchain
from kit.spec.repros import ReproKind
from kit.util import cmd
from kit.util.errors import KitError, ToolchainError
from kit.util.gpu import GpuReport, detect


class HostRuntime(Runtime):
    name = "host"
    facts_runs = True

    def __init__(self) -> None:
        self._resolved: dict[str, ResolvedToolchain] = {}
        self._failed: dict[str, KitError] = {}  # asked once; each cell then says why

    @functools.cache  # noqa: B019 - one runtime object per process; NVML is slow to ask
    def gpus(self) -> GpuReport:
        return detect()

    def toolchain_identity(self, tc: Toolchain) -> str:
        if tc.kind in (SourceKind.IMAGE, SourceKind.APT):
            # planned like any column; its cells say at prepare time that they need Docker
            return f"{tc.spec} (docker runtime only)"
        if tc.kind is SourceKind.PIP and tc.name not in self._resolved:
            # a pinned wheel version is its identity: no install needed to plan
            return f"pip:nvcc-{tc.ref}+{toolchains.host_compiler()}"
        return self.resolve(tc).identity

    def warnings(self, pairs: list[tuple[Toolchain, CutlassSource]]) -> list[str]:
        return [f"{tc.name} ({tc.spec}) needs the docker runtime: its cells are infra_error "
                "with --runtime host" for tc in dict.fromkeys(tc for tc, _ in pairs)
                if tc.kind in (SourceKind.IMAGE, SourceKind.APT)]

    def resolve(self, tc: Toolchain) -> ResolvedToolchain:
        if tc.name in self._failed:
            raise self._failed[tc.name]
        if tc.name not in self._resolved:
            try:
                self._resolved[tc.name] = toolchains.resolve(tc)
            except KitError as exc:
                self._failed[tc.name] = exc
                raise
        return self._resolved[tc.name]

    def prepare(self, tc: Toolchain, cutlass: CutlassSource) -> None:
        self.resolve(tc)

    def compile(self, job: CompileJob) -> cmd.Completed:
        tc = self.resolve(job.cell.toolchain)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        if job.repro.kind is ReproKind.PYTHON:
            if tc.toolchain.kind is not SourceKind.PIP:
                return pyrepro.build(job, python=repro_python(), cuda_home=tc.cuda_home)
            # A pip toolchain is not a whole CUDA install: FlashInfer's JIT gets one laid out
            home = jithome.home(tc)
            return pyrepro.build(job, python=repro_python(), cuda_home=home,
                                 preload=home / "lib64")
        return run_commands(self.commands(job), lambda argv, left: cmd.run(
            argv, cwd=job.output.parent, timeout=left, log_file=job.log, measure_memory=True),
            timeout=job.timeout, objects=objects_of(job))

    def commands(self, job: CompileJob) -> list[list[str]]:
        """The nvcc commands of a cell, with this machine's paths."""
        tc = self.resolve(job.cell.toolchain)
        root = job.cutlass.root
        return nvcc.commands(
            nvcc=str(tc.nvcc),
            cell=job.cell,
            repro=job.repro,
            place=str,
            include_dirs=[str(p) for p in (*job.cutlass.include_dirs,
                                           *job.repro.include_dirs(root))],
            link_args=tc.link_args(),
            output=str(job.output),
            cutlass_root=root,
        )

    def python_identity(self, tc: Toolchain, cutlass: CutlassSource) -> str:
        # KIT_PYTHON's interpreter and PyTorch are what a python cell's build runs with here,
        # whatever the pair: another torch is another build (no result carries over to it).
        return _python_identity(repro_python())

    def run(self, job: RunJob) -> cmd.Completed:
        env = {"CUDA_VISIBLE_DEVICES": str(job.gpu_index), "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
               **job.env}
        binary = job.binary.resolve()  # it runs from its own folder
        return cmd.run([binary, *job.args], cwd=binary.parent, env=env,
                       timeout=job.timeout, log_file=job.log)


# The interpreter's version and its PyTorch's, read from metadata (importing torch takes seconds).
_TORCH_VERSION = ("import importlib.metadata as m, sys\n"
                  "try: torch = m.version('torch')\n"
                  "except m.PackageNotFoundError: torch = 'none'\n"
                  "print(sys.version.split()[0], 'torch', torch)")


@functools.cache
def _python_identity(python: str) -> str:
    done = cmd.run([python, "-c", _TORCH_VERSION], timeout=60)
    return f"{python}:{done.output.strip() if done.returncode == 0 else 'unknown'}"


def repro_python() -> str:
    """The interpreter python repros run with: KIT_PYTHON (one with what the script imports,
    PyTorch) if set, else kit's own. An absolute path: it becomes the launcher's `#!` line,
    where a bare `python3` is not looked up on PATH."""
    name = os.environ.get("KIT_PYTHON") or sys.executable
    found = shutil.which(name)
    if found is None:
        raise ToolchainError(f"KIT_PYTHON={name}: no such interpreter",
                             hint="set KIT_PYTHON to a python with PyTorch, e.g. "
                                  "KIT_PYTHON=$(command -v python3)")
    return str(Path(found).absolute())  # not resolve(): a venv's python is a symlink
