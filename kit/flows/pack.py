"""Compile here, run there: `kit pack` makes a pack of a run's builds; `kit matrix run --from`
runs a pack's cells on this machine through the same gate, runtime and classifier as any run.

On the run side the pack's builds enter the build cache under their compile keys (so the
executor finds every binary already built), and each cell gets this machine's outcome: a GPU
that cannot run the target says skipped_arch here, whatever the compile machine said.
"""

from __future__ import annotations

import platform
import shlex
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from kit import __version__
from kit.engine import packs, results
from kit.engine.execute import execute
from kit.engine.plan import RunDecision, Step
from kit.engine.progress import Reporter
from kit.engine.results import RunDir
from kit.flows import selection
from kit.flows.run import write_reports
from kit.runtime.base import Runtime
from kit.spec import matrix
from kit.spec.options import Options
from kit.spec.repros import HARNESS_DIR, discover
from kit.spec.selectors import check_values, matches, parse_only
from kit.util import cache
from kit.util import gpu as gpumod
from kit.util.errors import UsageError


def make(run_dir: RunDir, out: Path, only: tuple[str, ...] = ()) -> tuple[int, int]:
    """Pack a run's builds (cells, binaries by content, repros), or those of the cells that
    `only` (`--only AXIS=GLOB`) keeps. Returns (cells, bytes)."""
    manifest = run_dir.manifest()
    m = matrix.load(Path(manifest["matrix"]), selection.repros_of(Path(manifest["matrix"])))
    members: dict[str, Path] = {}
    cells = []
    for step in _kept(manifest.get("cells", []), only):
        cell = matrix.cell_of(m, step["axes"])
        store = cache.builds() / step["compile_key"]
        if not (store / "meta.json").is_file():
            raise UsageError(f"{step['cell_id']}: its build is not in this machine's build "
                             "cache", hint="pack on the machine that compiled the run")
        for f in ("bin", "meta.json", "compile.log", "image"):
            if (store / f).is_file():
                members[f"builds/{step['compile_key']}/{f}"] = store / f
        cells.append({"cell_id": step["cell_id"], "compile_key": step["compile_key"],
                      "axes": step["axes"], "cell": packs.cell_to(cell)})
        repro = m.repros[cell.repro]
        for folder in (repro.root, repro.root.parent / HARNESS_DIR):
            for p in folder.rglob("*"):
                if p.is_file() and "__pycache__" not in p.parts:
                    members[f"repros/{p.relative_to(folder.parent)}"] = p
    meta = {"kit_version": __version__, "run_id": manifest.get("run_id"),
            "compile_side": {"host": socket.gethostname(), "machine": platform.machine(),
                             "toolchains": manifest.get("toolchains", {}),
                             "cutlass": manifest.get("cutlass", {}),
                             "command": manifest.get("command", "")},
            "cells": cells}
    return len(cells), packs.write(out, meta, members)


def _kept(steps: list[dict[str, Any]], only: tuple[str, ...]) -> list[dict[str, Any]]:
    values: dict[str, set[str]] = {}
    for step in steps:
        for axis, value in step["axes"].items():
            values.setdefault(axis, set()).add(str(value))
    chosen = parse_only(only, sorted(values))
    check_values("--only", chosen, lambda axis: sorted(values.get(axis, ())))
    kept = [s for s in steps if matches(s["axes"], chosen)]
    if not kept:
        raise UsageError("no cell of the run is kept by " + " ".join(f"--only {o}" for o in only))
    return kept


def run_from(pack: Path, runtime: Runtime, *, results_root: Path, opts: Options,
             reporter: Reporter) -> tuple[RunDir, list[Any]]:
    """A pack's cells, run here: its builds enter the build cache, this machine gates them."""
    with tempfile.TemporaryDirectory(prefix="kit-pack-") as tmp:
        opened = packs.open_pack(pack, Path(tmp))
        if opened.data.get("kit_version") != __version__:
            reporter.note(f"pack made by kit {opened.data.get('kit_version')}, run by kit "
                          f"{__version__}")
        repros = discover(opened.root / "repros")
        _import_builds(opened.root / "builds")
        gpus = runtime.gpus()
        steps = []
        for cell, entry in opened.cells():
            gpu, reason = gpumod.gate(cell.arch, gpus)
            decision = RunDecision.RUN if gpu else RunDecision.SKIPPED_ARCH if gpus.present \
                else RunDecision.NO_GPU
            steps.append(Step(cell=cell, cell_id=entry["cell_id"],
                              compile_key=entry["compile_key"], run=decision, reason=reason,
                              gpu_index=gpu.index if gpu else None, gpu=gpu))
        not_run = {s.reason for s in steps if s.run is not RunDecision.RUN}
        for reason in sorted(not_run):  # said once, not once a cell
            reporter.note(f"not run here: {reason}")
        run_dir = results.find(results_root, None) if opts.resume else \
            results.create(results_root)
        with run_dir.lock():
            compile_side = opened.data.get("compile_side", {})
            manifest = {
                "run_id": run_dir.run_id, "kit_version": __version__,
                "matrix": f"pack:{pack}", "runtime": runtime.describe(),
                "gpus": gpus.to_dict(), "toolchains": compile_side.get("toolchains", {}),
                "cutlass": compile_side.get("cutlass", {}),
                "cells": [s.to_dict() for s in steps],
                "from_pack": {"path": str(pack), "run_id": opened.data.get("run_id"),
                              "kit_version": opened.data.get("kit_version"),
                              "compile_side": compile_side},
                "run_side": {"host": socket.gethostname(), "machine": platform.machine()},
                "command": f"{compile_side.get('command', 'kit matrix run')} --compile-only "
                           f"&& kit pack -o {shlex.quote(pack.name)}   # then, here: "
                           f"kit matrix run --from {shlex.quote(str(pack))}",
                "started": results.now(),
            }
            run_dir.write_manifest(manifest)
            results.point_latest(run_dir)
            execute(steps, repros=repros, cutlass={}, runtime=runtime, run_dir=run_dir,
                    opts=opts, reporter=reporter)
            # which image each binary ran in, where it was not the one that built it
            run_dir.write_manifest(manifest | runtime.record() | {"finished": results.now()})
            wanted = {s.cell_id for s in steps}
            final = [r for r in run_dir.load().results if r.cell_id in wanted]
            write_reports(run_dir, final)
    return run_dir, final


def _import_builds(builds: Path) -> None:
    """Each build into the cache under its key, whole, unless one is there."""
    for folder in sorted(p for p in builds.iterdir() if p.is_dir()):
        def copy(tmp: Path, src: Path = folder) -> None:
            for f in src.iterdir():
                shutil.copy2(f, tmp / f.name)

        cache.install_atomically(cache.builds() / folder.name, copy)
