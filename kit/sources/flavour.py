"""The `prod` image flavour: a toolchain x CUTLASS image plus PyTorch, where python repros
(FlashInfer's CUTLASS fused MoE) install their cell's packages and run.

It is a flavour of the same image, not another matrix axis: a python repro's cells use it, the
C++ repros' cells the plain image. Its recipe is images/prod.Dockerfile on top of the plain
image's tag, so changing PyTorch never rebuilds a toolchain image nor recompiles a C++ cell.
What PyTorch it gets comes from the environment, like KIT_PYTHON on the host:

  KIT_TORCH        the pip requirement (default: `torch==V` for the newest torch wheel in
                   KIT_WHEELS, else `torch`: PyPI's CUDA build)
  KIT_TORCH_INDEX  an index URL for it (e.g. https://download.pytorch.org/whl/cu130)
  KIT_WHEELS       a folder of wheels, copied into the build and given to pip as --find-links
                   (PyTorch without a registry); cells' package installs find-links it too

All three are hashed into the image's tag, KIT_WHEELS by the content of its wheels.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from kit.sources import images
from kit.util.errors import KitError, ToolchainError

NAME = "prod"
DOCKERFILE = Path("images") / "prod.Dockerfile"
DEFAULT_TORCH = "torch"


@dataclass(frozen=True)
class Recipe:
    torch: str = DEFAULT_TORCH
    index: str = ""  # "" = pip's default index
    wheels: Path | None = None
    wheel_files: dict[str, Path] = field(default_factory=dict, repr=False)  # name -> file

    @classmethod
    def from_env(cls) -> Recipe:
        folder = os.environ.get("KIT_WHEELS") or ""
        wheels = Path(folder).expanduser().resolve() if folder else None
        if wheels is not None and not wheels.is_dir():
            raise ToolchainError(f"KIT_WHEELS={folder}: not a folder",
                                 hint="point KIT_WHEELS at a folder of .whl files, or unset it")
        files = {p.name: p for p in sorted(wheels.glob("*.whl")) if p.is_file()} \
            if wheels else {}
        return cls(torch=os.environ.get("KIT_TORCH") or _local_torch(files) or DEFAULT_TORCH,
                   index=os.environ.get("KIT_TORCH_INDEX") or "", wheels=wheels,
                   wheel_files=files)


def _local_torch(wheels: dict[str, Path]) -> str:
    """`torch==V` for the newest torch wheel given: a plain `torch` would take a newer one
    from the index over the wheel the user brought (seen: 2.15.0+cu132 over 2.13.0+cpu)."""
    found = []
    for name in wheels:
        parts = name.split("-")
        if parts[0] == "torch" and len(parts) >= 5:
            with contextlib.suppress(InvalidVersion):
                found.append(Version(parts[1]))
    return f"torch=={max(found)}" if found else ""


def spec(plain: images.ImageSpec, recipe: Recipe, project: Path) -> images.ImageSpec:
    """The prod flavour of `plain` (a toolchain x CUTLASS image), built FROM its tag."""
    try:
        dockerfile = (project / DOCKERFILE).read_bytes()
    except OSError as exc:
        raise ToolchainError(f"{project / DOCKERFILE}: {exc.strerror}",
                             hint="the prod flavour's recipe ships with kit's project folder"
                             ) from None
    # The plain image's toolchain args say where its CUDA came from: a pip toolchain gets
    # the libraries FlashInfer's JIT links against from wheels of the same release.
    args: dict[str, str] = {
        "KIT_IMAGE": plain.tag, "TORCH": recipe.torch, "TORCH_INDEX_URL": recipe.index,
        **{k: plain.buildargs[k] for k in ("TOOLCHAIN", "CUDA_PIP_VERSION")
           if k in plain.buildargs}}
    return images.ImageSpec(
        toolchain=plain.toolchain, cutlass=plain.cutlass, base=plain.tag, buildargs=args,
        flavour=NAME,
        context_files={"Dockerfile": dockerfile, "kit-ca.crt": images.ca_bundle(),
                       # COPY needs the folder even when no wheel is given
                       "wheels/.kit": b""},
        context_paths={f"wheels/{name}": path for name, path in recipe.wheel_files.items()
                       if not name.startswith(per_cell_wheels(project))})


def is_prod(tag: str) -> bool:
    return tag.rpartition(":")[2].startswith(f"{NAME}-")


def folder_name(tag: str) -> str:
    """A folder name for an image's tag (FlashInfer's JIT cache lives in one per image)."""
    return tag.replace("/", "_").replace(":", "_")


@functools.cache
def per_cell_wheels(project: Path) -> tuple[str, ...]:
    """Wheel-name prefixes of the packages python repros install per cell, at the cell's axis
    value (`packages:`, e.g. flashinfer-python): never in the image, so a FlashInfer wheel
    added to KIT_WHEELS changes no image tag (nor loses its JIT cache)."""
    from kit.spec.repros import discover

    try:
        found = discover(project / "repros")
    except KitError:
        return ()
    names = {re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0] for r in found.values()
             for req in r.packages.values()}
    return tuple(re.sub(r"[-_.]+", "_", n).lower() + "-" for n in sorted(names) if n)
