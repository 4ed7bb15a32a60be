"""This machine's CPU architecture, in each naming a tool wants it: kit assumes no x86_64.

A DGX Spark (SM121) is an aarch64 machine; an H100 box is x86_64. Wheels (manylinux tags),
Debian's multiarch library folders and OCI image platforms each spell the same two ways."""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass


@dataclass(frozen=True)
class Arch:
    machine: str  # uname -m: x86_64, aarch64
    oci: str  # an image index's platform: amd64, arm64
    multiarch: str  # Debian's library folder: x86_64-linux-gnu, aarch64-linux-gnu
    wheel: str  # a manylinux wheel tag's suffix: x86_64, aarch64


ARCHES = {
    "x86_64": Arch("x86_64", "amd64", "x86_64-linux-gnu", "x86_64"),
    "aarch64": Arch("aarch64", "arm64", "aarch64-linux-gnu", "aarch64"),
}
_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "armv8": "aarch64"}


def arch(machine: str | None = None) -> Arch:
    """The Arch of `machine` (uname -m or an OCI name), by default this machine's."""
    name = (machine or _platform.machine()).lower()
    name = _ALIASES.get(name, name)
    if name not in ARCHES:
        raise ValueError(f"kit knows x86_64 and aarch64 machines, not {machine}")
    return ARCHES[name]


def wheel_arch(filename: str) -> str | None:
    """The Arch.wheel a Linux wheel is built for; "any" for a pure one; None when it is for
    neither Linux architecture (win_amd64, macosx, ppc64le)."""
    if not filename.endswith(".whl"):
        return None
    if filename.endswith("-any.whl"):
        return "any"
    tags = filename.removesuffix(".whl").split("-")[-1]
    for a in ARCHES.values():
        if "linux" in tags and tags.endswith(a.wheel):
            return a.wheel
    return None
