#!/usr/bin/env python3
"""What running a cell in its container costs over running the same binary on the host.

    python bench/container_overhead.py [--image TAG] [--binary PATH] [--runs 20]

Three ways, the same binary each time (default: a copy of /bin/true, so only the runtime's
own cost is measured; pass a compiled cell binary to include its start-up):
  host        kit's host runtime (a process in its own session)
  runner      kit's Docker runtime: one exec in a long-lived runner container per cell
  container   one locked-down container per cell (kit before the runner; still the path for
              binaries outside the build cache)
Prints the medians and the extra seconds per cell over the host (target: <= 0.3 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kit.runtime.base import RunJob  # noqa: E402
from kit.runtime.docker import DockerRuntime  # noqa: E402
from kit.runtime.host import HostRuntime  # noqa: E402
from kit.sources import images  # noqa: E402
from kit.util import cache  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image", help="an image with a shell and coreutils [a kit image]")
    ap.add_argument("--binary", type=Path, default=Path("/bin/true"))
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    os.environ["KIT_CACHE"] = str(work / "cache")
    client = images.client()
    image = args.image or _a_kit_image(client)
    store = cache.root() / "builds" / "bench"
    store.mkdir(parents=True)
    shutil.copy2(args.binary, store / "bin")
    (store / "image").write_text(image)
    job = RunJob(binary=store / "bin", args=(), gpu_index=0, log=work / "log", timeout=60)

    docker_rt = DockerRuntime(ROOT)
    host_rt = HostRuntime()
    docker_rt.run(job)  # start the runner: once per image and GPU, not per cell
    medians = {
        "host": _median(lambda: host_rt.run(job), args.runs),
        "runner": _median(lambda: docker_rt.run(job), args.runs),
        "container": _median(lambda: docker_rt._run_in_own_container(job), args.runs),
    }
    docker_rt.close()
    print(f"image {image}, binary {args.binary}, {args.runs} runs each (median seconds)")
    for name, value in medians.items():
        extra = value - medians["host"]
        print(f"  {name:<10} {value:7.3f}   +{extra:.3f} s over host"
              + ("   target <= 0.3" if name == "runner" else ""))
    shutil.rmtree(work, ignore_errors=True)


def _median(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        fn()
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def _a_kit_image(client: object) -> str:
    for img in client.images.list(filters={"label": images.LABEL}):  # type: ignore[attr-defined]
        if img.tags:
            return str(img.tags[0])
    sys.exit("no kit image here: `kit images build --preset selftest` first, or pass --image")


if __name__ == "__main__":
    main()
