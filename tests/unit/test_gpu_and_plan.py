from __future__ import annotations

from pathlib import Path

import pytest

from kit.engine import plan
from kit.spec import matrix
from kit.spec.repros import discover
from kit.util import gpu

H100 = gpu.Gpu(index=0, name="NVIDIA H100 80GB HBM3", cc=(9, 0), smem_optin_bytes=232448)
SPARK = gpu.Gpu(index=0, name="NVIDIA GB10", cc=(12, 1), smem_optin_bytes=101376)


@pytest.mark.parametrize(
    ("arch", "cc", "runs"),
    [
        ("sm_121a", (12, 1), True),
        ("sm_121a", (12, 0), False),  # an 'a' cubin loads only on its exact capability
        ("sm_120a", (12, 1), False),
        ("sm_120f", (12, 1), True),  # family cubins load across the family
        ("sm_120f", (12, 0), True),
        ("sm_90a", (9, 0), True),
        ("sm_90a", (12, 1), False),
        ("sm_80", (8, 6), True),
        ("sm_80", (9, 0), False),
    ],
)
def test_gating_follows_cubin_compatibility(arch: str, cc: tuple[int, int], runs: bool) -> None:
    assert gpu.can_run(arch, cc) is runs


def steps_for(project: Path, gpus: gpu.GpuReport, preset: str = "smoke") -> list[plan.Step]:
    m = matrix.load(project, discover(project.parent / "repros"))
    cells = matrix.expand(m, preset=preset)
    facts = plan.Facts(
        toolchain_ids={n: f"pip:nvcc-{t.ref}" for n, t in m.toolchains.items()},
        cutlass_ids={n: c.spec for n, c in m.cutlass.items()},
        source_digests={n: r.source_digest() for n, r in m.repros.items()},
        gpus=gpus,
    )
    return plan.plan(cells, m.repros, facts)


def test_on_an_h100_sm90_runs_and_sm121_is_skipped_with_the_reason(project: Path) -> None:
    steps = {s.cell.repro: s for s in steps_for(project, gpu.GpuReport(gpus=(H100,)))}
    assert steps["sm90"].run is plan.RunDecision.RUN
    assert steps["sm12x"].run is plan.RunDecision.SKIPPED_ARCH
    assert "compute capability exactly 12.1" in steps["sm12x"].reason
    assert "NVIDIA H100" in steps["sm12x"].reason


def test_on_a_dgx_spark_the_sm121_cell_runs(project: Path) -> None:
    steps = {s.cell.repro: s for s in steps_for(project, gpu.GpuReport(gpus=(SPARK,)))}
    assert steps["sm12x"].run is plan.RunDecision.RUN
    assert steps["sm90"].run is plan.RunDecision.SKIPPED_ARCH


def test_without_a_gpu_everything_compiles_and_nothing_runs(project: Path) -> None:
    steps = steps_for(project, gpu.GpuReport(gpus=(), error="NVML unavailable"))
    assert {s.run for s in steps} == {plan.RunDecision.NO_GPU}


def test_ids_change_with_inputs_and_only_with_inputs(project: Path) -> None:
    report = gpu.GpuReport(gpus=())
    first = [s.cell_id for s in steps_for(project, report)]
    assert first == [s.cell_id for s in steps_for(project, report)]
    (project.parent / "repros" / "sm90" / "main.cu").write_text("// edited\n")
    second = {s.cell.repro: s.cell_id for s in steps_for(project, report)}
    assert second["sm90"] not in first  # the source changed: a new cell
    assert second["sm12x"] in first  # untouched repro: same id, a resume skips it


def test_plan_text_aligns_and_says_a_shared_reason_once(project: Path) -> None:
    from kit.engine.scheduler import Estimate
    from kit.report import plantext

    steps = steps_for(project, gpu.GpuReport(gpus=(H100,)), preset="sm90")
    text = plantext.render(steps, Estimate(seconds=300, builds=7, measured=5), max_cells=3)
    lines = text.splitlines()
    cells = lines[:len(steps)]
    assert len({ln.index("compile") for ln in cells}) == 1  # one column
    assert "7 to compile, about 5 min here by the compile history (2 of them never compiled " \
        "here: guessed)" in text
    assert "more than --max-cells 3" in text
    no_gpu = plantext.render(steps_for(project, gpu.GpuReport(gpus=(), error="no driver")))
    assert no_gpu.count("no driver") == 1 and "[1] " in no_gpu
