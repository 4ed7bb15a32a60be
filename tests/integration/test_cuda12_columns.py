"""The CUDA 12.8 / 12.9 columns come from NVIDIA's images, pinned by digest. Where no
registry answers (here, and CI), their cells end at once as infra_error naming the pull and the
ways out, while the other columns of the same run compile as usual."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from kit.spec.model import Outcome
from tests.integration.conftest import BASE, ROOT

CUDA129 = ("nvidia/cuda:12.9.1-devel-ubuntu24.04@sha256:"
           "020bc241a628776338f4d4053fed4c38f6f7f3d7eb5919fecb8de313bb8ba47c")


def test_an_image_column_without_a_registry_fails_fast_and_the_rest_goes_on(
        engine: Any, tmp_path: Path) -> None:
    if any(CUDA129.split("@")[0] in tag for img in engine.images.list() for tag in img.tags):
        return  # an engine that holds NVIDIA's image has nothing to prove here
    (tmp_path / "repros").symlink_to(ROOT / "repros")
    for shipped in ("Dockerfile", "images"):  # the image recipe and its lock, as in the project
        (tmp_path / shipped).symlink_to(ROOT / shipped)
    (tmp_path / "matrix.yaml").write_text(textwrap.dedent(f"""\
        toolchains:
          cuda13.0: {{pip: "13.0.88"}}
          cuda12.9: {{image: "{CUDA129}", cuda: "12.9"}}
        cutlass:
          "4.2": {{pypi: "4.2.0.0"}}
        axes:
          repro: [harness_selftest]
          cuda: [cuda12.9, cuda13.0]
          arch: [sm_90a]
          mode: [ok]
        """))
    started = time.monotonic()
    r = CliRunner().invoke(cli, ["matrix", "run", "--matrix", str(tmp_path / "matrix.yaml"),
                                 "--runtime", "docker", "--base", BASE, "--results",
                                 str(tmp_path / "results")], catch_exceptions=False)
    assert r.exit_code == 0, r.output  # one column answered: not every cell is infra_error
    cells = {c.axes["cuda"]: c for c in results.find(tmp_path / "results", None).load().results}
    old = cells["cuda12.9"]
    assert old.outcome is Outcome.INFRA_ERROR
    assert old.reason.startswith(f"the base image {CUDA129} is not here and cannot be pulled")
    assert "docker load" in old.evidence.detail and "--axis cuda=" in old.evidence.detail
    assert "--base" not in old.evidence.detail  # --base does not replace an image column
    assert cells["cuda13.0"].outcome is not Outcome.INFRA_ERROR  # the other column compiled
    report = (results.find(tmp_path / "results", None).path / "report.md").read_text()
    assert "toolchain cuda12.9" in report and "digest not verified" in report
    assert time.monotonic() - started < 600
