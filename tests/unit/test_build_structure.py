"""The build structure as axes: repro.yaml declares it, the matrix expands it, nvcc.commands
turns a cell into compile and link steps, and the classifier reads cuobjdump's cubin list."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.engine import classify
from kit.runtime import nvcc
from kit.sources import cuobjdump
from kit.spec import matrix
from kit.spec.model import Cell
from kit.spec.repros import discover
from kit.util.errors import MatrixError, UsageError

MULTI_TU = """\
kind: cuda
sources: [main.cu]
units:
  - {source: host.cu}
  - {source: gemm_tu.cu, per_arch: true}
archs: [sm_90a]
flags: [-std=c++17]
build_axes: [tu_layout, arch_list, link_order, static_global_template_stub, rdc]
knobs:
  placement: {macro: KIT_PLACEMENT, default: namespace_scope,
              values: {function_template: 1, namespace_scope: 2}}
"""

MATRIX = """\
toolchains:
  cuda13.0: {pip: "13.0.88"}
cutlass:
  "4.2": {pypi: "4.2.0.0"}
axes:
  repro: [multi]
  cuda: [cuda13.0]
  cutlass: ["4.2"]
  tu_layout: [single, per_arch]
  arch_list: [cell, sm_80+sm_90a, sm_100a]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "repros" / "multi"
    folder.mkdir(parents=True)
    (folder / "repro.yaml").write_text(MULTI_TU)
    for name in ("main.cu", "host.cu", "gemm_tu.cu"):
        (folder / name).write_text("// compiled only by integration tests\n")
    (tmp_path / "repros" / "harness").mkdir()
    (tmp_path / "matrix.yaml").write_text(MATRIX)
    return tmp_path


def cells(project: Path, **axes: list[str]) -> list[Cell]:
    m = matrix.load(project / "matrix.yaml", discover(project / "repros"))
    return matrix.expand(m, overrides=axes)


def steps_of(cell: Cell, project: Path) -> list[list[str]]:
    repro = discover(project / "repros")["multi"]
    return nvcc.commands(nvcc="nvcc", cell=cell, repro=repro, place=lambda p: p.name,
                         include_dirs=["inc"], link_args=["-lcuda"], output="bin",
                         cutlass_root=project)


def test_an_arch_list_without_the_cells_arch_is_not_a_cell(project: Path) -> None:
    got = {(c.knob_map["tu_layout"], c.knob_map["arch_list"]) for c in cells(project)}
    assert got == {(layout, archs) for layout in ("single", "per_arch")
                   for archs in ("cell", "sm_80+sm_90a")}


def test_single_layout_is_one_nvcc_line_for_every_listed_arch(project: Path) -> None:
    cell = next(c for c in cells(project) if c.knob_map == {
        "tu_layout": "single", "arch_list": "sm_80+sm_90a", "link_order": "as_listed",
        "placement": "namespace_scope", "rdc": "off", "static_global_template_stub": "default"})
    (only,) = steps_of(cell, project)
    assert only[:2] == ["nvcc", "-std=c++17"]
    assert "arch=compute_80,code=sm_80" in only and "arch=compute_90a,code=sm_90a" in only
    assert only[-4:] == ["main.cu", "-lcuda", "-o", "bin"]
    assert not any(a.startswith("-static-global") or a.startswith("-rdc") for a in only)


def test_per_arch_layout_compiles_one_object_per_arch_then_links_in_order(
        project: Path) -> None:
    (cell,) = cells(project, tu_layout=["per_arch"], arch_list=["sm_80+sm_90a"],
                    link_order=["reversed"], static_global_template_stub=["false"], rdc=["on"])
    steps = steps_of(cell, project)
    assert [s[-1] for s in steps] == ["host.o", "gemm_tu.sm_80.o", "gemm_tu.sm_90a.o", "bin"]
    host, tu80, tu90, link = steps
    assert "-c" in host and host.count("-gencode") == 2
    assert tu80.count("-gencode") == 1 and "-DKIT_TU_ARCH=80" in tu80
    assert "-DKIT_TU_ARCH=90" in tu90 and "-DKIT_PLACEMENT=2" in tu90
    for compile_step in (host, tu80, tu90):
        assert "-static-global-template-stub=false" in compile_step and "-rdc=true" in compile_step
    assert link[link.index("-rdc=true") + 5:][:3] == ["gemm_tu.sm_90a.o", "gemm_tu.sm_80.o",
                                                      "host.o"]


def test_build_axes_change_the_compile_key_and_the_label(project: Path) -> None:
    from kit.engine import plan
    from kit.util import gpu
    repros = discover(project / "repros")
    facts = plan.Facts(toolchain_ids={"cuda13.0": "t"}, cutlass_ids={"4.2": "c"},
                       source_digests={"multi": "s"}, gpus=gpu.GpuReport(gpus=()))
    a, b = (plan.plan(cells(project, tu_layout=["per_arch"], arch_list=["cell"],
                            static_global_template_stub=[v]), repros, facts)[0]
            for v in ("true", "false"))
    assert a.compile_key != b.compile_key
    assert "-static_global_template_stub_true-" in a.cell.label
    assert a.cell.label.replace("stub_true", "stub_false") == b.cell.label


@pytest.mark.parametrize(("yaml_line", "message"), [
    ("build_axes: [tu_layotu]", "'tu_layotu' is not a build axis"),
    ("build_axes: [placement]", "'placement' is also one of the knobs"),
])
def test_bad_build_axes_name_the_line(project: Path, yaml_line: str, message: str) -> None:
    spec = project / "repros" / "multi" / "repro.yaml"
    spec.write_text(spec.read_text().replace(
        "build_axes: [tu_layout, arch_list, link_order, static_global_template_stub, rdc]",
        yaml_line))
    with pytest.raises(MatrixError, match=message) as info:
        discover(project / "repros")
    assert "repro.yaml:8: build_axes.0" in info.value.format_message()


def test_a_per_arch_layout_needs_units(project: Path) -> None:
    spec = project / "repros" / "multi" / "repro.yaml"
    text = spec.read_text()
    spec.write_text(text[:text.index("units:")] + text[text.index("archs:"):])
    with pytest.raises(MatrixError, match="needs the repro's `units:`"):
        discover(project / "repros")


def test_an_arch_list_value_is_checked_like_any_knob_value(project: Path) -> None:
    with pytest.raises(UsageError, match=r"--axis arch_list=sm90: .* no arch_list 'sm90'") as info:
        cells(project, arch_list=["sm90"])  # as --axis gives it
    assert "archs joined by +" in info.value.format_message()


CUOBJDUMP = """
Fatbin elf code:
================
arch = sm_80
code version = [1,8]
host = linux
compile_size = 64bit

symbols:
FUNC          GLOBAL  DEFAULT    ENTRY                                _Z8kit_fillIfEvPT_mj
FUNC      LOCAL   DEFAULT   ENTRY                     _ZN7cutlass13device_kernelIN1gEEEvNT_1PE

Fatbin elf code:
================
arch = sm_90a
code version = [1,8]

symbols:
OBJECT        LOCAL   DEFAULT    -                                    __unnamed_1
FUNC      LOCAL   DEFAULT   ENTRY                     _ZN7cutlass13device_kernelIN1gEEEvNT_1PE
"""


def test_cuobjdump_symbols_become_one_entry_per_cubin() -> None:
    images = cuobjdump.parse_symbols(CUOBJDUMP)
    assert [(i["arch"], len(i["kernels"])) for i in images] == [("sm_80", 2), ("sm_90a", 1)]
    assert images[1]["kernels"][0].startswith("_ZN7cutlass13device_kernel")
    # the CUDA 13.0 toolkit's cuobjdump spells the same rows with ELF constant names and no
    # visibility column (as printed on the H100 box)
    older = CUOBJDUMP.replace("FUNC      LOCAL   DEFAULT   ENTRY", "STT_FUNC  STB_LOCAL  "
                              "STO_ENTRY").replace("FUNC          GLOBAL  DEFAULT    ENTRY",
                                                   "STT_FUNC  STB_GLOBAL  STO_ENTRY")
    assert "STO_ENTRY" in older and cuobjdump.parse_symbols(older) == images


def internal(cubins: list[dict[str, object]]) -> str:
    data = {"stage": "initialize", "status": "Error Internal", "device": {"cc": "9.0"},
            "func_attributes": {"error": {"name": "cudaErrorInvalidDeviceFunction"}}}
    return classify.diagnose_internal(data, "", {"cubins": cubins}).cause


def test_no_cubin_for_the_gpu_is_no_kernel_image() -> None:
    assert internal([{"arch": "sm_80", "device_kernels": 1}]) == "no_kernel_image"
    assert internal([{"arch": "sm_90a", "device_kernels": 0}]) == "no_kernel_image"


def test_an_image_that_holds_the_kernel_yet_fails_is_wrong_registration() -> None:
    assert internal([{"arch": "sm_80", "device_kernels": 1},
                     {"arch": "sm_90a", "device_kernels": 1}]) == "wrong_registration"


def test_without_cuobjdump_facts_the_old_cause_stays() -> None:
    data = {"stage": "initialize", "status": "Error Internal", "device": {"cc": "9.0"},
            "func_attributes": {"error": {"name": "cudaErrorInvalidDeviceFunction"}}}
    assert classify.diagnose_internal(data, "", {}).cause == "invalid_device_function"


def test_a_multi_tu_binary_without_a_unit_for_the_gpu_is_a_run_failure() -> None:
    line = ('KIT_RESULT {"stage":"dispatch","status":"","note":"no unit covers sm_90; units[80]",'
            '"cuda_error":{"name":"cudaErrorNoKernelImageForDevice"}}')
    v = classify.run_result(0, line, False, 60.0, {}, {})
    assert v.outcome.value == "run_failed" and v.evidence.cause == "no_unit_for_gpu"
    assert "units[80]" in v.reason


def test_a_macro_text_nvccs_shell_would_expand_is_refused_at_its_line(project: Path) -> None:
    spec = project / "repros" / "multi" / "repro.yaml"
    spec.write_text(spec.read_text().replace("function_template: 1", "function_template: $(id)"))
    with pytest.raises(MatrixError, match="nvcc's shell would expand") as info:
        discover(project / "repros")
    assert "repro.yaml:11: knobs.placement.values.function_template" in info.value.format_message()
