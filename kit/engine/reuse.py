"""Results an unchanged cell already has: a re-run copies them instead of compiling and
running again (`kit matrix run --rerun` does not).

A cell id is the hash of everything that makes the cell (toolchain identity, CUTLASS
identity, sources, flags, knobs, run arguments), so an earlier result under the same id is the
same experiment, provided it ran on the same machine: the same runtime and the same GPUs and
driver. Never carried over: infra_error (it says nothing about the kernel), a compile cut
short by memory or time, and a result whose binary an older kit inspected (its facts, and the
cause read from them, may have changed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from kit.engine import binary
from kit.engine.results import RunDir, final


def fingerprint(manifest: dict[str, Any]) -> str:
    """What must match for a result to carry over: the runtime kind and the GPUs."""
    runtime = str(manifest.get("runtime", "")).split(" ", 1)[0]
    return json.dumps({"runtime": runtime, "gpus": manifest.get("gpus")}, sort_keys=True)


def find(results_root: Path, wanted: set[str], machine: str, *, skip: Path) -> dict[str, Path]:
    """cell id -> the newest earlier run folder holding a reusable result for it."""
    found: dict[str, Path] = {}
    left = set(wanted)
    runs = sorted((p.parent for p in results_root.glob("*/manifest.json")), reverse=True)
    for run in runs:  # run ids start with their time: newest first
        if not left:
            break
        if run.resolve() == skip.resolve() or run.is_symlink():
            continue
        here = {p.stem for p in (run / "cells").glob("*.json")} & left
        if not here:
            continue
        try:
            manifest = json.loads((run / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        if fingerprint(manifest) != machine:
            continue
        for cell_id in here:
            try:
                stored = json.loads((run / "cells" / f"{cell_id}.json").read_text())
            except (OSError, ValueError):
                continue
            facts = stored.get("binary_facts") or {} if isinstance(stored, dict) else {}
            stale = facts and facts.get("version") != binary.FACTS_VERSION
            if final(stored) and not stale:  # never an infra_error, a compile cut short by
                # memory or time, or a result whose binary an older kit looked at
                found[cell_id] = run
                left.discard(cell_id)
    return found


def copy_into(run_dir: RunDir, found: dict[str, Path]) -> None:
    """The earlier result files, byte for byte, with their logs."""
    run_dir.cells_dir.mkdir(parents=True, exist_ok=True)
    run_dir.logs_dir.mkdir(parents=True, exist_ok=True)
    for cell_id, run in found.items():
        shutil.copyfile(run / "cells" / f"{cell_id}.json", run_dir.cell_path(cell_id))
        log = run / "logs" / f"{cell_id}.log"
        if log.is_file():
            shutil.copyfile(log, run_dir.log_path(cell_id))
