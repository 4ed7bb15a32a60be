from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


def selftest_project(tmp_path: Path, axes: str) -> Path:
    """A matrix of the real harness_selftest repro (compiles in seconds) in a fresh folder."""
    (tmp_path / "repros").symlink_to(ROOT / "repros")
    path = tmp_path / "matrix.yaml"
    path.write_text(textwrap.dedent("""\
        toolchains:
          cuda13.0: {pip: "13.0.88"}
        cutlass:
          "4.2": {pypi: "4.2.0.0"}
        axes:
          repro: [harness_selftest]
        """) + textwrap.indent(textwrap.dedent(axes), "  "))
    return path
