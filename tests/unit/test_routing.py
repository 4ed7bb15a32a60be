"""Every GPU of a machine: cells routed by architecture to the least busy GPU that can run
them; a GPU that faults takes no more cells and the others go on."""

from __future__ import annotations

from kit.engine import routing
from kit.spec.model import CellResult, Evidence, Outcome
from kit.util.gpu import Gpu

H100 = [Gpu(index=i, name="NVIDIA H100 80GB HBM3", cc=(9, 0)) for i in range(4)]
RTX_PRO = Gpu(index=1, name="NVIDIA RTX PRO 6000 Blackwell", cc=(12, 0))
SPARK = Gpu(index=2, name="NVIDIA GB10", cc=(12, 1))


def result(outcome: Outcome, reason: str = "", detail: str = "") -> CellResult:
    return CellResult(cell_id="c", label="c", axes={}, outcome=outcome, reason=reason,
                      evidence=Evidence(detail=detail))


def test_cells_spread_over_several_h100s_least_busy_first() -> None:
    router = routing.Router.over(tuple(H100))
    placed = [router.route("sm_90a") for _ in range(6)]
    assert [g.index for g in placed if g] == [0, 1, 2, 3, 0, 1]
    router.done(result(Outcome.OK), 2)
    chosen = router.route("sm_90a")
    assert chosen is not None and chosen.index == 2  # the one that finished takes the next


def test_an_sm120_cell_finds_the_card_that_can_run_it() -> None:
    router = routing.Router.over((H100[0], RTX_PRO, SPARK))
    assert [router.route("sm_90a").index for _ in range(2)] == [0, 0]  # type: ignore[union-attr]
    got = router.route("sm_120a")
    assert got is not None and got.index == 1  # exact: 12.0 only
    spark = router.route("sm_121a")
    assert spark is not None and spark.index == 2
    family = [router.route("sm_120f") for _ in range(2)]  # 12.0 and 12.1 both run sm_120f
    assert {g.index for g in family if g} == {1, 2}
    assert router.route("sm_100a") is None
    assert router.why_none("sm_100a") == "no GPU here can run sm_100a"


def test_a_gpu_that_faults_takes_no_more_cells_and_the_rest_go_on() -> None:
    router = routing.Router.over(tuple(H100[:2]))
    first = router.route("sm_90a")
    assert first is not None and first.index == 0
    why = router.done(result(Outcome.RUN_FAILED, "run(): Error Internal",
                             "cudaErrorIllegalAddress: an illegal memory access"), 0)
    assert why == "cudaErrorIllegalAddress"
    assert {router.route("sm_90a").index for _ in range(3)} == {1}  # type: ignore[union-attr]
    router.done(result(Outcome.CRASH, "killed by SIGSEGV", "Xid 79 on the bus"), 1)
    assert router.route("sm_90a") is None
    assert "GPU 0 faulted: cudaErrorIllegalAddress" in router.why_none("sm_90a")


def test_a_kernels_own_failure_is_no_fault_of_the_gpu() -> None:
    router = routing.Router.over(tuple(H100[:1]))
    router.route("sm_90a")
    assert router.done(result(Outcome.INIT_ERROR_INTERNAL, "initialize(): Error Internal",
                              "cudaErrorInvalidValue"), 0) is None
    assert router.route("sm_90a") is not None
    assert routing.Router.over(tuple(H100), limit=2).gpus == tuple(H100[:2])  # --gpus 2
