from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from tests.unit.conftest import write_project
from tests.unit.test_results_and_report import grid, manifest


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def test_help_teaches_the_typical_session() -> None:
    code, out = invoke("--help")
    assert code == 0
    assert "kit matrix run --preset smoke" in out
    code, out = invoke("matrix", "run", "--help")
    assert "--only AXIS=GLOB" in out and "--resume" in out


def test_broken_matrix_exits_2_with_file_line_key(tmp_path: Path) -> None:
    path = write_project(tmp_path, "toolchains:\n  cuda13.0: {pip: '13.0.88'}\ncutlas: {}\n")
    code, out = invoke("matrix", "plan", "--runtime", "host", "--matrix", str(path))
    assert code == 2
    assert f"{path}:3: cutlas: unknown key" in out
    assert "did you mean 'cutlass'?" in out


def test_bad_only_exits_2(project: Path) -> None:
    code, out = invoke("matrix", "plan", "--runtime", "host", "--matrix", str(project),
                       "--only", "placement")
    assert code == 2
    assert "expected AXIS=VALUE" in out


def test_repro_list_and_export_fix_the_knobs(project: Path) -> None:
    code, out = invoke("repro", "list", "--matrix", str(project))
    assert code == 0 and "-D placement=  non_template, function_template" in out
    code, out = invoke("repro", "export", "sm12x", "--matrix", str(project),
                       "-D", "placement=namespace_scope", "--arch", "sm_121a")
    assert code == 0, out
    assert "#define KIT_PLACEMENT 2" in out
    assert '#define KIT_KNOBS "b_stride=packed,placement=namespace_scope,shape_type=int"' in out
    assert "-gencode arch=compute_121a,code=sm_121a" in out
    assert "// harness" in out  # the harness is inlined, not included
    code, out = invoke("repro", "export", "sm12x", "--matrix", str(project), "-D", "tile=9")
    assert code == 2 and "has no knob tile" in out and "knobs: placement" in out


def test_show_and_diff_read_stored_results(tmp_path: Path) -> None:
    root = tmp_path / "results"
    a = results.create(root)
    a.write_manifest(manifest(a.run_id))
    for r in grid():
        a.save(r)
    results.point_latest(a)
    code, out = invoke("matrix", "show", "--results", str(root))
    assert code == 0 and "init_error_internal (unknown) on 2/6 cells" in out
    b = results.create(root)
    b.write_manifest(manifest(b.run_id))
    for r in grid()[:5]:
        b.save(r)
    code, out = invoke("matrix", "diff", a.run_id, b.run_id, "--results", str(root), "--json")
    assert code == 0
    assert json.loads(out)["changes"] == [
        {"cell": grid()[5].label, "a": "ok", "b": None, "kind": "removed"}]
    code, out = invoke("matrix", "diff", a.run_id, b.run_id, "--results", str(root),
                       "--format", "md")
    assert code == 0
    assert out.startswith(f"**1 of 6 cells changed between `{a.run_id}` and `{b.run_id}`")


def test_show_without_any_run_says_what_to_do(tmp_path: Path) -> None:
    code, out = invoke("matrix", "show", "--results", str(tmp_path))
    assert code == 6 and "run `kit matrix run` first" in out


def test_bundle_carries_reports_logs_and_standalone_sources(tmp_path: Path) -> None:
    import shutil
    import tarfile

    root = Path(__file__).resolve().parents[2]
    run = tmp_path / "sm90"
    shutil.copytree(root / "docs/evidence/h100-2026-11-25/sm90", run)
    out = tmp_path / "b.tar.gz"
    code, text = invoke("report", "bundle", str(run), "-o", str(out), "--matrix",
                        str(root / "matrix.yaml"))
    assert code == 0, text
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "sm90/report.xml" in names and "sm90/manifest.json" in names
    failing = [n for n in names if n.startswith("sm90/repros/")]
    assert len(failing) == 5  # one standalone .cu per init_error_internal cell
    assert all(n.replace("/repros/", "/logs/")[:-3] + ".log" in names for n in failing)


def test_a_run_of_more_cells_than_max_cells_is_refused_before_anything_starts(
        project: Path) -> None:
    code, out = invoke("matrix", "run", "--matrix", str(project), "--runtime", "host",
                       "--max-cells", "5")
    assert code == 2
    assert "24 cells: more than --max-cells 5" in out
    assert "kit matrix plan" in out  # the hint says how to see them
