"""The flow of design.md, one function per verb; the CLI calls these and prints."""

from __future__ import annotations

import os
import platform
import shlex
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import __version__
from kit.engine import buildcache, plan, results, reuse, scheduler
from kit.engine.execute import execute
from kit.engine.progress import Reporter
from kit.engine.results import RunDir
from kit.engine.scheduler import parallel_jobs
from kit.flows import selection
from kit.flows.selection import Selection, rerun_args
from kit.report import html, jsonreport, junit, markdown
from kit.runtime.base import Runtime
from kit.sources import cuobjdump, cutlass_src, images, toolchains
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec import matrix
from kit.spec.model import Cell, CellResult, Outcome, SourceKind
from kit.spec.options import Options
from kit.spec.repros import Repro, ReproKind
from kit.util import files
from kit.util.errors import (
    EngineError,
    InfraError,
    Interrupted,
    KitError,
    ToolchainError,
    UsageError,
)
from kit.util.gpu import GpuReport

COMPILE_ONLY = GpuReport(gpus=(), error="compile only (--compile-only): `kit pack` carries "
                                         "the builds to a GPU machine")


def facts(m: matrix.Matrix, cells: list[Cell], runtime: Runtime,
          cutlass: dict[str, ResolvedCutlass] | None = None,
          compile_only: bool = False) -> plan.Facts:
    used_tc = {c.toolchain.name: c.toolchain for c in cells}
    used_cl = {c.cutlass.name: c.cutlass for c in cells}
    python_pairs = {(c.toolchain.name, c.cutlass.name): c for c in cells
                    if m.repros[c.repro].kind is ReproKind.PYTHON}  # one identity a pair
    return plan.Facts(
        toolchain_ids={n: runtime.toolchain_identity(tc) for n, tc in used_tc.items()},
        cutlass_ids={n: (cutlass[n].identity if cutlass and n in cutlass else src.spec)
                     for n, src in used_cl.items()},
        source_digests={r: m.repros[r].source_digest() for r in {c.repro for c in cells}},
        gpus=COMPILE_ONLY if compile_only else runtime.gpus(),
        python_ids={pair: runtime.python_identity(c.toolchain, c.cutlass)
                    for pair, c in python_pairs.items()},
    )


@dataclass(frozen=True)
class Planned:
    """What `kit matrix plan` says: the steps, what a run would meet here, how long."""

    steps: list[plan.Step]
    warnings: list[str]
    estimate: scheduler.Estimate


def plan_here(sel: Selection, runtime: Runtime, opts: Options | None = None) -> Planned:
    _, steps = make_plan(sel, runtime)
    pairs = {(s.cell.toolchain.name, s.cell.cutlass.name): (s.cell.toolchain, s.cell.cutlass)
             for s in steps}
    return Planned(steps, runtime.warnings(list(pairs.values())),
                   scheduler.estimate(steps, opts or Options(),
                                      cached=buildcache.stored(steps)))


def make_plan(sel: Selection, runtime: Runtime) -> tuple[matrix.Matrix, list[plan.Step]]:
    m, cells = selection.load(sel)
    return m, plan.plan(cells, m.repros, facts(m, cells, runtime))


def run(sel: Selection, runtime: Runtime, *, results_root: Path, opts: Options,
        reporter: Reporter, resume_ref: str | None = None,
        rerun: bool = False) -> tuple[RunDir, list[CellResult]]:
    m, cells = selection.load(sel)
    if len(cells) > opts.max_cells:
        raise UsageError(f"{len(cells):,} cells: more than --max-cells {opts.max_cells:,}",
                         hint="`kit matrix plan` lists them and how long they would take; "
                              "narrow with --preset / --only, or raise --max-cells to mean it")
    opts = runtime.capacity(opts)
    reporter.note(f"{len(cells)} cells from {m.path}"
                  + (f" (preset {sel.preset})" if sel.preset else ""))
    resolved = resolve_cutlass(cells, reporter)
    steps = plan.plan(cells, m.repros, facts(m, cells, runtime, resolved, opts.compile_only))
    run_dir = results.find(results_root, resume_ref) if opts.resume \
        else results.create(results_root)
    with run_dir.lock():
        manifest = make_manifest(run_dir, sel, m, steps, runtime, resolved, opts)
        if opts.resume:
            manifest["resumed"] = [*run_dir.manifest().get("resumed", []), results.now()]
            manifest["started"] = run_dir.manifest().get("started", manifest["started"])
        run_dir.write_manifest(manifest)
        results.point_latest(run_dir)
        todo = [s for s in steps if not run_dir.has(s.cell_id)] if opts.resume else steps
        if not rerun:
            found = reuse.find(results_root, {s.cell_id for s in todo},
                               reuse.fingerprint(manifest), skip=run_dir.path)
            if found:
                reuse.copy_into(run_dir, found)
                manifest["reused"] = {cell_id: run.name for cell_id, run in found.items()}
                run_dir.write_manifest(manifest)
                reporter.note(f"{len(found)} unchanged cells: results taken from earlier runs "
                              "(--rerun to run them again)")
                todo = [s for s in todo if s.cell_id not in found]
        if todo:
            prepare_toolchains([s.cell for s in todo], runtime, reporter, m.repros)
        try:
            execute(todo, repros=m.repros, cutlass=resolved, runtime=runtime,
                    run_dir=run_dir, opts=opts, reporter=reporter)
        except (KeyboardInterrupt, KitError, OSError) as exc:  # Ctrl-C, engine gone, disk full
            why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped"
            reporter.note(f"{why}: finished cells are saved in {run_dir.path}\n"
                          + (f"run again: {sel.command}" if sel.command else
                             f"resume with: kit matrix run --resume {run_dir.run_id} "
                             + rerun_args(sel)))
            if isinstance(exc, KeyboardInterrupt):
                raise Interrupted from exc
            raise
        manifest["finished"] = results.now()
        manifest.update(runtime.record())
        run_dir.write_manifest(manifest)
        wanted = {s.cell_id for s in steps}
        final = [r for r in run_dir.load().results if r.cell_id in wanted]
        write_reports(run_dir, final)
    if final and all(r.outcome is Outcome.INFRA_ERROR for r in final):
        why = Counter(r.reason for r in final).most_common(1)[0][0]
        raise InfraError(f"every cell is infra_error ({len(final)}): {why}",
                         hint=f"nothing was learned about the kernels; {run_dir.path}/report.md "
                              "has each cell's reason; `kit doctor` checks this machine")
    return run_dir, final


def prepare(cells: list[Cell], runtime: Runtime, reporter: Reporter,
            repros: dict[str, Repro] | None = None) -> dict[str, ResolvedCutlass]:
    """Fetch every CUTLASS source and toolchain the cells need, before any compile starts."""
    out = resolve_cutlass(cells, reporter)
    prepare_toolchains(cells, runtime, reporter, repros)
    return out


def resolve_cutlass(cells: list[Cell], reporter: Reporter) -> dict[str, ResolvedCutlass]:
    out: dict[str, ResolvedCutlass] = {}
    for src in {c.cutlass.name: c.cutlass for c in cells}.values():
        reporter.note(f"CUTLASS {src.name}: {src.spec}")
        out[src.name] = cutlass_src.resolve(src)
    return out


def prepare_toolchains(cells: list[Cell], runtime: Runtime, reporter: Reporter,
                       repros: dict[str, Repro] | None = None) -> None:
    pairs = {(c.toolchain.name, c.cutlass.name): c for c in cells}
    python = {(c.toolchain.name, c.cutlass.name) for c in cells
              if repros is not None and repros[c.repro].kind is ReproKind.PYTHON}
    for key, c in pairs.items():
        tc = c.toolchain
        fresh = tc.kind is SourceKind.PIP and not toolchains.pip_dir(tc.ref).is_dir()
        reporter.note(f"toolchain {tc.name}: {tc.spec}" + (
            f" — first use: downloading its wheels (nvcc, crt, nvvm, runtime, cccl) into "
            f"{toolchains.pip_dir(tc.ref).parent}" if fresh else ""))
        started = time.monotonic()
        try:
            runtime.prepare(c.toolchain, c.cutlass)
            if fresh and toolchains.pip_dir(tc.ref).is_dir():
                size = sum(f.stat().st_size for f in toolchains.pip_dir(tc.ref).rglob("*")
                           if f.is_file())
                reporter.note(f"  installed: {size / 2**20:,.0f} MB in "
                              f"{time.monotonic() - started:.0f} s")
            if key in python:  # here, not in a compile thread that Ctrl-C would wait for
                runtime.prepare_python(c.toolchain, c.cutlass)
        except (ToolchainError, EngineError) as exc:
            # Its cells record infra_error with this message; the rest of the matrix runs.
            # The first line and the hint: the build's own lines were shown as they came.
            lines = exc.message.splitlines()
            reporter.note(f"  cannot prepare it: {lines[0]}"
                          + (f"\n  hint: {exc.hint}" if exc.hint else ""))
    if cuobjdump.ensure() is None:  # cubin facts are evidence, not a requirement
        reporter.note(f"cuobjdump not found and not installable: no cubin facts "
                      f"(pip install {cuobjdump.WHEEL}, or set KIT_CUOBJDUMP)")


# What a python repro's cells are made with besides the matrix (kit.flavour, host.repro_python):
# a re-run without them would build other cells.
PYTHON_REPRO_ENV = ("KIT_PYTHON", "KIT_TORCH", "KIT_TORCH_INDEX", "KIT_WHEELS")


def make_manifest(run_dir: RunDir, sel: Selection, m: matrix.Matrix, steps: list[plan.Step],
              runtime: Runtime, resolved: dict[str, ResolvedCutlass],
              opts: Options) -> dict[str, Any]:
    tcs = {s.cell.toolchain.name: s.cell.toolchain for s in steps}
    python = any(m.repros[s.cell.repro].kind is ReproKind.PYTHON for s in steps)
    env = {k: os.environ[k] for k in PYTHON_REPRO_ENV if python and os.environ.get(k)}
    return {
        "run_id": run_dir.run_id,
        "kit_version": __version__,
        "python": platform.python_version(),
        "matrix": str(m.path),
        "preset": sel.preset,
        "only": list(sel.only),
        "runtime": runtime.describe(),
        "jobs": parallel_jobs(opts),
        "gpus": runtime.gpus().to_dict(),
        "toolchains": {n: runtime.toolchain_identity(tc) for n, tc in tcs.items()},
        # an image column's digest, and whether a registry ever confirmed it (images/lock.json)
        "digests": {n: {k: v for k, v in entry.items() if k in ("digest", "verified", "why")}
                    for n, entry in (images.load_lock(m.path.resolve().parent)
                                     .get("images") or {}).items()
                    if n in tcs and isinstance(entry, dict)},
        "cutlass": {n: f"{r.source.spec} (CUTLASS {r.version}, {r.identity})"
                    for n, r in resolved.items()},
        "cells": [s.to_dict() for s in steps],
        **runtime.record(),
        "environment": env,
        "command": "".join(f"{shlex.quote(k)}={shlex.quote(v)} " for k, v in env.items())
                   + (sel.command or "kit matrix run " + rerun_args(sel)),
        "started": results.now(),
    }


def write_reports(run_dir: RunDir, final: list[CellResult] | None = None) -> None:
    manifest = run_dir.manifest()
    loaded = run_dir.load()
    res = final if final is not None else loaded.results
    files.write_atomic(run_dir.path / "report.md", markdown.render(res, manifest))
    files.write_json(run_dir.path / "report.json", jsonreport.build(res, manifest))
    files.write_atomic(run_dir.path / "report.xml", junit.render(res, manifest))
    logs = {r.cell_id: run_dir.log_path(r.cell_id).read_text(errors="replace")
            for r in res if run_dir.log_path(r.cell_id).is_file()}
    files.write_atomic(run_dir.path / "report.html", html.render(res, manifest, logs))


