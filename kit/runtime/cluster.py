"""A Ray cluster as kit sees it: what each node can do, and the Ray resources that say so.

Every node advertises its capabilities as Ray custom resources, which is what Ray schedules
on: `kit_nvcc: N` (it compiles, N at once), `kit_sm_90: 2` (two GPUs of compute capability
9.0 that kit may run cells on), `kit_docker: 1` (a Docker engine answers), `kit_host_x86_64`
(its CPU architecture: a binary runs only where it was built for). `kit cluster start` works
them out from the node itself (NVML, nvcc, Docker, memory) and passes them to `ray start`.
A node started without them is listed by `kit cluster status`, with the resources to add,
and kit schedules nothing on it.

The facts behind the resources (hostname, GPU names, driver, kit version) come from a probe
task pinned to each node. A GPU counts only where both agree: NVML sees it and the node
advertises its compute capability, so kit never runs a cell on a GPU that is not there.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import platform
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kit import __version__
from kit.util import gpu as gpumod
from kit.util.errors import KitError
from kit.util.peakmem import DEFAULT_COMPILE_GB, available_gb

COMPILE = "kit_nvcc"  # compile slots: how many nvcc a node runs at once
DOCKER = "kit_docker"
_GPU = re.compile(r"^kit_sm_(\d+)(\d)$")
HOST_UNITS = 1000  # a kit_host_<arch> resource never limits how many tasks run
INSTALL_HINT = "python3 -m pip install 'kit[cluster]' (Ray), on this machine and every node"


class ClusterError(KitError):
    """The Ray cluster is missing, unreachable, or cannot do what a cell needs."""

    exit_code = 9


def gpu_resource(cc: tuple[int, int]) -> str:
    """The resource a node advertises per GPU of this compute capability: kit_sm_121."""
    return f"kit_sm_{cc[0]}{cc[1]}"


def gpu_resource_cc(name: str) -> tuple[int, int] | None:
    m = _GPU.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def host_resource(machine: str) -> str:
    return f"kit_host_{machine}"


def import_ray() -> Any:
    """The ray module, or a ClusterError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed: --cluster and `kit cluster` need it",
                           hint=INSTALL_HINT) from None
    return ray


@dataclass(frozen=True, kw_only=True)
class NodeFacts:
    """What a node is, as it says itself (the probe task's answer)."""

    hostname: str
    machine: str  # platform.machine(): x86_64, aarch64
    kit_version: str
    python: str
    gpus: gpumod.GpuReport
    cuda_homes: tuple[str, ...] = ()  # local CUDA toolkits (host: toolchains)
    docker: str = ""  # the engine's version, "" when none answers
    cpus: int = 1
    mem_available_gb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "machine": self.machine,
                "kit_version": self.kit_version, "python": self.python,
                "gpus": self.gpus.to_dict(), "cuda_homes": list(self.cuda_homes),
                "docker": self.docker, "cpus": self.cpus,
                "mem_available_gb": round(self.mem_available_gb, 1)}


def node_facts() -> NodeFacts:
    """This machine's facts. Runs on every node, as a task pinned there."""
    from kit.sources import toolchains

    return NodeFacts(hostname=socket.gethostname(), machine=platform.machine(),
                     kit_version=__version__, python=platform.python_version(),
                     gpus=gpumod.detect(),
                     cuda_homes=tuple(str(p) for p in toolchains.find_host_homes()),
                     docker=_docker_version(), cpus=os.cpu_count() or 1,
                     mem_available_gb=available_gb())


def _docker_version() -> str:
    try:
        from kit.sources import images

        client = images.client()
    except KitError:
        return ""
    try:
        return str(client.version().get("Version", "?"))
    except Exception:  # an engine that answered ping and then failed: as good as none
        return ""
    finally:
        client.close()


def resources_for(facts: NodeFacts, *, compile_slots: int | None = None, compile: bool = True,
                  gpus: bool = True, compile_gb: float = DEFAULT_COMPILE_GB) -> dict[str, int]:
    """The Ray custom resources a node should advertise. Compile slots default to what its
    cores and its free memory allow (compile_gb a compile)."""
    res: dict[str, int] = {host_resource(facts.machine): HOST_UNITS}
    if compile:
        by_memory = int(facts.mem_available_gb * 0.9 // compile_gb)
        res[COMPILE] = compile_slots or max(1, min(facts.cpus, by_memory))
    if facts.docker:
        res[DOCKER] = 1
    if gpus:
        for g in facts.gpus.gpus:
            res[gpu_resource(g.cc)] = res.get(gpu_resource(g.cc), 0) + 1
    return res


@dataclass(frozen=True, kw_only=True)
class Node:
    """One Ray node: what Ray says (id, liveness, resources) and what it said of itself."""

    node_id: str
    ip: str
    alive: bool
    resources: dict[str, float]  # the kit_* resources it advertises
    facts: NodeFacts | None = None  # None where the probe got no answer
    error: str = ""  # why it did not answer

    @property
    def name(self) -> str:
        host = self.facts.hostname if self.facts else self.ip
        return f"{host}/{self.node_id[:8]}"

    @property
    def kit_ready(self) -> bool:
        """Started with kit's resources, and answered the probe."""
        return self.facts is not None and any(k.startswith("kit_") for k in self.resources)

    @property
    def compile_slots(self) -> int:
        return int(self.resources.get(COMPILE, 0)) if self.kit_ready else 0

    @property
    def machine(self) -> str:
        return self.facts.machine if self.facts else ""

    @property
    def gpus(self) -> tuple[gpumod.Gpu, ...]:
        """The GPUs kit may use here: seen by NVML and advertised, the first N of each
        compute capability where the node advertises N."""
        if not self.kit_ready or self.facts is None:
            return ()
        left = {cc: int(n) for name, n in self.resources.items()
                if (cc := gpu_resource_cc(name)) is not None}
        out = []
        for g in self.facts.gpus.gpus:
            if left.get(g.cc, 0) > 0:
                left[g.cc] -= 1
                out.append(g)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "name": self.name, "ip": self.ip, "alive": self.alive,
                "kit_ready": self.kit_ready, "resources": self.resources,
                "compile_slots": self.compile_slots,
                "gpus": [g.to_dict() for g in self.gpus],
                "runnable_archs": self.runnable_archs(),
                "facts": self.facts.to_dict() if self.facts else None, "error": self.error,
                "suggested_resources": (resources_for(self.facts)
                                        if self.facts and not self.kit_ready else None)}

    def runnable_archs(self) -> list[str]:

        return sorted({a for g in self.gpus for a in gpumod.runnable_archs(g.cc,
                                                                           gpumod.INTERESTING_ARCHS)})


@dataclass(frozen=True)
class Placement:
    """Where a GPU of the cluster-wide list lives."""

    node_id: str
    local: gpumod.Gpu  # as the node itself numbers it


@dataclass(frozen=True)
class GpuMap:
    report: gpumod.GpuReport  # every usable GPU of the cluster, numbered 0..n-1
    where: dict[int, Placement] = field(default_factory=dict)


def gpu_map(nodes: list[Node]) -> GpuMap:
    """The union of the nodes' usable GPUs, numbered in a stable order (host name, then
    GPU uuid), so that plan.gate picks a GPU as it does on one machine."""
    order = sorted((n for n in nodes if n.alive and n.gpus),
                   key=lambda n: (n.facts.hostname if n.facts else "", n.gpus[0].uuid,
                                  n.node_id))
    gpus: list[gpumod.Gpu] = []
    where: dict[int, Placement] = {}
    drivers: list[str] = []
    cuda: list[str] = []
    for n in order:
        assert n.facts is not None
        for g in n.gpus:
            where[len(gpus)] = Placement(n.node_id, g)
            gpus.append(replace(g, index=len(gpus), name=f"{g.name} on {n.facts.hostname}"))
        drivers.append(f"{n.facts.hostname}: {n.facts.gpus.driver}")
        cuda.append(n.facts.gpus.cuda_driver)
    error = "" if gpus else "none in the cluster: no node advertises a kit_sm_* GPU that NVML sees"
    return GpuMap(gpumod.GpuReport(gpus=tuple(gpus), driver="; ".join(drivers),
                                   cuda_driver=", ".join(sorted(set(cuda))), error=error),
                  where)


def connect(address: str) -> None:
    """Join the cluster at address as a driver: HOST:PORT (the GCS, from a node of the
    cluster), ray://HOST:10001 (Ray Client, from anywhere) or `auto` (the one on this
    machine)."""
    ray = import_ray()
    if ray.is_initialized():
        return
    logging.getLogger("ray").setLevel(logging.WARNING)
    try:
        ray.init(address=address, namespace="kit", log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=False)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else repr(exc)
        hint = ("start one: `kit cluster start --head` on one machine, "
                "`kit cluster start --address HEAD:6379` on the others")
        if address.startswith("ray://"):
            hint = ("Ray Client addresses need `pip install 'ray[client]'` here and a head "
                    "started with its client server (port 10001, the default); " + hint)
        raise ClusterError(f"no Ray cluster answers at {address}: {first}",
                           hint=hint) from None


def disconnect() -> None:
    ray = import_ray()
    if ray.is_initialized():
        ray.shutdown()


def remote(fn: Callable[..., Any]) -> Any:
    """A module-level function as a Ray remote function (made once per function)."""
    return _remote(fn)


@functools.cache
def _remote(fn: Callable[..., Any]) -> Any:
    return import_ray().remote(fn)


def pinned(node_id: str, *, soft: bool = False) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=soft)


def probe(timeout: float = 120.0) -> list[Node]:
    """Every node Ray knows, with its facts from a task pinned to it (alive ones)."""
    ray = import_ray()
    listed = ray.nodes()
    refs: dict[str, Any] = {}
    for n in listed:
        if n.get("Alive"):
            refs[n["NodeID"]] = remote(node_facts).options(
                num_cpus=0, max_retries=0, scheduling_strategy=pinned(n["NodeID"])).remote()
    if refs:
        ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
    nodes = []
    for n in listed:
        facts: NodeFacts | None = None
        error = "" if n.get("Alive") else "dead"
        ref = refs.get(n["NodeID"])
        if ref is not None:
            try:
                facts = ray.get(ref, timeout=0)
            except Exception as exc:  # a node that does not answer is listed, not fatal
                error = f"no answer from its probe task: {str(exc).splitlines()[0][:200]}"
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
        nodes.append(Node(node_id=n["NodeID"], ip=str(n.get("NodeManagerAddress", "")),
                          alive=bool(n.get("Alive")),
                          resources={k: float(v) for k, v in (n.get("Resources") or {}).items()
                                     if k.startswith("kit_")},
                          facts=facts, error=error))
    return sorted(nodes, key=lambda n: (not n.alive, n.name))


def alive_resources() -> list[dict[str, float]]:
    """The resources of every node Ray considers alive now (cheap: no task)."""
    ray = import_ray()
    return [{k: float(v) for k, v in (n.get("Resources") or {}).items()}
            for n in ray.nodes() if n.get("Alive")]


def feasible(needs: dict[str, float], nodes: list[dict[str, float]]) -> bool:
    """Whether one of these nodes has every resource of needs (in the needed amount)."""
    return any(all(res.get(k, 0.0) >= v for k, v in needs.items()) for res in nodes)


def render(nodes: list[Node]) -> str:
    """`kit cluster status` for a person."""
    lines = []
    for n in nodes:
        state = "alive" if n.alive else "dead"
        lines.append(f"{n.name}  {n.ip}  {state}")
        if n.facts:
            f = n.facts
            lines.append(f"  {f.machine}, kit {f.kit_version}, python {f.python}, "
                         f"{f.cpus} cores, {f.mem_available_gb:.0f} GB free, "
                         + (f"docker {f.docker}" if f.docker else "no docker"))
            for g in f.gpus.gpus:
                used = "" if g in n.gpus else "  (not advertised: kit leaves it alone)"
                lines.append(f"  gpu {g.index}: {g.name}, cc {g.cc_text}{used}")
            if not f.gpus.gpus:
                lines.append(f"  no GPU ({f.gpus.error or 'NVML sees none'})")
        elif n.error:
            lines.append(f"  {n.error}")
        if n.kit_ready:
            runs = ", ".join(n.runnable_archs()) or "nothing (no GPU)"
            lines.append(f"  compiles: {n.compile_slots} at once; runs: {runs}")
        elif n.facts:
            lines.append("  not used by kit: started without kit's resources; restart it with "
                         "`kit cluster start`, or add to `ray start`: --resources='"
                         + _json(resources_for(n.facts)) + "'")
    ready = [n for n in nodes if n.alive and n.kit_ready]
    lines.append(f"\n{len(ready)} of {sum(n.alive for n in nodes)} live nodes usable by kit; "
                 f"{sum(n.compile_slots for n in ready)} compile slots, "
                 f"{sum(len(n.gpus) for n in ready)} GPUs")
    return "\n".join(lines)


def _json(data: Any) -> str:
    import json

    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def start_argv(*, head: bool, address: str | None, port: int, resources: dict[str, int],
               extra: tuple[str, ...] = ()) -> list[str]:
    """`ray start` for a node that advertises these resources."""
    import json
    import sys

    argv = [sys.executable, "-m", "ray.scripts.scripts", "start"]
    argv += ["--head", f"--port={port}"] if head else [f"--address={address}"]
    return [*argv, "--resources=" + json.dumps(resources, sort_keys=True),
            "--disable-usage-stats", *extra]
