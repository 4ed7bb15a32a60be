"""The Ray runtime: one matrix over the GPU machines of a Ray cluster.

The executor sees one Runtime, as on one machine. Underneath, each compile is a Ray task that
needs `kit_nvcc` (any node that compiles; its count bounds how many run there at once) and
each run a task that needs the cell's GPU resource (`kit_sm_90`), preferring the node the plan
picked. On the node, the task does what the local runtime (host, or Docker with the image
recipe the driver sent) does; what travels is data: the repro's sources and the CUTLASS tree
go to a node once, the binary comes back to the driver's build cache and goes to the node that
runs it. Ray retries a task whose node is lost on another node with the same resources; when
no live node has them, the cell gets infra_error, which `kit matrix run --resume` runs again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import platform
import tarfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from kit.runtime import cluster
from kit.runtime.base import CompileJob, RunJob, Runtime
from kit.runtime.cluster import ClusterError
from kit.runtime.raytasks import (
    Answer,
    CompileTask,
    RunTask,
    Shipment,
    compile_on_node,
    identity_on_node,
    prepare_on_node,
    run_on_node,
)
from kit.sources import images
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec.model import Cell, CutlassSource, Toolchain
from kit.spec.options import Options
from kit.spec.repros import HARNESS_DIR, Repro
from kit.util import cmd, gpu
from kit.util.errors import EngineError, KitError, ToolchainError
from kit.util.gpu import GpuReport

MODES = ("host", "docker")
RETRIES = 3  # Ray's retries of a task whose worker or node died
BINARIES_KEPT = 4  # binaries kept shipped (the executor runs one cell at a time)
POLL = 2.0  # seconds between looks at a waiting task (and at the nodes that could take it)
RESUME_HINT = ("start a node that can (kit cluster start --address HEAD:PORT), then "
               "`kit matrix run --resume`: finished cells are kept")


class RayRuntime(Runtime):
    name = "ray"

    def capacity(self, opts: Options) -> Options:
        return options_for(self, opts)

    def routes_gpus(self) -> bool:
        return False  # Ray places each run on a node's GPU itself

    def __init__(self, address: str, *, mode: str = "host", project: Path,
                 base: str | None = None, probe_timeout: float = 120.0) -> None:
        if mode not in MODES:
            raise ClusterError(f"--runtime {mode}: on a cluster each node uses host or docker")
        cluster.connect(address)
        self.ray = cluster.import_ray()
        self.address = address
        self.mode = mode
        self.project = project.resolve()
        self.base = base
        try:
            self.nodes = cluster.probe(probe_timeout)
            self._check_nodes()
        except BaseException:
            cluster.disconnect()
            raise
        self.map = cluster.gpu_map(self.nodes)
        self._lock = threading.Lock()  # the small state below, never held while waiting
        self._asking = threading.Lock()
        self._shipped: dict[str, Shipment] = {}
        self._identities: dict[str, dict[str, str]] = {}  # toolchain -> machine -> identity
        self._per_node: dict[str, dict[str, str]] = defaultdict(dict)  # node -> tc -> ident
        self._inflight: set[Any] = set()
        self._missing: set[frozenset[tuple[str, float]]] = set()  # needs no live node has
        self._compiled: dict[str, list[str]] = defaultdict(list)  # node id -> cell labels
        self._ran: dict[str, list[str]] = defaultdict(list)  # node id -> cell ids
        self._images: dict[str, dict[str, str]] = defaultdict(dict)  # node -> tag -> base id
        self._recipes: dict[str, images.ImageSpec] = {}  # docker: image tag -> its recipe

    # -- the nodes kit uses

    def _check_nodes(self) -> None:
        usable = [n for n in self.nodes if n.alive and n.kit_ready]
        if not usable:
            raise ClusterError(f"no node of the cluster at {self.address} advertises kit's "
                               "resources", hint="start nodes with `kit cluster start`; "
                               "`kit cluster status` shows the resources each should add")
        if not self.compile_nodes():
            raise ClusterError("no node of the cluster compiles (kit_nvcc"
                               + (" and kit_docker" if self.mode == "docker" else "") + ")",
                               hint="`kit cluster status` says what each node offers")
        from kit import __version__

        odd = [f"{n.name} has kit {n.facts.kit_version}" for n in usable
               if n.facts and n.facts.kit_version != __version__]
        if odd:
            raise ClusterError(f"this is kit {__version__}, but " + "; ".join(odd),
                               hint="install the same kit on every node")

    def compile_nodes(self) -> list[cluster.Node]:
        return [n for n in self.nodes if n.alive and n.compile_slots > 0
                and (self.mode != "docker" or cluster.DOCKER in n.resources)]

    def machines(self) -> list[str]:
        """The CPU architectures of the compiling nodes, this machine's first."""
        found = sorted({n.machine for n in self.compile_nodes()})
        here = platform.machine()
        return [here, *(m for m in found if m != here)] if here in found else found

    def compile_slots(self) -> int:
        return sum(n.compile_slots for n in self.compile_nodes())

    def gpus(self) -> GpuReport:
        return self.map.report

    def describe(self) -> str:
        live = [n for n in self.nodes if n.alive and n.kit_ready]
        return (f"ray-{self.mode} ({self.address}: {len(live)} node{'s' * (len(live) != 1)}, "
                f"{self.compile_slots()} compile slots, {len(self.map.report.gpus)} GPUs)")

    def record(self) -> dict[str, Any]:
        """For the manifest: every node, what it is, its toolchains, what it compiled and ran."""
        nodes = {}
        for n in self.nodes:
            entry = n.to_dict()
            entry["toolchains"] = dict(self._per_node.get(n.node_id, {}))
            if self._images.get(n.node_id):
                entry["images"] = dict(self._images[n.node_id])
            entry["compiled"] = sorted(self._compiled.get(n.node_id, []))
            entry["ran"] = sorted(self._ran.get(n.node_id, []))
            nodes[n.name] = entry
        return {"cluster": {"address": self.address, "mode": self.mode, "nodes": nodes}}

    # -- toolchains: the same binaries whichever node builds them

    def toolchain_identity(self, tc: Toolchain) -> str:
        """One identity per CPU architecture, the same on every node of it, else a
        ClusterError: which node compiles a cell must not change its binary. With several
        architectures, the identity names each (a cell compiles where it will run)."""
        with self._asking:  # one question to the nodes per toolchain
            if tc.name not in self._identities:
                self._identities[tc.name] = self._agree(tc)
            per_machine = self._identities[tc.name]
        if list(per_machine) == [platform.machine()]:
            return per_machine[platform.machine()]  # as on this machine: caches are shared
        return " | ".join(f"{m}={i}" for m, i in sorted(per_machine.items()))

    def _agree(self, tc: Toolchain) -> dict[str, str]:
        if self.mode == "docker":
            recipe = images.toolchain_identity(tc, self.project, self.base)
            for n in self.compile_nodes():
                self._per_node[n.node_id][tc.name] = recipe
            return {m: recipe for m in self.machines()}
        answers = self._on_each(self.compile_nodes(), identity_on_node, self.mode, tc)
        seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for n, ans in answers:
            if ans.error is not None:
                raise ToolchainError(f"toolchain '{tc.name}' on {n.name}: "
                                     f"{ans.error.format_message()}")
            ident = ans.info["identity"]
            self._per_node[n.node_id][tc.name] = ident
            seen[n.machine][ident].append(n.name)
        for machine, idents in seen.items():
            if len(idents) > 1:
                which = "; ".join(f"{', '.join(names)}: {i}" for i, names in idents.items())
                raise ClusterError(
                    f"toolchain '{tc.name}' differs between the {machine} nodes ({which}): "
                    "a cell's binary would depend on the node that compiled it",
                    hint="give the nodes the same nvcc and g++, use --runtime docker (one "
                         "image everywhere), or start the odd ones with `kit cluster start "
                         "--no-compile`")
        return {m: next(iter(i)) for m, i in seen.items()}

    def prepare(self, tc: Toolchain, cutlass: CutlassSource) -> None:
        """Install the toolchain (host) or build its image from the recipe (docker) on every
        node that compiles, and for docker on every node with a GPU too."""
        spec = self._spec(tc, cutlass)
        targets = self.compile_nodes()
        if self.mode == "docker":
            targets += [n for n in self.nodes if n.alive and n.gpus and n not in targets]
        failed = []
        bases: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for n, ans in self._on_each(targets, prepare_on_node, self.mode, tc, cutlass, spec):
            if ans.error is not None:
                failed.append(f"{n.name}: {ans.error.format_message()}")
                continue
            if "tag" in ans.info:
                self._images[n.node_id][ans.info["tag"]] = ans.info.get("base_id", "")
                bases[n.machine][ans.info.get("base_id", "")].append(n.name)
        for machine, ids in bases.items():
            if len(ids) > 1:
                which = "; ".join(f"{', '.join(names)}: {i or '?'}" for i, names in ids.items())
                failed.append(f"the {machine} nodes built '{tc.name}' on different base "
                              f"images ({which}); pin the base by digest (--base IMAGE@sha256:)")
        if failed:
            error = EngineError if self.mode == "docker" else ToolchainError
            raise error(f"toolchain '{tc.name}' is not ready on every node:\n  "
                        + "\n  ".join(failed))

    def _spec(self, tc: Toolchain, cutlass: CutlassSource) -> images.ImageSpec | None:
        if self.mode != "docker":
            return None
        spec = images.spec_for(tc, cutlass, project=self.project, base=self.base)
        with self._lock:
            self._recipes[spec.tag] = spec
        return spec

    def _on_each(self, nodes: list[cluster.Node], fn: Any, *args: Any
                 ) -> list[tuple[cluster.Node, Answer]]:
        """fn(*args) on each of these nodes, in parallel; a node lost meanwhile answers with
        an error."""
        refs = [(n, cluster.remote(fn).options(num_cpus=0, max_retries=0,
                                               scheduling_strategy=cluster.pinned(n.node_id)
                                               ).remote(*args)) for n in nodes]
        out = []
        for n, ref in refs:
            try:
                out.append((n, self._get(ref, what=f"ask {n.name}")))
            except KitError as exc:
                out.append((n, Answer(node_id=n.node_id, host=n.name, error=exc)))
        return out

    # -- compile and run

    def compile(self, job: CompileJob) -> cmd.Completed:
        tc = job.cell.toolchain
        self.toolchain_identity(tc)
        machine = self._build_machine(job.cell)
        needs: dict[str, float] = {cluster.COMPILE: 1}
        if len(self.machines()) > 1:
            needs[cluster.host_resource(machine)] = 1
        if self.mode == "docker":
            needs[cluster.DOCKER] = 0.01
        task = CompileTask(mode=self.mode, cell=job.cell, repro=job.repro,
                           repro_files=self._ship_repro(job.repro),
                           cutlass=job.cutlass, cutlass_tree=self._ship_cutlass(job.cutlass),
                           identities=dict(self._identities[tc.name]),
                           image=self._spec(tc, job.cell.cutlass), timeout=job.timeout)
        ref = cluster.remote(compile_on_node).options(
            num_cpus=0, resources=needs, max_retries=RETRIES).remote(task)
        ans = self._get(ref, needs=needs, what=f"compile {job.cell.label}")
        assert ans.completed is not None
        job.output.parent.mkdir(parents=True, exist_ok=True)
        for name, data in ans.files.items():
            (job.output.parent / name).write_bytes(data)
        if job.output.is_file():
            job.output.chmod(0o755)
        job.log.parent.mkdir(parents=True, exist_ok=True)
        job.log.write_text(f"[kit: compiled on node {ans.host}]\n{ans.log}")
        with self._lock:
            self._compiled[ans.node_id].append(job.cell.label)
        return ans.completed

    def _build_machine(self, cell: Cell) -> str:
        """Where a cell compiles when the nodes differ in CPU: where it will run, else here
        (or the first architecture there is)."""
        target, _ = gpu.gate(cell.arch, self.map.report)
        if target is not None:
            node = self._node(self.map.where[target.index].node_id)
            if node is not None:
                return node.machine
        return self.machines()[0]

    def _node(self, node_id: str) -> cluster.Node | None:
        return next((n for n in self.nodes if n.node_id == node_id), None)

    def run(self, job: RunJob) -> cmd.Completed:
        where = self.map.where.get(job.gpu_index)
        if where is None:
            raise ClusterError(f"no GPU {job.gpu_index} in the cluster")
        node = self._node(where.node_id)
        needs: dict[str, float] = {cluster.gpu_resource(where.local.cc): 1}
        if node is not None and len(self.machines()) > 1:
            needs[cluster.host_resource(node.machine)] = 1
        if self.mode == "docker":
            needs[cluster.DOCKER] = 0.01
        stamp = job.binary.parent / "image"
        tag = stamp.read_text().strip() if stamp.is_file() else ""
        task = RunTask(mode=self.mode, binary=self._ship_binary(job.binary), image_tag=tag,
                       image=self._image_for_tag(tag), args=job.args, node_id=where.node_id,
                       local_index=where.local.index, cc=where.local.cc, timeout=job.timeout)
        ref = cluster.remote(run_on_node).options(
            num_cpus=0, resources=needs, max_retries=RETRIES,
            scheduling_strategy=cluster.pinned(where.node_id, soft=True)).remote(task)
        ans = self._get(ref, needs=needs, what=f"run {job.log.stem} on a cc "
                                               f"{where.local.cc_text} GPU")
        assert ans.completed is not None and ans.gpu is not None
        job.log.parent.mkdir(parents=True, exist_ok=True)
        with job.log.open("a", encoding="utf-8") as fh:
            fh.write(f"[kit: ran on node {ans.host}, GPU {ans.gpu.index}: {ans.gpu.name} "
                     f"(cc {ans.gpu.cc_text})]\n{ans.log}")
        with self._lock:
            self._ran[ans.node_id].append(job.log.stem)
        return dataclasses.replace(ans.completed, node=f"{ans.host}/{ans.node_id[:8]}")

    def _image_for_tag(self, tag: str) -> images.ImageSpec | None:
        """The recipe of the image a binary was built in, so a node without it builds it."""
        if self.mode != "docker" or not tag:
            return None
        with self._lock:
            return self._recipes.get(tag)

    # -- waiting, with an eye on the nodes that could do it

    def _get(self, ref: Any, *, what: str, needs: dict[str, float] | None = None) -> Answer:
        """The task's answer. While it waits, an eye on the live nodes: when none has what it
        needs (Ray would wait forever), a ClusterError, which makes the cell infra_error."""
        ray = self.ray
        key = frozenset(needs.items()) if needs else frozenset()
        with self._lock:
            self._inflight.add(ref)
            known_missing = key in self._missing
        try:
            missing_since: float | None = None
            while True:
                ready, _ = ray.wait([ref], timeout=0 if known_missing else POLL)
                if ready:
                    break
                if needs is None or cluster.feasible(needs, cluster.alive_resources()):
                    missing_since = None
                    known_missing = False
                    with self._lock:
                        self._missing.discard(key)
                    continue
                missing_since = missing_since or time.monotonic()
                # Not a node that restarts: twice in a row, or already known to be gone.
                if known_missing or time.monotonic() - missing_since >= 2 * POLL:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref)
                    with self._lock:
                        self._missing.add(key)
                    raise ClusterError(f"cannot {what}: no live node has "
                                       + ", ".join(sorted(needs))
                                       + f" (live nodes: {_kit_resources()})",
                                       hint=RESUME_HINT)
            try:
                ans: Answer = ray.get(ref)
            except Exception as exc:  # Ray's errors: a node lost past the retries, ...
                first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
                raise ClusterError(f"cannot {what}: {type(exc).__name__}: {first}",
                                   hint=RESUME_HINT) from None
        finally:
            with self._lock:
                self._inflight.discard(ref)
        if ans.error is not None:
            raise ans.error
        return ans

    def check(self) -> None:
        try:
            cluster.alive_resources()
        except Exception as exc:
            raise ClusterError(f"lost the Ray cluster at {self.address}: {exc}",
                               hint=RESUME_HINT) from None

    def cleanup(self) -> None:
        """Cancel every task still out (a KeyboardInterrupt in each, so that the node's cmd
        layer kills the compiler or kernel it started)."""
        with self._lock:
            refs, self._inflight = list(self._inflight), set()
        for ref in refs:
            with contextlib.suppress(Exception):
                self.ray.cancel(ref)

    def close(self) -> None:
        self.cleanup()
        with contextlib.suppress(Exception):
            cluster.disconnect()

    # -- shipping content once

    def _ship(self, key: str, make: Any) -> Shipment:
        with self._lock:
            if key not in self._shipped:
                self._shipped[key] = Shipment(key=key, ref=[self.ray.put(make())])
            return self._shipped[key]

    def _ship_repro(self, repro: Repro) -> Shipment:
        files = repro_files(repro)
        return self._ship("repro-" + _digest_files(files), lambda: files)

    def _ship_cutlass(self, resolved: ResolvedCutlass) -> Shipment:
        key = "cutlass-" + hashlib.sha256(resolved.identity.encode()).hexdigest()[:16]
        return self._ship(key, lambda: cutlass_tree(resolved.root))

    def _ship_binary(self, path: Path) -> Shipment:
        """A binary, kept in the object store while its cells run (they run one after
        another), not for the whole matrix."""
        data = path.read_bytes()
        key = "bin-" + hashlib.sha256(data).hexdigest()[:24]
        with self._lock:
            old = [k for k in self._shipped if k.startswith("bin-") and k != key]
            for k in old[:-BINARIES_KEPT]:
                del self._shipped[k]
        return self._ship(key, lambda: data)


def _kit_resources() -> str:
    return "; ".join(", ".join(f"{k}={v:g}" for k, v in sorted(r.items())
                               if k.startswith("kit_")) or "none of kit's"
                     for r in cluster.alive_resources()) or "none"


def options_for(rt: RayRuntime, opts: Options) -> Options:
    """The executor's limits on a cluster: as many compiles at once as the nodes have
    compile slots (each node bounds its own through kit_nvcc), not this machine's cores."""
    mem = sum(n.facts.mem_available_gb for n in rt.compile_nodes() if n.facts) * 0.9
    return dataclasses.replace(opts, jobs=opts.jobs or max(1, rt.compile_slots()),
                               mem_gb=opts.mem_gb or max(1.0, mem))


def repro_files(repro: Repro) -> dict[str, bytes]:
    """A repro's folder and the harness, as relative path -> content."""
    out = {}
    for folder in (repro.root, repro.root.parent / HARNESS_DIR):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            out[str(path.relative_to(folder.parent))] = path.read_bytes()
    return out


_TREE = ("include", "tools/util/include", "examples")


def cutlass_tree(root: Path) -> bytes:
    """What a compile reads of a CUTLASS tree, as a gzip'ed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for part in _TREE:
            if (root / part).is_dir():
                tar.add(root / part, arcname=part)
    return buf.getvalue()


def _digest_files(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name, data in sorted(files.items()):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:16]
