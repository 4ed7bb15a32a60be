"""A real Ray cluster of several nodes on this machine, for the cluster tests.

Each node is one `ray start --block` in its own session, so that everything it starts
(GCS, raylet, agents, workers) can be found again, and killed, by session id, whatever
happens to the test; nothing else on the machine is touched (`ray stop` would stop every
Ray of the machine).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalCluster:
    root: Path  # logs, and each node's kit cache
    temp_dir: Path  # Ray's (short: it holds unix sockets)
    port: int = field(default_factory=free_port)
    nodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)  # killed on purpose

    @property
    def address(self) -> str:
        """The head's GCS, at the address it chose for itself (this machine's)."""
        found = self.temp_dir / "ray_current_cluster"
        if found.is_file() and found.read_text().strip():
            return found.read_text().strip()
        return f"127.0.0.1:{self.port}"

    def start(self, name: str, resources: dict[str, float], *, head: bool = False,
              env: dict[str, str] | None = None) -> None:
        """One node. Start the next only once this one is up (wait_for): nodes of one machine
        share Ray's session folder, and two starting at once can pick one socket name."""
        argv = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
                "--disable-usage-stats", "--num-cpus=1",
                "--object-store-memory=100000000", "--resources=" + json.dumps(resources),
                f"--dashboard-agent-listen-port={free_port()}"]
        if head:
            # A lost node is noticed in ~5 s instead of ~30 s.
            if importlib.util.find_spec("grpc"):  # ray[client]: its server, on a free port
                argv += [f"--ray-client-server-port={free_port()}"]
            argv += ["--head", f"--port={self.port}", "--include-dashboard=false",
                     f"--dashboard-port={free_port()}",
                     f"--temp-dir={self.temp_dir}", "--system-config=" + json.dumps(
                         {"health_check_period_ms": 1000, "health_check_failure_threshold": 5})]
        else:
            argv += [f"--address={self.address}"]
        log = (self.root / f"{name}.log").open("wb")
        self.nodes[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})})
        log.close()

    def wait_for(self, alive: int, timeout: float = 90.0) -> None:
        """Until the cluster lists this many live nodes (asked through `ray list`-free
        means: the GCS, from a short-lived Python)."""
        code = ("import ray,sys;ray.init(address=sys.argv[1],logging_level='ERROR');"
                "print(sum(n['Alive'] for n in ray.nodes()))")
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline:
            for name, proc in self.nodes.items():
                if proc.poll() is not None and name not in self.lost:
                    raise RuntimeError(f"ray node {name} exited: "
                                       + (self.root / f"{name}.log").read_text()[-2000:])
            if not (self.temp_dir / "ray_current_cluster").is_file():
                time.sleep(0.5)  # the head is not up yet
                continue
            try:
                done = subprocess.run([sys.executable, "-c", code, self.address],
                                      capture_output=True, text=True, timeout=30, check=False)
            except subprocess.TimeoutExpired:
                continue
            seen = done.stdout.strip() or done.stderr[-500:]
            if seen.isdigit() and int(seen) >= alive:
                return
            time.sleep(1)
        raise RuntimeError(f"the cluster did not reach {alive} live nodes: {seen}")

    def kill_raylet(self, name: str) -> int:
        """SIGKILL the node's raylet, as a machine that goes away: its tasks fail there."""
        leader = self.nodes[name].pid
        for pid in _session(leader):
            if pid != leader and "raylet/raylet" in _cmdline(pid):
                self.lost.add(name)
                os.kill(pid, signal.SIGKILL)
                return pid
        raise RuntimeError(f"no raylet found for node {name}")

    def stop(self) -> None:
        """Every process of every node, gently, then not."""
        for proc in self.nodes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.nodes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.nodes.values():
            for pid in _session(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)

    def leftovers(self) -> list[int]:
        return [pid for proc in self.nodes.values() for pid in _session(proc.pid)]


def _session(sid: int) -> list[int]:
    """Processes of this session (what one `ray start --block` started, and theirs)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of stat: the session
            out.append(int(stat.parent.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
