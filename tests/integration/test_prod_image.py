"""The prod image flavour against a real engine: PyTorch from a local wheel (KIT_WHEELS), the
production probe's cells compiled (their packages pip-installed) inside it, honestly not run
without a GPU, the launcher run in its runner container, and `kit doctor --image`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import classify, results
from kit.runtime.base import RunJob
from kit.runtime.docker import BUILDS, DockerRuntime
from kit.sources import flavour, images
from kit.spec.model import Outcome
from kit.util import gpu
from tests.integration.conftest import BASE, ROOT, fresh_cache
from tests.integration.conftest import FLASHINFER_JIT as JIT

# CI's machine image carries PyTorch's CPU build for cp311 (the BASE's python); PyPI's default
# torch is the 3 GB CUDA build, too much to download in a test.
TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
# flashinfer-python 0.5.2 and what the probe's cells install with it; without them the pip in
# the compile container takes them from PyPI, as a user's would.
CELL_WHEELS = Path(os.environ.get("KIT_TEST_FLASHINFER_WHEELS", "/work/cache/fiwheels311"))

pytestmark = pytest.mark.skipif(not TORCH_WHEEL.is_file(),
                                reason=f"no PyTorch CPU wheel at {TORCH_WHEEL} to build the "
                                       "prod image from without downloading 3 GB")


def run_kit(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def prod_run(results_dir: Path) -> tuple[int, str]:
    return run_kit("matrix", "run", "--matrix", str(ROOT / "matrix.yaml"), "--preset", "prod",
                   "--runtime", "docker", "--base", BASE, "--results", str(results_dir),
                   "--json")


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    for wheel in [TORCH_WHEEL, *sorted(CELL_WHEELS.glob("*.whl"))]:
        (folder / wheel.name).symlink_to(wheel)
    monkeypatch.setenv("KIT_WHEELS", str(folder))
    monkeypatch.delenv("KIT_TORCH", raising=False)  # the wheel's version is the default
    monkeypatch.delenv("KIT_TORCH_INDEX", raising=False)
    return folder


def test_prod_cells_install_in_the_prod_image_and_say_no_gpu_and_doctor_reads_it(
        engine: Any, wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = fresh_cache(tmp_path)
    monkeypatch.setenv("KIT_CACHE", str(cache_dir))

    started = time.monotonic()
    code, out = run_kit("images", "build", "--matrix", str(ROOT / "matrix.yaml"), "--preset",
                        "prod", "--base", BASE, "--json")
    assert code == 0, out
    (entry,) = json.loads(out)  # one pair, used by python cells only: its prod flavour
    tag = entry["tag"]
    assert entry["flavour"] == "prod" and flavour.is_prod(tag), entry
    print(f"prod image {tag}: {'built' if entry['built'] else 'present'} in "
          f"{time.monotonic() - started:.0f}s, "
          f"{engine.images.get(tag).attrs['Size'] / 1e9:.2f} GB")
    labels = engine.images.get(tag).labels
    assert labels["io.kit.flavour"] == "prod"
    assert labels["io.kit.torch"] == "torch==2.13.0+cpu"  # KIT_WHEELS's torch, not PyPI's
    plain = tag.rpartition(":prod-")[0]
    assert labels["org.opencontainers.image.base.name"].startswith(f"{plain}:")

    code, out = prod_run(tmp_path / "results")
    assert code == 0, out
    run = results.find(tmp_path / "results", None)
    cells = run.load().results
    assert {c.axes["arch"] for c in cells} == {"sm_90a", "sm_121a"}
    if not gpu.detect().present:  # compiled for real, never run: no GPU here
        assert all(c.outcome is Outcome.NO_GPU for c in cells), [c.reason for c in cells]
    manifest = run.manifest()
    assert tag in manifest["images"]
    # The re-run line carries what chose the image's PyTorch: without it, another image.
    assert manifest["environment"] == {"KIT_WHEELS": str(wheels)}
    assert manifest["command"].startswith(f"KIT_WHEELS={wheels} kit matrix run ")
    stores = [cache_dir / "builds" / c["compile_key"] for c in manifest["cells"]]
    for store in stores:
        assert (store / "site" / "flashinfer" / "__init__.py").is_file()
        assert (store / "bin").read_text().splitlines()[0] == "#!/usr/bin/python3"
        assert (store / "image").read_text() == tag
        log = (store / "compile.log").read_text()
        # pip ran in the container: the image's kit-pip, the build folder at its mount point
        assert "$ kit-pip install" in log and "--target /kit/out/site" in log, log
        assert "flashinfer-python==0.5.2" in log
    assert not engine.containers.list(all=True, filters={"label": images.LABEL})

    # A second run, its builds made again (a fresh cache), uses the same image as it is.
    image_id = engine.images.get(tag).id
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path, "cache2")))
    code, out = prod_run(tmp_path / "results2")
    assert code == 0, out
    again = results.find(tmp_path / "results2", None)
    assert again.manifest()["images"] == manifest["images"]
    assert engine.images.get(tag).id == image_id
    assert [c["compile_key"] for c in again.manifest()["cells"]] == \
           [c["compile_key"] for c in manifest["cells"]]
    monkeypatch.setenv("KIT_CACHE", str(cache_dir))

    # The launcher runs in the image's runner container, its JIT cache mounted per image;
    # with no GPU there the probe says so.
    store = stores[0]
    runtime = DockerRuntime(ROOT, base=BASE)
    try:
        done = runtime.run(RunJob(binary=store / "bin", args=("--experts", "2"), gpu_index=0,
                                  log=tmp_path / "run.log", timeout=300))
        # What the probe does next on a GPU, with the launcher's environment: import the
        # cell's FlashInfer with the image's PyTorch and JIT-compile a module into the image's
        # cache (a small one: FP4 quantization for SM90, linked with -lnvrtc as the fused
        # MoE's is).
        started = time.monotonic()
        jit = runtime.probe(tag, ["python3", "-c", JIT, str(BUILDS / store.name / "bin")],
                            volumes={str(cache_dir / "builds"): {"bind": str(BUILDS),
                                                                  "mode": "ro"},
                                     **runtime.image_cache(tag)}, timeout=900)
        print(f"FlashInfer JIT of fp4_quantization_90 in the prod image: "
              f"{time.monotonic() - started:.0f}s")
    finally:
        runtime.close()
    line = next(ln for ln in done.output.splitlines() if ln.startswith("KIT_RESULT "))
    data = json.loads(line.removeprefix("KIT_RESULT "))
    assert data["versions"]["torch"] == "2.13.0+cpu"
    verdict = classify.run_result(done.returncode, done.output, False, 300.0, {}, {})
    assert verdict.outcome is Outcome.NO_GPU, verdict.reason
    assert jit.returncode == 0 and "JIT ok 0.5.2 2.13.0+cpu" in jit.output, jit.output
    jit_cache = cache_dir / "images" / flavour.folder_name(tag) / "flashinfer-jit" / "cuda13.0"
    assert list(jit_cache.rglob("fp4_quantization_90.so")), "not in the image's own cache"

    code, out = run_kit("doctor", "--image", tag, "--json")
    assert code == 0, out
    (report,) = json.loads(out)["images"]
    assert report["packages"]["torch"] == "2.13.0+cpu"
    fi_versions = {b["packages"]["flashinfer-python"] for b in report["builds"].values()}
    assert fi_versions == {"0.5.2"}, report
    code, text = run_kit("doctor", "--image", tag)
    assert code == 0 and "torch 2.13.0+cpu" in text and "flashinfer-python 0.5.2" in text, text
