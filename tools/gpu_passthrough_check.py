"""Show GPU passthrough of kit's Docker runtime on a machine that has a GPU and an engine but
cannot build kit's images (no registry, no PyPI): binaries compiled by the host runtime are
run through DockerRuntime.run in a minimal image made of the host's own C/C++ runtime
libraries, with the GPU reached as kit reaches it (NVIDIA container toolkit, else device
nodes + driver libraries). Prints one JSON line per binary: the outcome and the KIT_RESULT
device seen from inside the container.

    python3 tools/gpu_passthrough_check.py RESULTS_DIR    # a run folder of the host runtime
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from kit.engine import classify, results
from kit.runtime.base import RunJob
from kit.runtime.docker import DockerRuntime
from kit.spec.repros import load
from kit.util import cache, cmd

TAG = "kit-run/hostlibs:latest"


def hostlibs_image(client: object, binary: Path, driver_libs: list[str]) -> str:
    """An image holding just what the binary and the driver's libraries link against (plus
    the loader): no shell, no tools. The driver libraries themselves are bind-mounted."""
    done = cmd.run(["ldd", binary, *driver_libs])
    paths = {p for p in done.output.split() if p.startswith("/") and not p.endswith(":")}
    paths -= set(driver_libs)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(paths):
            tar.add(str(Path(p).resolve()), arcname=p.lstrip("/"))
        for d in ("tmp", "kit/bin"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777
            tar.addfile(info)
    client.api.import_image_from_data(  # type: ignore[attr-defined]
        buf.getvalue(), repository=TAG.split(":")[0], tag="latest")
    return TAG


def main(run_path: Path) -> int:
    run = results.RunDir(run_path)
    rt = DockerRuntime(Path.cwd())
    print(json.dumps({"passthrough": rt.access().mode, "detail": rt.access().detail}))
    tag = ""
    for r in run.load().results:
        if r.outcome.value in ("skipped_arch", "no_gpu", "compile_error") or not r.binary:
            continue
        store = cache.root() / "builds" / r.binary
        work = Path(tempfile.mkdtemp())
        work.chmod(0o755)
        shutil.copy2(store / "bin", work / "bin")
        tag = tag or hostlibs_image(rt.client, work / "bin", list(rt.access().volumes))
        (work / "image").write_text(tag)
        job = RunJob(binary=work / "bin", args=tuple(_args(run, r.cell_id)), gpu_index=0,
                     log=work / "log", timeout=60)
        done = rt.run(job)
        v = classify.run_result(done.returncode, done.output, done.timed_out, 60)
        device = (v.kit_result or {}).get("device", {})
        print(json.dumps({"cell": r.label, "host_outcome": r.outcome.value,
                          "container_outcome": v.outcome.value, "reason": v.reason,
                          "device_in_container": device}))
    rt.close()
    return 0


def _args(run: results.RunDir, cell_id: str) -> list[str]:
    for step in run.manifest().get("cells", []):
        if step["cell_id"] == cell_id:
            spec = Path("repros") / step["axes"]["repro"] / "repro.yaml"
            return list(load(spec).run_args)
    return []


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
