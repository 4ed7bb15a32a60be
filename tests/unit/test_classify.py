from __future__ import annotations

import json
import signal
from typing import Any

from kit.engine import classify
from kit.spec.model import Outcome

H100_OPTIN = 232448


def line(**fields: Any) -> str:
    base: dict[str, Any] = {
        "repro": "sm90_ptr_array_grouped", "stage": "done", "status": "Success",
        "cuda_error": {"name": "cudaSuccess", "string": "no error"},
        "smem_bytes": 182272, "smem_optin_bytes": H100_OPTIN,
        "device": {"name": "NVIDIA H100 80GB HBM3", "cc": "9.0"},
        "verify": {"ran": True, "passed": True, "max_abs_error": 0.0, "tolerance": 0.01},
        "knobs": {"stages": "auto"},
    }
    base.update(fields)
    return "some compiler chatter\nKIT_RESULT " + json.dumps(base) + "\n"


def test_verified_run_is_ok() -> None:
    v = classify.run_result(0, line(), timed_out=False, limit=60)
    assert v.outcome is Outcome.OK
    assert v.kit_result is not None and v.kit_result["device"]["cc"] == "9.0"


def test_error_internal_from_oversized_shared_storage_names_both_byte_counts() -> None:
    out = line(stage="initialize", status="Error Internal", smem_bytes=281600,
               direct_set_attribute={"name": "cudaErrorInvalidValue", "string": "invalid argument"})
    v = classify.run_result(0, out, timed_out=False, limit=60)
    assert v.outcome is Outcome.INIT_ERROR_INTERNAL
    assert v.evidence.cause == "smem_exceeds_optin"
    assert "281,600 B > opt-in 232,448 B" in v.evidence.detail


def test_error_internal_without_an_image_is_invalid_device_function() -> None:
    out = line(stage="initialize", status="Error Internal", smem_bytes=90000,
               smem_optin_bytes=101376,
               func_attributes={"error": {"name": "cudaErrorInvalidDeviceFunction"}})
    v = classify.run_result(0, out, timed_out=False, limit=60)
    assert v.evidence.cause == "invalid_device_function"


def test_error_internal_with_a_failing_set_attribute_and_fitting_smem() -> None:
    out = line(stage="initialize", status="Error Internal", smem_bytes=90000,
               smem_optin_bytes=101376,
               direct_set_attribute={"name": "cudaErrorInvalidResourceHandle"})
    assert classify.run_result(0, out, False, 60).evidence.cause == "func_set_attribute_failed"


def test_other_stages_map_to_their_outcomes() -> None:
    cases = {
        "can_implement": Outcome.CAN_IMPLEMENT_FAILED,
        "run": Outcome.RUN_FAILED,
    }
    for stage, outcome in cases.items():
        assert classify.run_result(0, line(stage=stage, status="Error Misaligned Operand"),
                                   False, 60).outcome is outcome
    wrong = line(stage="verify", verify={"ran": True, "passed": False, "max_abs_error": 3.0,
                                         "tolerance": 0.01})
    assert classify.run_result(0, wrong, False, 60).outcome is Outcome.WRONG_RESULT
    other = line(stage="initialize", status="Error Workspace Null")
    assert classify.run_result(0, other, False, 60).outcome is Outcome.INIT_ERROR_OTHER


def test_no_line_and_a_signal_is_a_crash_with_the_signal_name() -> None:
    v = classify.run_result(-signal.SIGSEGV, "Segmentation fault", False, 60)
    assert v.outcome is Outcome.CRASH
    assert "SIGSEGV" in v.reason


def test_timeout_wins_over_everything() -> None:
    assert classify.run_result(-9, "", True, 5).outcome is Outcome.TIMEOUT


def test_driver_older_than_the_binary_is_infra_not_kernel() -> None:
    out = line(stage="device", cuda_error={"name": "cudaErrorInsufficientDriver",
                                           "string": "driver too old"})
    v = classify.run_result(0, out, False, 60)
    assert v.outcome is Outcome.INFRA_ERROR
    assert v.evidence.cause == "driver_too_old"


def test_malformed_line_counts_as_no_line_and_a_clean_exit_is_not_a_crash() -> None:
    assert classify.parse_line("KIT_RESULT {not json") is None
    v = classify.run_result(0, "KIT_RESULT {oops", False, 60)
    assert v.outcome is Outcome.EXITED_UNVERIFIED
    assert v.evidence.cause == "bad_result"


def test_compile_failures_get_a_cause() -> None:
    unsupported = "nvcc fatal   : Unsupported gpu architecture 'compute_121a'"
    assert classify.compile_failure(1, unsupported, False).evidence.cause == "unsupported_arch"
    stub = ("x.cudafe1.stub.c:17:41: error: template-id '__wrapper__device_stub_device_kernel<"
            "Cfg<128>::GemmKernel>' does not match any template declaration")
    v = classify.compile_failure(1, stub, False)
    assert v.outcome is Outcome.COMPILE_ERROR
    assert v.evidence.cause == "host_stub"
    assert "does not match any template declaration" in v.evidence.detail
    assert classify.compile_failure(-9, "Killed", False).evidence.cause == "oom"
    mismatch = ("main.cu:574: error: type/value mismatch at argument 2 in template parameter "
                "list for 'template<class DispatchPolicy, class ... Args> class "
                "cutlass::epilogue::collective::CollectiveEpilogue'")
    assert classify.compile_failure(1, mismatch, False).evidence.cause == "host_template"
    assert classify.compile_failure(-9, "", True).evidence.cause == "timeout"


EXPECT = {"passed": r"Disposition:\s*Passed", "failed": r"Disposition:\s*Failed",
          "refused": r"requires (a GPU|CUDA \d)"}


def test_upstream_example_output_is_classified_without_a_harness_line() -> None:
    passed = "  Problem Sizes, Alpha, Beta\n  Disposition: Passed\n  Avg runtime: 0.1 ms\n"
    assert classify.run_result(0, passed, False, 60, EXPECT).outcome is Outcome.OK
    failed = "  Disposition: Failed\n"
    assert classify.run_result(0, failed, False, 60, EXPECT).outcome is Outcome.WRONG_RESULT
    internal = "Got cutlass error: Error Internal at: 612\n"
    v = classify.run_result(1, internal, False, 60, EXPECT)
    assert v.outcome is Outcome.INIT_ERROR_INTERNAL
    assert "Got cutlass error: Error Internal at: 612" in v.reason
    refused = "This example requires a GPU of NVIDIA's Hopper Architecture.\n"
    assert classify.run_result(0, refused, False, 60, EXPECT).outcome is Outcome.SKIPPED_ARCH
    # nothing recognisable: the exit status decides, as for any program
    assert classify.run_result(-11, "", False, 60, EXPECT).outcome is Outcome.CRASH


def test_a_compiler_that_cannot_read_its_inputs_is_infra_not_the_kernel() -> None:
    v = classify.compile_failure(1, "cc1plus: error: /kit/cutlass/include: Permission denied",
                                 False)
    assert v.outcome is Outcome.INFRA_ERROR
    assert v.evidence.cause == "filesystem"


def test_error_internal_from_a_stub_for_an_unregistered_kernel() -> None:
    # what the H100 printed for sm90_fp8_blockwise_grouped, placement=function_template
    handle = {"name": "cudaErrorInvalidResourceHandle", "string": "invalid resource handle"}
    out = line(stage="initialize", status="Error Internal", smem_bytes=180000,
               func_attributes={"error": handle}, direct_set_attribute=handle)
    v = classify.run_result(0, out, False, 60, binary_facts={"kernels_named_twice": 1})
    assert v.outcome is Outcome.INIT_ERROR_INTERNAL
    assert v.evidence.cause == "unregistered_kernel_stub"
    assert "C<N> vs C<Nu>" in v.evidence.detail
    # without the static evidence kit says only what it saw
    plain = classify.run_result(0, out, False, 60)
    assert plain.evidence.cause == "func_set_attribute_failed"


def test_a_probes_own_stages_map_to_outcomes_with_the_note_kept() -> None:
    line = ('KIT_RESULT {"stage": "jit", "status": "", "note": "ninja: build stopped: '
            'subcommand failed"}')
    v = classify.run_result(0, line, False, 60.0, {}, {})
    assert v.outcome.value == "compile_error" and v.evidence.cause == "jit"
    assert "ninja: build stopped" in v.reason
    imp = classify.run_result(0, 'KIT_RESULT {"stage": "import", "note": "no torch"}', False,
                              60.0, {}, {})
    assert imp.outcome.value == "infra_error" and imp.evidence.cause == "import"


def test_a_package_that_pip_cannot_find_is_an_infra_error_not_a_kernel_outcome() -> None:
    out = ("ERROR: Could not find a version that satisfies the requirement "
           "flashinfer-python==9.9 (from versions: 0.5.2)\n"
           "ERROR: No matching distribution found for flashinfer-python==9.9\n")
    v = classify.compile_failure(1, out, False)
    assert v.outcome.value == "infra_error" and v.evidence.cause == "package_install"


def test_stage_done_is_ok_only_when_verify_ran_and_passed() -> None:
    unverified = line(verify={"ran": False, "passed": False})
    v = classify.run_result(0, unverified, False, 60)
    assert v.outcome is Outcome.EXITED_UNVERIFIED and v.evidence.cause == "verify_not_run"
    failed = line(verify={"ran": True, "passed": False, "max_abs_error": 3.0})
    assert classify.run_result(0, failed, False, 60).outcome is Outcome.WRONG_RESULT


def test_invalid_device_function_beside_two_names_checks_the_cubins_first() -> None:
    missing = {"name": "cudaErrorInvalidDeviceFunction", "string": "invalid device function"}
    out = line(stage="initialize", status="Error Internal", smem_bytes=90000,
               func_attributes={"error": missing}, direct_set_attribute=missing)
    no_sm90 = {"kernels_named_twice": 1,
               "cubins": [{"arch": "sm_80", "kernels": 2, "device_kernels": 1}]}
    v = classify.run_result(0, out, False, 60, binary_facts=no_sm90)
    assert v.evidence.cause == "no_kernel_image"
    # with a sm_90a image holding the kernel, the name split is the explanation
    with_sm90 = {**no_sm90, "cubins": [{"arch": "sm_90a", "kernels": 2, "device_kernels": 2}]}
    v = classify.run_result(0, out, False, 60, binary_facts=with_sm90)
    assert v.evidence.cause == "unregistered_kernel_stub"


def test_a_harness_line_kit_cannot_read_is_no_crash() -> None:
    facts = classify.run_result(0, line(stage="facts"), False, 60)
    assert facts.outcome is Outcome.EXITED_UNVERIFIED and facts.evidence.cause == "facts_only"
    odd = classify.run_result(0, line(stage="warp_drive"), False, 60)
    assert odd.outcome is Outcome.EXITED_UNVERIFIED and odd.evidence.cause == "bad_result"
