"""Predictions for the GPU that is not here: from facts a CPU machine has, labelled, scored."""

from __future__ import annotations

from kit.engine import predict
from kit.report import markdown
from kit.spec.model import CellResult, Evidence, Outcome

SM90_CUBIN = {"cubins": [{"arch": "sm_90a", "kernels": 2, "device_kernels": 1}]}


def cell(label: str, outcome: Outcome, prediction: dict[str, str] | None = None,
         cause: str = "") -> CellResult:
    return CellResult(cell_id=f"{label}-x", label=label, axes={"repro": "r"}, outcome=outcome,
                      evidence=Evidence(cause=cause), prediction=prediction)


def test_shared_memory_over_the_targets_opt_in_is_predicted_with_both_byte_counts() -> None:
    # 128x128x128 FP8, 7 stages: 265,216 B (the H100 said so); an SM121 allows 101,376 B
    p = predict.predict("sm_121a", {"smem_bytes": 265216}, {})
    assert (p.outcome, p.cause) == ("init_error_internal", "smem_exceeds_optin")
    assert p.detail == "shared memory 265,216 B > sm_121a's opt-in 101,376 B"
    fits_hopper = predict.predict("sm_90a", {"smem_bytes": 199680}, SM90_CUBIN)
    assert fits_hopper.outcome == "none"
    # the same 199,680 B on an SM120 card is over its 99 KB
    assert predict.predict("sm_120a", {"smem_bytes": 199680}, {}).cause == "smem_exceeds_optin"


def test_a_missing_cubin_and_a_split_name_are_hazards_too() -> None:
    assert predict.predict("sm_121a", None, SM90_CUBIN).cause == "no_kernel_image"
    split = {**SM90_CUBIN, "kernels_named_twice": 1, "spellings": ["C<128>", "C<128u>"]}
    p = predict.predict("sm_90a", None, split)
    assert p.cause == "unregistered_kernel_stub" and "C<128> vs C<128u>" in p.detail


def test_a_prediction_is_listed_apart_and_never_for_a_cell_that_ran() -> None:
    told = {"outcome": "init_error_internal", "cause": "smem_exceeds_optin", "detail": "big"}
    lines = markdown.predictions([cell("a", Outcome.SKIPPED_ARCH, told),
                                  cell("b", Outcome.OK, told)])
    text = "\n".join(lines)
    assert "predictions, not outcomes" in text
    assert "`a`: predicted `init_error_internal`" in text and "`b`" not in text


def test_the_score_counts_hits_misses_and_false_alarms_per_hazard() -> None:
    smem = {"outcome": "init_error_internal", "cause": "smem_exceeds_optin", "detail": ""}
    none = {"outcome": "none", "cause": "", "detail": ""}
    stub = {"outcome": "init_error_internal", "cause": "unregistered_kernel_stub",
            "detail": ""}
    predicted = [cell("hit", Outcome.NO_GPU, smem), cell("miss", Outcome.NO_GPU, none),
                 cell("alarm", Outcome.NO_GPU, stub), cell("quiet", Outcome.NO_GPU, none)]
    real = [cell("hit", Outcome.INIT_ERROR_INTERNAL, cause="smem_exceeds_optin"),
            cell("miss", Outcome.INIT_ERROR_INTERNAL, cause="smem_exceeds_optin"),
            cell("alarm", Outcome.OK), cell("quiet", Outcome.OK)]
    found = predict.score(predicted, real)
    assert found["cells"] == 4
    assert found["per_cause"]["smem_exceeds_optin"] == {"hits": 1, "misses": 1,
                                                        "false_alarms": 0}
    assert found["per_cause"]["unregistered_kernel_stub"]["false_alarms"] == 1
    assert found["no_hazard_and_none_seen"] == 1


def test_a_plain_programs_failed_call_scores_as_the_hazard_it_was() -> None:
    """The reduced split program reports its failed CUDA call itself (run_failed), not through
    CUTLASS's initialize(): the same hazard, scored as a hit, never as a false alarm."""
    stub = {"outcome": "init_error_internal", "cause": "unregistered_kernel_stub", "detail": ""}
    none = {"outcome": "none", "cause": "", "detail": ""}
    predicted = [cell("split", Outcome.NO_GPU, stub), cell("exit", Outcome.NO_GPU, none)]
    real = [cell("split", Outcome.RUN_FAILED, cause="unregistered_kernel_stub"),
            cell("exit", Outcome.RUN_FAILED, cause="exit_status")]  # no hazard kit predicts
    found = predict.score(predicted, real)
    assert found["per_cause"] == {"unregistered_kernel_stub": {"hits": 1, "misses": 0,
                                                               "false_alarms": 0}}
    assert found["no_hazard_and_none_seen"] == 1
