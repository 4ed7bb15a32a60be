"""`kit images build` and `prune`: the images a selection needs, and the tags the matrix
would use now."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from kit.flows import selection
from kit.flows.selection import Selection
from kit.runtime.base import Runtime
from kit.spec import matrix
from kit.util.errors import KitError


def build_images(sel: Selection, runtime: Runtime) -> list[dict[str, Any]]:
    """Ensure the image of every (toolchain, CUTLASS) pair the selected cells use, and its
    prod flavour where a python repro's cells use that pair."""
    from kit.runtime.docker import DockerRuntime

    assert isinstance(runtime, DockerRuntime)
    m, cells = selection.load(sel)
    out = []
    kinds = {(c.toolchain.name, c.cutlass.name, m.repros[c.repro].kind): c for c in cells}
    for (_, _, kind), c in kinds.items():  # python repros: the pair's prod flavour
        spec = runtime.image_for(c.toolchain, c.cutlass, kind)
        built = runtime.ensure_image(spec)
        out.append({"tag": spec.tag, "built": built, "toolchain": c.toolchain.name,
                    "cutlass": c.cutlass.name, "flavour": spec.flavour})
    return out


def current_image_tags(matrix_path: Path) -> set[str]:
    """The tags the matrix's toolchains would use now (what prune keeps)."""
    from kit.sources import flavour, images
    from kit.spec.model import SourceKind

    m = matrix.load(matrix_path, selection.repros_of(matrix_path))
    project = matrix_path.resolve().parent
    tags = set()
    for tc in m.toolchains.values():
        if tc.kind is SourceKind.HOST:
            continue
        for src in m.cutlass.values():
            try:
                plain = images.spec_for(tc, src, project=project)
            except KitError:
                continue
            tags.add(plain.tag)
            with contextlib.suppress(KitError):  # KIT_WHEELS gone: its prod images are strays
                tags.add(flavour.spec(plain, flavour.Recipe.from_env(), project).tag)
    return tags


def write_lock(matrix_path: Path) -> tuple[Path, dict[str, Any]]:
    """`kit images lock`: wheel pins from PyPI, CUTLASS sha256s, and each image toolchain's
    digest checked against a registry when an engine can ask one (else recorded unverified)."""
    from kit.sources import images, lock

    m = matrix.load(matrix_path, selection.repros_of(matrix_path))
    try:
        client = images.client()
    except KitError:
        client = None
    inspect = client.api.inspect_distribution if client is not None else None
    data = lock.build(m, inspect=inspect)
    return lock.write(matrix_path.resolve().parent, data), data
