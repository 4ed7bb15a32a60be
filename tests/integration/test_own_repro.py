"""A user's own programs, as they are: added with `kit repro add`, compiled for real with a
kit-installed nvcc against real CUTLASS headers, classified from what they print."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from kit.spec.model import Outcome
from kit.util import gpu
from tests.integration.conftest import ROOT, fresh_cache

OWN = ROOT / "tests" / "data" / "own_repro"


def kit(*args: str) -> str:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path)))
    (tmp_path / "repros").mkdir()
    for shipped in ("harness", "harness_selftest"):  # the matrix needs one repro to name
        (tmp_path / "repros" / shipped).symlink_to(ROOT / "repros" / shipped)
    (tmp_path / "matrix.yaml").write_text(textwrap.dedent("""\
        toolchains:
          cuda13.0: {pip: "13.0.88"}
        cutlass:
          "4.2": {pypi: "4.2.0.0"}
        axes:
          repro: [harness_selftest]
        """))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def outcomes(run: results.RunDir) -> dict[str, Outcome]:
    return {r.axes["repro"]: r.outcome for r in run.load().results}


def test_a_bug_report_folder_runs_at_once_after_kit_repro_add(project: Path) -> None:
    kit("repro", "add", str(OWN))
    kit("matrix", "run", "--runtime", "host", "--axis",
        "repro=step01_baseline,step02_offset,step03_timing", "--json")
    run = results.find(project / "results", None)
    cells = outcomes(run)
    assert set(cells) == {"step01_baseline", "step02_offset", "step03_timing"}
    if not gpu.detect().present:  # CI: compiled for real, nothing claimed
        assert set(cells.values()) == {Outcome.NO_GPU}
    elif any(g.cc == (9, 0) for g in gpu.detect().gpus):
        assert cells == {"step01_baseline": Outcome.OK, "step02_offset": Outcome.OK,
                         "step03_timing": Outcome.EXITED_UNVERIFIED}
    log = next((run.path / "logs").glob("step02_offset-*.log")).read_text()
    assert "-DCUTLASS_DEBUG_TRACE_LEVEL=1" in log  # the trace is compiled in, sources as-is

    # One file, run once without adding it; -D sets its own macro.
    out = kit("repro", "run", str(OWN / "steps" / "step02_offset.cu"), "-D", "STEP_OFFSET=1",
              "--arch", "sm_90a", "--runtime", "host", "--json")
    (cell,) = json.loads(out)
    assert cell["outcome"] in ("no_gpu", "wrong_result")
    adhoc = results.find(project / "results", None)
    assert adhoc.manifest()["command"].startswith("kit repro run ")
    assert "STEP_OFFSET=1" in adhoc.manifest()["command"]
    assert "STEP_OFFSET=1" not in (project / "repros" / "step02_offset" / "repro.yaml").read_text()


def test_a_cutlass_program_of_ones_own_compiles_with_the_trace(project: Path) -> None:
    # One CUTLASS grouped GEMM compile (about a minute here): the bug report's kind of file.
    kit("repro", "add", str(OWN / "repro_sm90_fp8_grouped_init.cu"), "--name", "own")
    out = kit("repro", "run", "own", "--runtime", "host", "--json")
    (cell,) = json.loads(out)
    assert cell["outcome"] != "compile_error", cell["reason"]
    assert cell["binary_facts"]["device_kernel_instantiations"] == 1
    assert cell["binary_facts"]["kernels_named_twice"] == 0
    if not gpu.detect().present:
        assert cell["outcome"] == "no_gpu"


def test_a_kernel_of_ones_own_named_two_ways_is_found_and_predicted(project: Path) -> None:
    """The reduced blockwise split (no CUTLASS, a `device_kernel` of the program's own): the
    static check reads any template kernel a cubin holds, not only CUTLASS's."""
    reduced = ROOT / "docs" / "evidence" / "reduce-2026-12-06" / "gcc-alias-split" / \
        "alias_split.cu"
    found = {}
    for twin in ("0", "1"):
        out = kit("repro", "run", str(reduced), "-D", f"TWIN={twin}", "--arch", "sm_90a",
                  "--runtime", "host", "--json")
        (found[twin],) = json.loads(out)
    split, twin_cell = found["0"], found["1"]
    assert split["binary_facts"]["kernels_named_twice"] == 1  # g++: C<128u> beside C<128>
    assert split["binary_facts"]["spellings"] == ["C<128>", "C<128u>"]
    assert "device_kernel named two ways" in split["binary_facts"]["warning"]
    assert twin_cell["binary_facts"]["kernels_named_twice"] == 0
    if not gpu.detect().present:
        assert split["prediction"]["cause"] == "unregistered_kernel_stub"
        assert twin_cell["prediction"]["outcome"] == "none"


def test_the_reduced_ptr_array_error_is_the_cells_compile_error(project: Path) -> None:
    """nvcc 13.0 + g++ 12.2 (this machine, CI's): the 16-line reduction fails as the ptr-array
    function_template cell did, first error and all."""
    reduced = ROOT / "docs" / "evidence" / "reduce-2026-12-06" / "gcc-typename" / \
        "typename_mismatch.cu"
    (cell,) = json.loads(kit("repro", "run", str(reduced), "--arch", "sm_90a", "--runtime",
                             "host", "--json"))
    assert cell["outcome"] == "compile_error"
    assert "type/value mismatch at argument 2" in cell["reason"]
