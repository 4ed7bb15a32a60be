#!/usr/bin/env python3
"""How fast kit gets a whole matrix, against the loop a person would write, and the floor.

    python bench/matrix_speed.py --cells 16                 # the bench_kernel project
    python bench/matrix_speed.py --matrix matrix.yaml --preset sm90 --axis cuda=host

One run measures, on this machine:
  serial   for each cell: nvcc (the same commands kit runs), then the binary - one at a time
  kit      `kit matrix run --rerun` with an empty build cache and no history (cold)
  kit+h    the same with the history the first kit run left (cold builds, known costs)
  warm     `kit matrix run` again, unchanged: every result carried over
and prints the ratios, and the lower bound for this machine:
  max(longest single cell, total compile seconds / cores, total GB x seconds / RAM GB)
from the serial run's measured compile times and peak memory (GPU runs are added to the
critical path: there is one GPU). kit's own overhead is its process's CPU time (not its
children's) over its wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kit.cli.commands import cli  # noqa: E402
from kit.engine import plan, scheduler  # noqa: E402
from kit.engine.progress import Reporter  # noqa: E402
from kit.flows import run as workflow  # noqa: E402
from kit.flows import selection  # noqa: E402
from kit.runtime.base import CompileJob  # noqa: E402
from kit.runtime.host import HostRuntime  # noqa: E402
from kit.spec.options import Options  # noqa: E402
from kit.util import cmd, peakmem  # noqa: E402

BENCH_PROJECT = ROOT / "bench" / "project"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=12, help="bench_kernel variants [12]")
    ap.add_argument("--matrix", type=Path, help="a project's matrix.yaml instead")
    ap.add_argument("--preset")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--axis", action="append", default=[])
    ap.add_argument("--skip-serial", action="store_true", help="reuse no serial numbers: "
                    "only kit (the lower bound then comes from kit's own measurements)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    matrix_path = args.matrix.resolve() if args.matrix else _bench_project(work, args.cells)
    sel = selection.Selection(matrix_path=matrix_path, preset=args.preset,
                             only=tuple(args.only), axis=tuple(args.axis))
    cache = _cold_cache(work)
    os.environ["KIT_CACHE"] = str(cache)
    rt = HostRuntime()
    m, cells = selection.load(sel)
    with Reporter(quiet=True) as rep:
        resolved = workflow.prepare(cells, rt, rep)
    steps = plan.plan(cells, m.repros, workflow.facts(m, cells, rt, resolved))
    print(f"{len(steps)} cells, {len({s.compile_key for s in steps})} binaries, "
          f"{sum(s.run is plan.RunDecision.RUN for s in steps)} run on this GPU; "
          f"{os.cpu_count()} cores, {peakmem.available_gb():.1f} GB available", flush=True)

    numbers: dict[str, Any] = {"machine": _machine(), "cells": len(steps)}
    if not args.skip_serial:
        numbers["serial"] = _serial(steps, m, resolved, rt, work / "serial")
        print(f"serial loop: {numbers['serial']['wall']:.1f} s", flush=True)
    for name in ("kit", "kit+h"):
        shutil.rmtree(cache / "builds", ignore_errors=True)
        if name == "kit":
            with contextlib.suppress(FileNotFoundError):
                (cache / "history.json").unlink()
        numbers[name] = _kit(sel, work / "results", ["--rerun"])
        print(f"{name}: {numbers[name]['wall']:.1f} s (kit's own CPU "
              f"{numbers[name]['own_cpu']:.2f} s)", flush=True)
    numbers["warm"] = _kit_process(sel, work / "results")
    print(f"warm re-run: {numbers['warm']['wall']:.2f} s (a new `kit` process, imports "
          "included)", flush=True)

    floor = _lower_bound(numbers.get("serial") or _from_history(cache, steps))
    numbers["lower_bound"] = floor
    _print_ratios(numbers, floor)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def _bench_project(work: Path, n: int) -> Path:
    project = work / "project"
    shutil.copytree(BENCH_PROJECT, project)
    path = project / "matrix.yaml"
    variants = ", ".join(f'"{i}"' for i in range(n))
    path.write_text(path.read_text().replace('variant: ["0"]', f"variant: [{variants}]"))
    return path


def _cold_cache(work: Path) -> Path:
    """An empty build cache and history; installed toolchains and CUTLASS trees shared."""
    from kit.util import cache as kit_cache

    real = kit_cache.root()
    cold = work / "cache"
    cold.mkdir()
    for part in ("toolchains", "cutlass", "tools"):
        if (real / part).is_dir():
            (cold / part).symlink_to(real / part)
    return cold


def _serial(steps: list[plan.Step], m: Any, resolved: Any, rt: HostRuntime,
            out: Path) -> dict[str, Any]:
    """One cell after the other: its nvcc commands, then its binary (a person's loop)."""
    cells = []
    started = time.monotonic()
    for i, step in enumerate(steps):
        folder = out / str(i)
        folder.mkdir(parents=True)
        repro = m.repros[step.cell.repro]
        commands = rt.commands(CompileJob(cell=step.cell, repro=repro,
                                          cutlass=resolved[step.cell.cutlass.name],
                                          output=folder / "bin", log=folder / "log",
                                          timeout=1800))
        t0 = time.monotonic()
        peak = 0
        for argv in commands:
            done = cmd.run(argv, cwd=folder, measure_memory=True)
            peak = max(peak, done.peak_rss_kb or 0)
        compile_s = time.monotonic() - t0
        run_s = 0.0
        if step.run is plan.RunDecision.RUN and (folder / "bin").is_file():
            done = cmd.run([folder / "bin", *repro.run_args], cwd=folder, timeout=120,
                           env={"CUDA_VISIBLE_DEVICES": str(step.gpu_index)})
            run_s = done.seconds
        cells.append({"compile_s": compile_s, "peak_gb": peak / (1 << 20), "run_s": run_s})
    return {"wall": time.monotonic() - started, "cells": cells}


def _kit_process(sel: selection.Selection, results_root: Path) -> dict[str, Any]:
    """As a user types it: a fresh interpreter, so start-up and imports count."""
    argv = [sys.executable, "-m", "kit", *_run_args(sel, results_root)]
    t0 = time.monotonic()
    cmd.check(argv, what="kit matrix run", cwd=ROOT)
    return {"wall": time.monotonic() - t0}


def _kit(sel: selection.Selection, results_root: Path, extra: list[str]) -> dict[str, Any]:
    """In this process, so that its own CPU time (not its children's) can be read."""
    argv = [*_run_args(sel, results_root), *extra]
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    with Path(os.devnull).open("w") as sink, contextlib.redirect_stdout(sink):
        try:
            cli.main(argv, standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                raise
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "own_cpu": own}


def _run_args(sel: selection.Selection, results_root: Path) -> list[str]:
    argv = ["matrix", "run", "--runtime", "host", "--matrix", str(sel.matrix_path),
            "--results", str(results_root), "--json"]
    if sel.preset:
        argv += ["--preset", sel.preset]
    for o in sel.only:
        argv += ["--only", o]
    for a in sel.axis:
        argv += ["--axis", a]
    return argv


def _from_history(cache: Path, steps: list[plan.Step]) -> dict[str, Any]:
    data = json.loads((cache / "history.json").read_text())
    cells = [{"compile_s": e["s"], "peak_gb": e["gb"], "run_s": 0.0}
             for entries in data.values() for e in entries[-1:]]
    return {"cells": cells}


def _lower_bound(serial: dict[str, Any]) -> dict[str, float]:
    cells = serial["cells"]
    cores = os.cpu_count() or 1
    ram = scheduler.memory_budget_gb(Options())
    critical = max(c["compile_s"] + c["run_s"] for c in cells)
    by_cores = sum(c["compile_s"] for c in cells) / cores
    by_memory = sum(c["peak_gb"] * c["compile_s"] for c in cells) / ram
    gpu = sum(c["run_s"] for c in cells)  # one GPU: runs never overlap each other
    return {"critical_path": critical, "compile_s_over_cores": by_cores,
            "gb_s_over_ram": by_memory, "gpu_serial": gpu,
            "bound": max(critical, by_cores, by_memory, gpu)}


def _print_ratios(n: dict[str, Any], floor: dict[str, float]) -> None:
    bound = floor["bound"]
    print("\nlower bound: {bound:.1f} s = max(critical path {critical_path:.1f}, compile/cores "
          "{compile_s_over_cores:.1f}, GB*s/RAM {gb_s_over_ram:.1f}, GPU {gpu_serial:.1f})"
          .format(**floor))
    rows = [("kit cold / lower bound", n["kit"]["wall"] / bound, "target <= 1.15"),
            ("kit cold+history / lower bound", n["kit+h"]["wall"] / bound, "target <= 1.15"),
            ("kit own CPU / kit wall", n["kit"]["own_cpu"] / n["kit"]["wall"], "target < 0.02"),
            ("warm re-run seconds", n["warm"]["wall"], f"{n['cells']} cells; target <= 2 s"
             " at 100")]
    if "serial" in n:
        rows.insert(0, ("serial loop / kit cold", n["serial"]["wall"] / n["kit"]["wall"],
                        "speed-up"))
    for name, value, note in rows:
        print(f"  {name:<34} {value:8.3f}   {note}")


def _machine() -> dict[str, Any]:
    return {"host": platform.node(), "cores": os.cpu_count(),
            "mem_available_gb": round(peakmem.available_gb(), 1),
            "python": platform.python_version()}


if __name__ == "__main__":
    main()
