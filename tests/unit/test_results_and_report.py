from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from kit.engine import results
from kit.report import jsonreport, markdown, pivot
from kit.spec.model import CellResult, Evidence, Outcome
from kit.util import files
from kit.util.errors import ResultsError


def result(placement: str, shape: str, outcome: Outcome, cuda: str = "cuda13.0",
           **extra: object) -> CellResult:
    axes = {"repro": "sm12x", "cuda": cuda, "cutlass": "4.2", "arch": "sm_121a",
            "placement": placement, "shape_type": shape}
    label = "-".join(axes.values())
    return CellResult(cell_id=f"{label}-abcd1234", label=label, axes=axes, outcome=outcome,
                      **extra)  # type: ignore[arg-type]


def manifest(run_id: str) -> dict[str, object]:
    """The least a manifest written by `kit matrix run` holds (see the published schema)."""
    return {"run_id": run_id, "kit_version": "0.1.0", "runtime": "host",
            "gpus": {"gpus": [], "error": "no driver"}, "toolchains": {}, "cutlass": {},
            "cells": []}


def grid() -> list[CellResult]:
    out = []
    for p in ("non_template", "function_template", "namespace_scope"):
        for s in ("int", "int64"):
            bad = p == "function_template"
            out.append(result(p, s, Outcome.INIT_ERROR_INTERNAL if bad else Outcome.OK,
                              reason="initialize(): Error Internal" if bad else "verified",
                              evidence=Evidence(cause="unknown") if bad else Evidence()))
    return out


def test_finding_names_the_axis_value_that_explains_the_failures() -> None:
    finds = pivot.findings(grid())
    assert finds == ["init_error_internal (unknown) on 2/6 cells: exactly the cells with "
                     "placement=function_template"]


def test_finding_can_take_two_axes_together() -> None:
    rows = [result(p, s, Outcome.INIT_ERROR_INTERNAL if (p, s) == ("function_template", "int64")
                   else Outcome.OK, evidence=Evidence(cause="x"))
            for p in ("non_template", "function_template") for s in ("int", "int64")]
    assert pivot.findings(rows) == ["init_error_internal (x) on 1/4 cells: exactly the cells "
                                    "with placement=function_template and shape_type=int64"]


def test_markdown_is_a_github_table_with_legend_and_environment() -> None:
    manifest = {"run_id": "r1", "gpus": {"gpus": [], "error": "no driver"},
                "toolchains": {"cuda13.0": "pip:nvcc-13.0.88"}, "command": "kit matrix run"}
    text = markdown.render(grid(), manifest)
    assert "| cuda × cutlass | function_template / int | function_template / int64 |" in text
    assert "| `cuda13.0` · `4.2` | ❌ init_error_internal |" in text
    assert "`init_error_internal` can_implement() passed, initialize() returned Error Internal" \
        in text
    assert "<details><summary>Environment" in text
    assert "GPU: none (no driver)" in text


def test_a_varying_axis_outside_rows_and_columns_becomes_a_row() -> None:
    rows = [*grid(), *(result(p, "int", Outcome.OK, cuda="cuda13.2")
                       for p in ("non_template", "namespace_scope"))]
    (table,) = pivot.tables(rows, rows=("cutlass",))
    assert table.row_axes == ["cutlass", "cuda"]
    assert all(len(v) == 1 for v in table.cells.values())


def test_cells_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    for r in grid():
        run.save(r)
    assert not list(run.cells_dir.glob(".*"))  # no temporary files left behind
    # readable as any file the user writes (a temp file's 0600 would hide a shared run)
    mode = next(run.cells_dir.glob("*.json")).stat().st_mode & 0o777
    assert mode == 0o666 & ~files._umask()
    back = sorted(run.load().results, key=lambda r: r.label)
    assert back == sorted(grid(), key=lambda r: r.label)


def test_a_corrupt_cell_file_is_named_and_the_rest_still_loads(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    for r in grid():
        run.save(r)
    (run.cells_dir / "truncated.json").write_text('{"cell_id": "x", "outc')
    loaded = run.load()
    assert len(loaded.results) == 6
    assert [p.name for p, _ in loaded.broken] == ["truncated.json"]


def test_second_process_on_a_run_folder_is_refused(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    # a second open file description on the lock: what a second kit process has
    with run.lock(), pytest.raises(ResultsError, match="in use by another kit process"), \
            results.RunDir(run.path).lock():
        pass


def test_latest_and_lookup(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    run.write_manifest({"run_id": run.run_id})
    results.point_latest(run)
    assert results.find(tmp_path, None).path == run.path.resolve()
    assert results.find(tmp_path, run.run_id).path == run.path.resolve()
    with pytest.raises(ResultsError, match="no run 'nope'"):
        results.find(tmp_path, "nope")


def test_json_report_round_trips() -> None:
    data = jsonreport.build(grid(), {"run_id": "r1"})
    again = json.loads(json.dumps(data))
    assert again["counts"] == {"ok": 4, "init_error_internal": 2}
    assert [CellResult.from_dict(c) for c in again["cells"]] == sorted(grid(),
                                                                        key=lambda r: r.label)


def test_static_binary_warnings_are_listed_apart_from_gpu_outcomes() -> None:
    rows = grid()
    two = {"device_kernel_instantiations": 2, "kernels_named_twice": 1,
           "warning": "1 cutlass::device_kernel named two ways on the host"}
    rows[2] = result("function_template", "int", Outcome.SKIPPED_ARCH, binary_facts=two)
    rows[0] = result("non_template", "int", Outcome.SKIPPED_ARCH,
                     binary_facts={"device_kernel_instantiations": 1})
    text = markdown.render(rows, {"run_id": "r"})
    assert "#### Static checks of the binaries (no GPU involved)" in text
    assert "function_template-int`: 1 cutlass::device_kernel named two ways" in text
    assert "1 other binaries hold exactly one" in text


def test_static_check_tells_one_kernel_named_twice_from_two_kernels() -> None:
    from kit.engine import binary

    # The registered kernel, its twin spelled with an unsigned literal (mangled differently,
    # and with other substitutions), and an unrelated second kernel, as an example with two
    # GEMMs has.
    mangled = ["_ZN7cutlassL13device_kernelIA", "_ZN7cutlassL13device_kernelIB",
               "_ZN7cutlassL13device_kernelIC"]
    demangled = ["void cutlass::device_kernel<K<cute::C<32>, cute::C<1> > >(P)",
                 "void cutlass::device_kernel<K<cute::C<32u>, cute::C<1u> > >(P)",
                 "void cutlass::device_kernel<K<cute::C<64>, cute::C<1> > >(P)"]
    facts = binary.facts_from_symbols(mangled, demangled)
    assert facts["device_kernel_instantiations"] == 3
    assert facts["kernels_named_twice"] == 1
    assert facts["device_kernel_symbols"] == mangled[:2]
    assert "named two ways" in facts["warning"]


def test_finding_names_two_causes_side_by_side() -> None:
    # what the H100 showed: nvcc 13.5 breaks every placement, nvcc 13.0 only one
    rows = [result(p, "int", Outcome.INIT_ERROR_INTERNAL
                   if cuda == "cuda13.5" or p == "function_template" else Outcome.OK,
                   cuda=cuda, evidence=Evidence(cause="unregistered_kernel_stub"))
            for cuda in ("cuda13.0", "cuda13.5")
            for p in ("non_template", "function_template", "namespace_scope")]
    assert pivot.findings(rows) == [
        "init_error_internal (unregistered_kernel_stub) on 4/6 cells: exactly the cells with "
        "cuda=cuda13.5, plus those with placement=function_template"]


def test_report_json_matches_the_published_schema() -> None:
    from kit.engine import schema

    data = json.loads(json.dumps(jsonreport.build(grid(), manifest("r1"))))
    assert schema.problems(data) == []
    data["cells"][0]["outcome"] = "exploded"
    assert any("exploded" in p for p in schema.problems(data))


def test_a_cell_file_that_breaks_the_schema_is_named_not_loaded(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    for r in grid():
        run.save(r)
    (run.cells_dir / "foreign.json").write_text('{"cell_id": "x", "outcome": "ok"}')
    loaded = run.load()
    assert len(loaded.results) == 6
    (path, why), = loaded.broken
    assert path.name == "foreign.json" and "does not match kit's cell schema" in why


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    run.write_manifest({"hello": "world"})
    with pytest.raises(ResultsError, match="is not a kit manifest"):
        run.manifest()


def test_diff_across_cutlass_versions_names_regressions_and_fixes() -> None:
    from kit.report import diff

    old = [result(p, "int", Outcome.INIT_ERROR_INTERNAL if p == "function_template"
                  else Outcome.OK) for p in ("non_template", "function_template")]
    new = [dataclasses.replace(r, axes={**r.axes, "cutlass": "4.5"},
                               outcome=Outcome.OK) for r in old]
    new[0] = dataclasses.replace(new[0], outcome=Outcome.WRONG_RESULT)
    found = diff.changes(old, new, ignore=("cutlass",))
    assert [(c.kind, c.a, c.b) for c in found] == [
        ("fix", Outcome.INIT_ERROR_INTERNAL, Outcome.OK),
        ("regression", Outcome.OK, Outcome.WRONG_RESULT)]
    text = diff.render_md(found, "4.2", "4.5", 2)
    assert "| ❌ init_error_internal | ✅ ok | fix |" in text


def test_junit_has_one_case_per_cell_with_failures_and_skips() -> None:
    from kit.report import junit

    rows = [*grid(), result("namespace_scope", "int", Outcome.SKIPPED_ARCH, cuda="cuda13.2",
                            reason="compiled; not run: sm_121a needs 12.1")]
    xml = junit.render(rows, manifest("r1"))
    assert xml.count("<testcase ") == 7
    assert 'failures="2"' in xml and 'skipped="1"' in xml
    assert '<failure type="init_error_internal" message="initialize(): Error Internal"' in xml


def test_a_full_disk_is_a_clear_error_and_earlier_cells_stay(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    import errno
    import os

    run = results.create(tmp_path)
    first, second = grid()[:2]
    run.save(first)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ResultsError, match="No space left on device") as err:
        run.save(second)
    assert "--resume" in err.value.message
    monkeypatch.undo()
    assert [r.cell_id for r in run.load().results] == [first.cell_id]
    assert not list(run.cells_dir.glob(".*"))  # the half-written file is gone


def test_the_cluster_node_a_cell_ran_on_is_stored_with_it(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    axes = {"repro": "r", "cuda": "cuda13.0", "cutlass": "4.2", "arch": "sm_121a"}
    cell = CellResult(cell_id="c-1", label="c", axes=axes, outcome=Outcome.OK,
                      node="spark-1/3f2a9c1e")
    run.save(cell)
    loaded = run.load()
    assert not loaded.broken, loaded.broken
    (back,) = loaded.results
    assert back.node == "spark-1/3f2a9c1e" and back == cell


def test_a_finding_names_whose_cells_it_is_about() -> None:
    sm90 = [dataclasses.replace(r, axes={**r.axes, "repro": "sm90", "arch": "sm_90a"},
                                label=r.label.replace("sm12x", "sm90"),
                                cell_id=r.cell_id.replace("sm12x", "sm90"))
            for r in [result(p, "int", Outcome.COMPILE_ERROR if p == "function_template"
                             else Outcome.NO_GPU, evidence=Evidence(cause="host_template"))
                      for p in ("non_template", "function_template", "namespace_scope")]]
    sm12x = [result(p, "int", Outcome.NO_GPU)
             for p in ("non_template", "function_template", "namespace_scope")]
    (sentence,) = pivot.findings(sm90 + sm12x)
    # the SM12x function_template cells compiled: the sentence must not read as if they failed
    assert sentence.startswith("compile_error (host_template) on 1/3 cells of sm90: exactly "
                               "the cells with placement=function_template")
