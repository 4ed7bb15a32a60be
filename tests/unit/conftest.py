from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests spawn nothing: anything that needs nvcc or Docker is an integration test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"unit tests must not start processes: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


REPRO_A = """\
description: a grouped GEMM with the bug report's knobs
kind: cuda
sources: [main.cu]
archs: [sm_120a, sm_121a, sm_120f]
flags: [-std=c++17, -O2]
run_args: [--groups, "2"]
knobs:
  placement: {macro: KIT_PLACEMENT, default: function_template,
              values: {non_template: 0, function_template: 1, namespace_scope: 2}}
  shape_type: {macro: KIT_SHAPE, default: int, values: {int: 0, int64: 1}}
  b_stride: {macro: KIT_B_STRIDE, default: packed, values: {packed: 0, legacy: 1}}
"""

REPRO_B = """\
description: an SM90 analog
kind: cuda
sources: [main.cu]
archs: [sm_90a]
flags: [-std=c++17]
knobs:
  placement: {macro: KIT_PLACEMENT, default: namespace_scope,
              values: {non_template: 0, function_template: 1, namespace_scope: 2}}
  shape_type: {macro: KIT_SHAPE, default: int, values: {int: 0, int64: 1}}
  stages: {macro: KIT_STAGES, default: auto, values: {auto: 0}, integer: true}
  tile: {default: 128x128x128, values: {128x128x128: {KIT_TILE_M: 128, KIT_TILE_N: 128},
                                        128x256x64: {KIT_TILE_M: 128, KIT_TILE_N: 256}}}
"""

MATRIX = """\
toolchains:
  cuda13.0: {pip: "13.0.88"}
  cuda13.2: {pip: "13.2.78"}
cutlass:
  "4.2": {pypi: "4.2.0.0"}
axes:
  repro: [sm12x, sm90]
  cuda: [cuda13.0]
  cutlass: ["4.2"]
  placement: [non_template, function_template, namespace_scope]
  shape_type: [int, int64]
presets:
  smoke:
    axes:
      arch: [sm_121a, sm_90a]
      placement: [function_template]
      shape_type: [int]
  sm90:
    axes:
      repro: [sm90]
      stages: [auto]
    include:
      - {placement: namespace_scope, shape_type: int, stages: 5}
"""


def write_project(root: Path, matrix: str = MATRIX) -> Path:
    """A project folder as a user has it: matrix.yaml and repros/ (sources are not compiled)."""
    for name, spec in (("sm12x", REPRO_A), ("sm90", REPRO_B)):
        folder = root / "repros" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "repro.yaml").write_text(spec)
        (folder / "main.cu").write_text('#include "kit_harness.h"\nint main() { return 0; }\n')
    (root / "repros" / "harness").mkdir(exist_ok=True)
    (root / "repros" / "harness" / "kit_harness.h").write_text("#pragma once\n// harness\n")
    path = root / "matrix.yaml"
    path.write_text(textwrap.dedent(matrix))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path)
