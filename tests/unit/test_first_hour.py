"""What a new user meets around the core: each item seen in the first hour, as a test."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from kit.cli import cli
from kit.engine import results
from kit.report import terminal
from kit.sources import toolchains
from kit.spec.model import CellResult, Evidence, Outcome

ROOT = Path(__file__).resolve().parents[2]


def cells() -> list[CellResult]:
    out = []
    for placement, outcome in (("function_template", Outcome.INIT_ERROR_INTERNAL),
                               ("namespace_scope", Outcome.OK)):
        axes = {"repro": "sm90", "cuda": "host", "cutlass": "4.2", "arch": "sm_90a",
                "placement": placement}
        out.append(CellResult(cell_id=f"sm90-{placement}-x", label=f"sm90-{placement}",
                              axes=axes, outcome=outcome, reason="initialize(): Error Internal",
                              evidence=Evidence(cause="unregistered_kernel_stub")))
    return out


def test_matrix_show_draws_tables_for_a_terminal_not_markdown() -> None:
    out = io.StringIO()
    terminal.show(cells(), {"run_id": "r1"}, Console(file=out, width=120, force_terminal=False))
    text = out.getvalue()
    assert "<sub>" not in text and "<details>" not in text and "| ---" not in text
    assert "init_error_internal" in text and "┃" in text  # a drawn table
    assert "sm90-function_template: init_error_internal (unregistered_kernel_stub)" in text


def test_the_html_report_goes_to_a_file_and_stdout_only_when_asked(tmp_path: Path) -> None:
    run = results.create(tmp_path)
    with run.lock():
        run.write_manifest({"run_id": run.run_id, "kit_version": "0.1.0", "runtime": "host",
                            "gpus": {"gpus": []}, "toolchains": {}, "cutlass": {},
                            "cells": []})
        for c in cells():
            run.save(c)
    results.point_latest(run)
    out = tmp_path / "page.html"
    r = CliRunner().invoke(cli, ["report", "--results", str(tmp_path), "--format", "html",
                                 "-o", str(out)])
    assert r.exit_code == 0 and out.read_text().startswith("<!doctype html>")
    assert "<html" not in r.stdout  # the page went to the file, not the terminal
    piped = CliRunner().invoke(cli, ["report", "--results", str(tmp_path), "--format", "html"])
    assert piped.stdout.startswith("<!doctype html>")  # piped (not a TTY): the page itself
    assert not (run.path / ".lock").exists()  # a finished run folder holds only results


def test_a_wrapper_nvcc_stands_for_the_toolkit_it_execs(tmp_path: Path) -> None:
    toolkit = tmp_path / "cuda-13.0"
    (toolkit / "bin").mkdir(parents=True)
    (toolkit / "bin" / "nvcc").write_text("#!/bin/sh\necho real\n")
    wrapper = tmp_path / "local"
    (wrapper / "bin").mkdir(parents=True)
    (wrapper / "bin" / "nvcc").write_text(f"#!/bin/sh\nexec {toolkit}/bin/nvcc \"$@\"\n")
    assert toolchains._wrapped_home(wrapper) == toolkit.resolve()
    assert toolchains._wrapped_home(toolkit) == toolkit
