from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.sources import images
from kit.util.errors import EngineError

ROOT = Path(__file__).resolve().parents[2]
# The Docker tests' base image: a minimal Debian from its own packages (no registry needed).
BASE = "kit-test/bookworm:minbase"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


# A FlashInfer JIT build of a small module (fp4 quantization, SM90), run with a python repro
# launcher's own setup (its environment, sys.path, PATH) first: argv[1] is the launcher.
FLASHINFER_JIT = """\
import os, sys
launcher = sys.argv[1]
text = open(launcher).read()
exec(compile(text[:text.index("script = ")], launcher, "exec"), {"__file__": launcher})
os.environ.update(FLASHINFER_CUDA_ARCH_LIST="9.0a", FLASHINFER_EXTRA_LDFLAGS="-lnvrtc")
import flashinfer, torch, tvm_ffi
from flashinfer.jit.fp4_quantization import gen_fp4_quantization_sm90_module
spec = gen_fp4_quantization_sm90_module()
spec.build(verbose=False)
tvm_ffi.load_module(str(spec.get_library_path()))
print("JIT ok", flashinfer.__version__, torch.__version__)
for line in open("/proc/self/maps"):
    if "libcudart.so" in line:
        print("cudart:", line.split()[-1])
        break
"""


def fresh_cache(tmp_path: Path, name: str = "cache") -> Path:
    """A KIT_CACHE with empty build, object and result caches (so compiles are real and take
    seconds), sharing the toolchains, CUTLASS trees and tools the session already installed."""
    shared, cache = Path(os.environ["KIT_CACHE"]), tmp_path / name
    cache.mkdir()
    for part in ("toolchains", "cutlass", "tools"):
        (shared / part).mkdir(parents=True, exist_ok=True)
        (cache / part).symlink_to(shared / part)
    return cache


def selftest_project(tmp_path: Path, axes: str) -> Path:
    """A matrix of the real harness_selftest repro (compiles in seconds) in a fresh folder."""
    (tmp_path / "repros").symlink_to(ROOT / "repros")
    path = tmp_path / "matrix.yaml"
    path.write_text(textwrap.dedent("""\
        toolchains:
          cuda13.0: {pip: "13.0.88"}
        cutlass:
          "4.2": {pypi: "4.2.0.0"}
        axes:
          repro: [harness_selftest]
        """) + textwrap.indent(textwrap.dedent(axes), "  "))
    return path


@pytest.fixture(scope="module")  # each module its own client: one test restarts dockerd
def engine() -> Iterator[Any]:
    """A real Docker engine with BASE imported (debootstrap, then `docker import`); skipped
    without an engine unless KIT_REQUIRE_DOCKER is set, as CI sets it."""
    try:
        client = images.client()
    except EngineError as exc:
        if os.environ.get("KIT_REQUIRE_DOCKER"):
            raise
        pytest.skip(f"no Docker engine: {exc.message}")
    if not images.exists(client, BASE):
        rootfs = Path(f"/tmp/kit-test-rootfs-{os.getpid()}")
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs),
                        "http://deb.debian.org/debian"], check=True, capture_output=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, check=True,
                       capture_output=True)
        tar.wait()
        shutil.rmtree(rootfs)
    yield client
    client.close()
