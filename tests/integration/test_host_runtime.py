"""Real compiles with a kit-installed nvcc (PyPI wheels) against real CUTLASS headers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from kit.spec.model import Outcome
from kit.util import gpu
from tests.integration.conftest import fresh_cache, selftest_project


def run_kit(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def test_cells_compile_for_real_and_only_a_gpu_gives_gpu_outcomes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    selftest_project(tmp_path, """\
        arch: [sm_90a, sm_121a]
        mode: [ok, wrong]
        """)
    monkeypatch.chdir(tmp_path)  # relative paths, as a user in a project folder types them
    matrix = Path("matrix.yaml")
    code, out = run_kit("matrix", "run", "--runtime", "host", "--json")
    assert code == 0, out
    run = results.find(tmp_path / "results", None)
    cells = {(r.axes["arch"], r.axes["mode"]): r for r in run.load().results}
    assert len(cells) == 4
    assert all(r.compile_seconds is not None for r in cells.values())
    report = gpu.detect()
    h100 = any(g.cc == (9, 0) for g in report.gpus)
    if not report.present:
        assert {r.outcome for r in cells.values()} == {Outcome.NO_GPU}
    elif h100:
        assert cells["sm_90a", "ok"].outcome is Outcome.OK
        assert cells["sm_90a", "wrong"].outcome is Outcome.WRONG_RESULT
        assert cells["sm_121a", "ok"].outcome is Outcome.SKIPPED_ARCH
    assert (run.path / "report.md").read_text().count("harness_selftest") >= 2
    assert (run.path / "logs").is_dir()
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["toolchains"]["cuda13.0"].startswith("pip:nvcc-13.0.88+g++-")
    assert "CUTLASS 4.2.0" in manifest["cutlass"]["4.2"]

    # Unchanged matrix, second run: every result is carried over, nothing compiles or runs.
    code, out = run_kit("matrix", "run", "--runtime", "host", "--matrix", str(matrix), "--json")
    assert code == 0, out
    second = results.find(tmp_path / "results", None)
    assert second.path != run.path
    assert set(second.manifest()["reused"]) == {r.cell_id for r in cells.values()}
    assert sorted(r.to_dict().items() for r in second.load().results) == sorted(
        r.to_dict().items() for r in run.load().results)
    assert "carried over from earlier runs" in (second.path / "report.md").read_text()

    # --rerun runs every cell again; every binary comes from the compile cache.
    code, out = run_kit("matrix", "run", "--runtime", "host", "--rerun", "--json")
    assert code == 0, out
    third = results.find(tmp_path / "results", None)
    assert "reused" not in third.manifest()
    assert all(r.compile_cached for r in third.load().results)


def test_ctrl_c_keeps_every_finished_cell_and_resume_completes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = selftest_project(tmp_path, """\
        arch: [sm_80, sm_90a, sm_120f, sm_121a]
        mode: [abort]
        """)
    root = tmp_path / "results"
    argv = [sys.executable, "-m", "kit", "matrix", "run", "--runtime", "host", "--matrix",
            str(matrix),
            "--results", str(root), "-j", "1"]
    # An empty build cache, so the compiles are real and slow enough to interrupt; the
    # toolchain and CUTLASS already installed are shared.
    cache = fresh_cache(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KIT_CACHE": str(cache)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not list(root.glob("*/cells/*.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "resume with: kit matrix run --resume" in err
    assert err.split()[-1] not in ("aborted", "interrupted"), err  # said once, above
    run = results.find(root, None)
    first = {p.name: p.read_text() for p in run.cells_dir.glob("*.json")}
    assert 1 <= len(first) < 4
    assert not list(run.cells_dir.glob(".*"))  # nothing half-written
    assert not [p for p in run.path.rglob("*") if p.name.startswith(".") and p.name != ".lock"]

    monkeypatch.setenv("KIT_CACHE", str(cache))  # the resume finds the first run's builds
    code, out = run_kit("matrix", "run", "--runtime", "host", "--matrix", str(matrix),
                        "--results", str(root), "--resume", "--json")
    assert code == 0, out
    after = {p.name: p.read_text() for p in run.cells_dir.glob("*.json")}
    assert len(after) == 4
    assert all(after[name] == text for name, text in first.items())  # kept, not re-run


def test_a_cell_no_gpu_here_runs_gets_facts_and_a_prediction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if gpu.detect().present:
        return  # the cell runs for real there
    matrix = selftest_project(tmp_path, "arch: [sm_90a]\nmode: [ok]\n")
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path)))
    code, out = run_kit("matrix", "run", "--matrix", str(matrix), "--runtime", "host",
                        "--results", str(tmp_path / "results"))
    assert code == 0, out
    run = results.find(tmp_path / "results", None)
    (cell,) = run.load().results
    assert cell.outcome is Outcome.NO_GPU
    assert cell.prediction is not None and cell.prediction["outcome"] == "none"
    facts = (run.path / "logs" / f"{cell.cell_id}.facts.log").read_text()
    assert 'KIT_RESULT {' in facts and '"stage":"facts"' in facts  # it touched no device
