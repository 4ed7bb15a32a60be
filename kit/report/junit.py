"""report.xml: JUnit, one test case per cell, so any CI shows the matrix."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from kit.spec.model import CellResult, Outcome

# No result claimed: the GPU could not run it, or the program gave no verdict to test.
_SKIPPED = {Outcome.SKIPPED_ARCH, Outcome.NO_GPU, Outcome.EXITED_UNVERIFIED}


def render(results: list[CellResult], manifest: dict[str, Any]) -> str:
    ordered = sorted(results, key=lambda r: r.label)
    suite = ET.Element("testsuite", {
        "name": f"kit matrix {manifest.get('run_id', '')}",
        "tests": str(len(ordered)),
        "failures": str(sum(_is_failure(r) for r in ordered)),
        "errors": str(sum(r.outcome is Outcome.INFRA_ERROR for r in ordered)),
        "skipped": str(sum(r.outcome in _SKIPPED for r in ordered)),
        "time": f"{sum((r.compile_seconds or 0) + (r.run_seconds or 0) for r in ordered):.2f}",
    })
    for r in ordered:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"{r.axes.get('repro', '')}.{r.axes.get('arch', '')}",
            "name": r.label,
            "time": f"{(r.compile_seconds or 0) + (r.run_seconds or 0):.2f}",
        })
        if r.outcome in _SKIPPED:
            ET.SubElement(case, "skipped", {"message": r.reason})
        elif r.outcome is Outcome.INFRA_ERROR:
            ET.SubElement(case, "error", {"type": r.outcome.value, "message": r.reason})
        elif _is_failure(r):
            node = ET.SubElement(case, "failure", {"type": r.outcome.value,
                                                   "message": r.reason})
            node.text = r.evidence.detail
        if r.kit_result is not None:
            ET.SubElement(case, "system-out").text = "KIT_RESULT " + json.dumps(r.kit_result)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, "unicode") + "\n"


def _is_failure(r: CellResult) -> bool:
    return r.outcome not in (Outcome.OK, Outcome.INFRA_ERROR, *_SKIPPED)
