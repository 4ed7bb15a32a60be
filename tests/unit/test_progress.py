"""What a run says while it works, on a terminal and off one (CI logs, `| tee`)."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from kit.engine.progress import Reporter


def plain() -> Console:
    return Console(file=io.StringIO(), force_terminal=False)


def test_a_plain_log_says_what_is_in_flight_at_least_every_heartbeat(
        capsys: pytest.CaptureFixture[str]) -> None:
    with Reporter(console=plain(), heartbeat=0.3) as reporter:
        reporter.start(3, "3 builds", estimate=600)
        reporter.compiling("sm90-function_template", started=True)
        reporter.running("sm90-namespace_scope", started=True)
        time.sleep(1.6)
    err = capsys.readouterr().err
    beats = [ln for ln in err.splitlines() if "cells done" in ln]
    assert len(beats) >= 2  # silence never lasts longer than the heartbeat
    assert "compiling sm90-function_template" in beats[0]
    assert "running sm90-namespace_scope" in beats[0]
    assert "left by the compile history" in beats[0]
    assert err.splitlines()[0].startswith("3 builds: 3 cells; about ")


def test_the_status_line_lists_a_few_and_counts_the_rest() -> None:
    reporter = Reporter(console=plain())
    reporter.start(10, "10 builds")
    for i in range(5):
        reporter.compiling(f"cell{i}", started=True)
    reporter.compiling("cell0", started=False)
    line = reporter.status()
    assert "compiling cell1, cell2, cell3 and 1 more" in line
    assert "left" not in line  # no estimate was given: none is made up
    reporter.stop()


def test_quiet_says_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with Reporter(quiet=True, heartbeat=0.1) as reporter:
        reporter.start(1, "1 build", estimate=5)
        reporter.compiling("x", started=True)
        time.sleep(0.3)
    assert capsys.readouterr().err == ""
