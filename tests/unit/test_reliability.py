"""Hostile input and damaged results, without a process: fuzzed command lines end in a clear
error (never a traceback), no path value leads out of the results folder, a damaged cell file
is named and the rest shows, and what a resume keeps or does again. The faults done for real
(kill -9, full disk, memory, a stopped engine...) are in tests/integration/test_reliability.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.cli.commands import cli
from kit.engine import classify, plan, results
from kit.sources import toolchains
from kit.spec.matrix import expand, load
from kit.spec.model import Evidence, Outcome
from kit.spec.repros import discover
from kit.util import cmd
from kit.util.errors import ResultsError, UsageError
from kit.util.gpu import GpuReport
from tests.unit.conftest import write_project
from tests.unit.test_results_and_report import grid, manifest, result

MARK = Path("/tmp/kit-fuzz-pwned")
NASTY = ["$(touch /tmp/kit-fuzz-pwned)", "`touch /tmp/kit-fuzz-pwned`", "a;touch x", "x\ny",
         "../../etc", "/etc", "..", ".", "a/b", "placement=$(id)", "cuda=13.*", "placement=",
         "=", "latest", "placement=function_template", "shape_type=int,int64", "stages=-5",
         "stages=99999999999999999999", "cuda=host", "\x00", "smoke", "sm90", "\\", "*"]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=30))

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def clear_outcome(r: Result) -> None:
    """Exit 0, or an error message with its exit code: never an exception escaping."""
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise AssertionError(f"{type(r.exception).__name__}: {r.exception}\n{r.output}")
    if r.exit_code != 0:
        assert "Error" in r.output, r.output  # Click's usage errors and every KitError
    assert "Traceback" not in r.output
    assert not MARK.exists()


@pytest.fixture
def fuzz_project(tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> Path:
    # The host compiler's version is part of a toolchain's identity; asking g++ would start a
    # process, which unit tests do not.
    monkeypatch.setattr(toolchains, "host_compiler", lambda: "g++-unit")
    root = tmp_path_factory.mktemp("fuzz")
    path = write_project(root)
    run = results.create(root / "results")
    run.write_manifest(manifest(run.run_id))
    for r in grid():
        run.save(r)
    results.point_latest(run)
    return path


@FUZZ
@given(only=st.lists(values, max_size=2), axis=st.lists(values, max_size=2),
       preset=st.one_of(st.none(), values))
def test_fuzzed_selection_options_get_a_clear_error(fuzz_project: Path, only: list[str],
                                                    axis: list[str], preset: str | None) -> None:
    args = ["matrix", "plan", "--runtime", "host", "--json", "--matrix", str(fuzz_project)]
    args += [a for o in only for a in ("--only", o)] + [a for x in axis for a in ("--axis", x)]
    args += ["--preset", preset] if preset is not None else []
    clear_outcome(invoke(*args))


@FUZZ
@given(defines=st.lists(values, max_size=3), arch=st.one_of(st.none(), values))
def test_fuzzed_knob_values_get_a_clear_error(fuzz_project: Path, defines: list[str],
                                              arch: str | None) -> None:
    args = ["repro", "export", "sm12x", "--matrix", str(fuzz_project)]
    args += [a for d in defines for a in ("-D", d)]
    args += ["--arch", arch] if arch is not None else []
    clear_outcome(invoke(*args))


@FUZZ
@given(ref=values)
def test_fuzzed_run_references_get_a_clear_error(fuzz_project: Path, ref: str) -> None:
    root = str(fuzz_project.parent / "results")
    for args in (["matrix", "show", ref], ["report", ref], ["matrix", "diff", ref, "latest"]):
        clear_outcome(invoke(*args, "--results", root))


# ------------------------------------------------------------------ paths


def test_a_run_reference_cannot_lead_out_of_the_results_folder(tmp_path: Path) -> None:
    root = tmp_path / "results"
    run = results.create(root)
    run.write_manifest(manifest(run.run_id))
    (tmp_path / "outside").mkdir()  # a folder next to the results, not a run
    for ref in ("../outside", "/etc", "a/b", "..", ".", f"{run.run_id}/../../outside"):
        with pytest.raises(ResultsError):
            results.find(root, ref)
    assert results.find(root, run.run_id).path == run.path.resolve()
    assert results.find(root, str(run.path)).path == run.path.resolve()  # a run by its path
    assert not (tmp_path / "outside" / ".lock").exists()


def test_a_cell_id_is_a_plain_name_wherever_it_comes_from(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    with pytest.raises(ResultsError, match="not a plain file name"):
        run.cell_path("../../escape")
    with pytest.raises(ResultsError):
        run.log_path("..")
    # A knob value shaped like a path still makes a cell file inside cells/.
    project = write_project(tmp_path / "p")
    spec = project.parent / "repros" / "sm90" / "repro.yaml"
    spec.write_text(spec.read_text().replace("values: {auto: 0}", "values: {auto: 0, "
                                             "'../../../escape': 1, '/etc/x': 2}"))
    m = load(project, discover(project.parent / "repros"))
    cells = expand(m, overrides={"repro": ["sm90"], "stages": ["../../../escape", "/etc/x"]})
    facts = plan.Facts(toolchain_ids={"cuda13.0": "t"}, cutlass_ids={"4.2": "c"},
                       source_digests={"sm90": "s"}, gpus=GpuReport(gpus=()))
    for step in plan.plan(cells, m.repros, facts):
        assert run.cell_path(step.cell_id).parent == run.cells_dir


def test_a_stored_cell_naming_a_path_is_broken_not_followed(tmp_path: Path) -> None:
    run = results.create(tmp_path / "results")
    run.write_manifest(manifest(run.run_id))
    good = grid()[0]
    run.save(good)
    hostile = {**good.to_dict(), "cell_id": ".."}
    (run.cells_dir / "hostile.json").write_text(json.dumps(hostile))
    loaded = run.load()
    assert [r.cell_id for r in loaded.results] == [good.cell_id]
    assert [p.name for p, _ in loaded.broken] == ["hostile.json"]


# ------------------------------------------------------------------ damaged results


def test_a_truncated_cell_is_named_and_the_rest_of_the_run_still_shows(tmp_path: Path) -> None:
    root = tmp_path / "results"
    run = results.create(root)
    run.write_manifest(manifest(run.run_id))
    for cell in grid():
        run.save(cell)
    results.point_latest(run)
    victim = run.cell_path(grid()[0].cell_id)
    victim.write_text(victim.read_text()[:40])  # cut mid-file, as a crash or a copy can
    r = CliRunner().invoke(cli, ["matrix", "show", "--results", str(root)])
    assert r.exit_code == 0, r.output
    assert f"warning: unreadable cell result {victim.name}" in r.output
    assert "init_error_internal (unknown) on 2/5 cells" in r.output  # the other five
    r = CliRunner().invoke(cli, ["report", "--results", str(root)])
    assert r.exit_code == 0 and f"unreadable cell result {victim.name}" in r.output
    assert not run.has(grid()[0].cell_id)  # a resume does that cell again


def test_a_resume_keeps_final_cells_and_redoes_the_rest(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    cases = {
        "ok": (Outcome.OK, "", True),
        "kernel": (Outcome.COMPILE_ERROR, "static_assert", True),
        "timeout": (Outcome.TIMEOUT, "", True),  # the kernel hung: that is its result
        "infra": (Outcome.INFRA_ERROR, "runtime", False),
        "oom": (Outcome.COMPILE_ERROR, "oom", False),
        "slow": (Outcome.COMPILE_ERROR, "timeout", False),
    }
    for name, (outcome, cause, _) in cases.items():
        run.save(result(name, "int", outcome, evidence=Evidence(cause=cause)))
    for name, (_, _, kept) in cases.items():
        cell_id = result(name, "int", Outcome.OK).cell_id
        assert run.has(cell_id) is kept, name
    assert not run.has("never-written")


def test_a_refused_second_process_names_the_holder_and_leaves_its_pid(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    with run.lock():
        holder = (run.path / ".lock").read_text()
        refused = rf"in use by another kit process \(pid {holder}\)"
        with pytest.raises(ResultsError, match=refused), results.RunDir(run.path).lock():
            pass
        assert (run.path / ".lock").read_text() == holder


# ------------------------------------------------------------------ memory, shell, secrets


@pytest.mark.parametrize("output", [
    # what was seen here: cudafe++ under RLIMIT_AS, a cgroup OOM kill through nvcc's shell
    '/usr/include/c++/12/bits/stl_function.h(398): catastrophic error: out of memory\n'
    '1 catastrophic error detected in the compilation of "main.cu".\nCompilation terminated.',
    "Killed",
    "g++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated.",
    "nvcc error   : 'cicc' died due to signal 9 (Kill signal)",
    "terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc",
    "cc1plus: out of memory allocating 65536 bytes after a total of 3221225472 bytes",
    "virtual memory exhausted: Cannot allocate memory",
    "[kit: oom: the container reached its memory limit (64m) and the kernel's OOM killer "
    "ended it]",
])
def test_a_compiler_out_of_memory_is_oom_whatever_it_prints(output: str) -> None:
    v = classify.compile_failure(4, output, False)
    assert (v.outcome, v.evidence.cause) == (Outcome.COMPILE_ERROR, "oom")


def test_an_ordinary_error_mentioning_kills_is_not_oom() -> None:
    v = classify.compile_failure(1, "main.cu(3): error: identifier \"Killed\" is undefined",
                                 False)
    assert v.evidence.cause == "error"


def test_what_nvcc_would_hand_its_shell_is_refused_before_anything_runs() -> None:
    cmd.refuse_shell_text(["nvcc", "-DA=a;b", '-DB="x y"', "-DC=line\nbreak", "-DD='q'"])
    for bad in ("-DA=$(touch x)", "-DA=${HOME}", "-DA=`id`", "-DA=a\\b", "-I/tmp/$x/include"):
        with pytest.raises(UsageError, match="runs its steps through /bin/sh"):
            cmd.refuse_shell_text(["nvcc", bad])


def test_children_never_inherit_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "HF_TOKEN", "MY_API_KEY", "DB_PASSWORD",
                 "AWS_SECRET", "github_token"):
        monkeypatch.setenv(name, "s3cr3t-value")
    monkeypatch.setenv("KIT_CACHE_KEEP", "kept")
    env = cmd.child_environment()
    assert "s3cr3t-value" not in env.values()
    assert env["KIT_CACHE_KEEP"] == "kept" and "PATH" in env
