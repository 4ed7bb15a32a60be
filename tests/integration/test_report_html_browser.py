"""report.html in a real headless Chromium (Debian's /usr/bin/chromium): the page renders from
a real run, a filter hides what it should, a cell's details open, and a screenshot is kept."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kit.engine import results
from kit.report import html
from kit.spec.model import CellResult
from tests.integration.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
EVIDENCE = ROOT / "docs" / "evidence" / "h100-2026-11-25" / "sm90"
SCREENSHOT = ROOT / "docs" / "evidence" / "report-html.png"


class Dom(HTMLParser):
    """What the browser left: each result cell (id -> hidden?) and the details panel's text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, bool] = {}
        self.sections: list[bool] = []
        self.details_hidden = True
        self.details_text = ""
        self._depth = 0  # >0 while inside #details

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        hidden = "hidden" in a or "hidden" in (a.get("class") or "").split()
        if tag == "td" and "cell" in (a.get("class") or "").split():
            self.cells[a["data-id"] or ""] = hidden
        if tag == "section":
            self.sections.append(hidden)
        if a.get("id") == "details":
            self.details_hidden, self._depth = hidden, 1
        elif self._depth and tag not in ("br", "hr", "img", "input", "meta"):
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.details_text += data


def chromium(profile: Path, *args: str) -> str:
    if not CHROMIUM.exists():
        if os.environ.get("KIT_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing and KIT_REQUIRE_BROWSER is set "
                        "(apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); "
                    "set KIT_REQUIRE_BROWSER=1 to fail instead")
    argv = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--mute-audio",
            f"--user-data-dir={profile}", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump(profile: Path, url: str) -> Dom:
    dom = Dom()
    dom.feed(chromium(profile, "--virtual-time-budget=2000", "--dump-dom", url))
    return dom


@pytest.fixture(scope="module")
def run() -> tuple[list[CellResult], Path]:
    return results.RunDir(EVIDENCE).load().results, EVIDENCE


@pytest.fixture
def page(tmp_path: Path, run: tuple[list[CellResult], Path]) -> Path:
    res, path = run
    rundir = results.RunDir(path)
    logs = {r.cell_id: rundir.log_path(r.cell_id).read_text(errors="replace")[-20_000:]
            for r in res if rundir.log_path(r.cell_id).is_file()}
    out = tmp_path / "report.html"
    out.write_text(html.render(res, rundir.manifest(), logs), encoding="utf-8")
    return out


def test_the_page_renders_every_cell(page: Path, tmp_path: Path,
                                     run: tuple[list[CellResult], Path]) -> None:
    dom = dump(tmp_path / "profile", page.as_uri())
    assert set(dom.cells) == {r.cell_id for r in run[0]} and len(dom.cells) == 18
    assert not any(dom.cells.values())  # no filter chosen: all visible
    assert dom.sections == [False, False] and dom.details_hidden


def test_a_url_filter_hides_the_other_placements(page: Path, tmp_path: Path,
                                                 run: tuple[list[CellResult], Path]) -> None:
    dom = dump(tmp_path / "profile", page.as_uri() + "#filter:placement=namespace_scope")
    placement = {r.cell_id: r.axes["placement"] for r in run[0]}
    visible = {c for c, hidden in dom.cells.items() if not hidden}
    assert visible == {c for c, p in placement.items() if p == "namespace_scope"}
    assert len(visible) == 8 and len(dom.cells) == 18
    both = dump(tmp_path / "profile", page.as_uri()
                + "#filter:placement=namespace_scope&tile=256x128x128")
    assert len([c for c, hidden in both.cells.items() if not hidden]) == 1
    assert both.sections == [True, False]  # the fp8 table has no tile=256x128x128 cell


def test_a_cell_link_opens_its_details(page: Path, tmp_path: Path,
                                       run: tuple[list[CellResult], Path]) -> None:
    bad = next(r for r in run[0] if r.evidence.cause == "unregistered_kernel_stub")
    dom = dump(tmp_path / "profile", page.as_uri() + "#cell:" + bad.cell_id)
    assert not dom.details_hidden
    text = dom.details_text
    assert bad.label in text and "init_error_internal" in text
    assert "cause: unregistered_kernel_stub" in text and '"status": "Error Internal"' in text
    assert "KIT_RESULT" in text  # the log's harness line, from logs/<id>.log


def test_screenshot(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(tmp_path / "profile", "--hide-scrollbars", f"--screenshot={shot}",
             "--window-size=1400,1000", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("KIT_KEEP_ARTIFACTS"):
        shutil.copy(shot, SCREENSHOT)
