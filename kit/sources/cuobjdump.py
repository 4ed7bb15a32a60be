"""Which cubins a binary carries and which kernels each holds, read with NVIDIA's cuobjdump.

The host side of a binary (kit.binary, nm) says which kernel stubs exist; the fatbin says
which device images exist for which arch. Together they tell "no image for this GPU" from
"an image exists but the host configures a kernel it never registered".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from kit.util import cache, cmd

# cuobjdump reads older fatbins; the pip wheel exists from CUDA 13.2 on.
WHEEL = "nvidia-cuda-cuobjdump==13.5.37"


def find() -> Path | None:
    """KIT_CUOBJDUMP, then the copy kit installed (a release whose output kit is tested
    against), then PATH, then a CUDA install."""
    candidates = [os.environ.get("KIT_CUOBJDUMP", "")]
    candidates += [str(p) for p in sorted(_installed().glob("nvidia/cu*/bin/cuobjdump"))]
    candidates += [shutil.which("cuobjdump") or "", "/usr/local/cuda/bin/cuobjdump"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def _installed() -> Path:
    return cache.tools() / "cuobjdump"


def ensure() -> Path | None:
    """Install the wheel into kit's cache unless it is there, then find(); offline, any
    cuobjdump on the machine (or None: cubin facts are evidence, never a requirement)."""

    def build(tmp: Path) -> None:
        done = cmd.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--target", tmp, WHEEL], timeout=300)
        if done.returncode != 0:
            raise OSError(done.tail(3))

    failed = _installed().with_suffix(".failed")  # offline: ask pip again a day later
    fresh_failure = failed.is_file() and time.time() - failed.stat().st_mtime < 86400
    if not _installed().is_dir() and not os.environ.get("KIT_CUOBJDUMP") and not fresh_failure:
        try:
            cache.install_atomically(_installed(), build)
        except OSError as exc:
            with contextlib.suppress(OSError):
                failed.write_text(str(exc))
    return find()


def cubins(binary: Path) -> dict[str, Any]:
    """{"cubins": [{"arch": "sm_90a", "kernels": [mangled entry names]}]} or why not."""
    tool = find()
    if tool is None:
        return {"cuobjdump": f"unavailable (pip install {WHEEL}, or put cuobjdump on PATH)"}
    done = cmd.run([tool, "--dump-elf-symbols", binary], timeout=300)
    if done.returncode != 0:
        if "does not contain device code" in done.output:
            return {"cubins": []}
        return {"cuobjdump": f"failed: {done.tail(2)}"}
    return {"cubins": parse_symbols(done.output)}


def parse_symbols(text: str) -> list[dict[str, Any]]:
    """cuobjdump --dump-elf-symbols: one "Fatbin elf code" block per cubin, its `arch = X`
    line, then one row per symbol, a kernel marked ENTRY. Releases spell the row two ways:
    `FUNC LOCAL DEFAULT ENTRY name` (the 13.5 wheel) and `STT_FUNC STB_LOCAL STO_ENTRY name`
    (the CUDA 13.0 toolkit's, seen on an H100 box)."""
    images: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith("Fatbin elf code"):
            images.append({"arch": "", "kernels": []})
        elif images and line.startswith("arch = "):
            images[-1]["arch"] = line.split("=", 1)[1].strip()
        elif images:
            parts = line.split()
            if len(parts) >= 4 and parts[0] in ("FUNC", "STT_FUNC") and (
                    "ENTRY" in parts or "STO_ENTRY" in parts):
                images[-1]["kernels"].append(parts[-1])
    return images
