"""The Ray runtime's tasks: what runs on a node, and the data that travels to and from it.

Plain module-level functions, which Ray runs by name on the node (kit is installed there).
Each does what the node's own runtime does (host, or Docker with the image recipe the driver
sent), on content the driver shipped once: the repro's sources, the CUTLASS tree, a binary.
"""

from __future__ import annotations

import dataclasses
import io
import platform
import socket
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.runtime import cluster
from kit.runtime.base import CompileJob, RunJob, Runtime
from kit.runtime.cluster import ClusterError
from kit.sources import images
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec.model import Cell, CutlassSource, Toolchain
from kit.spec.repros import Repro
from kit.util import cache, cmd, gpu
from kit.util.errors import KitError


@dataclass(frozen=True, kw_only=True)
class Shipment:
    """Content a node keeps once in its cache: `key` names it, `ref` is the Ray object
    (inside a list, so that Ray fetches it only when the node does not have it yet)."""

    key: str
    ref: list[Any]


@dataclass(frozen=True, kw_only=True)
class CompileTask:
    mode: str
    cell: Cell
    repro: Repro
    repro_files: Shipment
    cutlass: ResolvedCutlass
    cutlass_tree: Shipment
    identities: dict[str, str]  # machine -> the toolchain identity the plan used
    image: images.ImageSpec | None
    timeout: float


@dataclass(frozen=True, kw_only=True)
class RunTask:
    mode: str
    binary: Shipment
    image_tag: str  # docker: the image that built the binary
    image: images.ImageSpec | None
    args: tuple[str, ...]
    node_id: str  # the node the plan picked, and its own number for the GPU there
    local_index: int
    cc: tuple[int, int]
    timeout: float


@dataclass(frozen=True, kw_only=True)
class Answer:
    """A node's answer. A KitError on the node comes back as a value and is raised on the
    driver, so the executor classifies it as on one machine."""

    node_id: str
    host: str
    completed: cmd.Completed | None = None
    log: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    gpu: gpu.Gpu | None = None
    info: dict[str, str] = field(default_factory=dict)
    error: KitError | None = None


_local_lock = threading.Lock()
_local_runtimes: dict[str, Runtime] = {}


def _here() -> tuple[str, str]:
    ray = cluster.import_ray()
    return ray.get_runtime_context().get_node_id(), socket.gethostname()


def _answer(**kwargs: Any) -> Answer:
    node_id, host = _here()
    return Answer(node_id=node_id, host=f"{host}/{node_id[:8]}", **kwargs)


def _local(mode: str) -> Runtime:
    """The runtime this node compiles and runs with (one per worker process)."""
    with _local_lock:
        if mode not in _local_runtimes:
            if mode == "docker":
                from kit.runtime.nodedocker import NodeDockerRuntime

                _local_runtimes[mode] = NodeDockerRuntime()
            else:
                from kit.runtime.host import HostRuntime

                _local_runtimes[mode] = HostRuntime()
        return _local_runtimes[mode]


def _node_dir(*parts: str) -> Path:
    return cache.cluster().joinpath(*parts)


def _unpacked(shipment: Shipment, write: Any) -> Path:
    """The node's copy of a shipment, fetched and written the first time only."""
    ray = cluster.import_ray()

    def build(tmp: Path) -> None:
        write(ray.get(shipment.ref[0]), tmp)

    dest = _node_dir(shipment.key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return cache.install_atomically(dest, build)


def _write_files(files: dict[str, bytes], dest: Path) -> None:
    for name, data in files.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _untar(data: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")


def _write_binary(data: bytes, dest: Path) -> None:
    (dest / "bin").write_bytes(data)
    (dest / "bin").chmod(0o755)


def identity_on_node(mode: str, tc: Toolchain) -> Answer:
    try:
        return _answer(info={"identity": _local(mode).toolchain_identity(tc)})
    except KitError as exc:
        return _answer(error=exc)


def prepare_on_node(mode: str, tc: Toolchain, cutlass: CutlassSource,
                     spec: images.ImageSpec | None) -> Answer:
    try:
        rt = _local(mode)
        if spec is None:
            rt.prepare(tc, cutlass)
            return _answer(info={"identity": rt.toolchain_identity(tc)})
        from kit.runtime.nodedocker import NodeDockerRuntime

        assert isinstance(rt, NodeDockerRuntime)
        return _answer(info=rt.ensure(spec))
    except KitError as exc:
        return _answer(error=exc)


def compile_on_node(task: CompileTask) -> Answer:
    try:
        rt = _local(task.mode)
        if task.image is not None:
            from kit.runtime.nodedocker import NodeDockerRuntime

            assert isinstance(rt, NodeDockerRuntime)
            rt.ensure(task.image)
        expected = task.identities.get(platform.machine())
        mine = rt.toolchain_identity(task.cell.toolchain)
        if expected is not None and task.mode == "host" and mine != expected:
            raise ClusterError(f"toolchain '{task.cell.toolchain.name}' is {mine} on "
                               f"{socket.gethostname()}, not {expected} as planned",
                               hint="`kit cluster status`; give the nodes one toolchain")
        repros = _unpacked(task.repro_files, _write_files)
        tree = _unpacked(task.cutlass_tree, _untar)
        repro = dataclasses.replace(task.repro, root=repros / task.repro.root.name)
        resolved = dataclasses.replace(task.cutlass, root=tree)
        with tempfile.TemporaryDirectory(prefix="kit-compile-") as tmp:
            out = Path(tmp)
            out.chmod(0o755)
            job = CompileJob(cell=task.cell, repro=repro, cutlass=resolved, output=out / "bin",
                             log=out / "compile.log", timeout=task.timeout)
            done = rt.compile(job)
            log = job.log.read_text(errors="replace") if job.log.is_file() else ""
            files = {p.name: p.read_bytes() for p in out.iterdir()
                     if p.is_file() and p.name != "compile.log"}
        return _answer(completed=done, log=log, files=files)
    except KitError as exc:
        return _answer(error=exc)


def run_on_node(task: RunTask) -> Answer:
    try:
        rt = _local(task.mode)
        node_id, host = _here()
        target = _local_gpu(task, node_id, host)
        folder = _unpacked(task.binary, _write_binary)
        if task.image_tag:
            if task.image is not None:
                from kit.runtime.nodedocker import NodeDockerRuntime

                assert isinstance(rt, NodeDockerRuntime)
                rt.ensure(task.image)
            stamp = folder / "image"
            if not stamp.is_file():
                stamp.write_text(task.image_tag)
        with tempfile.TemporaryDirectory(prefix="kit-run-") as tmp:
            log = Path(tmp) / "run.log"
            done = rt.run(RunJob(binary=folder / "bin", args=task.args,
                                 gpu_index=target.index, log=log, timeout=task.timeout))
            text = log.read_text(errors="replace") if log.is_file() else ""
        return _answer(completed=done, log=text, gpu=target)
    except KitError as exc:
        return _answer(error=exc)


def _local_gpu(task: RunTask, node_id: str, host: str) -> gpu.Gpu:
    """The GPU to run on here: the planned one on the planned node, else (the task moved
    because that node was lost) the first of the same compute capability."""
    report = gpu.detect()
    same = [g for g in report.gpus if g.cc == task.cc]
    if node_id == task.node_id:
        same = [g for g in same if g.index == task.local_index] or same
    if not same:
        raise ClusterError(f"{host} advertises {cluster.gpu_resource(task.cc)} but NVML "
                           f"shows no GPU of compute capability {task.cc[0]}.{task.cc[1]} "
                           f"({report.error or 'none'})",
                           hint="restart that node with `kit cluster start`")
    return same[0]
