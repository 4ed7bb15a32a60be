"""A multi-TU build's objects are cached by what makes them: the same units linked in the
other order are not compiled again (real nvcc, two translation units, two archs)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from tests.integration.conftest import ROOT, fresh_cache

HOST = """\
#include <cstdio>
int unit_entry();
int main() { std::printf("KIT_RESULT {\\"stage\\":\\"done\\",\\"n\\":%d}\\n", unit_entry()); }
"""
UNIT = """\
#ifndef KIT_TU_ARCH
#define KIT_TU_ARCH 0
#endif
static __global__ void scale(float* x) { x[threadIdx.x] *= KIT_TU_ARCH; }
#if KIT_TU_ARCH == 90
int unit_entry() { return KIT_TU_ARCH; }
#endif
"""


def test_units_linked_in_the_other_order_reuse_their_objects(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty build and object cache (installed toolchains shared), so the compiles are real.
    fresh = fresh_cache(tmp_path)
    monkeypatch.setenv("KIT_CACHE", str(fresh))
    folder = tmp_path / "repros" / "two_units"
    folder.mkdir(parents=True)
    (tmp_path / "repros" / "harness").symlink_to(ROOT / "repros" / "harness")
    (folder / "host.cu").write_text(HOST)
    (folder / "unit.cu").write_text(UNIT)
    (folder / "main.cu").write_text(HOST + UNIT.replace("#if KIT_TU_ARCH == 90", "#if 1"))
    (folder / "repro.yaml").write_text(textwrap.dedent("""\
        kind: cuda
        sources: [main.cu]
        units: [{source: host.cu}, {source: unit.cu, per_arch: true}]
        archs: [sm_90a]
        build_axes: [tu_layout, arch_list, link_order]
        """))
    (tmp_path / "matrix.yaml").write_text(textwrap.dedent("""\
        toolchains:
          cuda13.0: {pip: "13.0.88"}
        cutlass:
          "4.2": {pypi: "4.2.0.0"}
        axes:
          repro: [two_units]
          tu_layout: [per_arch]
          arch_list: [sm_80+sm_90a]
          link_order: [as_listed, reversed]
        """))
    r = CliRunner().invoke(cli, ["matrix", "run", "--runtime", "host", "-j", "1",
                                 "--matrix", str(tmp_path / "matrix.yaml"),
                                 "--results", str(tmp_path / "results"), "--json"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    run = results.find(tmp_path / "results", None)
    logs = {c.axes["link_order"]: run.log_path(c.cell_id).read_text()
            for c in run.load().results}
    first, second = sorted(logs.values(), key=lambda log: log.count("[object cached"))
    assert first.count("[object cached") == 0
    assert second.count("[object cached") == 3  # host.o and the unit for each arch
    assert second.count("$ ") == 4  # three objects taken from the cache, then the link
    assert len(list((fresh / "objects").glob("*.o"))) == 3
    assert all(c.outcome.value in ("no_gpu", "ok") for c in run.load().results)
