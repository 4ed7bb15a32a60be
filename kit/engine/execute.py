"""Run a plan: compile (kit.engine.scheduler says when, kit.engine.buildcache keeps what),
run on the GPU, classify, store.

Each finished cell is written to the run folder the moment it ends; on Ctrl-C the children
are killed, nothing half-written stays, and `kit matrix run --resume` picks up the rest.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from kit.engine import buildcache, classify, history, predict, routing, scheduler
from kit.engine.buildcache import Build
from kit.engine.plan import RunDecision, Step
from kit.engine.progress import Reporter
from kit.engine.results import RunDir, now
from kit.runtime.base import RunJob, Runtime
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec.model import CellResult, Evidence, Outcome
from kit.spec.options import Options
from kit.spec.repros import Repro, ReproKind
from kit.util import cmd
from kit.util.errors import KitError


def execute(steps: list[Step], *, repros: dict[str, Repro], cutlass: dict[str, ResolvedCutlass],
            runtime: Runtime, run_dir: RunDir, opts: Options, reporter: Reporter
            ) -> list[CellResult]:
    todo = [s for s in steps if not (opts.resume and run_dir.has(s.cell_id))]
    kept = len(steps) - len(todo)
    if kept:
        reporter.note(f"resuming {run_dir.run_id}: {kept} finished cells kept, {len(todo)} to do")
    if not todo:
        return []
    jobs = scheduler.jobs_for(todo, opts, history.load())
    by_key = {j.group[0].compile_key: j.group for j in jobs}
    cores = scheduler.parallel_jobs(opts)
    sched = scheduler.Scheduler(jobs, cores=cores, budget_gb=scheduler.memory_budget_gb(opts))
    results: list[CellResult] = []
    predicted = scheduler.estimate(todo, opts, cached=buildcache.stored(todo))
    reporter.start(len(todo), f"{len(by_key)} builds, up to {cores} at a time in "
                              f"{sched.budget_gb:.0f} GB",
                   # a guess from nothing measured here is no estimate worth printing
                   estimate=predicted.seconds if predicted.measured else None)
    done = hits = unstarted = 0
    compile_pool = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="nvcc")
    # One queue per GPU (a run at a time on each); cells that run nowhere take a queue of
    # their own. A runtime that places runs itself (a cluster) gets one queue, as it asks.
    router = routing.Router.over(runtime.gpus().gpus if runtime.routes_gpus() else (),
                                 opts.gpus)
    gpu_pools = {g.index: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"gpu{g.index}")
                 for g in router.gpus}
    side_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu")
    if len(router.gpus) > 1:
        reporter.note(f"{len(router.gpus)} GPUs, one queue each: "
                      + ", ".join(f"{g.index} {g.name} (cc {g.cc_text})" for g in router.gpus))
    builds: dict[Future[Build], scheduler.Job] = {}
    runs: dict[Future[CellResult], tuple[Step, int | None]] = {}
    try:
        while sched.queue or builds or runs:
            while (job := sched.next()) is not None:
                reporter.compiling(job.group[0].cell.label, started=True)
                builds[compile_pool.submit(buildcache.build, job.group[0], repros, cutlass,
                                           runtime, run_dir, opts)] = job
            pending: set[Future[Any]] = {*builds, *runs}
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                if fut in builds:
                    job = builds.pop(fut)
                    sched.done(job)
                    build: Build = fut.result()
                    reporter.compiling(job.group[0].cell.label, started=False)
                    _learn(job, build)
                    hits += build.cached
                    # the toolchain or engine failed before any compiler ran
                    unstarted += build.verdict is not None and \
                        build.verdict.outcome is Outcome.INFRA_ERROR
                    # Runs go to their GPU's queue, while compiles go on.
                    for step in job.group:
                        routed = _route(step, build, router)
                        queue = routed.gpu_index if routed.gpu_index in gpu_pools else None
                        pool = side_pool if queue is None else gpu_pools[queue]
                        runs[pool.submit(_finish, routed, build, repros, runtime, run_dir,
                                         opts, reporter)] = (routed, queue)
                else:
                    ran, index = runs.pop(fut)
                    result: CellResult = fut.result()
                    if index is not None and (why := router.done(result, index)):
                        reporter.note(f"GPU {index} faulted ({why}) running {ran.cell.label}: "
                                      "it takes no more cells; the other GPUs go on")
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
        for pool in (*gpu_pools.values(), side_pool):
            pool.shutdown(wait=True, cancel_futures=True)
        reporter.stop()
    if by_key:
        compiled = len(by_key) - hits - unstarted
        reporter.note(f"compile cache: {hits} of {len(by_key)} builds reused, {compiled} "
                      "compiled" + (f", {unstarted} not started (infra_error)" if unstarted
                                    else ""))
    return results


def _route(step: Step, build: Build, router: routing.Router) -> Step:
    """The step with the GPU it runs on: the least busy one that can, when there is a
    choice; as planned where the runtime routes itself; not run where every GPU that could
    has faulted."""
    if step.run is not RunDecision.RUN or not build.ok or not router.gpus:
        return step
    gpu = router.route(step.cell.arch)
    if gpu is None:  # not the kernel's doing: the run says why, as infra_error
        return dataclasses.replace(step, run=RunDecision.GPU_FAULTED, gpu_index=None, gpu=None,
                                   reason=f"no healthy GPU left for it: "
                                          f"{router.why_none(step.cell.arch)}")
    return dataclasses.replace(step, gpu_index=gpu.index, gpu=gpu)


def _learn(job: scheduler.Job, build: Build) -> None:
    """A fresh compile's measured cost goes into the history (cached ones cost nothing)."""
    if build.cached or build.peak_gb is None:
        return
    step = job.group[0]
    history.record(history.recipe_key(step.cell.repro, step.compile_key), build.peak_gb,
                   build.seconds)


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
    if step.run is RunDecision.GPU_FAULTED:
        return CellResult(outcome=Outcome.INFRA_ERROR, reason=step.reason,
                          evidence=Evidence(cause="gpu_faulted", detail=step.reason),
                          finished=now(), **base)
    if step.run is not RunDecision.RUN:
        outcome = Outcome(step.run.value)
        warning = build.facts.get("warning")
        return CellResult(outcome=outcome, reason=f"compiled; not run: {step.reason}"
                          + (f" (static check: {warning})" if warning else ""),
                          evidence=Evidence(cause=outcome.value, detail=step.reason),
                          prediction=_predict(step, build, repros[step.cell.repro], runtime,
                                              run_dir, opts),
                          finished=now(), **base)
    assert build.binary is not None and step.gpu_index is not None
    reporter.running(step.cell.label, started=True)
    try:
        return _run(step, build, repros, runtime, run_dir, opts, base)
    finally:
        reporter.running(step.cell.label, started=False)


def _predict(step: Step, build: Build, repro: Repro, runtime: Runtime, run_dir: RunDir,
             opts: Options) -> dict[str, Any] | None:
    """What the cell's target would likely do: from the binary's static facts, and from what
    its host side reports with KIT_FACTS_ONLY=1 where it can run here without a GPU."""
    if build.binary is None or repro.kind is ReproKind.PYTHON:
        return None
    facts, error = None, {}
    if repro.harness and runtime.facts_runs:
        log = run_dir.path / "logs" / f"{step.cell_id}.facts.log"
        try:
            done = runtime.run(RunJob(binary=build.binary, args=repro.run_args, gpu_index=-1,
                                      log=log, timeout=min(60.0, opts.run_timeout),
                                      env={"KIT_FACTS_ONLY": "1"}))
            line = classify.parse_line(done.output)
            facts = line if line and line.get("stage") == "facts" else None
        except KitError as exc:  # the prediction goes on from the binary's static facts
            error = {"facts_error": exc.message.splitlines()[0]}
    return predict.predict(step.cell.arch, facts, build.facts).to_dict() | (
        {"smem_bytes": facts.get("smem_bytes")} if facts else {}) | error


def _run(step: Step, build: Build, repros: dict[str, Repro], runtime: Runtime,
         run_dir: RunDir, opts: Options, base: dict[str, Any]) -> CellResult:
    assert build.binary is not None and step.gpu_index is not None
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
                      gpu=f"{step.gpu.index}: {step.gpu.name}" if step.gpu else "",
                      run_seconds=round(done.seconds, 3), finished=now(), **base)
