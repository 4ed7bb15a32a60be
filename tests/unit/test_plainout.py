"""A program's own words, read as CUTLASS spells them: no harness line needed."""

from __future__ import annotations

import signal

from kit.engine import classify, plainout
from kit.spec.model import Outcome
from kit.spec.repros import EXAMPLE_EXPECT
from kit.util.gpu import Gpu

H100 = Gpu(index=0, name="NVIDIA H100 80GB HBM3", cc=(9, 0), smem_optin_bytes=232448)

# What the H100 printed for a user program with a forced stage count, CUTLASS 4.2, the trace
# compiled in (-DCUTLASS_DEBUG_TRACE_LEVEL=1), shortened.
ADAPTER = "/cutlass/include/cutlass/gemm/device/gemm_universal_adapter.h"
OVERFLOW = f"""\
device: NVIDIA H100 80GB HBM3 (sm_90), smem opt-in 232448 B
kernel shared storage: 265216 B
can_implement(): Success
{ADAPTER}:244    workspace_bytes: 0
{ADAPTER}:312  GemmUniversal::initialize() - workspace 0x7f, stream: null
{ADAPTER}:336    Setting smem size to 265216
{ADAPTER}:343    cudaFuncSetAttribute() returned error: invalid argument
initialize(): Error Internal
"""


def run(output: str, returncode: int = 0, **kw: object) -> classify.Verdict:
    return classify.run_result(returncode, output, False, 60, dict(EXAMPLE_EXPECT), gpu=H100,
                               **kw)  # type: ignore[arg-type]


def test_a_forced_stage_count_is_smem_exceeds_optin_with_bytes_from_the_trace() -> None:
    v = run(OVERFLOW, 1)
    assert v.outcome is Outcome.INIT_ERROR_INTERNAL
    assert v.evidence.cause == "smem_exceeds_optin"
    assert "265,216 B > opt-in 232,448 B" in v.evidence.detail
    assert "line 8: initialize(): Error Internal" in v.reason
    assert any("Setting smem size to 265216" in ln for ln in v.evidence.facts["lines"])


def test_the_trace_reads_which_call_failed_and_the_cuda_error_by_name() -> None:
    reading = plainout.read(OVERFLOW)
    assert reading.trace.smem_bytes == 265216
    assert reading.trace.set_attribute_error_name == "cudaErrorInvalidValue"
    said, call = reading.first_failure() or (None, "")
    assert said is not None and said.status == "Error Internal" and call == "initialize"


def test_disposition_passed_is_ok_and_the_line_is_quoted() -> None:
    out = "can_implement(): Success\ninitialize(): Success\nrun(): Success\nDisposition: Passed\n"
    v = run(out)
    assert v.outcome is Outcome.OK
    assert "line 4: Disposition: Passed" in v.reason


def test_the_first_failure_decides_when_a_program_runs_several_gemms() -> None:
    out = ("gemm 1: initialize=Error Internal\n"
           "gemm 2: initialize=Success\nDisposition: Passed\n")
    v = run(out)
    assert v.outcome is Outcome.INIT_ERROR_INTERNAL
    assert "line 1: gemm 1: initialize=Error Internal" in v.reason


def test_a_clean_exit_with_nothing_recognizable_is_unverified_never_a_crash() -> None:
    v = run("elapsed: 0.012 ms\n")
    assert v.outcome is Outcome.EXITED_UNVERIFIED
    statuses = run("can_implement(): Success\ninitialize(): Success\nrun(): Success\n")
    assert statuses.outcome is Outcome.EXITED_UNVERIFIED  # it ran, and checked nothing
    assert "run(): Success" in statuses.reason
    assert run("", -signal.SIGSEGV).outcome is Outcome.CRASH
    failed = run("CUDA error: cudaErrorIllegalAddress at x.cu:9\n", 2)
    assert failed.outcome is Outcome.RUN_FAILED and failed.evidence.cause == "exit_status"


def test_a_help_text_that_mentions_error_internal_is_not_a_finding() -> None:
    usage = ("usage: repro   (no options; initialize() may report Error Internal when the\n"
             "  stage count asks for more shared memory than the GPU allows)\n"
             "  --check   prints Disposition: Passed or Failed after the run\n")
    v = run(usage)
    assert v.outcome is Outcome.EXITED_UNVERIFIED
    assert plainout.read(usage).said == ()


def test_cutlass_check_and_can_implement_spellings() -> None:
    v = run("Got cutlass error: Error Internal at: 612\n", 1)
    assert v.outcome is Outcome.INIT_ERROR_INTERNAL
    refused = run("Got cutlass error: Invalid status at: 590\n", 1)  # adapter's kInvalid
    assert refused.outcome is Outcome.CAN_IMPLEMENT_FAILED
    misaligned = run("gemm.can_implement(args) -> Error Misaligned Operand\n", 1)
    assert misaligned.outcome is Outcome.CAN_IMPLEMENT_FAILED
    other = run("initialize(): Error Workspace Null\n", 1)
    assert other.outcome is Outcome.INIT_ERROR_OTHER
    ran = run("run(): Error Internal\n", 1)
    assert ran.outcome is Outcome.RUN_FAILED


def test_a_repro_yaml_declares_its_own_words() -> None:
    expect = {**EXAMPLE_EXPECT, "passed": r"^All \d+ groups match", "failed": r"^MISMATCH",
              "error": r"^FATAL:"}
    assert classify.run_result(0, "All 4 groups match\n", False, 60, expect).outcome \
        is Outcome.OK
    assert classify.run_result(1, "MISMATCH in group 2\n", False, 60, expect).outcome \
        is Outcome.WRONG_RESULT
    fatal = classify.run_result(1, "FATAL: no workspace\n", False, 60, expect)
    assert fatal.outcome is Outcome.RUN_FAILED and fatal.evidence.cause == "declared_error"


def test_a_failure_then_a_hang_keeps_the_failure_and_says_the_ending() -> None:
    v = classify.run_result(-9, OVERFLOW, True, 20, dict(EXAMPLE_EXPECT), gpu=H100)
    assert v.outcome is Outcome.INIT_ERROR_INTERNAL
    assert "then killed at the 20s limit" in v.reason
    assert classify.run_result(-9, "working...\n", True, 20).outcome is Outcome.TIMEOUT


def test_an_unregistered_stub_from_the_trace_names_the_spellings() -> None:
    out = ("cutlass/gemm/device/gemm_universal_adapter.h:336    Setting smem size to 180000\n"
           "cutlass/gemm/device/gemm_universal_adapter.h:343    cudaFuncSetAttribute() "
           "returned error: invalid resource handle\n"
           "initialize(): Error Internal\n")
    facts = {"kernels_named_twice": 1, "spellings": ["C<128>", "C<128u>"]}
    v = run(out, 1, binary_facts=facts)
    assert v.evidence.cause == "unregistered_kernel_stub"
    assert "C<128> vs C<128u>" in v.evidence.detail


# What the reduced alias-split program printed on the H100 (its split build, then its twin).
SPLIT = ("cudaFuncGetAttributes: cudaErrorInvalidResourceHandle\n"
         "launch: cudaErrorInvalidDeviceFunction, sync: cudaSuccess, kernel wrote 0\n"
         "Disposition: Failed\n")
TWIN = ("cudaFuncGetAttributes: cudaSuccess\n"
        "launch: cudaSuccess, sync: cudaSuccess, kernel wrote 42\n"
        "Disposition: Passed\n")


def test_a_plain_cuda_programs_failed_call_is_its_first_failure_and_is_diagnosed() -> None:
    facts = {"kernels_named_twice": 1, "spellings": ["C<128>", "C<128u>"]}
    v = run(SPLIT, 1, binary_facts=facts)
    assert v.outcome is Outcome.RUN_FAILED  # not a wrong result: no kernel ran at all
    assert v.evidence.cause == "unregistered_kernel_stub"
    assert "cudaErrorInvalidResourceHandle" in v.reason and "line 1" in v.reason
    bare = run(SPLIT, 1)  # no static facts: the error, named
    assert bare.outcome is Outcome.RUN_FAILED and bare.evidence.cause == "cuda_error"
    assert run(TWIN, 0).outcome is Outcome.OK  # cudaSuccess is no failure
