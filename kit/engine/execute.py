"""Run a plan: compile (parallel, memory-aware, cached), run on the GPU, classify, store.

Each finished cell is written to the run folder the moment it ends; on Ctrl-C the children
are killed, nothing half-written stays, and `kit matrix run --resume` picks up the rest.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.engine import binary, classify, history
from kit.engine.plan import RunDecision, Step
from kit.engine.progress import Reporter
from kit.engine.results import RunDir, now
from kit.runtime.base import CompileJob, RunJob, Runtime
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec.model import CellResult, Evidence, Outcome
from kit.spec.options import Options
from kit.spec.repros import Repro, ReproKind
from kit.util import cache, cmd, peakmem
from kit.util.errors import KitError
from kit.util.files import write_json


@dataclass(frozen=True)
class Build:
    ok: bool
    binary: Path | None
    verdict: classify.Verdict | None  # set when the compile failed
    seconds: float
    cached: bool
    facts: dict[str, Any] = field(default_factory=dict)  # static facts about the binary
    peak_gb: float | None = None  # measured peak memory of a fresh compile


def parallel_jobs(opts: Options) -> int:
    """The most compiles at once (-j, else cores); memory then decides how many really run."""
    return opts.jobs or os.cpu_count() or 1


def memory_budget_gb(opts: Options) -> float:
    """What compiles may use together: --mem, else what the machine has free, less a margin
    for kit, the kernels it runs and everything else on the box."""
    if opts.mem_gb is not None:
        return opts.mem_gb
    return max(1.0, peakmem.available_gb() * 0.9 - 0.5)


@dataclass
class _Job:
    group: list[Step]
    cost: history.Cost


class Scheduler:
    """Starts compiles while cores and memory allow: the longest predicted first (so the last
    to finish is not a long one started late), each counted at its predicted peak. One job
    always runs, whatever its prediction, so a matrix never stalls."""

    def __init__(self, jobs: list[_Job], *, cores: int, budget_gb: float) -> None:
        self.queue = sorted(jobs, key=lambda j: -j.cost.seconds)
        self.cores = cores
        self.budget_gb = budget_gb
        self.running_gb = 0.0
        self.running = 0

    def next(self) -> _Job | None:
        if self.running >= self.cores:
            return None
        for i, job in enumerate(self.queue):
            if self.running == 0 or self.running_gb + job.cost.gb <= self.budget_gb:
                self.running += 1
                self.running_gb += job.cost.gb
                return self.queue.pop(i)
        return None

    def done(self, job: _Job) -> None:
        self.running -= 1
        self.running_gb -= job.cost.gb


def execute(steps: list[Step], *, repros: dict[str, Repro], cutlass: dict[str, ResolvedCutlass],
            runtime: Runtime, run_dir: RunDir, opts: Options, reporter: Reporter
            ) -> list[CellResult]:
    todo = [s for s in steps if not (opts.resume and run_dir.has(s.cell_id))]
    kept = len(steps) - len(todo)
    if kept:
        reporter.note(f"resuming {run_dir.run_id}: {kept} finished cells kept, {len(todo)} to do")
    if not todo:
        return []
    by_key: dict[str, list[Step]] = defaultdict(list)
    for s in todo:
        by_key[s.compile_key].append(s)

    past = history.load()
    jobs = [_Job(group, history.predict(past, history.recipe_key(g0.cell.repro, key),
                                        g0.cell.repro, opts.compile_gb))
            for key, group in by_key.items() for g0 in group[:1]]
    cores = parallel_jobs(opts)
    sched = Scheduler(jobs, cores=cores, budget_gb=memory_budget_gb(opts))
    results: list[CellResult] = []
    reporter.start(len(todo), f"{len(by_key)} builds, up to {cores} at a time in "
                              f"{sched.budget_gb:.0f} GB")
    done = hits = 0
    compile_pool = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="nvcc")
    gpu_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu")  # one run at a time
    builds: dict[Future[Build], _Job] = {}
    runs: dict[Future[CellResult], Step] = {}
    try:
        while sched.queue or builds or runs:
            while (job := sched.next()) is not None:
                builds[compile_pool.submit(_build, job.group[0], repros, cutlass, runtime,
                                           run_dir, opts)] = job
            pending: set[Future[Any]] = {*builds, *runs}
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                if fut in builds:
                    job = builds.pop(fut)
                    sched.done(job)
                    build: Build = fut.result()
                    _learn(job, build)
                    hits += build.cached
                    # Runs go to the GPU thread, while compiles go on.
                    for step in job.group:
                        runs[gpu_pool.submit(_finish, step, build, repros, runtime, run_dir,
                                             opts, reporter)] = step
                else:
                    runs.pop(fut)
                    result: CellResult = fut.result()
                    run_dir.save(result)
                    results.append(result)
                    done += 1
                    reporter.cell_done(result, done, len(todo))
                    if result.outcome is Outcome.INFRA_ERROR:
                        runtime.check()  # an engine that is gone stops the run here
    except BaseException:
        killed = cmd.kill_all()
        runtime.cleanup()
        reporter.stop()
        if killed:
            reporter.note(f"stopped {killed} running compile/run processes")
        raise
    finally:
        compile_pool.shutdown(wait=True, cancel_futures=True)
        gpu_pool.shutdown(wait=True, cancel_futures=True)
        reporter.stop()
    if by_key:
        reporter.note(f"compile cache: {hits} of {len(by_key)} builds reused, "
                      f"{len(by_key) - hits} compiled")
    return results


def _learn(job: _Job, build: Build) -> None:
    """A fresh compile's measured cost goes into the history (cached ones cost nothing)."""
    if build.cached or build.peak_gb is None:
        return
    step = job.group[0]
    history.record(history.recipe_key(step.cell.repro, step.compile_key), build.peak_gb,
                   build.seconds)


def _build(step: Step, repros: dict[str, Repro], cutlass: dict[str, ResolvedCutlass],
           runtime: Runtime, run_dir: RunDir, opts: Options) -> Build:
    """Compile once per compile key; reuse a binary or a deterministic failure from the cache."""
    log = run_dir.log_path(step.cell_id)
    store = cache.root() / "builds" / step.compile_key
    meta_path = store / "meta.json"
    if meta_path.is_file():
        stored = json.loads(meta_path.read_text())
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"[compile cached: {store}]\n{(store / 'compile.log').read_text()}")
        return _from_meta(stored, store, cached=True)

    tmp = Path(tempfile.mkdtemp(prefix=f".{step.compile_key}.", dir=_ensure(store.parent)))
    tmp.chmod(0o755)  # runtimes may read it as another user (a container's)
    try:
        job = CompileJob(cell=step.cell, repro=repros[step.cell.repro],
                         cutlass=cutlass[step.cell.cutlass.name], output=tmp / "bin",
                         log=tmp / "compile.log", timeout=opts.compile_timeout,
                         objects_key=step.inputs_key)
        try:
            done = runtime.compile(job)
        except KitError as exc:  # the toolchain or engine failed: not the kernel's fault
            infra = classify.Verdict(Outcome.INFRA_ERROR, exc.format_message().splitlines()[0],
                                     Evidence(cause="toolchain", detail=exc.format_message()))
            return Build(False, None, infra, 0.0, False)
        ok = done.returncode == 0 and not done.timed_out and (tmp / "bin").is_file()
        verdict = None if ok else classify.compile_failure(done.returncode, done.output,
                                                           done.timed_out)
        meta: dict[str, Any] = {"ok": ok, "seconds": round(done.seconds, 2),
                                "returncode": done.returncode,
                                "facts": _facts(tmp / "bin", job.repro) if ok else {}}
        log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp / "compile.log", log)
        transient = verdict is not None and (verdict.evidence.cause in ("oom", "timeout")
                                             or verdict.outcome is Outcome.INFRA_ERROR)
        for obj in tmp.glob("*.o"):  # translation units live in the object cache
            obj.unlink()
        if not transient:
            write_json(tmp / "meta.json", meta)
            try:
                tmp.rename(store)
            except OSError:  # another process stored the same build first: theirs is as good
                pass
            else:
                return dataclasses.replace(_from_meta(meta, store, cached=False),
                                           peak_gb=_gb(done.peak_rss_kb))
        return Build(ok, None, verdict, done.seconds, False, peak_gb=_gb(done.peak_rss_kb))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _facts(path: Path, repro: Repro) -> dict[str, Any]:
    if repro.kind is ReproKind.PYTHON:  # a launcher script: no symbols, no cubins to read
        return {"version": binary.FACTS_VERSION}
    return binary.inspect(path)


def _gb(kb: int | None) -> float | None:
    return kb / (1 << 20) if kb else None


def _from_meta(meta: dict[str, Any], store: Path, *, cached: bool) -> Build:
    if meta["ok"]:
        facts = meta.get("facts") or {}
        if facts.get("version") != binary.FACTS_VERSION:  # made by an older kit: look again
            facts = binary.inspect(store / "bin")
            write_json(store / "meta.json", {**meta, "facts": facts})
        return Build(True, store / "bin", None, meta["seconds"], cached, facts)
    # Classify the stored compiler output anew: a better classifier applies to old builds.
    output = (store / "compile.log").read_text(errors="replace")
    verdict = classify.compile_failure(int(meta["returncode"]), output, False)
    return Build(False, None, verdict, meta["seconds"], cached)


def _finish(step: Step, build: Build, repros: dict[str, Repro], runtime: Runtime,
            run_dir: RunDir, opts: Options, reporter: Reporter) -> CellResult:
    started = now()
    base: dict[str, Any] = {
        "cell_id": step.cell_id, "label": step.cell.label, "axes": step.cell.axes,
        "compile_seconds": round(build.seconds, 2), "compile_cached": build.cached,
        "binary": step.compile_key, "binary_facts": build.facts, "started": started,
    }
    if not build.ok:
        v = build.verdict
        assert v is not None
        return CellResult(outcome=v.outcome, reason=v.reason, evidence=v.evidence,
                          finished=now(), **base)
    if step.run is not RunDecision.RUN:
        outcome = Outcome(step.run.value)
        warning = build.facts.get("warning")
        return CellResult(outcome=outcome, reason=f"compiled; not run: {step.reason}"
                          + (f" (static check: {warning})" if warning else ""),
                          evidence=Evidence(cause=outcome.value, detail=step.reason),
                          finished=now(), **base)
    assert build.binary is not None and step.gpu_index is not None
    reporter.activity(f"running {step.cell.label}")
    repro = repros[step.cell.repro]
    timeout = repro.run_timeout or opts.run_timeout  # a repro that JIT-compiles says longer
    job = RunJob(binary=build.binary, args=repro.run_args,
                 gpu_index=step.gpu_index, log=run_dir.log_path(step.cell_id),
                 timeout=timeout)
    t0 = time.monotonic()
    try:
        done = runtime.run(job)
    except KitError as exc:
        return CellResult(outcome=Outcome.INFRA_ERROR, reason=exc.format_message().splitlines()[0],
                          evidence=Evidence(cause="runtime", detail=exc.format_message()),
                          run_seconds=round(time.monotonic() - t0, 3), finished=now(), **base)
    v = classify.run_result(done.returncode, done.output, done.timed_out, timeout,
                            repros[step.cell.repro].expect, build.facts, step.gpu)
    return CellResult(outcome=v.outcome, reason=v.reason, evidence=v.evidence,
                      kit_result=v.kit_result, exit_status=done.returncode, node=done.node,
                      run_seconds=round(done.seconds, 3), finished=now(), **base)
