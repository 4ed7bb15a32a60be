"""report.json: everything a script needs, in one documented shape."""

from __future__ import annotations

from typing import Any

from kit.report import pivot
from kit.spec.model import CellResult

SCHEMA_VERSION = 1


def build(results: list[CellResult], manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": manifest.get("run_id", ""),
        "manifest": manifest,
        "counts": pivot.counts(results),
        "findings": pivot.findings(results) + pivot.static_findings(results),
        "cells": [r.to_dict() for r in sorted(results, key=lambda r: r.label)],
    }
