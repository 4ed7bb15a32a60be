"""`kit doctor`: what this machine can do for a matrix, in plain words. Never fails."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from kit import cache, cmd, cutlass_src, gpu, toolchains
from kit.errors import KitError
from kit.model import SourceKind, Toolchain

INTERESTING_ARCHS = ["sm_80", "sm_89", "sm_90a", "sm_100a", "sm_120a", "sm_121a", "sm_120f"]


@dataclass
class Report:
    gpus: gpu.GpuReport
    toolchains: list[dict[str, Any]] = field(default_factory=list)
    docker: dict[str, Any] = field(default_factory=dict)
    cutlass: list[dict[str, str]] = field(default_factory=list)
    python: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        runnable = sorted({a for g in self.gpus.gpus
                           for a in gpu.runnable_archs(g.cc, INTERESTING_ARCHS)})
        return {
            "gpu": self.gpus.to_dict(),
            "sm12x_present": any(g.is_sm12x for g in self.gpus.gpus),
            "runnable_archs": runnable,
            "toolchains": self.toolchains,
            "docker": self.docker,
            "cutlass_cached": self.cutlass,
            "python": self.python,
            "cache": str(cache.root()),
        }


def examine() -> Report:
    return Report(gpus=gpu.detect(), toolchains=_toolchains(), docker=_docker(),
                  cutlass=_cutlass(), python=_python())


# What python repros (the production probe) import, and what pins what: vllm pins flashinfer,
# flashinfer bundles its own CUTLASS.
PRODUCTION_PACKAGES = ("torch", "flashinfer-python", "vllm", "nvidia-cutlass",
                       "nvidia-cutlass-dsl")
_VERSIONS = ("import importlib.metadata as m, json, sys\n"
             "def v(n):\n"
             "    try: return m.version(n)\n"
             "    except m.PackageNotFoundError: return None\n"
             "print(json.dumps({'python': sys.version.split()[0], "
             "'packages': {n: v(n) for n in sys.argv[1:]}}))")


def _python() -> dict[str, Any]:
    """The interpreter python repros run with (KIT_PYTHON, else kit's) and the versions of
    the production stack it can import."""
    exe = os.environ.get("KIT_PYTHON") or sys.executable
    try:
        done = cmd.run([exe, "-c", _VERSIONS, *PRODUCTION_PACKAGES], timeout=60)
    except OSError as exc:
        return {"interpreter": exe, "error": f"cannot start it: {exc.strerror}"}
    if done.returncode != 0:
        return {"interpreter": exe, "error": done.tail(2)}
    try:
        data: dict[str, Any] = json.loads(done.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"interpreter": exe, "error": done.tail(2)}
    return {"interpreter": exe, **data}


def _toolchains() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    homes = [("host", h) for h in toolchains.find_host_homes()]
    pip_root = cache.root() / "toolchains"
    homes += [("pip", p.parent.parent) for p in sorted(pip_root.glob("pip-*/nvidia/cu*/bin/nvcc"))]
    for kind, home in homes:
        tc = Toolchain(name=home.name, kind=SourceKind(kind), ref=str(home))
        try:
            r = toolchains.probe(tc, home)
        except KitError as exc:
            found.append({"kind": kind, "path": str(home), "error": exc.format_message()})
            continue
        found.append({"kind": kind, "path": str(home), "version": r.version,
                      "targets": [a for a in INTERESTING_ARCHS if r.can_target(a)]})
    return found


def _docker() -> dict[str, Any]:
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return {"reachable": False, "why": "the docker Python SDK is not installed"}
    try:
        from kit.runtime.docker import gpu_access

        client = docker.from_env(timeout=5)
        try:
            version = client.version()
            runtimes = sorted((client.info().get("Runtimes") or {}).keys())
            access = gpu_access(client)
        finally:
            client.close()
        return {"reachable": True, "version": version.get("Version", "?"), "runtimes": runtimes,
                "gpu_passthrough": access.mode, "gpu_passthrough_detail": access.detail}
    except DockerException as exc:
        return {"reachable": False,
                "why": f"{exc}".splitlines()[0][:200],
                "hint": "install an engine (Debian: apt-get install docker.io) and start dockerd;"
                        " kit uses the host runtime meanwhile"}


def _cutlass() -> list[dict[str, str]]:
    root = cache.root() / "cutlass"
    return [{"folder": str(p), "version": cutlass_src.read_version(p)}
            for p in sorted(root.glob("*-*")) if (p / "include").is_dir()]


def render(report: Report) -> str:
    d = report.to_dict()
    lines = []
    g = d["gpu"]
    if g["gpus"]:
        for x in g["gpus"]:
            optin = x.get("smem_optin_bytes")
            lines.append(f"GPU {x['index']}: {x['name']}, compute capability {x['cc']}, "
                         f"{x['memory_mib']} MiB"
                         + (f", opt-in shared memory/block {optin:,} B" if optin else ""))
        lines.append(f"  driver {g['driver']}, supports CUDA up to {g['cuda_driver']}")
        lines.append("  SM12x (SM120/SM121) part present: " + ("yes" if d["sm12x_present"]
                     else "no — SM12x cells will be compiled and reported skipped_arch"))
        runnable = ", ".join(d["runnable_archs"]) or "none of " + ", ".join(INTERESTING_ARCHS)
        lines.append(f"  can run: {runnable}")
    else:
        lines.append(f"GPU: none ({g['error'] or 'NVML saw no device'}) — cells compile and "
                     "record no_gpu")
    if d["toolchains"]:
        for t in d["toolchains"]:
            if "error" in t:
                lines.append(f"nvcc ({t['kind']}) {t['path']}: broken: {t['error']}")
            else:
                lines.append(f"nvcc {t['version']} ({t['kind']}) {t['path']}: targets "
                             f"{', '.join(t['targets'])}")
    else:
        lines.append("nvcc: none found — pip: toolchains in matrix.yaml are installed on first use")
    dk = d["docker"]
    if dk.get("reachable"):
        lines.append(f"Docker engine {dk['version']} reachable (runtimes: "
                     f"{', '.join(dk.get('runtimes', [])) or '?'})")
        lines.append(f"  GPU passthrough: {dk['gpu_passthrough']} "
                     f"({dk['gpu_passthrough_detail']})")
    else:
        lines.append(f"Docker engine: not reachable: {dk.get('why')}")
        if dk.get("hint"):
            lines.append(f"  hint: {dk['hint']}")
    py = d["python"]
    if py.get("error"):
        lines.append(f"python for python repros ({py['interpreter']}): broken: {py['error']}")
    elif py:
        have = ", ".join(f"{n} {v}" for n, v in py["packages"].items() if v) or "none"
        lines.append(f"python {py['python']} for python repros ({py['interpreter']}): {have} "
                     "(KIT_PYTHON picks another)")
    if d["cutlass_cached"]:
        for c in d["cutlass_cached"]:
            lines.append(f"CUTLASS {c['version']} cached at {c['folder']}")
    else:
        lines.append(f"CUTLASS: nothing cached yet under {d['cache']}")
    return "\n".join(lines)
