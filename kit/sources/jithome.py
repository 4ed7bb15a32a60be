"""A CUDA_HOME for JIT compilers (FlashInfer's) made from a `pip:` toolchain, on the host.

A pip toolchain is nvcc, its compiler parts, the runtime and CCCL: enough for kit's own
compiles. FlashInfer's JIT also includes <nvrtc.h>, <cublasLt.h> and <curand_kernel.h>
(TensorRT-LLM's headers) and links `-L$CUDA_HOME/lib64 -L$CUDA_HOME/lib64/stubs -lcudart
-lcuda -lnvrtc`, as a CUDA install has them. This folder lays that out beside the toolchain:
its bin/, nvvm/ and every header and library it has, by link; the NVRTC library and the cuBLAS
and cuRAND headers of the same release, from their wheels; unversioned library names; and a
libcuda.so stub that only the linker sees (at run time the driver's libcuda.so.1 is loaded).
images/prod.Dockerfile does the same inside the prod image.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

from kit.sources.toolchains import ResolvedToolchain
from kit.util import cache, cmd
from kit.util.errors import ToolchainError

# Part of the folder's name: a layout made by an older kit is made again beside it.
LAYOUT_VERSION = 1
# What FlashInfer's JIT build includes and links that a pip toolchain lacks.
NEEDED = ("include/nvrtc.h", "include/cublasLt.h", "include/curand_kernel.h",
          "lib64/libnvrtc.so", "lib64/stubs/libcuda.so")


def home(tc: ResolvedToolchain) -> Path:
    """The JIT CUDA_HOME of a pip toolchain (made once, in kit's cache)."""
    major, minor = (int(p) for p in tc.release.split(".")[:2])
    release = f">={major}.{minor},<{major}.{minor + 1}"
    dest = cache.toolchains() / f"pip-{tc.version}-jit{LAYOUT_VERSION}"

    def build(tmp: Path) -> None:
        wheels = tmp / ".wheels"
        done = cmd.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "--disable-pip-version-check", "-d", wheels,
                        f"nvidia-cuda-nvrtc{release}", f"nvidia-cublas{release}",
                        "nvidia-curand"], timeout=1800)
        if done.returncode != 0:
            raise ToolchainError(
                f"could not fetch NVRTC, cuBLAS and cuRAND for CUDA {tc.release}, which "
                f"FlashInfer's JIT compiles with:\n{done.tail(8)}",
                hint="check that PyPI is reachable, or use a CUDA install: --axis cuda=host")
        _lay_out(tmp, tc.cuda_home, sorted(wheels.glob("*.whl")), major)
        shutil.rmtree(wheels)
        missing = [name for name in NEEDED if not (tmp / name).exists()]
        if missing:  # e.g. a newest cuRAND wheel for another CUDA major: say so now, not
            # after a 20-minute JIT build
            raise ToolchainError(f"the wheels for CUDA {tc.release} gave no {', '.join(missing)}",
                                 hint="use a CUDA install: --axis cuda=host")

    return cache.install_atomically(dest, build)


def _lay_out(root: Path, toolchain: Path, wheels: list[Path], major: int) -> None:
    for name in ("bin", "nvvm"):
        if (toolchain / name).exists():
            (root / name).symlink_to(toolchain / name)
    include, lib = root / "include", root / "lib64"
    for folder, sources in ((include, [toolchain / "include"]),
                            (lib, [toolchain / "lib", toolchain / "lib64"])):
        folder.mkdir()
        for source in sources:
            for entry in sorted(source.glob("*")) if source.is_dir() else []:
                if not (folder / entry.name).exists():
                    (folder / entry.name).symlink_to(entry)
    (root / "lib").symlink_to("lib64")
    prefix = f"nvidia/cu{major}/"
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if not member.startswith(prefix) or member.endswith("/"):
                    continue
                rel = member[len(prefix):]
                if rel.startswith("include/") or rel.startswith("lib/libnvrtc"):
                    target = root / rel.replace("lib/", "lib64/", 1)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if not target.exists():
                        with zf.open(member) as src, target.open("wb") as out:
                            shutil.copyfileobj(src, out)
    for name in ("cudart", "nvrtc"):  # -lNAME wants libNAME.so; wheels ship libNAME.so.13
        plain = lib / f"lib{name}.so"
        found = sorted(lib.glob(f"lib{name}.so.*"))
        if found and not plain.exists():
            plain.symlink_to(found[0].name)
    _libcuda_stub(lib / "stubs")


def _libcuda_stub(stubs: Path) -> None:
    """An empty libcuda.so for `-lcuda`: the module's driver calls stay undefined until the
    loader binds them to the real driver."""
    stubs.mkdir()
    source = stubs / "stub.c"
    source.write_text("void kit_cuda_stub(void) {}\n")
    done = cmd.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o",
                    stubs / "libcuda.so", source], timeout=120)
    source.unlink()
    if done.returncode != 0:
        raise ToolchainError(f"could not build the libcuda.so link stub:\n{done.tail(5)}",
                             hint="install gcc (the host compiler nvcc uses)")
