"""The faults a long matrix run meets in real use, done for real: `kill -9`, a second kit on
the same folder, a full disk, a memory limit on nvcc, a Docker engine that stops, Ctrl-C with
containers in flight, shell-looking values, a program that hangs, segfaults or aborts, and
secrets in the environment. README.md ("What kit survives") names these tests.

No GPU is needed: cells compile for real (the pip nvcc, real CUTLASS headers). Where a test
needs cells to *run*, the host runtime is told a GPU is there and the binary misbehaves on
the CPU before it would touch a device; kit's handling (kill the tree at the limit, classify,
go on to the next cell) is the same code a GPU run goes through. The H100 evidence of the
GPU side is in docs/evidence/h100-2026-11-25/selftest.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from kit.engine.progress import Reporter
from kit.flows.run import run as workflow_run
from kit.flows.selection import Selection
from kit.runtime.docker import DockerRuntime
from kit.runtime.host import HostRuntime
from kit.sources import images
from kit.spec.model import CellResult, Outcome
from kit.spec.options import Options
from kit.util.gpu import Gpu, GpuReport
from tests.integration.conftest import BASE, ROOT, fresh_cache, selftest_project

SECRETS = {"GITHUB_TOKEN": "ghp_" + "K1tN3verLeaksThisT0kenAbcdef0123456789",
           "GH_TOKEN": "gho_" + "An0therT0kenThatMustN0tLeak000000000000",
           "KIT_TEST_API_KEY": "sk-kit-test-9f8e7d6c5b4a39281706"}


# ------------------------------------------------------------------ helpers


def run_kit(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def kit_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kit", *args]


def child_env(cache: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "KIT_CACHE": str(cache), **extra}


def cell_files(root: Path) -> dict[str, bytes]:
    """Every stored cell of the run folders under root (not through the `latest` link)."""
    return {p.name: p.read_bytes() for p in root.glob("*/cells/*.json")
            if not p.parent.parent.is_symlink()}


def wait_for(what: str, ready: Callable[[], bool], *, proc: subprocess.Popen[str] | None = None,
             timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"kit ended (exit {proc.returncode}) before {what}:\n"
                                 f"{proc.communicate()[1][-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill_9_when(proc: subprocess.Popen[str], what: str, ready: Callable[[], bool]) -> None:
    """Once `ready`, SIGKILL kit, as the OOM killer or a user's `kill -9` would."""
    try:
        wait_for(what, ready, proc=proc)
        assert proc.poll() is None, f"kit ended before {what}: make the run longer"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def by_mode(run: results.RunDir, axis: str = "mode") -> dict[str, CellResult]:
    return {r.axes[axis]: r for r in run.load().results}


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text[-3000:]


# A stand-in for a kernel: it misbehaves on the CPU, before it would touch a device.
FAULTS_CU = r"""
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#ifndef KIT_MODE
#define KIT_MODE 0
#endif
#ifndef KIT_TEXT
#define KIT_TEXT ""
#endif

int main() {
  std::printf("mode %d text [%s]\n", KIT_MODE, KIT_TEXT);
  std::fflush(stdout);
  if (KIT_MODE == 1) {  // a real invalid access: the address is only known at run time
    volatile int* p = reinterpret_cast<int*>(std::strtoul("8", nullptr, 10));
    *p = 1;
  }
  if (KIT_MODE == 2) std::abort();
  if (KIT_MODE == 3) {  // hang, with a child that hangs too: the whole tree must go
    pid_t child = fork();
    if (child == 0) for (;;) pause();
    if (const char* dir = std::getenv("KIT_FAULT_DIR")) {
      FILE* f = std::fopen((std::string(dir) + "/hang.pids").c_str(), "w");
      std::fprintf(f, "%ld %ld\n", static_cast<long>(getpid()), static_cast<long>(child));
      std::fclose(f);
    }
    for (;;) pause();
  }
  if (KIT_MODE == 4) {  // a foreign kernel printing the secrets it can see, then failing
    for (const char* name : {"GITHUB_TOKEN", "GH_TOKEN", "KIT_TEST_API_KEY"}) {
      const char* value = std::getenv(name);
      std::printf("%s=%s\n", name, value ? value : "(unset)");
    }
    return 3;
  }
  std::printf("KIT_RESULT {\"repro\":\"faults\",\"stage\":\"done\",\"status\":\"Success\","
              "\"verify\":{\"ran\":true,\"passed\":true,\"max_abs_error\":0.0,"
              "\"tolerance\":0.0}}\n");
  return 0;
}
"""


def faults_project(tmp_path: Path, *, texts: dict[str, str] | None = None,
                   axes: dict[str, list[str]]) -> Path:
    """A project with one repro, `faults` (FAULTS_CU), and a matrix over `axes`. `texts`
    adds values of its `text` knob (value name -> the KIT_TEXT macro's text)."""
    folder = tmp_path / "repros" / "faults"
    folder.mkdir(parents=True)
    (folder / "main.cu").write_text(FAULTS_CU)
    (tmp_path / "repros" / "harness").symlink_to(ROOT / "repros" / "harness")
    text_values = {"plain": {"KIT_TEXT": '"plain"'}}
    text_values |= {name: {"KIT_TEXT": text} for name, text in (texts or {}).items()}
    (folder / "repro.yaml").write_text(yaml.safe_dump({
        "description": "kit's fault tests: a program that misbehaves on the CPU",
        "kind": "cuda", "sources": ["main.cu"], "archs": ["sm_90a"], "flags": ["-std=c++17"],
        "knobs": {"mode": {"macro": "KIT_MODE", "default": "ok",
                           "values": {"ok": 0, "segv": 1, "abort": 2, "hang": 3, "leak": 4}},
                  "text": {"default": "plain", "values": text_values}}}, allow_unicode=True))
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(yaml.safe_dump({
        "toolchains": {"cuda13.0": {"pip": "13.0.88"}}, "cutlass": {"4.2": {"pypi": "4.2.0.0"}},
        "axes": {"repro": ["faults"], "arch": ["sm_90a"], **axes}}, allow_unicode=True))
    return matrix


class CpuStandIn(HostRuntime):
    """The host runtime, told that a GPU is there, so that cells run. Only NVML's answer is
    made up; the compile, the process, its limit and the classification are real."""

    @functools.cache  # noqa: B019 - as HostRuntime.gpus
    def gpus(self) -> GpuReport:
        return GpuReport(gpus=(Gpu(index=0, name="CPU stand-in (no GPU is used)", cc=(9, 0)),))


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped is not: it holds nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


# ------------------------------------------------------------------ kill -9, lock, resume


def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run_and_a_second_kit_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = selftest_project(tmp_path, """\
        arch: [sm_80, sm_90a, sm_120f, sm_121a]
        mode: [ok]
        """)
    root, cache = tmp_path / "results", fresh_cache(tmp_path)
    env = child_env(cache)
    common = ["--runtime", "host", "--matrix", str(matrix), "--results", str(root)]
    first = subprocess.Popen(kit_argv("matrix", "run", *common, "-j", "1"), env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # A second kit on the same run folder, while the first holds it (from its manifest
        # on), is told, and changes nothing in it.
        wait_for("the run's manifest", lambda: any(
            not p.parent.is_symlink() for p in root.glob("*/manifest.json")), proc=first)
        run = results.find(root, None)
        second = subprocess.run(kit_argv("matrix", "run", *common, "--resume", run.run_id),
                                env=env, text=True, capture_output=True, timeout=120)
        assert second.returncode == 6, second.stderr
        assert f"is in use by another kit process (pid {first.pid})" in second.stderr
        no_traceback(second.stderr)
        assert "resumed" not in json.loads((run.path / "manifest.json").read_text())
    finally:
        kill_9_when(first, "the first finished cell", lambda: bool(cell_files(root)))
    kept = cell_files(root)
    assert 1 <= len(kept) < 4
    assert not run.load().broken  # each cell is whole or absent, whatever the moment

    monkeypatch.setenv("KIT_CACHE", str(cache))
    code, out = run_kit("matrix", "run", *common, "--resume", run.run_id, "--json")
    assert code == 0, out
    after = cell_files(root)
    assert len(after) == 4  # none lost
    assert all(after[name] == data for name, data in kept.items())  # none run twice

    # The same matrix, uninterrupted, into another folder: the same report.
    other = tmp_path / "uninterrupted"
    code, out = run_kit("matrix", "run", "--runtime", "host", "--matrix", str(matrix),
                        "--results", str(other), "--json")
    assert code == 0, out
    clean = results.find(other, None)

    def verdicts(r: results.RunDir) -> dict[str, tuple[str, str, str]]:
        return {c.cell_id: (c.outcome.value, c.reason, c.evidence.cause)
                for c in r.load().results}

    assert verdicts(run) == verdicts(clean)
    resumed_md = (run.path / "report.md").read_text().replace(run.run_id, "RUN")
    assert resumed_md == (clean.path / "report.md").read_text().replace(clean.run_id, "RUN")


# kit with the CPU stand-in, in a process of its own that a test can kill
STAND_IN_RUN = """\
import sys
from pathlib import Path
from kit.spec.options import Options
from kit.engine.progress import Reporter
from kit.flows.run import run
from kit.flows.selection import Selection
from tests.integration.test_reliability import CpuStandIn
run(Selection(matrix_path=Path(sys.argv[1])), CpuStandIn(), results_root=Path(sys.argv[2]),
    opts=Options(run_timeout=600), reporter=Reporter(quiet=True))
"""


def test_kill_9_mid_run_leaves_no_kernel_behind(tmp_path: Path) -> None:
    # A killed kit cannot stop its children: the guard it started (kit.reaper) sees the pipe
    # from kit close and kills the process groups kit had told it of. Here the child is a
    # kernel that hangs with a child of its own, which would otherwise run forever.
    matrix = faults_project(tmp_path, axes={"mode": ["hang"]})
    kit = subprocess.Popen([sys.executable, "-c", STAND_IN_RUN, str(matrix),
                            str(tmp_path / "results")], cwd=ROOT, text=True,
                           env=child_env(fresh_cache(tmp_path), KIT_FAULT_DIR=str(tmp_path)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pids = tmp_path / "hang.pids"
    kill_9_when(kit, "the hanging kernel",
                lambda: pids.is_file() and pids.read_text().endswith("\n"))
    hung = [int(p) for p in pids.read_text().split()]
    wait_for("the kernel and its child to end", lambda: not any(alive(p) for p in hung),
             timeout=10)


# ------------------------------------------------------------------ hang, segfault, abort, secrets


def test_hang_segfault_abort_and_secrets_with_the_run_going_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = faults_project(tmp_path, axes={"mode": ["ok", "segv", "abort", "hang", "leak"]})
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path)))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KIT_FAULT_DIR", str(tmp_path))
    root = tmp_path / "results"
    started = time.monotonic()
    run, final = workflow_run(Selection(matrix_path=matrix), CpuStandIn(), results_root=root,
                              opts=Options(run_timeout=3), reporter=Reporter(quiet=True))
    assert time.monotonic() - started < 120
    cells = by_mode(run)
    assert len(final) == 5 and set(cells) == {"ok", "segv", "abort", "hang", "leak"}

    assert cells["ok"].outcome is Outcome.OK  # the run went on around the faults
    hang = cells["hang"]
    assert hang.outcome is Outcome.TIMEOUT and hang.reason == "no result within 3s; killed"
    assert hang.run_seconds is not None and 3 <= hang.run_seconds < 30
    parent, child = map(int, (tmp_path / "hang.pids").read_text().split())
    assert not alive(parent) and not alive(child)  # the hung program and its child are gone
    for mode, sig in (("segv", "SIGSEGV"), ("abort", "SIGABRT")):
        crash = cells[mode]
        assert crash.outcome is Outcome.CRASH, crash
        assert crash.evidence.cause == "signal" and crash.evidence.detail == sig
        assert crash.reason == f"killed by {sig} before reporting"

    # A foreign program saw none of kit's secrets, and none reached a file kit wrote.
    leak = cells["leak"]
    # exit 3 with no verdict: the program failed, it did not crash
    assert leak.outcome is Outcome.RUN_FAILED and leak.exit_status == 3
    assert leak.evidence.cause == "exit_status"
    log = run.log_path(leak.cell_id).read_text()
    assert "GITHUB_TOKEN=(unset)" in log and "KIT_TEST_API_KEY=(unset)" in log
    bundle = tmp_path / "bundle.tar.gz"
    code, out = run_kit("report", "bundle", run.run_id, "--results", str(root), "--matrix",
                        str(matrix), "-o", str(bundle))
    assert code == 0, out
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        packed = b"".join(tar.extractfile(m).read()  # type: ignore[union-attr]
                          for m in tar.getmembers() if m.isfile())
    assert any(n.endswith(f"logs/{leak.cell_id}.log") for n in names)  # the log is in it
    code, sent = run_kit("publish", run.run_id, "--results", str(root), "--matrix",
                         str(matrix), "--repo", "o/r", "--issue", "1", "--gist", "--dry-run")
    assert code == 0, sent
    written = b"".join(p.read_bytes() for p in run.path.rglob("*") if p.is_file())
    for value in SECRETS.values():
        for where, blob in (("results", written), ("bundle", packed), ("publish", sent.encode())):
            assert value.encode() not in blob, f"a secret reached the {where}"


# ------------------------------------------------------------------ shell-looking values


def test_shell_looking_values_reach_nvcc_as_plain_argv_or_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path)))
    marks = {k: tmp_path / f"pwned-{k}" for k in ("semi", "newline", "subst", "tick", "name")}
    texts = {
        f"a;touch {marks['semi']}": '"a;b"',  # a `;` in a knob value's name
        "nl": f'"x\ntouch {marks["newline"]}"',  # a newline in the macro's text
        "semi_text": f'"a;touch {marks["semi"]};b"',  # a `;` in the macro's text
        f"$(touch {marks['name']})": '"x"',  # nvcc's own /bin/sh would run this one
    }
    matrix = faults_project(tmp_path, texts=texts, axes={"mode": ["ok"], "text": list(texts)})
    code, out = run_kit("matrix", "run", "--runtime", "host", "--matrix", str(matrix),
                        "--results", str(tmp_path / "results"), "--json")
    assert code == 0, out
    assert not [m.name for m in marks.values() if m.exists()]  # no shell ran any of it
    run = results.find(tmp_path / "results", None)
    cells = by_mode(run, "text")
    assert len(cells) == len(texts)
    # A value reaching KIT_KNOBS with a `$`: refused before nvcc starts, the rest of the run on.
    name = cells[f"$(touch {marks['name']})"]
    assert name.outcome is Outcome.INFRA_ERROR, name
    assert "runs its steps through /bin/sh" in name.reason
    for value in (f"a;touch {marks['semi']}", "semi_text", "nl"):
        assert cells[value].outcome in (Outcome.NO_GPU, Outcome.COMPILE_ERROR), cells[value]
    log = run.log_path(cells["semi_text"].cell_id).read_text()
    assert f"'-DKIT_TEXT=\"a;touch {marks['semi']};b\"'" in log  # one argv element, as given

    # A macro text nvcc's shell would expand is refused where it is written, at its line.
    for key, text in (("subst", f'"$(touch {marks["subst"]})"'),
                      ("tick", f'"`touch {marks["tick"]}`"')):
        project = tmp_path / key
        project.mkdir()
        matrix = faults_project(project, texts={key: text}, axes={"mode": ["ok"], "text": [key]})
        code, out = run_kit("matrix", "run", "--runtime", "host", "--matrix", str(matrix),
                            "--results", str(project / "results"))
        assert code == 2, out
        assert "repro.yaml:" in out and f"knobs.text.values.{key}.KIT_TEXT" in out
        assert "which nvcc's shell would expand" in out
    assert not [m.name for m in marks.values() if m.exists()]


# ------------------------------------------------------------------ memory


def test_nvcc_under_a_memory_limit_is_compile_error_oom_and_never_cached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real address-space limit (RLIMIT_AS, inherited by nvcc and its steps): the front end
    fails to allocate. kit itself fits; the compiler does not."""
    matrix = selftest_project(tmp_path, "arch: [sm_90a]\nmode: [ok]\n")
    root, cache = tmp_path / "results", fresh_cache(tmp_path)
    limit = 160 * 1024 * 1024
    limited = [sys.executable, "-c",
               "import os, resource, sys; resource.setrlimit(resource.RLIMIT_AS, "
               f"({limit}, {limit})); os.execv(sys.executable, sys.argv[1:])",
               *kit_argv("matrix", "run", "--runtime", "host", "--matrix", str(matrix),
                         "--results", str(root), "--json")]
    done = subprocess.run(limited, env=child_env(cache), text=True, capture_output=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    (cell,) = results.find(root, None).load().results
    assert cell.outcome is Outcome.COMPILE_ERROR, cell
    assert cell.evidence.cause == "oom" and "out of memory" in cell.reason
    assert not list((cache / "builds").glob("[!.]*/meta.json"))  # not stored as the kernel's

    # Without the limit the same cell compiles: nothing stale was kept.
    monkeypatch.setenv("KIT_CACHE", str(cache))
    code, out = run_kit("matrix", "run", "--runtime", "host", "--matrix", str(matrix),
                        "--results", str(root), "--json")
    assert code == 0, out
    (again,) = results.find(root, None).load().results
    assert again.outcome is Outcome.NO_GPU and not again.compile_cached


# ------------------------------------------------------------------ disk full


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):  # until ENOSPC
        while True:
            os.write(fd, b"\0" * 65536)
    with contextlib.suppress(OSError):
        while True:
            os.write(fd, b"\0" * 512)
    os.close(fd)
    return filler


def test_a_full_disk_is_a_clear_error_earlier_cells_intact_and_resume_completes(
        tmp_path: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = selftest_project(tmp_path, "arch: [sm_80, sm_90a, sm_120f]\nmode: [ok]\n")
    root, cache = small_disk / "results", fresh_cache(tmp_path)
    common = ["--runtime", "host", "--matrix", str(matrix), "--results", str(root)]
    proc = subprocess.Popen(kit_argv("matrix", "run", *common, "-j", "1"), env=child_env(cache),
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for("the first finished cell", lambda: bool(cell_files(root)), proc=proc)
        filler = fill(small_disk)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 6, err
    no_traceback(err)
    assert "No space left on device" in err and "--resume" in err
    run = results.find(root, None)
    loaded = run.load()
    assert loaded.results and not loaded.broken  # what was written is whole
    kept = cell_files(root)
    assert not list(run.cells_dir.glob(".*"))  # no half-written cell

    filler.unlink()
    monkeypatch.setenv("KIT_CACHE", str(cache))
    code, out = run_kit("matrix", "run", *common, "--resume", run.run_id, "--json")
    assert code == 0, out
    after = cell_files(root)
    assert len(after) == 3 and all(after[n] == data for n, data in kept.items())


# ------------------------------------------------------------------ Docker


def docker_project(tmp_path: Path, axes: str) -> Path:
    matrix = selftest_project(tmp_path, axes)
    (tmp_path / "Dockerfile").symlink_to(ROOT / "Dockerfile")
    return matrix


def ours(client: Any, tmp_path: Path) -> list[Any]:
    """kit's containers that mount something of this test's folder."""
    return [c for c in client.containers.list(all=True, filters={"label": images.LABEL})
            if any(str(tmp_path) in str(m.get("Source", "")) or
                   str(tmp_path.resolve()) in str(m.get("Source", ""))
                   for m in c.attrs.get("Mounts", []))]


def test_the_guard_ends_only_what_is_still_kits_when_kit_goes_silent() -> None:
    # The guard's own protocol, spoken by hand: a group whose end was reported with its start
    # time is left alone; an end for another process that reused the pid is not taken as it.
    from kit.util.reaper import READY, start_time

    kept, stale = (subprocess.Popen(["sleep", "60"], start_new_session=True) for _ in range(2))
    guard = subprocess.Popen([sys.executable, "-m", "kit.util.reaper"], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             start_new_session=True)
    try:
        assert guard.stdout is not None and guard.stdout.readline().strip() == READY
        lines = [f"+group {kept.pid} {start_time(kept.pid)}",
                 f"-group {kept.pid} {start_time(kept.pid)}",
                 f"+group {stale.pid} {start_time(stale.pid)}",
                 f"-group {stale.pid} 1"]  # then end of input, no goodbye: kit died
        guard.communicate("\n".join(lines) + "\n", timeout=30)
        assert stale.wait(timeout=10) == -signal.SIGKILL
        assert kept.poll() is None
    finally:
        for proc in (kept, stale, guard):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


def test_kill_9_mid_docker_compile_leaves_no_container_behind(
        engine: Any, tmp_path: Path) -> None:
    # The guard removes the containers of the killed kit's session; without it the compile
    # container would stay, exited, for `kit images prune` to find.
    matrix = docker_project(tmp_path, "arch: [sm_80, sm_90a]\nmode: [ok]\n")
    kit = subprocess.Popen(kit_argv("matrix", "run", "--runtime", "docker", "--base", BASE,
                                    "--matrix", str(matrix), "--results",
                                    str(tmp_path / "results"), "-j", "1"),
                           env=child_env(fresh_cache(tmp_path)), text=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_9_when(kit, "a compile container", lambda: bool(ours(engine, tmp_path)))
    try:
        wait_for("the container to be removed", lambda: not ours(engine, tmp_path),
                 timeout=30)
    finally:
        for c in ours(engine, tmp_path):
            c.remove(force=True)


def test_a_compile_over_the_container_memory_limit_is_oom_from_the_engine(
        engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = docker_project(tmp_path, "arch: [sm_90a]\nmode: [ok]\n")
    cache = fresh_cache(tmp_path)
    monkeypatch.setenv("KIT_CACHE", str(cache))
    rt = DockerRuntime(tmp_path, base=BASE, mem_limit="64m")
    try:
        run, (cell,) = workflow_run(Selection(matrix_path=matrix), rt,
                                    results_root=tmp_path / "results", opts=Options(jobs=1),
                                    reporter=Reporter(quiet=True))
    finally:
        rt.close()
    assert cell.outcome is Outcome.COMPILE_ERROR and cell.evidence.cause == "oom", cell
    assert "[kit: oom: the container reached its memory limit (64m)" in \
        run.log_path(cell.cell_id).read_text()  # the engine's OOMKilled, not a guess
    assert not list((cache / "builds").glob("[!.]*/meta.json"))
    assert not ours(engine, tmp_path)


ENGINE_PID = Path("/var/run/docker.pid")


@contextlib.contextmanager
def restartable_engine(client: Any) -> Iterator[Callable[[], None]]:
    """Yields stop(): SIGTERM to the local dockerd, as `systemctl stop docker` does. The
    engine is started again with the same command line when the test ends, whatever
    happens; the test itself may start it earlier with the function this sets up."""
    if not os.environ.get("KIT_TEST_STOP_ENGINE"):
        pytest.skip("stops and restarts this machine's Docker engine: set "
                    "KIT_TEST_STOP_ENGINE=1 to allow it (.ci/run does)")
    if os.geteuid() != 0 or not ENGINE_PID.is_file():
        pytest.skip("needs root and a local dockerd with /var/run/docker.pid")
    pid = int(ENGINE_PID.read_text())
    argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    if not argv or Path(argv[0]).name != "dockerd":
        pytest.skip(f"pid {pid} of {ENGINE_PID} is not a dockerd")
    others = [c.name for c in client.containers.list() if images.LABEL not in c.labels]
    if others:
        pytest.skip(f"other containers are running on this engine: {', '.join(others)}")

    def stop() -> None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while (alive(pid) or ENGINE_PID.exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), "dockerd did not stop"

    try:
        yield stop
    finally:
        if not alive(pid):
            start_engine(argv, client)


def start_engine(argv: list[str], client: Any) -> None:
    with Path(f"/tmp/kit-test-dockerd-{os.getpid()}.log").open("ab") as log:
        subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if client.ping():
                return
        time.sleep(0.2)
    raise AssertionError("dockerd did not come back")


def test_docker_ctrl_c_then_engine_stop_mid_run_then_resume(
        engine: Any, tmp_path: Path) -> None:
    """Ctrl-C with a compile container in flight: exit 130, the container removed, the resume
    line printed. Then the engine stops under a resumed run: the cell in flight is
    infra_error, the run stops with exit 4 and says how to go on; once the engine is back,
    --resume finishes the matrix. Every container kit made is read-only and unprivileged."""
    try:
        _ctrl_c_engine_stop_resume(engine, tmp_path)
    finally:
        with contextlib.suppress(Exception):
            for c in ours(engine, tmp_path):  # what a stopped engine could not remove
                c.remove(force=True)


def _ctrl_c_engine_stop_resume(engine: Any, tmp_path: Path) -> None:
    with restartable_engine(engine) as stop_engine:
        matrix = docker_project(tmp_path, "arch: [sm_80, sm_90a, sm_120f]\nmode: [ok]\n")
        root, cache = tmp_path / "results", fresh_cache(tmp_path)
        env = child_env(cache)
        common = ["--runtime", "docker", "--base", BASE, "--matrix", str(matrix), "--results",
                  str(root), "-j", "1"]
        seen: dict[str, Any] = {}
        watching = threading.Event()
        watching.set()

        def watch() -> None:  # every container of this test, as the engine describes it
            while watching.is_set():
                with contextlib.suppress(Exception):
                    for c in ours(engine, tmp_path):
                        seen.setdefault(c.id, c.attrs)
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        # 1. Ctrl-C while the first compile runs in its container.
        proc = subprocess.Popen(kit_argv("matrix", "run", *common), env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for("a compile container", lambda: bool(seen), proc=proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "resume with: kit matrix run --resume" in err
        no_traceback(err)
        assert not ours(engine, tmp_path)  # removed, not left running
        run = results.find(root, None)

        # 2. The engine stops while a resumed run has a compile in flight.
        proc = subprocess.Popen(kit_argv("matrix", "run", *common, "--resume", run.run_id),
                                env=env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        wait_for("the first cell", lambda: bool(cell_files(root)), proc=proc)
        in_flight = len(seen)
        wait_for("the next compile container", lambda: len(seen) > in_flight, proc=proc)
        stop_engine()
        _, err = proc.communicate(timeout=120)
        watching.clear()
        assert proc.returncode == 4, err
        no_traceback(err)
        assert "Docker engine" in err and "--resume" in err
        stored = run.load()
        assert not stored.broken
        outcomes = [r.outcome for r in stored.results]
        assert Outcome.INFRA_ERROR in outcomes  # the cell in flight: not a kernel outcome
        assert set(outcomes) <= {Outcome.NO_GPU, Outcome.INFRA_ERROR}, outcomes
        kept = {n: d for n, d in cell_files(root).items()
                if json.loads(d)["outcome"] != "infra_error"}

    # 3. The engine is back: the resume redoes the infra_error cells and finishes.
    proc = subprocess.Popen(kit_argv("matrix", "run", *common, "--resume", run.run_id),
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    final = run.load().results
    assert len(final) == 3 and {r.outcome for r in final} == {Outcome.NO_GPU}, final
    after = cell_files(root)
    assert all(after[n] == d for n, d in kept.items())  # finished cells were not redone

    assert seen
    for attrs in seen.values():
        host = attrs["HostConfig"]
        assert host["NetworkMode"] == "none" and host["Privileged"] is False
        assert host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
        assert attrs["Config"]["User"] == "1000:1000"
        mounts = {m["Destination"]: m["RW"] for m in attrs["Mounts"]}
        if "/kit/out" in mounts:  # a compile: the sources read-only, only its output written
            assert mounts["/kit/repros"] is False and mounts["/kit/cutlass"] is False
        else:  # a runner (the facts-only runs): the build cache read-only, nothing written
            assert mounts["/kit/builds"] is False and not any(mounts.values())
