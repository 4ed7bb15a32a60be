"""The real repros, compiled for real: the smoke preset and a standalone export."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from kit.sources import cutlass_src, toolchains
from kit.spec.model import CutlassKind, CutlassSource, Outcome, SourceKind, Toolchain
from kit.util import cmd, gpu
from tests.integration.conftest import ROOT

GXX12 = toolchains.host_compiler().startswith("g++-12.")


def run_kit(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


@pytest.mark.skipif(gpu.detect().present, reason="expectations below are for a GPU-less host")
def test_smoke_preset_compiles_the_failing_kernel_and_its_sm90_analog(tmp_path: Path) -> None:
    code, out = run_kit("matrix", "run", "--runtime", "host", "--matrix",
                        str(ROOT / "matrix.yaml"), "--preset", "smoke", "--results",
                        str(tmp_path), "--json")
    assert code == 0, out
    run = results.find(tmp_path, None)
    by_repro = {r.axes["repro"]: r for r in run.load().results}
    sm12x = by_repro["sm12x_mxf8_mxf4_grouped"]
    sm90 = by_repro["sm90_ptr_array_grouped"]
    assert sm12x.axes["placement"] == sm90.axes["placement"] == "function_template"
    # The SM121 kernel compiles here and is never claimed to have run.
    assert sm12x.outcome is Outcome.NO_GPU
    assert sm12x.binary_facts["device_kernel_instantiations"] >= 1
    assert sm90.outcome in (Outcome.NO_GPU, Outcome.COMPILE_ERROR)
    if GXX12:
        # nvcc 13.0 + g++ 12: the function-template placement gives the SM121 binary a second,
        # unregistered device_kernel instantiation, and does not compile at all for SM90.
        assert sm12x.binary_facts["kernels_named_twice"] == 1
        assert sm90.outcome is Outcome.COMPILE_ERROR
        assert "type/value mismatch" in sm90.reason
    report = (run.path / "report.md").read_text()
    assert "| cuda × cutlass | function_template / int |" in report


def test_exported_cu_compiles_alone_in_a_clean_folder(tmp_path: Path) -> None:
    out = tmp_path / "clean" / "sm90_ptr_array_grouped.cu"
    code, text = run_kit("repro", "export", "sm90_ptr_array_grouped", "--matrix",
                         str(ROOT / "matrix.yaml"), "-D", "stages=5", "-D", "tile=256x128x128",
                         "-o", str(out))
    assert code == 0, text
    source = out.read_text()
    assert '#include "kit_' not in source  # every harness header inlined: kit_harness.h,
    assert "kit_args.h (inlined)" in source  # the command line, ...
    assert "#define KIT_STAGES 5" in source
    tc = toolchains.resolve(Toolchain(name="cuda13.0", kind=SourceKind.PIP, ref="13.0.88"))
    headers = cutlass_src.resolve(CutlassSource(name="4.2", kind=CutlassKind.PYPI,
                                                ref="4.2.0.0"))
    # Only the file, the nvcc line from its header pasted into a shell, and CUTLASS.
    line = next(ln for ln in source.splitlines() if ln.startswith("//   nvcc "))
    script = line.removeprefix("//   ") + " " + " ".join(tc.link_args())
    env = {"CUTLASS": str(headers.root), "PATH": f"{tc.nvcc.parent}:{os.environ['PATH']}"}
    done = cmd.run(["bash", "-c", script], cwd=out.parent, env=env, timeout=1200)
    assert done.returncode == 0, done.tail()
    assert (out.parent / "sm90_ptr_array_grouped").is_file()
    assert shutil.which("nm") is None or "device_kernel" in cmd.run(
        ["nm", "-C", out.parent / "sm90_ptr_array_grouped"]).output
