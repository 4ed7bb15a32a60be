"""The published JSON Schema of report.json and of each stored cell, and checks against it."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema

from kit.util.errors import ResultsError


@functools.cache
def report_schema() -> dict[str, Any]:
    text = resources.files("kit").joinpath("schemas/report.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def _validator(ref: str) -> jsonschema.protocols.Validator:
    schema = report_schema()
    target = schema if not ref else {"$ref": ref, "$defs": schema["$defs"]}
    cls = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = cls(target)
    return validator


def problems(data: Any, ref: str = "") -> list[str]:
    """Every way data breaks the schema (ref: '' for a report, '#/$defs/cell' for a cell)."""
    errors = sorted(_validator(ref).iter_errors(data), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors]


def check_cell(data: Any, where: str) -> None:
    found = problems(data, "#/$defs/cell")
    if found:
        raise ResultsError(f"{where} does not match kit's cell schema: {found[0]}",
                           hint="it was written by another kit version or edited by hand")


def check_manifest(data: Any, where: str) -> None:
    found = problems(data, "#/$defs/manifest")
    if found:
        raise ResultsError(f"{where} is not a kit manifest: {found[0]}",
                           hint="point kit at a folder that `kit matrix run` wrote")
