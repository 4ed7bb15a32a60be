"""report.html in a real headless Chromium: it renders, and a filter hides what it should."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kit import results, workflow
from tests.integration.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
EVIDENCE = ROOT / "docs" / "evidence" / "h100-2026-11-25" / "sm90"


def chromium(tmp_path: Path, *args: str) -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("KIT_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def page(tmp_path: Path) -> Path:
    run = tmp_path / "sm90"
    shutil.copytree(EVIDENCE, run)
    workflow.write_reports(results.RunDir(run))
    return run / "report.html"


def test_report_renders_and_the_filter_works(page: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.count("class=\"cell\"") == 18  # every cell drawn, none hidden
    filtered = chromium(tmp_path, "--dump-dom",
                        page.as_uri() + "#filter:placement=namespace_scope")
    visible = filtered.count("class=\"cell\"")
    hidden = filtered.count("class=\"cell hidden\"")
    assert visible == 8  # the namespace_scope cells of both repros
    assert visible + hidden == 18
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri())
    assert shot.stat().st_size > 10_000
    if os.environ.get("KIT_KEEP_ARTIFACTS"):
        shutil.copy(shot, ROOT / "docs" / "evidence" / "report-html.png")
