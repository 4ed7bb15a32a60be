"""A python repro (the production probe) through kit for real: its packages installed from
PyPI into the build, a launcher in the binary's place, the script's KIT_RESULT classified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit.engine import classify, results
from tests.integration.conftest import FLASHINFER_JIT, ROOT, fresh_cache


def test_the_prod_preset_installs_flashinfer_and_says_no_gpu_or_runs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kit", "matrix", "run", "--matrix",
                           str(ROOT / "matrix.yaml"), "--preset", "prod", "--runtime", "host",
                           "--results", str(tmp_path / "results"), "--json"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    run = results.find(tmp_path / "results", None)
    cells = {r.axes["arch"]: r for r in run.load().results}
    assert set(cells) == {"sm_90a", "sm_121a"}
    for cell in cells.values():
        assert cell.outcome.value in ("no_gpu", "skipped_arch", "ok", "wrong_result",
                                      "init_error_internal", "infra_error"), cell.reason
    built = Path(json.loads((run.path / "manifest.json").read_text())["cells"][0]["compile_key"])
    from kit.util import cache
    store = cache.root() / "builds" / built.name
    assert (store / "site" / "flashinfer" / "__init__.py").is_file()
    assert "flashinfer-python==0.5.2" in (store / "compile.log").read_text()

    # The launcher is the cell's program: it runs the probe with the cell's knobs and arch.
    ran = subprocess.run([store / "bin", "--experts", "2"], capture_output=True, text=True,
                         timeout=600)
    line = next(ln for ln in ran.stdout.splitlines() if ln.startswith("KIT_RESULT "))
    data = json.loads(line.removeprefix("KIT_RESULT "))
    assert data["knobs"] == {"flashinfer": "0.5.2", "path": "auto", "quantizer": "flashinfer",
                             "vllm": "none"}
    verdict = classify.run_result(ran.returncode, ran.stdout, False, 60.0, {}, {})
    if data["stage"] == "import":  # no PyTorch in this interpreter: kit's fault, not FlashInfer's
        assert verdict.outcome.value == "infra_error" and verdict.evidence.cause == "import"
    else:  # PyTorch but no GPU: the probe says so
        assert verdict.outcome.value in ("no_gpu", "skipped_arch"), verdict.reason


def test_doctor_names_the_python_that_runs_python_repros_and_its_production_stack(
        tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kit", "doctor", "--json"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "KIT_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr
    py = json.loads(done.stdout)["python"]
    assert py["interpreter"] == sys.executable
    assert set(py["packages"]) == {"torch", "flashinfer-python", "vllm", "nvidia-cutlass",
                                   "nvidia-cutlass-dsl"}
    missing = subprocess.run([sys.executable, "-m", "kit", "doctor"], capture_output=True,
                             text=True, timeout=120,
                             env={**os.environ, "KIT_PYTHON": str(tmp_path / "no-python")})
    assert missing.returncode == 0
    assert "broken: cannot start it" in missing.stdout


def test_a_vllm_release_brings_its_flashinfer_pin_and_a_version_without_a_wheel_says_so(
        tmp_path: Path) -> None:
    # vLLM 0.11.0 pins FlashInfer 0.3.1, which PyPI has only as an sdist: kit installs wheels
    # only, so the cell fails fast and says why instead of building PyTorch to build it.
    done = subprocess.run([sys.executable, "-m", "kit", "matrix", "run", "--matrix",
                           str(ROOT / "matrix.yaml"), "--preset", "prod", "--runtime", "host",
                           "--axis", "vllm=0.11.0", "--only", "arch=sm_90a",
                           "--results", str(tmp_path / "results"), "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 10, done.stderr  # its one cell is infra_error: exit says so
    [cell] = results.find(tmp_path / "results", None).load().results
    assert cell.axes["vllm"] == "0.11.0" and cell.axes["flashinfer"] == "0.3.1"
    assert cell.outcome.value == "infra_error" and cell.evidence.cause == "package_install"
    assert "flashinfer-python==0.3.1" in cell.reason and "wheels only" in cell.reason


def test_a_pip_toolchain_gives_flashinfers_jit_a_whole_cuda_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A pip toolchain is nvcc, the runtime and CCCL; FlashInfer's JIT also wants NVRTC, the
    # cuBLAS / cuRAND headers and lib64/stubs. kit lays them out beside the toolchain
    # (kit.jithome) and the cell's launcher points CUDA_HOME there: a real JIT build, on CPU.
    pytest.importorskip("torch", reason="FlashInfer's JIT runs under PyTorch")
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path)))
    done = subprocess.run([sys.executable, "-m", "kit", "matrix", "run", "--matrix",
                           str(ROOT / "matrix.yaml"), "--preset", "prod", "--runtime", "host",
                           "--only", "arch=sm_90a", "--results", str(tmp_path / "results"),
                           "--json"], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "KIT_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr
    run = results.find(tmp_path / "results", None)
    [cell] = json.loads((run.path / "manifest.json").read_text())["cells"]
    from kit.util import cache
    launcher = cache.root() / "builds" / cell["compile_key"] / "bin"
    home = next(line for line in launcher.read_text().splitlines() if "CUDA_HOME" in line)
    assert "-jit" in home  # the laid-out home, not the bare toolchain
    jit = subprocess.run([sys.executable, "-c", FLASHINFER_JIT, str(launcher)],
                         capture_output=True, text=True, timeout=1200)
    assert jit.returncode == 0 and "JIT ok 0.5.2" in jit.stdout, jit.stdout + jit.stderr
    # the module's libcudart is the toolchain's (the home links it), loaded by the launcher
    # first, whatever the loader's own paths hold (here: /usr/local/cuda's, in ld.so.cache)
    cudart = next(ln for ln in jit.stdout.splitlines() if ln.startswith("cudart: "))
    assert "/toolchains/pip-13.0.88/" in cudart, cudart


def test_another_kit_python_is_another_build_never_a_carried_over_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The interpreter (and its PyTorch) are part of a python cell's build key on the host: a
    # run with another KIT_PYTHON builds again and reuses nothing of the first.
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path)))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)

    def keys(python: str) -> set[str]:
        done = subprocess.run([sys.executable, "-m", "kit", "matrix", "run", "--matrix",
                               str(ROOT / "matrix.yaml"), "--preset", "prod", "--runtime",
                               "host", "--results", str(tmp_path / "results"), "--json"],
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, "KIT_PYTHON": python})
        assert done.returncode == 0, done.stderr
        manifest = results.find(tmp_path / "results", None).manifest()
        assert manifest["environment"] == {"KIT_PYTHON": python}
        return {c["compile_key"] for c in manifest["cells"]}

    first = keys(sys.executable)
    assert keys(sys.executable) == first  # unchanged: the same builds
    assert keys(str(venv / "bin" / "python")).isdisjoint(first)
