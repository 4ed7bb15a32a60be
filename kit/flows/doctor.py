"""`kit doctor`: what this machine can do for a matrix, in plain words. Never fails."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kit.runtime.host import repro_python
from kit.sources import cutlass_src, toolchains
from kit.spec.model import SourceKind, Toolchain
from kit.util import cache, cmd, gpu
from kit.util.errors import KitError, ToolchainError


@dataclass
class Report:
    gpus: gpu.GpuReport
    toolchains: list[dict[str, Any]] = field(default_factory=list)
    docker: dict[str, Any] = field(default_factory=dict)
    cutlass: list[dict[str, str]] = field(default_factory=list)
    python: dict[str, Any] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)  # `kit doctor --image TAG`

    def to_dict(self) -> dict[str, Any]:
        runnable = sorted({a for g in self.gpus.gpus
                           for a in gpu.runnable_archs(g.cc, gpu.INTERESTING_ARCHS)})
        return {
            "gpu": self.gpus.to_dict(),
            "sm12x_present": any(g.is_sm12x for g in self.gpus.gpus),
            "runnable_archs": runnable,
            "toolchains": self.toolchains,
            "docker": self.docker,
            "cutlass_cached": self.cutlass,
            "python": self.python,
            "images": self.images,
            "cache": str(cache.root()),
        }


def examine(image_tags: tuple[str, ...] = ()) -> Report:
    return Report(gpus=gpu.detect(), toolchains=_toolchains(), docker=_docker(),
                  cutlass=_cutlass(), python=_python(),
                  images=[image(tag) for tag in image_tags])


# What python repros (the production probe) import, and what pins what: vllm pins flashinfer,
# flashinfer bundles its own CUTLASS.
PRODUCTION_PACKAGES = ("torch", "flashinfer-python", "vllm", "nvidia-cutlass",
                       "nvidia-cutlass-dsl")
# Run by the interpreter it asks about (KIT_PYTHON's, an image's python3): the versions it
# imports, and those of each cell build's own packages named in KIT_SITES, with the CUTLASS a
# FlashInfer there bundles.
_VERSIONS = """\
import importlib.metadata as m, json, os, re, sys
names = sys.argv[1:]
def dist(name, site=None):
    if site:
        return next(iter(m.distributions(name=name, path=[site])), None)
    try:
        return m.distribution(name)
    except m.PackageNotFoundError:
        return None
def cutlass(site):
    d = dist("flashinfer-python", site)
    try:
        text = open(d.locate_file("flashinfer/data/cutlass/include/cutlass/version.h")).read()
    except (AttributeError, OSError):
        return None
    parts = [re.search("#define CUTLASS_" + k + r" (\\d+)", text)
             for k in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(p.group(1) for p in parts) if all(parts) else None
def report(site=None):
    return {"packages": {n: getattr(dist(n, site), "version", None) for n in names},
            "flashinfer_cutlass": cutlass(site)}
sites = [s for s in os.environ.get("KIT_SITES", "").split(os.pathsep) if s]
print(json.dumps({"python": sys.version.split()[0], **report(),
                  "sites": {s: report(s) for s in sites}}))
"""


def _python() -> dict[str, Any]:
    """The interpreter python repros run with (KIT_PYTHON, else kit's) and the versions of
    the production stack it can import."""
    try:
        exe = repro_python()
    except ToolchainError:
        return {"interpreter": os.environ.get("KIT_PYTHON", ""),
                "error": "cannot start it: no such interpreter (KIT_PYTHON picks another)"}
    try:
        done = cmd.run([exe, "-c", _VERSIONS, *PRODUCTION_PACKAGES], timeout=60)
    except OSError as exc:
        return {"interpreter": exe, "error": f"cannot start it: {exc.strerror}"}
    found = _versions(done)
    found.pop("sites", None)
    return {"interpreter": exe, **found}


def _versions(done: cmd.Completed) -> dict[str, Any]:
    if done.returncode != 0 or done.timed_out:
        return {"error": done.tail(2)}
    try:
        data: dict[str, Any] = json.loads(done.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": done.tail(2)}
    return data


def image(tag: str) -> dict[str, Any]:
    """The production stack of an image (the prod flavour's PyTorch) and of each cell build
    installed in it (its FlashInfer), by the probe above run in a locked-down container."""
    from kit.runtime import docker as rt

    out: dict[str, Any] = {"image": tag}
    try:
        runtime = rt.DockerRuntime(Path.cwd())
    except KitError as exc:
        return {**out, "error": exc.message.splitlines()[0]}
    with contextlib.closing(runtime):
        from docker.errors import DockerException, ImageNotFound

        try:
            labels = runtime.client.images.get(tag).labels or {}
        except ImageNotFound:
            return {**out, "error": "no such image on this engine (`kit images list` shows "
                                    "kit's; `kit images build --preset prod` builds one)"}
        except DockerException as exc:
            return {**out, "error": str(exc).splitlines()[0][:200]}
        out |= {"flavour": labels.get("io.kit.flavour", ""),
                "torch_requirement": labels.get("io.kit.torch", ""),
                "cutlass": labels.get("io.kit.cutlass", "")}
        builds = cache.builds()
        made_here = sorted(p.parent.name for p in builds.glob("*/image")
                           if p.read_text().strip() == tag and (p.parent / "site").is_dir())
        sites = {str(rt.BUILDS / key / "site"): key for key in made_here}
        try:
            done = runtime.probe(
                tag, ["python3", "-c", _VERSIONS, *PRODUCTION_PACKAGES],
                volumes={str(builds): {"bind": str(rt.BUILDS), "mode": "ro"}} if sites else {},
                env={"KIT_SITES": os.pathsep.join(sites)})
        except KitError as exc:
            return {**out, "error": exc.message.splitlines()[0]}
    found = _versions(done)
    found["builds"] = {sites[site]: data for site, data in found.pop("sites", {}).items()}
    return {**out, "interpreter": str(PurePosixPath(rt.PYTHON)), **found}


def _toolchains() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    homes = [("host", h) for h in toolchains.find_host_homes()]
    pip_root = cache.toolchains()
    homes += [("pip", p.parent.parent) for p in sorted(pip_root.glob("pip-*/nvidia/cu*/bin/nvcc"))]
    for kind, home in homes:
        tc = Toolchain(name=home.name, kind=SourceKind(kind), ref=str(home))
        try:
            r = toolchains.probe(tc, home)
        except KitError as exc:
            found.append({"kind": kind, "path": str(home), "error": exc.format_message()})
            continue
        found.append({"kind": kind, "path": str(home), "version": r.version,
                      "targets": [a for a in gpu.INTERESTING_ARCHS if r.can_target(a)]})
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
    root = cache.cutlass()
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
        runnable = ", ".join(d["runnable_archs"]) or "none of " + ", ".join(gpu.INTERESTING_ARCHS)
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
        lines.append(f"python {py['python']} for python repros ({py['interpreter']}): "
                     f"{_have(py)} (KIT_PYTHON picks another)")
    for im in d["images"]:
        lines += _render_image(im)
    if d["cutlass_cached"]:
        for c in d["cutlass_cached"]:
            lines.append(f"CUTLASS {c['version']} cached at {c['folder']}")
    else:
        lines.append(f"CUTLASS: nothing cached yet under {d['cache']}")
    return "\n".join(lines)


def _have(found: dict[str, Any]) -> str:
    have = ", ".join(f"{n} {v}" for n, v in found["packages"].items() if v) or \
        f"none of {', '.join(found['packages'])} installed (the production probe needs torch)"
    bundled = found.get("flashinfer_cutlass")
    return have + (f" (FlashInfer bundles CUTLASS {bundled})" if bundled else "")


def _render_image(im: dict[str, Any]) -> list[str]:
    if im.get("error"):
        return [f"image {im['image']}: broken: {im['error']}"]
    what = f"{im['flavour']} flavour, " if im.get("flavour") else ""
    lines = [f"image {im['image']} ({what}CUTLASS {im['cutlass'] or '?'}): python "
             f"{im['python']}: {_have(im)}"]
    for key, build in im["builds"].items():
        lines.append(f"  cell build {key}: {_have(build)}")
    if not im["builds"] and im.get("flavour"):
        lines.append("  no cell build installed in it yet (kit matrix run --runtime docker)")
    return lines
