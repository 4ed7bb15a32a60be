"""The Docker runtime against a real engine: a base built without a registry (debootstrap +
docker import), a kit image with the pip toolchain, real compiles inside it."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import results
from kit.runtime.docker import DockerRuntime
from kit.sources import images
from kit.spec.model import Outcome
from kit.util.errors import EngineError
from tests.integration.conftest import BASE, ROOT, selftest_project


def run_kit(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def test_image_builds_once_then_is_a_cache_hit(engine: Any) -> None:
    code, out = run_kit("images", "build", "--matrix", str(ROOT / "matrix.yaml"), "--preset",
                        "selftest", "--base", BASE, "--json")
    assert code == 0, out
    code, out = run_kit("images", "build", "--matrix", str(ROOT / "matrix.yaml"), "--preset",
                        "selftest", "--base", BASE, "--json")
    assert code == 0, out
    (again,) = json.loads(out)
    assert again["built"] is False  # nothing changed: no rebuild
    labels = engine.images.get(again["tag"]).labels
    assert labels["io.kit.cutlass-sha256"]  # the lock file's sha256, checked in the build
    assert labels["org.opencontainers.image.base.name"] == BASE
    # The untagged stage images of the multi-stage build are kit's too: listed, prunable.
    code, out = run_kit("images", "list", "--json")
    assert code == 0 and any(not img["tags"] for img in json.loads(out)), out


def test_cells_compile_inside_the_image_with_no_network(engine: Any, tmp_path: Path) -> None:
    matrix = selftest_project(tmp_path, "arch: [sm_90a]\nmode: [ok]\n")
    (tmp_path / "Dockerfile").symlink_to(ROOT / "Dockerfile")
    code, out = run_kit("matrix", "run", "--matrix", str(matrix), "--runtime", "docker",
                        "--base", BASE, "--results", str(tmp_path / "results"), "--json")
    assert code == 0, out
    run = results.find(tmp_path / "results", None)
    (cell,) = run.load().results
    assert cell.outcome in (Outcome.NO_GPU, Outcome.OK)
    log = run.log_path(cell.cell_id).read_text()
    assert "/opt/cuda/bin/nvcc" in log  # the image's toolchain, not the host's
    assert run.manifest()["runtime"].startswith("docker")
    assert not engine.containers.list(all=True, filters={"label": images.LABEL})


@pytest.fixture
def rt(engine: Any) -> Iterator[DockerRuntime]:
    runtime = DockerRuntime(ROOT, base=BASE)
    yield runtime
    runtime.close()


def test_containers_are_locked_down_and_always_removed(engine: Any, rt: DockerRuntime,
                                                       tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def inspect_while_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not seen:
            for c in engine.containers.list(filters={"label": f"io.kit.session={rt.session}"}):
                seen.update(c.attrs)
            time.sleep(0.1)

    watcher = threading.Thread(target=inspect_while_running)
    watcher.start()
    done = rt._container(BASE, ["sh", "-c", "id -u; ls /sys/class/net; sleep 2"],
                         volumes={}, timeout=60, log=tmp_path / "log", workdir="/tmp")
    watcher.join()
    host = seen["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["CapDrop"] == ["ALL"]
    assert host["Privileged"] is False
    assert host["ReadonlyRootfs"] is True
    assert "no-new-privileges" in host["SecurityOpt"]
    assert seen["Config"]["User"] == "1000:1000"
    assert done.output.split() == ["1000", "lo"]  # non-root; no interface but loopback
    assert not engine.containers.list(all=True, filters={"label": f"io.kit.session={rt.session}"})


def test_a_hung_container_is_killed_at_its_timeout_and_removed(engine: Any, rt: DockerRuntime,
                                                               tmp_path: Path) -> None:
    start = time.monotonic()
    done = rt._container(BASE, ["sleep", "600"], volumes={}, timeout=3, log=tmp_path / "log",
                         workdir="/tmp")
    assert done.timed_out
    assert time.monotonic() - start < 60
    assert not engine.containers.list(all=True, filters={"label": f"io.kit.session={rt.session}"})


def test_cleanup_removes_what_is_still_running(engine: Any, rt: DockerRuntime,
                                               tmp_path: Path) -> None:
    errors: list[Exception] = []

    def long_cell() -> None:
        try:
            rt._container(BASE, ["sleep", "600"], volumes={}, timeout=600,
                          log=tmp_path / "log", workdir="/tmp")
        except EngineError as exc:  # its container vanished under it, as it should
            errors.append(exc)

    t = threading.Thread(target=long_cell, daemon=True)
    t.start()
    while not engine.containers.list(filters={"label": f"io.kit.session={rt.session}"}):
        time.sleep(0.1)
    rt.cleanup()  # what Ctrl-C does
    t.join(timeout=30)
    assert not t.is_alive()
    assert not engine.containers.list(all=True, filters={"label": f"io.kit.session={rt.session}"})


def test_engine_down_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(EngineError, match="no Docker engine answers") as err:
        images.client()
    assert "apt-get install docker.io" in err.value.message
    # said in words, not as the SDK's nested exception repr
    assert "nothing listens at unix:///nonexistent/docker.sock" in err.value.message
    assert "FileNotFoundError" not in err.value.message
    code, out = run_kit("matrix", "plan", "--matrix", str(ROOT / "matrix.yaml"), "--preset",
                        "smoke", "--runtime", "docker")
    assert code == 4
    assert "start dockerd" in out


RUNNER_SCRIPT = """#!/bin/sh
case "$1" in
  ok) echo "KIT_RESULT {\\"stage\\":\\"done\\",\\"uid\\":\\"$(id -u)\\"}" ;;
  hang) sleep 600 ;;
  abort) kill -ABRT $$ ;;
esac
"""


def test_runs_are_execs_in_one_locked_down_runner_container(engine: Any, rt: DockerRuntime,
                                                            tmp_path: Path) -> None:
    from kit.runtime.base import RunJob
    from kit.util import cache

    # A build-cache entry as the executor leaves one: the binary and the image that made it.
    store = cache.root() / "builds" / f"runner-test-{os.getpid()}"
    store.mkdir(parents=True, exist_ok=True)
    (store / "bin").write_text(RUNNER_SCRIPT)
    (store / "bin").chmod(0o755)
    (store / "image").write_text(BASE)

    def run(arg: str, timeout: float = 30) -> Any:
        return rt.run(RunJob(binary=store / "bin", args=(arg,), gpu_index=0,
                             log=tmp_path / f"{arg}.log", timeout=timeout))

    ok = run("ok")
    assert ok.returncode == 0 and '"uid":"1000"' in ok.output  # non-root inside
    (runner,) = engine.containers.list(filters={"label": f"io.kit.session={rt.session}"})
    assert runner.attrs["HostConfig"]["NetworkMode"] == "none"
    assert runner.attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert run("ok").returncode == 0
    assert len(engine.containers.list(filters={"label": f"io.kit.session={rt.session}"})) == 1

    hung = run("hang", timeout=2)
    assert hung.timed_out and hung.signal == 9
    aborted = run("abort")
    assert aborted.signal == 6 and not aborted.timed_out
    assert "KIT_RESULT" in (tmp_path / "ok.log").read_text()

    rt.close()
    assert not engine.containers.list(all=True, filters={"label": f"io.kit.session={rt.session}"})


def test_an_image_that_cannot_be_built_is_why_its_cells_fail(engine: Any, tmp_path: Path) -> None:
    matrix = selftest_project(tmp_path, "arch: [sm_90a]\nmode: [ok]\n")
    (tmp_path / "Dockerfile").symlink_to(ROOT / "Dockerfile")
    code, out = run_kit("matrix", "run", "--matrix", str(matrix), "--runtime", "docker",
                        "--base", "kit-test/no-such-base:none", "--results",
                        str(tmp_path / "results"), "--json")
    assert code == 10, out  # every cell infra_error: the run learned nothing, and says so
    assert "every cell is infra_error" in out
    (cell,) = results.find(tmp_path / "results", None).load().results
    assert cell.outcome is Outcome.INFRA_ERROR
    # no registry here: the base cannot be pulled, said as such rather than as a build log
    assert cell.reason.startswith("the base image kit-test/no-such-base:none is not here and "
                                  "cannot be pulled") and "No such image" not in cell.reason
    assert "--runtime host" in cell.evidence.detail  # the hint travels with it
    assert "docker load" in cell.evidence.detail
