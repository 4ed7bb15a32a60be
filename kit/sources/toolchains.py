"""Turn a Toolchain from matrix.yaml into a usable nvcc on this machine.

`host:` finds a local CUDA; `pip:` installs the nvidia-cuda-nvcc wheels (with crt, nvvm,
runtime and cccl of the same release: pip would otherwise pair nvcc with the newest crt/nvvm
and ptxas fails with "Unsupported .version") into the cache, one folder per version.
`image:` and `apt:` toolchains live in Docker images and need the Docker runtime.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from kit.spec.model import SourceKind, Toolchain
from kit.util import cache, cmd
from kit.util.errors import ToolchainError

_RELEASE = re.compile(r"release (\d+\.\d+), V([\d.]+)")


@dataclass(frozen=True, kw_only=True)
class ResolvedToolchain:
    toolchain: Toolchain
    nvcc: Path
    cuda_home: Path
    version: str  # full nvcc version, e.g. 13.0.88
    release: str  # 13.0
    gpu_codes: tuple[str, ...]  # sm_XX this nvcc can target (from --list-gpu-code)
    host_compiler: str  # e.g. g++-12.2.0: it compiles the host side, and it matters

    @property
    def identity(self) -> str:
        """What makes two toolchains produce the same binaries."""
        return f"{self.toolchain.kind.value}:nvcc-{self.version}+{self.host_compiler}"

    def link_args(self) -> list[str]:
        lib = self.cuda_home / "lib"
        lib64 = self.cuda_home / "lib64"
        return [f"-L{d}" for d in (lib, lib64) if d.is_dir()]

    def can_target(self, arch: str) -> bool:
        """sm_121a / sm_120f need the base code sm_121 / sm_120 in --list-gpu-code."""
        return re.sub(r"[af]$", "", arch) in self.gpu_codes


def resolve(tc: Toolchain) -> ResolvedToolchain:
    if tc.kind is SourceKind.HOST:
        home = _host_home(tc.ref)
    elif tc.kind is SourceKind.PIP:
        home = _pip_home(tc.ref)
    else:
        raise ToolchainError(
            f"toolchain '{tc.name}' ({tc.spec}) lives in a Docker image",
            hint="use --runtime docker, or another column with --axis cuda=NAME (a host: "
                 "or pip: toolchain)",
        )
    return probe(tc, home)


def probe(tc: Toolchain, home: Path) -> ResolvedToolchain:
    nvcc = home / "bin" / "nvcc"
    done = cmd.run([nvcc, "--version"], timeout=60)
    m = _RELEASE.search(done.output)
    if done.returncode != 0 or not m:
        raise ToolchainError(f"{nvcc} --version failed:\n{done.tail()}")
    codes = cmd.run([nvcc, "--list-gpu-code"], timeout=60)
    gpu_codes = tuple(codes.output.split()) if codes.returncode == 0 else ()
    return ResolvedToolchain(toolchain=tc, nvcc=nvcc, cuda_home=home, version=m.group(2),
                             release=m.group(1), gpu_codes=gpu_codes,
                             host_compiler=host_compiler())


@functools.cache
def host_compiler() -> str:
    """The host C++ compiler nvcc will call (g++ on PATH), as name-version.

    Part of every toolchain's identity: the same nvcc with another g++ can turn a kernel
    declared inside a function template from a compile error into a build, or into a binary
    whose launch names an unregistered kernel."""
    cxx = shutil.which("g++")
    if cxx is None:
        return "no-g++"
    done = cmd.run([cxx, "-dumpfullversion", "-dumpversion"], timeout=30)
    version = done.output.strip().splitlines()[0] if done.returncode == 0 and done.output else "?"
    return f"g++-{version}"


def find_host_homes() -> list[Path]:
    """CUDA installations visible on this machine, most specific first, without duplicates."""
    seen: list[Path] = []
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    on_path = shutil.which("nvcc")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent.parent))
    candidates += ["/usr/local/cuda", *sorted(map(str, Path("/usr/local").glob("cuda-*")))]
    for c in candidates:
        if c and (Path(c) / "bin" / "nvcc").is_file():
            p = _wrapped_home(Path(c).resolve())
            if p not in seen:
                seen.append(p)
    return seen


def _wrapped_home(home: Path) -> Path:
    """A bin/nvcc that is a small script exec'ing another CUDA's nvcc (a /usr/local/bin
    wrapper) stands for that CUDA: one toolkit, listed once."""
    nvcc = home / "bin" / "nvcc"
    try:
        if nvcc.stat().st_size > 4096:
            return home
        head = nvcc.read_bytes()
    except OSError:
        return home
    if not head.startswith(b"#!"):
        return home
    m = re.search(rb"exec\s+[\"']?(/\S+?)/bin/nvcc\b", head)
    if m is not None and (Path(m.group(1).decode()) / "bin" / "nvcc").is_file():
        return Path(m.group(1).decode()).resolve()
    return home


def _host_home(ref: str) -> Path:
    if ref != "auto":
        home = Path(ref).expanduser()
        if not (home / "bin" / "nvcc").is_file():
            raise ToolchainError(f"no nvcc at {home}/bin/nvcc",
                                 hint="point host: at a CUDA_HOME (the folder holding bin/nvcc)")
        return home
    homes = find_host_homes()
    if not homes:
        raise ToolchainError(
            "no local CUDA toolkit found (CUDA_HOME, PATH, /usr/local/cuda)",
            hint="install one, or use a pip: toolchain, which kit installs itself",
        )
    return homes[0]


def pip_packages(version: str) -> list[str]:
    """The wheels of one CUDA release, pinned together: nvcc, crt and nvvm exactly, the
    runtime within the release, and CCCL's headers at the newest release not newer than it
    (CCCL stopped publishing one wheel per CUDA release after 13.2)."""
    major, minor = (int(p) for p in version.split(".")[:2])
    return [
        f"nvidia-cuda-nvcc=={version}",
        f"nvidia-cuda-crt=={version}",
        f"nvidia-nvvm=={version}",
        f"nvidia-cuda-runtime>={major}.{minor},<{major}.{minor + 1}",
        f"nvidia-cuda-cccl>={major}.0,<{major}.{minor + 1}",
    ]


def pip_dir(version: str) -> Path:
    return cache.toolchains() / f"pip-{version}"


def _pip_home(version: str) -> Path:
    def build(tmp: Path) -> None:
        done = cmd.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--target", tmp, *pip_packages(version)],
                       timeout=1800)
        if done.returncode != 0:
            raise ToolchainError(
                f"could not install CUDA {version} from PyPI:\n{done.tail(15)}",
                hint="check the version exists (`pip index versions nvidia-cuda-nvcc`) "
                     "and that PyPI is reachable",
            )

    dest = cache.install_atomically(pip_dir(version), build)
    homes = sorted(dest.glob("nvidia/cu*/bin/nvcc"))
    if not homes:
        raise ToolchainError(f"{dest}: the wheels installed no nvcc",
                             hint=f"remove {dest} and try again")
    return homes[0].parent.parent
