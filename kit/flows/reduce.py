"""`kit reduce`: a failing cell to the smallest file that still shows its property, by C-Vise.

The fast path: nvcc writes the cell's host translation unit once (`nvcc -cuda`: preprocessed,
after cudafe++), and every candidate is compiled by the host compiler alone (seconds, falling
as the file shrinks) and judged by one of kit's oracles (kit.engine.oracles). The folder holds
everything: host.ii (the best so far: a second `kit reduce` goes on from it), test.sh (the
interestingness test, which is also the one command that shows the property from a clean
folder), cvise.log and result.json.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from kit.engine import oracles, results
from kit.engine.progress import Reporter
from kit.flows import selection
from kit.flows.bisect import pick
from kit.flows.selection import Selection
from kit.runtime.base import CompileJob
from kit.runtime.host import HostRuntime
from kit.sources import cutlass_src
from kit.spec import matrix
from kit.spec.model import Cell, Outcome
from kit.spec.repros import Repro
from kit.util import cmd, files
from kit.util.errors import CommandError, UsageError

KIT_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the kit package
HOST_FILE = "host.ii"


@dataclass(frozen=True)
class Result:
    cell: str
    oracle: str
    signature: str
    lines_before: int
    bytes_before: int
    lines_after: int
    bytes_after: int
    seconds: float
    finished: bool  # C-Vise ran to its end (else the budget stopped it: run again to go on)
    holds: bool  # the property holds for the reduced file, checked from a clean folder
    command: str  # what shows it: run in a folder holding host.ii
    compilers: dict[str, str]  # g++ / clang++ on the reduced file: whose bug it is


def host_compiler(std: str) -> list[str]:
    """What compiles a candidate: the host compiler nvcc drives, on the preprocessed file."""
    return ["g++", std, "-c", "-x", "c++", "-w", "-m64"]


def prepare(cell: Cell, repro: Repro, folder: Path, runtime: HostRuntime) -> Path:
    """host.ii for the cell (kept if it is there: a reduction goes on from its best)."""
    host = folder / HOST_FILE
    if host.is_file():
        return host
    folder.mkdir(parents=True, exist_ok=True)
    job = CompileJob(cell=cell, repro=repro, cutlass=cutlass_src.resolve(cell.cutlass),
                     output=folder / "bin", log=folder / "nvcc.log", timeout=1800)
    steps = runtime.commands(job)
    if len(steps) != 1:
        raise UsageError(f"{cell.label} builds from {len(steps)} commands",
                         hint="reduce a single-TU cell (tu_layout=single)")
    argv = _host_only(steps[0], runtime.resolve(cell.toolchain).link_args())
    done = cmd.run([*argv, "-cuda", "-o", str(host)], cwd=folder, timeout=1800,
                   log_file=folder / "nvcc.log")
    if done.returncode != 0 or not host.is_file():
        raise CommandError(f"nvcc -cuda failed for {cell.label}: {done.tail(3)}",
                           hint=f"the whole output is in {folder / 'nvcc.log'}")
    shutil.copyfile(host, folder / "original.ii")
    return host


def _host_only(argv: list[str], link_args: list[str]) -> list[str]:
    """The cell's nvcc line without its output and link arguments."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a not in link_args:
            out.append(a)
    return out


def write_test(folder: Path, oracle: str, signature: str, std: str) -> Path:
    cxx = shlex.join(host_compiler(std))
    python = shlex.quote(sys.executable)
    head = ["#!/bin/sh", f"# kit reduce ({oracle}): exit 0 while {HOST_FILE} is interesting",
            f"export PYTHONPATH={shlex.quote(str(KIT_ROOT))}"]
    if oracle == "static":
        body = [f"{cxx} {HOST_FILE} -o host.o > build.log 2>&1 || exit 1",
                f"exec {python} -m kit.engine.oracles static host.o"]
    else:
        body = [f"{cxx} {HOST_FILE} -o host.o > build.log 2>&1 && exit 1",
                f"exec {python} -m kit.engine.oracles compile_error build.log "
                f"{shlex.quote(signature)}"]
    test = folder / "test.sh"
    files.write_atomic(test, "\n".join([*head, *body]) + "\n")
    test.chmod(0o755)
    return test


def holds(folder: Path) -> bool:
    """Run test.sh on host.ii in a clean folder of its own."""
    clean = folder / "check"
    shutil.rmtree(clean, ignore_errors=True)
    clean.mkdir()
    shutil.copyfile(folder / HOST_FILE, clean / HOST_FILE)
    return cmd.run(["sh", str(folder / "test.sh")], cwd=clean, timeout=600).returncode == 0


def reduce(folder: Path, *, jobs: int, budget: float,
           note: Callable[[str], None] = lambda _: None) -> bool:
    """C-Vise over host.ii for at most `budget` seconds; True when it finished."""
    cvise = shutil.which("cvise")
    if cvise is None:
        raise CommandError("cvise is not installed", hint="apt-get install cvise (C-Vise 2.7)")
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(30):
            note(f"  {_size(folder / HOST_FILE)}; {_last_progress(folder / 'cvise.log')}")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        done = cmd.run([cvise, "--n", str(jobs), "--timeout", "300", "--tidy",
                        str(folder / "test.sh"), HOST_FILE],  # cvise wants a bare name
                       cwd=folder,
                       timeout=budget, log_file=folder / "cvise.log")
    finally:
        stop.set()
    return done.returncode == 0 and not done.timed_out


def compilers(folder: Path, std: str) -> dict[str, str]:
    """Whose bug: the reduced file through g++ and through clang++, each judged alike."""
    out = {}
    for name in ("g++", "clang++"):
        exe = shutil.which(name)
        if exe is None:
            out[name] = "not installed"
            continue
        obj = folder / f"host.{name}.o"
        done = cmd.run([exe, *host_compiler(std)[1:], str(folder / HOST_FILE), "-o", str(obj)],
                       cwd=folder, timeout=600)
        if done.returncode != 0:
            out[name] = f"does not compile: {done.tail(1)}"[:200]
        else:
            out[name] = "names a kernel two ways" if oracles.split_name(obj) \
                else "names each kernel once"
    return out


def result(cell: str, oracle: str, signature: str, folder: Path, seconds: float,
           finished: bool, std: str) -> Result:
    before, after = folder / "original.ii", folder / HOST_FILE
    r = Result(cell=cell, oracle=oracle, signature=signature,
               lines_before=_lines(before), bytes_before=before.stat().st_size,
               lines_after=_lines(after), bytes_after=after.stat().st_size,
               seconds=round(seconds, 1), finished=finished, holds=holds(folder),
               command=f"sh test.sh   # in a folder holding {HOST_FILE}",
               compilers=compilers(folder, std) if oracle == "static" else {})
    files.write_json(folder / "result.json", asdict(r))
    return r


def timed(step: Callable[[], bool]) -> tuple[bool, float]:
    t0 = time.monotonic()
    return step(), time.monotonic() - t0


def _lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _size(path: Path) -> str:
    return f"{_lines(path):,} lines, {path.stat().st_size:,} bytes"


def _last_progress(log: Path) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if "%" in ln]
    except OSError:
        return "starting"
    return lines[-1].strip()[-100:] if lines else "starting"


def load_result(folder: Path) -> dict[str, object] | None:
    try:
        data = json.loads((folder / "result.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run(sel: Selection, spec: str, *, results_root: Path, run_ref: str | None,
        oracle: str | None, budget: float, jobs: int, reporter: Reporter) -> Result:
    """Pick the cell, write its host file once, check the property holds, reduce within the
    budget, and check the result again from a clean folder."""
    m, cells = selection.load(sel)
    stored = results.find(results_root, run_ref).load().results if run_ref else None
    values = pick(spec, m, cells, stored)
    cell = matrix.cell_of(m, values)
    repro = m.repros[cell.repro]
    found = next((r for r in stored or [] if r.axes == values), None)
    chosen = oracle or ("compile_error" if found and found.outcome is Outcome.COMPILE_ERROR
                        else "static")
    if chosen not in oracles.ORACLES:
        raise UsageError(f"unknown oracle '{chosen}'",
                         hint=f"oracles: {', '.join(oracles.ORACLES)}")
    std = next((f for f in repro.flags if f.startswith("-std=")), "-std=c++17")
    folder = (results.find(results_root, run_ref).path if run_ref else results_root) \
        / "reduce" / cell.label
    reporter.note(f"reducing {cell.label} ({chosen}) in {folder}")
    host = prepare(cell, repro, folder, HostRuntime())
    signature = ""
    if chosen == "compile_error":
        first = found.evidence.detail if found and found.evidence.detail else _first_error(
            folder, std)
        signature = oracles.signature_of(first)
    write_test(folder, chosen, signature, std)
    reporter.note(f"  {_size(host)}; checking that the property holds before reducing")
    if not holds(folder):
        raise UsageError(f"{chosen} does not hold for {cell.label}'s host file",
                         hint=f"see {folder / 'check' / 'build.log'}; a GPU-only failure "
                              "needs the GPU oracle, which kit does not run yet")
    shutil.copyfile(host, folder / "before.ii")  # what this round started from
    finished, seconds = timed(lambda: reduce(folder, jobs=jobs, budget=budget,
                                             note=reporter.note))
    if not holds(folder):  # stopped mid-write: keep the last file known to show it
        reporter.note("  the file C-Vise left does not show the property: the round's start "
                      "is kept")
        shutil.copyfile(folder / "before.ii", host)
    return result(cell.label, chosen, signature, folder, seconds, finished, std)


def _first_error(folder: Path, std: str) -> str:
    done = cmd.run([*host_compiler(std), HOST_FILE, "-o", "host.o"], cwd=folder, timeout=600)
    return next((ln for ln in done.output.splitlines() if " error: " in ln), done.tail(1))
