"""From what a compile and a run printed to an Outcome, with a cause and its evidence.

The harness line (`KIT_RESULT {json}`) is the primary source; exit status, signal and timeout
decide when no line came. Anything that says the kit or its environment failed (not the
kernel) is `infra_error`, named so.
"""

from __future__ import annotations

import json
import re
import signal
from dataclasses import dataclass, field
from typing import Any

from kit.engine import plainout
from kit.spec.model import Evidence, Outcome
from kit.util.gpu import Gpu

PREFIX = "KIT_RESULT "
ERROR_INTERNAL = "Error Internal"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    evidence: Evidence = field(default_factory=Evidence)
    kit_result: dict[str, Any] | None = None


def parse_line(output: str) -> dict[str, Any] | None:
    """The last KIT_RESULT line's JSON, or None. A malformed line counts as no line."""
    for line in reversed(output.splitlines()):
        if line.startswith(PREFIX):
            try:
                data = json.loads(line[len(PREFIX):])
            except json.JSONDecodeError:
                return None
            return data if isinstance(data, dict) else None
    return None


# ------------------------------------------------------------------ compile

_COMPILE_CAUSES: list[tuple[str, re.Pattern[str]]] = [
    ("unsupported_arch", re.compile(r"Unsupported gpu architecture|is not defined for option "
                                    r"'gpu-(architecture|code)'|not a supported .*architecture")),
    ("ptxas_version", re.compile(r"Unsupported \.version|ptxas fatal")),
    ("static_assert", re.compile(r"static assertion failed|static_assert")),
    ("host_stub", re.compile(r"__wrapper__device_stub|device_stub")),
    # the host compiler rejecting nvcc's re-emitted template code (kernel types declared
    # inside a function template, g++ 12 with nvcc 13.0)
    ("host_template", re.compile(r"type/value mismatch at argument|expected a type, got")),
    ("missing_header", re.compile(r"fatal error: .*: No such file or directory")),
]


# The compiler could not read or write what kit gave it: kit's fault, not the kernel's.
_COMPILE_INFRA = re.compile(r"Permission denied|No space left on device|Read-only file system")

# pip, installing a python repro's packages (kit.pyrepro), and failing.
_PIP_FAILED = re.compile(r"No matching distribution found for \S+|Could not find a version that "
                         r"satisfies the requirement \S+")

# What a compiler that ran out of memory prints, as seen for real: cudafe++/cicc under a
# memory rlimit ("catastrophic error: out of memory"), g++ ("virtual memory exhausted",
# "cc1plus: out of memory allocating"), anything that throws std::bad_alloc, a step killed by
# the kernel's OOM killer as nvcc or g++ report it, and kit's own note for a container the
# engine marked OOMKilled (kit.runtime.docker).
_COMPILE_OOM = re.compile(
    r"catastrophic error: out of memory|fatal error: out of memory|out of memory allocating"
    r"|virtual memory exhausted|std::bad_alloc|Cannot allocate memory"
    r"|Killed signal terminated program|died due to signal 9\b|^Killed$|\[kit: oom\b",
    re.MULTILINE)


# Stages a script reports that a C++ harness never does: the script could not import what it
# needs, its JIT compile failed, the path it was asked for needs another GPU, or it broke.
_SCRIPT_STAGES = {
    "import": (Outcome.INFRA_ERROR, "import"),
    "jit": (Outcome.COMPILE_ERROR, "jit"),
    "skipped_arch": (Outcome.SKIPPED_ARCH, "path_needs_other_gpu"),
    "probe": (Outcome.INFRA_ERROR, "probe"),
}


def compile_failure(returncode: int, output: str, timed_out: bool) -> Verdict:
    if timed_out:
        return Verdict(Outcome.COMPILE_ERROR, "compile timed out",
                       Evidence(cause="timeout", detail=_first_error(output)))
    oom = _COMPILE_OOM.search(output)
    if oom:
        return Verdict(Outcome.COMPILE_ERROR, f"compiler out of memory: {oom.group(0)}",
                       Evidence(cause="oom", detail=_first_error(output) or oom.group(0)))
    if returncode in (-signal.SIGKILL, 137):  # SIGKILL, not by kit's timeout: the OOM killer
        return Verdict(Outcome.COMPILE_ERROR, "compiler killed (out of memory?)",
                       Evidence(cause="oom", detail=_first_error(output)))
    first = _first_error(output)
    infra = _COMPILE_INFRA.search(output)
    if infra:
        return Verdict(Outcome.INFRA_ERROR, f"the compiler could not use its files: {first}"[:300],
                       Evidence(cause="filesystem", detail=first))
    pip = _PIP_FAILED.search(output)
    if pip:  # a python repro's packages could not be installed: nothing was built
        why = (f"{pip.group(0)} (kit installs wheels only: is there one for this python, and "
               "can pip reach its index or KIT_WHEELS?)")
        return Verdict(Outcome.INFRA_ERROR, f"package install failed: {why}"[:300],
                       Evidence(cause="package_install", detail=first or pip.group(0)))
    for cause, pattern in _COMPILE_CAUSES:
        if pattern.search(output):
            return Verdict(Outcome.COMPILE_ERROR, f"{cause}: {first}"[:300],
                           Evidence(cause=cause, detail=first))
    return Verdict(Outcome.COMPILE_ERROR, first[:300] or f"nvcc exit {returncode}",
                   Evidence(cause="error", detail=first))


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if re.search(r"\berror\b|fatal", line, re.IGNORECASE):
            return line.strip()
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# ------------------------------------------------------------------ run


def run_result(returncode: int, output: str, timed_out: bool, limit: float,
               expect: dict[str, str] | None = None,
               binary_facts: dict[str, Any] | None = None,
               gpu: Gpu | None = None) -> Verdict:
    """The harness line decides when there is one. A program without one (a user's own, an
    upstream example) is read for what it and CUTLASS said (kit.plainout): `expect` maps
    passed / failed / error / refused to regular expressions over its lines; the first
    failure decides. `binary_facts` (kit.binary) add static evidence to the diagnosis, `gpu`
    the device's own limits where the program prints none."""
    data = parse_line(output)
    if timed_out and data is not None:
        return Verdict(Outcome.TIMEOUT, f"no result within {limit:g}s; killed", kit_result=data)
    if data is not None:
        return _from_line(data, output, binary_facts or {})
    return _from_plain(returncode, output, timed_out, limit, plainout.read(output, expect),
                       binary_facts or {}, gpu)


def _from_plain(returncode: int, output: str, timed_out: bool, limit: float,
                reading: plainout.Reading, facts: dict[str, Any], gpu: Gpu | None) -> Verdict:
    failure = reading.first_failure()
    ending = _ending(returncode, timed_out, limit)
    if failure is not None:
        said, call = failure
        v = _from_said(said, call, reading.trace, output, facts, gpu)
        if ending:  # what the process did after its first failure does not change it
            return Verdict(v.outcome, f"{v.reason} (then {ending})", v.evidence)
        return v
    if timed_out:
        return Verdict(Outcome.TIMEOUT, f"no result within {limit:g}s; killed")
    if returncode < 0:
        name = _signal_name(-returncode)
        return Verdict(Outcome.CRASH, f"killed by {name} before reporting",
                       Evidence(cause="signal", detail=name, facts={"signal": -returncode}))
    if returncode in (126, 127):
        return Verdict(Outcome.INFRA_ERROR, f"binary could not be started (exit {returncode})",
                       Evidence(cause="exec", detail=_last(output)))
    passed = reading.first_pass()
    if passed is not None and returncode == 0:
        return Verdict(Outcome.OK, f"the program reports it passed ({passed.quote()})",
                       Evidence(cause="", detail=passed.quote(),
                                facts={"lines": [passed.quote()]}))
    seen = "; ".join(s.quote() for s in reading.said[-3:])
    if returncode != 0:
        after = f" after {passed.quote()}" if passed else ""
        return Verdict(Outcome.RUN_FAILED, f"exit {returncode}{after}: {_last(output)}"[:300],
                       Evidence(cause="exit_status", detail=_last(output),
                                facts={"exit_status": returncode}))
    bad = next((ln for ln in output.splitlines() if ln.startswith(PREFIX)), "")
    if bad:  # a harness line that is not JSON: the repro's own bug, and no verdict
        return Verdict(Outcome.EXITED_UNVERIFIED, f"exit 0; its KIT_RESULT line is not a JSON "
                       f"object: {bad[:120]}", Evidence(cause="bad_result", detail=bad[:300]))
    why = ("exit 0; no verdict kit can read (no KIT_RESULT, Disposition, CUTLASS status "
           "failure or expect: pattern)")
    return Verdict(Outcome.EXITED_UNVERIFIED, why + (f"; it said {seen}" if seen else ""),
                   Evidence(cause="no_verdict", detail=seen or _last(output),
                            facts={"lines": [s.quote() for s in reading.said]}))


def _ending(returncode: int, timed_out: bool, limit: float) -> str:
    if timed_out:
        return f"killed at the {limit:g}s limit"
    if returncode < 0:
        return f"killed by {_signal_name(-returncode)}"
    return ""


def _from_said(said: plainout.Said, call: str, trace: plainout.Trace, output: str,
               facts: dict[str, Any], gpu: Gpu | None) -> Verdict:
    quote = said.quote()
    lines = {"lines": [quote, *trace.lines]}
    if said.status == "refused":
        return Verdict(Outcome.SKIPPED_ARCH, f"the program refused this GPU ({quote})",
                       Evidence(cause="example_refused", detail=quote, facts=lines))
    if said.kind == "cuda_error":
        # the CUTLASS paths' diagnosis, with the error as the kernel handle's: a kernel named
        # two ways, or no image for this GPU, explains it as it explains Error Internal
        ev = diagnose_internal({**_trace_data(trace, gpu),
                                "func_attributes": {"error": {"name": said.status}}},
                               output, facts)
        cause = ev.cause if ev.cause != "unknown" else "cuda_error"
        return Verdict(Outcome.RUN_FAILED, f"a CUDA call failed: {said.status}"
                       + (f" — {cause}: {ev.detail}" if cause != "cuda_error" else "")
                       + f" ({quote})",
                       Evidence(cause=cause, detail=ev.detail if cause != "cuda_error"
                                else said.status, facts={**ev.facts, **lines}))
    if said.kind in ("disposition", "expect") and said.status == "failed":
        return Verdict(Outcome.WRONG_RESULT, f"the program reports a wrong result ({quote})",
                       Evidence(cause="verify", detail=quote, facts=lines))
    if said.status == "error":
        return Verdict(Outcome.RUN_FAILED, f"the program reports an error ({quote})",
                       Evidence(cause="declared_error", detail=quote, facts=lines))
    status = said.status
    if not call:  # the line does not say which call; the trace may, and CUTLASS's codes do
        if status == ERROR_INTERNAL and trace.launch_failed and not trace.set_attribute_error:
            call = "run"
        elif status == ERROR_INTERNAL and trace.set_attribute_error:
            call = "initialize"
        elif status == "Invalid status" or trace.can_implement:
            call = "can_implement"  # GemmUniversalAdapter::can_implement's refusal (kInvalid)
    if call == "can_implement":
        why = f"; the kernel says: {trace.can_implement}" if trace.can_implement else ""
        return Verdict(Outcome.CAN_IMPLEMENT_FAILED, f"can_implement(): {status} ({quote}){why}",
                       Evidence(cause="can_implement", detail=status + why, facts=lines))
    if call == "run":
        detail = trace.launch_failed or status
        return Verdict(Outcome.RUN_FAILED, f"run(): {status} ({quote})",
                       Evidence(cause="run", detail=detail, facts=lines))
    if status == ERROR_INTERNAL:
        ev = diagnose_internal(_trace_data(trace, gpu), output, facts)
        named = "" if call else (" (the program does not say which call; Error Internal "
                                 "comes from initialize() here)")
        ev = Evidence(cause=ev.cause, detail=ev.detail, facts={**ev.facts, **lines,
                                                              "from": "output"})
        return Verdict(Outcome.INIT_ERROR_INTERNAL,
                       f"initialize(): Error Internal — {ev.cause}: {ev.detail}{named} ({quote})",
                       ev)
    if call == "initialize":
        return Verdict(Outcome.INIT_ERROR_OTHER, f"initialize(): {status} ({quote})",
                       Evidence(cause="status", detail=status, facts=lines))
    return Verdict(Outcome.RUN_FAILED, f"CUTLASS status {status}, call not said ({quote})",
                   Evidence(cause="status", detail=status, facts=lines))


def _trace_data(trace: plainout.Trace, gpu: Gpu | None) -> dict[str, Any]:
    """The facts a harness line would carry, from CUTLASS's trace and the GPU kit ran on."""
    data: dict[str, Any] = {"smem_bytes": trace.smem_bytes,
                            "smem_optin_bytes": gpu.smem_optin_bytes if gpu else None}
    if trace.set_attribute_error:
        data["direct_set_attribute"] = {"name": trace.set_attribute_error_name,
                                        "string": trace.set_attribute_error}
    if gpu is not None:
        data["device"] = {"name": gpu.name, "cc": gpu.cc_text}
    return data


def _from_line(data: dict[str, Any], output: str, facts: dict[str, Any]) -> Verdict:
    stage = str(data.get("stage", ""))
    status = str(data.get("status", ""))
    err = data.get("cuda_error") or {}
    err_name = str(err.get("name", ""))
    if stage == "device":
        if err_name == "cudaErrorInsufficientDriver":
            return Verdict(Outcome.INFRA_ERROR, "the binary's CUDA is newer than the driver",
                           Evidence(cause="driver_too_old", detail=str(err.get("string", ""))),
                           data)
        return Verdict(Outcome.NO_GPU, f"the repro saw no device ({err_name})",
                       Evidence(cause="no_device", detail=err_name), data)
    if stage in _SCRIPT_STAGES:  # what a python repro (a production probe) may report
        outcome, cause = _SCRIPT_STAGES[stage]
        note = str(data.get("note") or data.get("status") or "")
        return Verdict(outcome, f"{stage}: {note}"[:300], Evidence(cause=cause, detail=note),
                       data)
    if stage == "dispatch":  # a multi-TU build with no translation unit for this GPU
        return Verdict(Outcome.RUN_FAILED, f"no unit for this GPU: {data.get('note', '')}",
                       Evidence(cause="no_unit_for_gpu", detail=str(data.get("note", ""))),
                       data)
    if stage == "configure":
        return Verdict(Outcome.CAN_IMPLEMENT_FAILED, f"repro refused: {data.get('note', '')}",
                       Evidence(cause="repro_refused", detail=str(data.get("note", ""))), data)
    if stage == "can_implement":
        return Verdict(Outcome.CAN_IMPLEMENT_FAILED, f"can_implement(): {status}",
                       Evidence(cause="can_implement", detail=status), data)
    if stage == "initialize":
        if status == ERROR_INTERNAL:
            ev = diagnose_internal(data, output, facts)
            return Verdict(Outcome.INIT_ERROR_INTERNAL,
                           f"initialize(): Error Internal — {ev.cause}: {ev.detail}", ev, data)
        return Verdict(Outcome.INIT_ERROR_OTHER, f"initialize(): {status}",
                       Evidence(cause="status", detail=status), data)
    if stage == "run":
        detail = err_name or status
        return Verdict(Outcome.RUN_FAILED, f"run(): {status} {err_name}".strip(),
                       Evidence(cause="run", detail=detail), data)
    verify = data.get("verify") or {}
    if stage == "verify":
        if err_name and err_name != "cudaSuccess":
            return Verdict(Outcome.RUN_FAILED, f"error after run: {err_name}",
                           Evidence(cause="async_error", detail=err_name), data)
        return Verdict(Outcome.WRONG_RESULT,
                       f"max error {verify.get('max_abs_error')} > {verify.get('tolerance')}",
                       Evidence(cause="verify", facts=dict(verify)), data)
    if stage == "done":
        if verify.get("ran") is True and verify.get("passed") is True:
            return Verdict(Outcome.OK, f"verified (max error {verify.get('max_abs_error')})",
                           Evidence(facts=dict(verify)), data)
        if verify.get("ran") is True:
            return Verdict(Outcome.WRONG_RESULT, "stage done, but its verify did not pass "
                           f"(max error {verify.get('max_abs_error')})",
                           Evidence(cause="verify", facts=dict(verify)), data)
        return Verdict(Outcome.EXITED_UNVERIFIED, "stage done, but verify did not run",
                       Evidence(cause="verify_not_run", facts=dict(verify)), data)
    if stage == "facts":  # KIT_FACTS_ONLY=1 reached a run: the host side only, no kernel
        return Verdict(Outcome.EXITED_UNVERIFIED, "facts only (KIT_FACTS_ONLY=1): no kernel ran",
                       Evidence(cause="facts_only", detail=stage), data)
    # it exited and said something kit cannot read: not a crash, and no verdict
    return Verdict(Outcome.EXITED_UNVERIFIED, f"unknown harness stage '{stage}'",
                   Evidence(cause="bad_result", detail=stage), data)


def diagnose_internal(data: dict[str, Any], output: str = "",
                      binary_facts: dict[str, Any] | None = None) -> Evidence:
    """Which of the known paths to kErrorInternal this was (notes, section 2)."""
    named_twice = (binary_facts or {}).get("kernels_named_twice")
    smem = _int(data.get("smem_bytes"))
    optin = _int(data.get("smem_optin_bytes"))
    direct = (data.get("direct_set_attribute") or {}).get("name", "")
    attrs = data.get("func_attributes") or {}
    attr_err = (attrs.get("error") or {}).get("name", "")
    facts: dict[str, Any] = {"smem_bytes": smem, "smem_optin_bytes": optin,
                             "direct_set_attribute": direct, "func_get_attributes": attr_err}
    if smem is not None and optin is not None and optin > 0 and smem > optin:
        return Evidence(cause="smem_exceeds_optin",
                        detail=f"shared memory {smem:,} B > opt-in {optin:,} B", facts=facts)
    image_errors = ("cudaErrorInvalidDeviceFunction", "cudaErrorNoKernelImageForDevice")
    image_err = attr_err if attr_err in image_errors else direct if direct in image_errors else ""
    if image_err:
        # The cubins first: with no image for this GPU, a kernel named twice is beside the point.
        missing = _missing_image(image_err, data, binary_facts or {}, facts)
        if missing is not None:
            return missing
    handle_errors = ("cudaErrorInvalidResourceHandle", "cudaErrorInvalidDeviceFunction")
    if isinstance(named_twice, int) and named_twice > 0 and (
            attr_err in handle_errors or direct in handle_errors):
        facts["kernels_named_twice"] = named_twice
        spellings = (binary_facts or {}).get("spellings") or ["C<N>", "C<Nu>"]
        return Evidence(cause="unregistered_kernel_stub",
                        detail="the binary names cutlass::device_kernel two ways ("
                               f"{' vs '.join(spellings[:2])}) and the one configured fails "
                               f"with {attr_err or direct}: host code launches a kernel the "
                               "device registration does not know", facts=facts)
    if image_err:
        return _image_or_registration(image_err, data, binary_facts or {}, facts)
    if direct and direct != "cudaSuccess":
        return Evidence(cause="func_set_attribute_failed",
                        detail=f"cudaFuncSetAttribute -> {direct}", facts=facts)
    if "Failed to initialize the TMA descriptor" in output:
        return Evidence(cause="tma_descriptor", detail="host TMA descriptor encode failed",
                        facts=facts)
    return Evidence(cause="unknown", detail="no known path matched the evidence", facts=facts)


def _missing_image(attr_err: str, data: dict[str, Any], binary_facts: dict[str, Any],
                   facts: dict[str, Any]) -> Evidence | None:
    """no_kernel_image when the binary's cubins (cuobjdump) hold no cutlass::device_kernel for
    this GPU; None when they do, or when there is no cubin list or device to check against."""
    images = binary_facts.get("cubins")
    cc = str((data.get("device") or {}).get("cc", ""))
    if not isinstance(images, list) or not re.fullmatch(r"\d+\.\d+", cc):
        return None
    gpu = "sm_" + cc.replace(".", "")
    mine = [img for img in images if re.fullmatch(rf"{gpu}[af]?", str(img.get("arch", "")))]
    facts["cubins"] = [img.get("arch") for img in images]
    if any(img.get("device_kernels") for img in mine):
        return None
    archs = ", ".join(sorted({str(img.get("arch")) for img in images})) or "none"
    return Evidence(cause="no_kernel_image",
                    detail=f"{attr_err}: the binary's cubins ({archs}) hold no "
                           f"cutlass::device_kernel for this GPU ({gpu})", facts=facts)


def _image_or_registration(attr_err: str, data: dict[str, Any], binary_facts: dict[str, Any],
                           facts: dict[str, Any]) -> Evidence:
    """With the binary's cubin list (cuobjdump): no image for this GPU at all, or an image
    holding the kernel that the host's handle still does not reach."""
    images = binary_facts.get("cubins")
    cc = str((data.get("device") or {}).get("cc", ""))
    if not isinstance(images, list) or not re.fullmatch(r"\d+\.\d+", cc):
        return Evidence(cause="invalid_device_function",
                        detail=f"no kernel image for this GPU ({attr_err})", facts=facts)
    missing = _missing_image(attr_err, data, binary_facts, facts)
    if missing is not None:
        return missing
    gpu = "sm_" + cc.replace(".", "")
    first = binary_facts.get("device_kernel_first_arch")
    if first:
        facts["device_kernel_first_arch"] = first
    return Evidence(cause="wrong_registration",
                    detail=f"{attr_err} although a {gpu} cubin holds cutlass::device_kernel: "
                           "the host configures a kernel handle whose registration has no "
                           f"{gpu} image (in a multi-TU build: the linker kept another unit's "
                           "copy of the launching template, which calls that unit's static "
                           "kernel" + (f"; the first unit in link order is {first}" if first
                                       else "") + ")",
                    facts=facts)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _last(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
