"""Which runtime a run uses, by name: a table, not a chain of ifs in the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kit.runtime.base import Runtime
from kit.runtime.host import HostRuntime
from kit.util.errors import EngineError, UsageError

NAMES = ("auto", "docker", "host")


def _docker(project: Path, base: str | None, build_log: Callable[[str], None]) -> Runtime:
    from kit.runtime.docker import DockerRuntime  # the Docker SDK, only when asked for

    return DockerRuntime(project, base=base, log=build_log)


def _host(project: Path, base: str | None, build_log: Callable[[str], None]) -> Runtime:
    return HostRuntime()


RUNTIMES: dict[str, Callable[[Path, str | None, Callable[[str], None]], Runtime]] = {
    "docker": _docker,
    "host": _host,
}


def open_runtime(name: str, *, project: Path, base: str | None = None,
                 cluster: str | None = None,
                 build_log: Callable[[str], None] = lambda _: None,
                 note: Callable[[str], None] = lambda _: None) -> Runtime:
    """`auto`: Docker when an engine answers, else the host (and `note` says why). With a
    cluster: the Ray runtime, each node compiling and running with `name` (auto: host)."""
    if name not in NAMES:
        raise UsageError(f"unknown runtime '{name}'", hint=f"runtimes: {', '.join(NAMES)}")
    if cluster:
        from kit.runtime.ray import RayRuntime  # ray, only when asked for

        return RayRuntime(cluster, mode="docker" if name == "docker" else "host",
                          project=project, base=base)
    if name != "auto":
        return RUNTIMES[name](project, base, build_log)
    try:
        return _docker(project, base, build_log)
    except EngineError as exc:
        first = exc.message.splitlines()[0].removeprefix("no Docker engine answers: ")
        note(f"no Docker engine: {first}; using the host runtime")
        return HostRuntime()
