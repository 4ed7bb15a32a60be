"""Run on this machine's GPU the binaries another machine compiled for a kit run.

"Compile on the CPU, carry the binaries": a run made where there is no GPU (cells `no_gpu`)
is copied here with the build cache entries its cells name; each binary then runs on this
GPU through kit's own gate, runtime and classifier, and a new run folder records the real
outcomes beside the original compile facts (toolchain identity, host compiler, cache key).

    python3 tools/run_prebuilt.py SOURCE_RUN RESULTS_ROOT [--builds DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from kit.engine import classify, results
from kit.flows.run import write_reports
from kit.runtime.base import RunJob
from kit.runtime.host import HostRuntime
from kit.spec.model import CellResult
from kit.spec.repros import load
from kit.util import cache, gpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", type=Path)
    ap.add_argument("root", type=Path)
    ap.add_argument("--builds", type=Path, default=cache.root() / "builds")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    src = results.RunDir(args.source)
    manifest = src.manifest()
    rt = HostRuntime()
    report = rt.gpus()
    out = results.create(args.root)
    manifest |= {"run_id": out.run_id, "gpus": report.to_dict(),
                 "runtime": f"host (prebuilt binaries from run {src.run_id})",
                 "started": results.now()}
    out.write_manifest(manifest)
    for r in src.load().results:
        store = args.builds / r.binary
        target, why = gpu.gate(r.axes["arch"], report)
        if r.outcome.value not in ("no_gpu", "skipped_arch") or not (store / "bin").is_file():
            out.save(r)  # compile errors and the like stay what they were
            continue
        if target is None:
            out.save(dataclasses.replace(r, reason=f"compiled; not run: {why}"))
            continue
        repro = load(Path("repros") / r.axes["repro"] / "repro.yaml")
        done = rt.run(RunJob(binary=store / "bin", args=repro.run_args, gpu_index=target.index,
                             log=out.log_path(r.cell_id), timeout=args.timeout))
        v = classify.run_result(done.returncode, done.output, done.timed_out, args.timeout,
                                repro.expect, r.binary_facts)
        result = CellResult(**{**dataclasses.asdict(r), "outcome": v.outcome,
                               "reason": v.reason, "evidence": v.evidence,
                               "kit_result": v.kit_result, "exit_status": done.returncode,
                               "run_seconds": round(done.seconds, 3),
                               "finished": results.now()})
        out.save(result)
        print(f"{result.outcome.value:<20} {r.label}", flush=True)
    manifest["finished"] = results.now()
    out.write_manifest(manifest)
    write_reports(out)
    print(out.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
