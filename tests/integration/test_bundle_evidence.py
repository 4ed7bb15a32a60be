"""`kit report bundle` over a real H100 run of the build-structure preset: its failing
multi-TU cells have no single .cu to export, and the bundle says what it can."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from click.testing import CliRunner

from kit.cli.commands import cli
from tests.integration.conftest import ROOT

RUN = "20261126-003320-92ba"


def test_a_bundle_of_the_h100_build_structure_run(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs/evidence/h100-2026-11-26/build-structure-sm90",
                    tmp_path / "results" / RUN)
    out = tmp_path / "bundle.tar.gz"
    r = CliRunner().invoke(cli, ["report", "bundle", RUN, "--results", str(tmp_path / "results"),
                                 "--matrix", str(ROOT / "matrix.yaml"), "-o", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with tarfile.open(out) as tar:
        names = tar.getnames()
    sources = [n for n in names if n.endswith(".cu")]
    # the single-TU function_template failures export; the per-arch ones cannot, and do not
    assert sources and not any("tu_layout_per_arch" in n for n in sources)
    assert any(n.endswith("report.md") for n in names)
