"""A Python repro's build: the packages its cell asks for, installed into the build folder,
and a launcher that runs the script with the cell's environment.

The launcher stands where a C++ repro's binary stands (`builds/<key>/bin`), so the compile
cache, the runtimes and the classifier treat both alike: the script prints one KIT_RESULT line.
The installed packages are part of the build, so a cell that changes a package version is a
new build and an unchanged one is never installed twice.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import PurePath

from kit.runtime.base import CompileJob
from kit.runtime.nvcc import knob_string
from kit.util import cache, cmd, peakmem

# Part of a python build's key: a launcher written by another kit is written again.
LAUNCHER_VERSION = 6


def requirements(job: CompileJob) -> list[str]:
    """The pip requirements of the cell: each package at its axis's value, then `with`."""
    knobs = job.cell.knob_map
    return [template.replace("{value}", knobs[axis])
            for axis, template in job.repro.packages.items()] + list(job.repro.with_packages)


# How a build runs pip: argv and the seconds left -> what happened, written to the job's log.
Runner = Callable[[list[str], float], cmd.Completed]


def build(job: CompileJob, *, python: str, cuda_home: PurePath | None,
          cache_dir: PurePath | None = None, site: PurePath | None = None,
          pip: Sequence[str] | None = None, run: Runner | None = None,
          preload: PurePath | None = None) -> cmd.Completed:
    """Install the cell's packages into its build folder, copy the repro beside them and
    write the launcher. `python`, `cuda_home` and `cache_dir` are paths where the launcher
    runs, `site` and `pip` where `run` runs pip: this machine by default, or a container
    (the docker runtime) that sees the build folder somewhere else. `preload`: a folder whose
    CUDA runtime and NVRTC the launcher loads first (see launcher())."""
    started = time.monotonic()
    out = job.output.parent
    reqs = requirements(job)
    if reqs:
        # Wheels only: building an sdist (FlashInfer 0.3.x has no wheel) would pull a whole
        # PyTorch into pip's build environment and compile it, which is not what a cell tests.
        argv = [*(pip or (python, "-m", "pip")), "install", "--quiet", "--no-deps",
                "--only-binary=:all:", "--disable-pip-version-check",
                "--target", str(site or out / "site"), *reqs]
        done = (run or _here(job))(argv, job.timeout)
        if done.returncode != 0 or done.timed_out:
            return done
    code = out / "repro"
    shutil.copytree(job.repro.root, code, ignore=shutil.ignore_patterns("__pycache__"))
    job.output.write_text(launcher(job, python=python, cuda_home=cuda_home,
                                   cache_dir=cache_dir, preload=preload))
    job.output.chmod(0o755)
    return cmd.Completed(("kit", "python-build", job.repro.name), 0,
                         f"installed: {' '.join(reqs) or '(nothing)'}\n",
                         time.monotonic() - started)


# FlashInfer's fused-MoE JIT on the H100 peaked at 47 GB with 16 jobs: about 3 GB a job.
JIT_GB_PER_JOB = 3.0
JIT_MEMORY_SHARE = 0.75  # of the machine (the prod runner container's limit is the same)


def jit_jobs() -> int:
    """`{jobs}` in a repro's env: parallel JIT compiles that fit in memory, at most one a core
    (MAX_JOBS=cores on a 16-core, 24 GB machine would run out of memory)."""
    fit = int(peakmem.total_gb() * JIT_MEMORY_SHARE / JIT_GB_PER_JOB)
    return max(1, min(os.cpu_count() or 1, fit))


def _here(job: CompileJob) -> Runner:
    return lambda argv, left: cmd.run(argv, timeout=left, log_file=job.log)


def launcher(job: CompileJob, *, python: str, cuda_home: PurePath | None,
             cache_dir: PurePath | None = None, preload: PurePath | None = None) -> str:
    fill = {"{cache}": str(cache_dir or cache.root()), "{cuda}": job.cell.toolchain.name,
            "{cpus}": str(os.cpu_count() or 1), "{jobs}": str(jit_jobs())}
    env = {"KIT_REPRO": job.repro.name, "KIT_KNOBS": knob_string(job.cell),
           "KIT_ARCH": job.cell.arch}
    for name, text in job.repro.env.items():
        for key, value in fill.items():
            text = text.replace(key, value)
        env[name] = text
    # The programs of the cell's packages (FlashInfer's JIT runs `ninja` from PATH), and a
    # JIT inside the script compiles with the cell's nvcc.
    path = ['os.path.join(site, "bin")', 'os.environ.get("PATH", "")']
    if cuda_home is not None:
        env["CUDA_HOME"] = str(cuda_home)
        path.insert(0, 'os.path.join(os.environ["CUDA_HOME"], "bin")')
    # A module JIT-built against a CUDA_HOME that no loader path names (kit.jithome, a pip
    # toolchain on a machine without a CUDA install) needs its libcudart.so.N / libnvrtc.so.N:
    # loaded here first, globally, its `NEEDED` entries are met by name.
    preload_line = "" if preload is None else (
        "import ctypes, glob\n"
        f"for name in ('libcudart.so.*', 'libnvrtc.so.*'):\n"
        f"    for lib in sorted(glob.glob(os.path.join({str(preload)!r}, name)))[:1]:\n"
        "        ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)\n")
    return f"""#!{python}
# Written by kit: runs {job.repro.name}/{job.repro.script} as the cell
# {job.cell.label}, with the packages installed beside this file.
import os
import runpy
import sys

here = os.path.dirname(os.path.abspath(__file__))
site = os.path.join(here, "site")
os.environ.update({env!r})
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (site, os.environ.get("PYTHONPATH", "")) if p)  # for the script's children
os.environ["PATH"] = os.pathsep.join(p for p in ({", ".join(path)}) if p)
{preload_line}sys.path[:0] = [site, os.path.join(here, "repro")]
script = os.path.join(here, "repro", {job.repro.script!r})
sys.argv = [script, *sys.argv[1:]]
runpy.run_path(script, run_name="__main__")
"""
