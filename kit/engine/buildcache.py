"""The build cache: one compile per compile key, its binary and compiler log stored under
the cache's builds/ folder with its static facts; a deterministic failure is stored too, so a
cell that did not change is never compiled again. What is stored is looked at anew when kit's
classifier or static checks learn something (FACTS_VERSION)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.engine import binary, classify
from kit.engine.plan import Step
from kit.engine.results import RunDir
from kit.runtime.base import CompileJob, Runtime
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec.model import Evidence, Outcome
from kit.spec.options import Options
from kit.spec.repros import Repro, ReproKind
from kit.util import cache
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


def build(step: Step, repros: dict[str, Repro], cutlass: dict[str, ResolvedCutlass],
           runtime: Runtime, run_dir: RunDir, opts: Options) -> Build:
    """Compile once per compile key; reuse a binary or a deterministic failure from the cache."""
    log = run_dir.log_path(step.cell_id)
    store = cache.builds() / step.compile_key
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


def stored(steps: list[Step]) -> set[str]:
    """The compile keys among these steps whose build the cache already holds."""
    return {s.compile_key for s in steps
            if (cache.builds() / s.compile_key / "meta.json").is_file()}
