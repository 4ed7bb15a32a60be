"""What a program that speaks no harness says, read line by line: CUTLASS's host trace, the
status names it prints, CUTLASS_CHECK's error lines, the examples' Disposition, and the
patterns its repro.yaml declares.

Patterns are anchored to CUTLASS's own spellings: a status name counts only as the value of a
line (`initialize(): Error Internal`, `status = Error Internal`), never inside a sentence, so a
help text that mentions "Error Internal" is not a finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# cutlassGetStatusString, every release 3.x-4.x: the only names a status line may carry.
STATUS_NAMES = (
    "Success", "Error Misaligned Operand", "Error Invalid Data Type", "Error Invalid Layout",
    "Error Invalid Problem", "Error Not Supported", "Error Workspace Null", "Error Internal",
    "Error Insufficient Driver", "Error Architecture Mismatch", "Error Memory Allocation failed",
    "Invalid status",  # what GemmUniversalAdapter::can_implement returns on refusal (kInvalid)
)
CALLS = ("can_implement", "initialize", "run")
_STATUS = "|".join(re.escape(s) for s in sorted(STATUS_NAMES, key=len, reverse=True))
# A call's status as the value of its line: `initialize(): Error Internal`,
# `gemm.initialize -> Error Internal`, `initialize=Error Internal`, `run() failed: Success`.
_CALL_STATUS = re.compile(
    rf"\b(?P<call>{'|'.join(CALLS)})\b(?:\(\))?[^\n]{{0,40}}?(?:[:=]|->)\s*[\"']?"
    rf"(?P<status>{_STATUS})[\"']?\s*[.!]?\s*$")
_BARE_STATUS = re.compile(rf"(?:[:=]|->)\s*[\"']?(?P<status>{_STATUS})[\"']?\s*[.!]?\s*$")
_CUTLASS_CHECK = re.compile(rf"Got cutlass error: (?P<status>{_STATUS}) at: (?P<line>\d+)")
_DISPOSITION = re.compile(r"^\s*Disposition:\s*(?P<verdict>Passed|Failed)\b")
# A CUDA runtime call's error as the value of its line, the way a plain CUDA program reports
# one: `cudaFuncGetAttributes: cudaErrorInvalidResourceHandle`, `launch = cudaErrorNoKernel...`.
_CUDA_ERROR = re.compile(r"^\s*(?P<call>[A-Za-z_][\w:.]*(?:\(\))?)\s*(?:[:=]|->)\s*"
                         r"(?P<status>cudaError\w+)\b")
# CUTLASS_TRACE_HOST: `file:line  message` (two spaces), compiled in with
# -DCUTLASS_DEBUG_TRACE_LEVEL=1.
_TRACE = re.compile(r"^(?P<file>[\w./+-]+\.(?:h|hpp|cuh|cu|cpp|inl)):(?P<line>\d+)  (?P<msg>.*)$")
_TRACE_SMEM = re.compile(r"Setting smem size to (\d+)")
_TRACE_SET_ATTR = re.compile(r"cudaFuncSetAttribute\(\) returned error: (.+)")
_TRACE_LAUNCH = re.compile(r"Kernel launch failed\. Reason: (.+)|kernel_launch reports failure")
_TRACE_CALL = re.compile(r"GemmUniversal(?:\(\))?::(initialize|run)\(\)")
_TRACE_CAN_IMPLEMENT = re.compile(r"CAN IMPLEMENT: (.+)")

# cudaGetErrorString's text -> the error's name, for the errors initialize() can meet.
CUDA_ERROR_NAMES = {
    "invalid argument": "cudaErrorInvalidValue",
    "invalid resource handle": "cudaErrorInvalidResourceHandle",
    "invalid device function": "cudaErrorInvalidDeviceFunction",
    "no kernel image is available for execution on the device":
        "cudaErrorNoKernelImageForDevice",
    "named symbol not found": "cudaErrorSymbolNotFound",
    "out of memory": "cudaErrorMemoryAllocation",
}


@dataclass(frozen=True)
class Said:
    """One thing the program said: a status of a call, a verdict, or a declared pattern."""

    line_no: int  # 1-based, in the program's output
    text: str  # the line as printed
    kind: str  # status | cutlass_check | disposition | expect | cuda_error
    call: str = ""  # can_implement | initialize | run; "" when the line does not say
    status: str = ""  # a CUTLASS status name, or passed / failed / error / refused

    @property
    def failed(self) -> bool:
        if self.kind in ("status", "cutlass_check"):
            return self.status != "Success"
        if self.kind == "cuda_error":
            return True
        return self.status in ("failed", "error")

    @property
    def passed(self) -> bool:
        return self.kind in ("disposition", "expect") and self.status == "passed"

    def quote(self) -> str:
        return f"line {self.line_no}: {self.text.strip()[:200]}"


@dataclass(frozen=True)
class Trace:
    """What CUTLASS's host trace told, when compiled in."""

    present: bool = False
    smem_bytes: int | None = None  # the last "Setting smem size to N"
    set_attribute_error: str = ""  # cudaGetErrorString text of a failed cudaFuncSetAttribute
    launch_failed: str = ""
    can_implement: str = ""  # the kernel's own reason for refusing
    lines: tuple[str, ...] = ()  # the trace lines that carry these facts, for the report

    @property
    def set_attribute_error_name(self) -> str:
        text = self.set_attribute_error
        return CUDA_ERROR_NAMES.get(text, text)


@dataclass(frozen=True)
class Reading:
    said: tuple[Said, ...] = ()
    trace: Trace = field(default_factory=Trace)
    # the call the trace shows each said-line in ("" before any), parallel to `said`
    trace_calls: tuple[str, ...] = ()

    def first_failure(self) -> tuple[Said, str] | None:
        """The first failing line and the call it belongs to (the line's own, else the
        CUTLASS call the trace was in when it was printed)."""
        for said, traced in zip(self.said, self.trace_calls, strict=True):
            if said.failed or said.status == "refused":
                return said, said.call or traced
        return None

    def first_pass(self) -> Said | None:
        return next((s for s in self.said if s.passed), None)


def read(output: str, expect: dict[str, str] | None = None) -> Reading:
    """Every line kit can read, in order. `expect` maps passed / failed / error / refused to a
    regular expression (a repro.yaml's `expect:`), matched against each line."""
    patterns = {k: re.compile(v) for k, v in (expect or {}).items() if v}
    said: list[Said] = []
    calls: list[str] = []
    smem: int | None = None
    set_attr = launch = refusal = ""
    present = False
    current = ""
    facts: list[str] = []
    for no, text in enumerate(output.splitlines(), start=1):
        trace = _TRACE.match(text)
        if trace:
            present = True
            msg = trace.group("msg")
            if m := _TRACE_CALL.search(msg):
                current = m.group(1)
            if m := _TRACE_SMEM.search(msg):
                smem, set_attr = int(m.group(1)), ""
                facts.append(text.strip())
            elif m := _TRACE_SET_ATTR.search(msg):
                set_attr = m.group(1).strip()
                facts.append(text.strip())
            elif m := _TRACE_LAUNCH.search(msg):
                launch = (m.group(1) or msg).strip()
                facts.append(text.strip())
            elif m := _TRACE_CAN_IMPLEMENT.search(msg):
                refusal = m.group(1).strip()
                facts.append(text.strip())
            continue
        found = _said(no, text, patterns)
        if found is not None:
            said.append(found)
            calls.append(current)
    return Reading(tuple(said), Trace(present, smem, set_attr, launch, refusal, tuple(facts)),
                   tuple(calls))


def _said(no: int, text: str, patterns: dict[str, re.Pattern[str]]) -> Said | None:
    # A repro's own patterns come first: the user knows their program's words best.
    for key in ("failed", "error", "refused", "passed"):
        pattern = patterns.get(key)
        if pattern is not None and pattern.search(text):
            kind = "disposition" if key in ("passed", "failed") and _DISPOSITION.search(text) \
                else "expect"
            return Said(no, text, kind, status=key)
    if m := _DISPOSITION.search(text):
        return Said(no, text, "disposition", status=m.group("verdict").lower())
    if m := _CUDA_ERROR.search(text):
        return Said(no, text, "cuda_error", status=m.group("status"))
    if m := _CUTLASS_CHECK.search(text):
        return Said(no, text, "cutlass_check", status=m.group("status"))
    if m := _CALL_STATUS.search(text):
        return Said(no, text, "status", call=m.group("call"), status=m.group("status"))
    if m := _BARE_STATUS.search(text):
        return Said(no, text, "status", status=m.group("status"))
    return None
