from __future__ import annotations

from pathlib import Path

import pytest

from kit.spec import matrix, selectors
from kit.spec.model import Cell
from kit.spec.repros import discover
from kit.util.errors import MatrixError, UsageError
from tests.unit.conftest import MATRIX, write_project


def load(path: Path) -> matrix.Matrix:
    return matrix.load(path, discover(path.parent / "repros"))


def labels(cells: list[Cell]) -> list[str]:
    return [c.label for c in cells]


def test_each_repro_gets_only_its_own_axes_and_archs(project: Path) -> None:
    cells = matrix.expand(load(project))
    sm12x = [c for c in cells if c.repro == "sm12x"]
    sm90 = [c for c in cells if c.repro == "sm90"]
    # 3 placements x 2 shape types x 3 archs; b_stride is not an axis here: its default.
    assert len(sm12x) == 18
    assert {c.knob_map["b_stride"] for c in sm12x} == {"packed"}
    assert {c.arch for c in sm12x} == {"sm_120a", "sm_121a", "sm_120f"}
    # the SM90 analog has no b_stride knob and only sm_90a
    assert len(sm90) == 6
    assert all("b_stride" not in c.knob_map and c.arch == "sm_90a" for c in sm90)


def test_preset_replaces_axes_and_arch_filters_per_repro(project: Path) -> None:
    cells = matrix.expand(load(project), preset="smoke")
    assert labels(cells) == [
        "sm12x-cuda13.0-cutlass4.2-sm_121a-packed-function_template-int",
        "sm90-cuda13.0-cutlass4.2-sm_90a-function_template-int-auto-128x128x128",
    ]


def test_include_adds_a_combination_that_matches_none(project: Path) -> None:
    cells = matrix.expand(load(project), preset="sm90")
    stages = sorted((c.knob_map["placement"], c.knob_map["stages"]) for c in cells)
    assert len(cells) == 7
    assert ("namespace_scope", "5") in stages


def test_include_extends_matching_combinations_with_new_keys(tmp_path: Path) -> None:
    path = write_project(tmp_path, MATRIX + """\
include:
  - {repro: sm12x, placement: non_template, b_stride: legacy}
""")
    cells = matrix.expand(load(path))
    legacy = [c for c in cells if c.knob_map.get("b_stride") == "legacy"]
    # extends the 2 shape types x 3 archs of sm12x/non_template; adds no new combination
    assert len(legacy) == 6
    assert all(c.knob_map["placement"] == "non_template" for c in legacy)
    assert len(cells) == 24


def test_exclude_removes_partial_matches(tmp_path: Path) -> None:
    path = write_project(tmp_path, MATRIX + """\
exclude:
  - {repro: sm12x, shape_type: int64}
""")
    cells = matrix.expand(load(path))
    assert not [c for c in cells if c.repro == "sm12x" and c.knob_map["shape_type"] == "int64"]
    assert len([c for c in cells if c.repro == "sm90"]) == 6


def test_only_filters_with_globs_or_within_and_across(project: Path) -> None:
    m = load(project)
    only = selectors.parse_only(["placement=*template", "arch=sm_12?a"], m.known_axes())
    cells = matrix.expand(m, only=only)
    assert {c.knob_map["placement"] for c in cells} == {"non_template", "function_template"}
    assert {c.arch for c in cells} == {"sm_120a", "sm_121a"}


def test_unknown_only_axis_suggests_the_close_one(project: Path) -> None:
    with pytest.raises(UsageError, match="did you mean 'placement'"):
        selectors.parse_only(["placment=x"], load(project).known_axes())


@pytest.mark.parametrize(
    ("bad", "line", "message"),
    [
        ("toolchains:\n  cuda13.0: {pip: '13.0.88'}\ncutlas: {}\n", 3, "cutlas: unknown key"),
        ("toolchains:\n  cuda13.0: {pip: '13.0.88'}\ncutlass: {'4.2': {pypi: '4.2.0.0'}}\n"
         "axes:\n  placement: []\n", 5, "axes.placement: an axis needs a non-empty list"),
        ("toolchains:\n  cuda13.0: {pip: '13.0.88'}\ncutlass: {'4.2': {pypi: '4.2.0.0'}}\n"
         "axes:\n  placment: [a]\n", 5, "unknown axis 'placment'"),
        ("toolchains: [cuda13.0]\n", 1, "toolchains: expected a non-empty mapping"),
        ("toolchains:\n  cuda13.0: {pip: '13.0.88'}\ncutlass: {'4.2': {pypi: '4.2.0.0'}}\n"
         "axes:\n  stages: [abc]\n", 5, "repro sm90 has no stages 'abc'"),
        ("toolchains:\n  x: {image: 'nvidia/cuda:12.9-devel'}\n", 2, "pinned by digest"),
        ("toolchains:\n  a: {pip: '13.0.88'}\n  a: {pip: '13.2.78'}\n", 3, "duplicate key"),
        ("toolchains: {a: {pip: 1}\n", 2, "not valid YAML"),
    ],
)
def test_bad_matrix_names_file_line_and_key(tmp_path: Path, bad: str, line: int,
                                            message: str) -> None:
    path = write_project(tmp_path, bad)
    with pytest.raises(MatrixError, match=message) as err:
        load(path)
    assert f"{path}:{line}:" in err.value.message
    assert err.value.exit_code == 2


def test_unknown_preset_is_refused_with_a_hint(project: Path) -> None:
    with pytest.raises(UsageError, match="did you mean 'smoke'"):
        matrix.expand(load(project), preset="smok")


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    path = write_project(tmp_path, "toolchains: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(MatrixError, match=r"not valid YAML|expected a non-empty mapping"):
        load(path)


def test_cell_labels_are_stable_and_readable(project: Path) -> None:
    first = labels(matrix.expand(load(project)))
    assert first == labels(matrix.expand(load(project)))
    assert "sm12x-cuda13.0-cutlass4.2-sm_121a-packed-function_template-int64" in first


def test_axis_override_replaces_the_preset_axis(project: Path) -> None:
    m = load(project)
    overrides = selectors.parse_axis_overrides(["cuda=cuda13.2,cuda13.0"], m.known_axes())
    cells = matrix.expand(m, preset="smoke", overrides=overrides)
    assert sorted(c.toolchain.name for c in cells) == ["cuda13.0", "cuda13.0", "cuda13.2",
                                                       "cuda13.2"]
    with pytest.raises(UsageError, match="expected AXIS=VALUE"):
        selectors.parse_axis_overrides(["cuda="], m.known_axes())
    # A knob value no repro has, given with --axis, is the command line's mistake: named as
    # such, not as a line of matrix.yaml.
    bad = selectors.parse_axis_overrides(["placement=nowhere"], m.known_axes())
    with pytest.raises(UsageError, match=r"^--axis placement=nowhere: repro \S+ has no "
                                         r"placement 'nowhere'"):
        matrix.expand(m, preset="smoke", overrides=bad)


def test_an_upstream_example_repro_needs_no_sources(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    ex = tmp_path / "repros" / "ex57"
    ex.mkdir()
    (ex / "repro.yaml").write_text(
        "kind: cutlass_example\nexample: 57_hopper_grouped_gemm/57_hopper_grouped_gemm.cu\n"
        "archs: [sm_90a]\nexpect: {passed: 'OK!'}\n")
    repro = discover(tmp_path / "repros")["ex57"]
    root = tmp_path / "cutlass"
    assert repro.source_paths(root) == [root / "examples/57_hopper_grouped_gemm/"
                                        "57_hopper_grouped_gemm.cu"]
    assert root / "examples" / "common" in repro.include_dirs(root)
    assert repro.expect["passed"] == "OK!"
    assert "Disposition" in repro.expect["failed"]
    (ex / "repro.yaml").write_text("kind: cutlass_example\nexample: ../../etc/passwd\n"
                                   "archs: [sm_90a]\n")
    with pytest.raises(MatrixError, match=r"needs example: DIR/FILE\.cu"):
        discover(tmp_path / "repros")
    assert path.is_file()


def test_a_standalone_include_spans_the_toolchains_it_leaves_open(project: Path) -> None:
    m = load(project)
    overrides = selectors.parse_axis_overrides(["cuda=cuda13.0,cuda13.2"], m.known_axes())
    cells = matrix.expand(m, preset="sm90", overrides=overrides)
    five = [c for c in cells if c.knob_map["stages"] == "5"]
    assert sorted(c.toolchain.name for c in five) == ["cuda13.0", "cuda13.2"]


def test_an_alias_inside_itself_is_a_file_line_error_not_a_traceback(tmp_path: Path) -> None:
    path = write_project(tmp_path, MATRIX + "x-loop: &loop {axes: {cuda: [*loop]}}\n")
    with pytest.raises(MatrixError, match=r"matrix.yaml:\d+: x-loop.axes.cuda.0: an alias "
                                          "refers to the value that holds it"):
        load(path)


def test_aliases_that_multiply_are_refused_quickly(tmp_path: Path) -> None:
    laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))
    path = write_project(tmp_path, MATRIX + "x-laughs:\n" + "".join(
        f"  {line}" for line in laughs.splitlines(keepends=True)))
    with pytest.raises(MatrixError, match="expands to more than 100,000 values"):
        load(path)


def test_axes_that_multiply_beyond_a_million_are_refused_before_expanding(
        project: Path) -> None:
    overrides = {"cuda": ["cuda13.0"] * 100, "placement": ["non_template"] * 100,
                 "shape_type": ["int"] * 101}
    with pytest.raises(UsageError, match="2,020,000 combinations") as err:
        matrix.expand(load(project), overrides=overrides)
    assert "shape_type (101 values)" in str(err.value.hint)


def test_only_naming_no_value_lists_the_values_there_are(project: Path) -> None:
    m = load(project)
    chosen = selectors.parse_only(["cuda=12.9"], m.known_axes())
    with pytest.raises(UsageError, match=r"--only cuda=12\.9: no cuda matches") as err:
        selectors.check_values("--only", chosen, m.axis_values)
    assert "cuda13.0" in str(err.value.hint)
    near = selectors.parse_only(["cuda=13.*"], m.known_axes())
    with pytest.raises(UsageError) as err:
        selectors.check_values("--only", near, m.axis_values)
    assert "did you mean '*13.*'" in str(err.value.hint)
    # an integer knob takes any integer: a stage count is never "unknown"
    selectors.check_values("--only", selectors.parse_only(["stages=9"], m.known_axes()),
                           m.axis_values)
