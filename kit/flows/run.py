"""The flow of design.md, one function per verb; the CLI calls these and prints."""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import __version__
from kit.engine import plan, results, reuse
from kit.engine.execute import execute
from kit.engine.progress import Reporter
from kit.engine.results import RunDir
from kit.engine.scheduler import parallel_jobs
from kit.report import html, jsonreport, junit, markdown
from kit.runtime.base import Runtime
from kit.sources import cuobjdump, cutlass_src
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec import matrix
from kit.spec.model import Cell, CellResult
from kit.spec.options import Options
from kit.spec.repros import Repro, ReproKind, discover
from kit.util import files
from kit.util.errors import EngineError, KitError, ToolchainError, UsageError


@dataclass(frozen=True, kw_only=True)
class Selection:
    matrix_path: Path
    preset: str | None = None
    only: tuple[str, ...] = ()
    axis: tuple[str, ...] = ()
    # how cells run (--runtime, --base): not part of the selection, part of re-running it
    runtime_args: tuple[str, ...] = ()
    # repros from folders beside the project's repros/ (`kit repro run FILE.cu` makes one)
    repro_dirs: tuple[Path, ...] = ()
    # the command that makes this selection when it is not `kit matrix run` (re-run lines)
    command: str = ""


def load(sel: Selection) -> tuple[matrix.Matrix, list[Cell]]:
    m = matrix.load(sel.matrix_path, repros_of(sel.matrix_path, sel.repro_dirs))
    only = matrix.parse_only(sel.only, m.known_axes())
    overrides = matrix.parse_axis_overrides(sel.axis, m.known_axes())
    cells = matrix.expand(m, preset=sel.preset, only=only, overrides=overrides)
    if not cells:
        raise KitError("no cell matches this selection",
                       hint="`kit matrix plan` without --only shows the cells there are")
    return m, cells


def facts(m: matrix.Matrix, cells: list[Cell], runtime: Runtime,
          cutlass: dict[str, ResolvedCutlass] | None = None) -> plan.Facts:
    used_tc = {c.toolchain.name: c.toolchain for c in cells}
    used_cl = {c.cutlass.name: c.cutlass for c in cells}
    python_pairs = {(c.toolchain.name, c.cutlass.name): c for c in cells
                    if m.repros[c.repro].kind is ReproKind.PYTHON}  # one identity a pair
    return plan.Facts(
        toolchain_ids={n: runtime.toolchain_identity(tc) for n, tc in used_tc.items()},
        cutlass_ids={n: (cutlass[n].identity if cutlass and n in cutlass else src.spec)
                     for n, src in used_cl.items()},
        source_digests={r: m.repros[r].source_digest() for r in {c.repro for c in cells}},
        gpus=runtime.gpus(),
        python_ids={pair: runtime.python_identity(c.toolchain, c.cutlass)
                    for pair, c in python_pairs.items()},
    )


def make_plan(sel: Selection, runtime: Runtime) -> tuple[matrix.Matrix, list[plan.Step]]:
    m, cells = load(sel)
    return m, plan.plan(cells, m.repros, facts(m, cells, runtime))


def run(sel: Selection, runtime: Runtime, *, results_root: Path, opts: Options,
        reporter: Reporter, resume_ref: str | None = None,
        rerun: bool = False) -> tuple[RunDir, list[CellResult]]:
    m, cells = load(sel)
    opts = runtime.capacity(opts)
    reporter.note(f"{len(cells)} cells from {m.path}"
                  + (f" (preset {sel.preset})" if sel.preset else ""))
    resolved = resolve_cutlass(cells, reporter)
    steps = plan.plan(cells, m.repros, facts(m, cells, runtime, resolved))
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
                             + _selection_args(sel)))
            raise
        manifest["finished"] = results.now()
        manifest.update(runtime.record())
        run_dir.write_manifest(manifest)
        wanted = {s.cell_id for s in steps}
        final = [r for r in run_dir.load().results if r.cell_id in wanted]
        write_reports(run_dir, final)
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
        reporter.note(f"toolchain {c.toolchain.name}: {c.toolchain.spec}")
        try:
            runtime.prepare(c.toolchain, c.cutlass)
            if key in python:  # here, not in a compile thread that Ctrl-C would wait for
                runtime.prepare_python(c.toolchain, c.cutlass)
        except (ToolchainError, EngineError) as exc:
            # Its cells record infra_error with this message; the rest of the matrix runs.
            reporter.note(f"  cannot prepare it: {exc.format_message()}")
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
        "cutlass": {n: f"{r.source.spec} (CUTLASS {r.version}, {r.identity})"
                    for n, r in resolved.items()},
        "cells": [s.to_dict() for s in steps],
        **runtime.record(),
        "environment": env,
        "command": "".join(f"{shlex.quote(k)}={shlex.quote(v)} " for k, v in env.items())
                   + (sel.command or "kit matrix run " + _selection_args(sel)),
        "started": results.now(),
    }


def _selection_args(sel: Selection) -> str:
    args: list[str] = []
    if sel.matrix_path.name != "matrix.yaml" or sel.matrix_path.parent != Path():
        args += ["--matrix", str(sel.matrix_path)]
    if sel.preset:
        args += ["--preset", sel.preset]
    for o in sel.only:
        args += ["--only", o]
    for a in sel.axis:
        args += ["--axis", a]
    args += sel.runtime_args
    return shlex.join(args)


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


def build_images(sel: Selection, runtime: Runtime) -> list[dict[str, Any]]:
    """Ensure the image of every (toolchain, CUTLASS) pair the selected cells use, and its
    prod flavour where a python repro's cells use that pair."""
    from kit.runtime.docker import DockerRuntime

    assert isinstance(runtime, DockerRuntime)
    m, cells = load(sel)
    out = []
    kinds = {(c.toolchain.name, c.cutlass.name, m.repros[c.repro].kind): c for c in cells}
    for (_, _, kind), c in kinds.items():  # python repros: the pair's prod flavour
        spec = runtime.image_for(c.toolchain, c.cutlass, kind)
        built = runtime.ensure_image(spec)
        out.append({"tag": spec.tag, "built": built, "toolchain": c.toolchain.name,
                    "cutlass": c.cutlass.name, "flavour": spec.flavour})
    return out


def current_image_tags(matrix_path: Path) -> set[str]:
    """The tags the matrix's toolchains would use now (what prune keeps)."""
    from kit.sources import flavour, images
    from kit.spec.model import SourceKind

    m = matrix.load(matrix_path, repros_of(matrix_path))
    project = matrix_path.resolve().parent
    tags = set()
    for tc in m.toolchains.values():
        if tc.kind is SourceKind.HOST:
            continue
        for src in m.cutlass.values():
            try:
                plain = images.spec_for(tc, src, project=project)
            except KitError:
                continue
            tags.add(plain.tag)
            with contextlib.suppress(KitError):  # KIT_WHEELS gone: its prod images are strays
                tags.add(flavour.spec(plain, flavour.Recipe.from_env(), project).tag)
    return tags


def repros_of(matrix_path: Path, more: tuple[Path, ...] = ()) -> dict[str, Repro]:
    """The repros beside a matrix file (its folder's repros/), and those in `more`."""
    found = discover(matrix_path.parent / "repros")
    for folder in more:
        found |= discover(folder)
    return found


def one_cell(matrix_path: Path, name: str, defines: tuple[str, ...], cuda: str | None,
             cutlass: str | None, arch: str | None,
             repro_dirs: tuple[Path, ...] = ()) -> tuple[matrix.Matrix, Cell]:
    """One cell for `kit repro run/export`: a repro, -D knob values, toolchain, CUTLASS, arch
    (the matrix's first toolchain / CUTLASS and the repro's first target by default)."""
    m = matrix.load(matrix_path, repros_of(matrix_path, repro_dirs))
    if name not in m.repros:
        raise UsageError(f"unknown repro '{name}'", hint=f"repros: {', '.join(m.repros)}")
    repro = m.repros[name]
    knobs = {k: kn.default for k, kn in repro.knobs.items()}
    for d in defines:
        key, sep, value = d.partition("=")
        if not sep or key not in repro.knobs:
            raise UsageError(f"-D {d}: expected KNOB=VALUE with KNOB one of "
                             f"{', '.join(repro.knobs)}")
        if not repro.knobs[key].accepts(value):
            raise UsageError(f"-D {d}: {key} takes {repro.knobs[key].describe_values()}")
        knobs[key] = value
    tc = cuda or next(iter(m.toolchains))
    cl = cutlass or next(iter(m.cutlass))
    if tc not in m.toolchains or cl not in m.cutlass:
        raise UsageError(f"unknown toolchain '{tc}' or CUTLASS '{cl}'",
                         hint=f"toolchains: {', '.join(m.toolchains)}; cutlass: "
                              f"{', '.join(m.cutlass)}")
    target = arch or repro.archs[0]
    if target not in repro.archs:
        raise UsageError(f"{name} is written for {', '.join(repro.archs)}, not {target}")
    return m, Cell(repro=name, toolchain=m.toolchains[tc], cutlass=m.cutlass[cl], arch=target,
                   knobs=tuple(sorted(repro.pinned(knobs).items())))

