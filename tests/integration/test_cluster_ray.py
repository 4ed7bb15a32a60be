"""One matrix over a real Ray cluster: three nodes on this machine, real compiles.

Node `head` is started as plain Ray (no kit resources: kit must not use it), `a` compiles,
`b` compiles and advertises an SM90 GPU that NVML does not see here (kit must not invent it).
The run loses `a` mid-run (its work moves to `b`: no cell lost), then `b` (no node can
compile: the rest are infra_error); a new node `c` joins and `--resume` finishes the matrix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kit.engine import results
from kit.sources import cutlass_src, toolchains
from kit.spec.model import CutlassKind, CutlassSource, Outcome, SourceKind, Toolchain
from kit.util import gpu
from tests.integration.conftest import fresh_cache, selftest_project
from tests.integration.raycluster import LocalCluster

COMPILED_ON = re.compile(r"^\[kit: compiled on node [^/\]]+/([0-9a-f]{8})\]", re.M)


def _need_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("KIT_REQUIRE_RAY") == "1":
            pytest.fail("KIT_REQUIRE_RAY=1 but Ray is not installed (pip install 'kit[cluster]')")
        pytest.skip("Ray is not installed (pip install 'kit[cluster]'; KIT_REQUIRE_RAY=1 "
                    "makes this a failure)")


@pytest.fixture
def ray_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    _need_ray()
    # Ray's folder holds unix sockets, whose paths must stay short.
    cluster = LocalCluster(root=tmp_path, temp_dir=Path(tempfile.mkdtemp(prefix="kit-ray-",
                                                                         dir="/tmp")))
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.temp_dir, ignore_errors=True)
        assert not cluster.leftovers(), "a Ray process of the test outlived it"


def _kit(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kit", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def _cache(tmp_path: Path, name: str) -> Path:
    """A node's (or the driver's) own kit cache, sharing what the session installed."""
    return fresh_cache(tmp_path, f"cache-{name}")


def _wait_cells(root: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 240
    while len({p.name for p in root.glob("*/cells/*.json")}) < count:  # latest/ is a link
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"fewer than {count} cells after 240 s"
        time.sleep(0.2)


def _wait_compiled_on(root: Path, node: str, proc: subprocess.Popen[str]) -> None:
    """Until a finished cell's log says the node compiled it (so losing the node later is
    losing a node that has worked, whatever order Ray happened to start things in)."""
    deadline = time.monotonic() + 240
    while not any(node in COMPILED_ON.findall(log.read_text(errors="replace"))
                  for cell in root.glob("*/cells/*.json")
                  for log in [cell.parent.parent / "logs" / f"{cell.stem}.log"]
                  if log.is_file()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no cell compiled on {node} after 240 s"
        time.sleep(0.2)


def _node_ids(status: dict[str, Any], compiler: str = "a") -> dict[str, str]:
    """Which live Ray node is which, from the resources each advertises."""
    out = {}
    for n in status["nodes"]:
        res = n["resources"]
        if n["alive"]:
            name = "b" if "kit_sm_90" in res else compiler if "kit_nvcc" in res else "head"
            out[name] = n["node_id"]
    return out


def test_a_matrix_spreads_over_ray_nodes_and_loses_no_cell_with_a_node(
        tmp_path: Path, ray_cluster: LocalCluster) -> None:
    started = time.monotonic()
    # Installed once in the session's cache, before the clock of the cluster part runs.
    toolchains.resolve(Toolchain(name="cuda13.0", kind=SourceKind.PIP, ref="13.0.88"))
    cutlass_src.resolve(CutlassSource(name="4.2", kind=CutlassKind.PYPI, ref="4.2.0.0"))
    matrix = selftest_project(tmp_path, """\
        arch: [sm_80, sm_90a, sm_120f, sm_121a]
        mode: [ok, wrong, abort]
        """)
    repros = tmp_path / "repros"  # just the two folders it uses, not the tree being edited
    real = repros.resolve()
    repros.unlink()
    repros.mkdir()
    for name in ("harness", "harness_selftest"):
        (repros / name).symlink_to(real / name)
    root = tmp_path / "results"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KIT_CACHE": str(_cache(tmp_path, "driver"))}
    host = f"kit_host_{platform.machine()}"
    c = ray_cluster
    c.start("head", {}, head=True)
    c.wait_for(1)
    c.start("a", {"kit_nvcc": 1, host: 1000}, env={"KIT_CACHE": str(_cache(tmp_path, "a"))})
    c.wait_for(2)
    c.start("b", {"kit_nvcc": 1, host: 1000, "kit_sm_90": 1},
            env={"KIT_CACHE": str(_cache(tmp_path, "b"))})
    c.wait_for(3)

    # `kit cluster status`: every node, what kit may use of it.
    done = _kit("cluster", "status", "--address", c.address, "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    ids = _node_ids(status)
    assert set(ids) == {"head", "a", "b"}
    nodes = {n["node_id"]: n for n in status["nodes"]}
    assert not nodes[ids["head"]]["kit_ready"]
    assert "kit_nvcc" in nodes[ids["head"]]["suggested_resources"]
    assert nodes[ids["a"]]["compile_slots"] == nodes[ids["b"]]["compile_slots"] == 1
    if not gpu.detect().present:  # advertised, but NVML sees no GPU: kit runs nothing there
        assert nodes[ids["b"]]["gpus"] == [] and nodes[ids["b"]]["runnable_archs"] == []

    # The run: `a` is lost once a cell it compiled has finished, `b` after the fifth cell.
    argv = [sys.executable, "-m", "kit", "matrix", "run", "--cluster", c.address,
            "--runtime", "host", "--matrix", str(matrix), "--results", str(root), "--json"]
    proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_compiled_on(root, ids["a"][:8], proc)
        c.kill_raylet("a")
        _wait_cells(root, 5, proc)
        c.kill_raylet("b")
        b_lost = datetime.now(timezone.utc).replace(microsecond=0)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    run = results.find(root, None)
    cells = {r.cell_id: r for r in run.load().results}
    assert len(cells) == 12  # nothing lost: every cell has its result
    infra = {i for i, r in cells.items() if r.outcome is Outcome.INFRA_ERROR}
    assert infra, "with no node left that compiles, the cells left are infra_error"
    for i in infra:  # ... and only those: losing `a` while `b` was there cost no cell
        assert datetime.fromisoformat(cells[i].finished) >= b_lost, cells[i].reason
        assert "cannot compile" in cells[i].reason
    finished = set(cells) - infra
    assert len(finished) >= 5
    where = {i: COMPILED_ON.findall(run.log_path(i).read_text()) for i in finished}
    assert all(len(w) == 1 for w in where.values()), where
    used = {w[0] for w in where.values()}
    assert used <= {ids["a"][:8], ids["b"][:8]}  # never the head: it has no kit_nvcc
    assert ids["a"][:8] in used  # the first compiles went to both nodes
    for i in finished:
        assert cells[i].outcome in (Outcome.NO_GPU, Outcome.SKIPPED_ARCH)  # never a made-up
        assert cells[i].compile_seconds is not None                      # GPU outcome
    manifest = run.manifest()
    recorded = {n["node_id"]: n for n in manifest["cluster"]["nodes"].values()}
    assert {recorded[ids[x]]["toolchains"]["cuda13.0"] for x in "ab"} == {
        manifest["toolchains"]["cuda13.0"]}
    assert sum(len(recorded[ids[x]]["compiled"]) for x in "ab") >= len(finished)

    # A new node joins; --resume redoes exactly the infra_error cells, there.
    c.start("c", {"kit_nvcc": 1, host: 1000}, env={"KIT_CACHE": str(_cache(tmp_path, "c"))})
    c.wait_for(2)
    before = {i: run.cell_path(i).read_text() for i in finished}
    done = _kit("matrix", "run", "--cluster", c.address, "--runtime", "host", "--matrix",
                str(matrix), "--results", str(root), "--resume", "--json", env=env,
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    after = {r.cell_id: r for r in run.load().results}
    assert len(after) == 12 and not [r for r in after.values()
                                     if r.outcome is Outcome.INFRA_ERROR]
    assert all(run.cell_path(i).read_text() == text for i, text in before.items())
    new_ids = _node_ids(json.loads(_kit("cluster", "status", "--address", c.address, "--json",
                                        env=env, cwd=tmp_path).stdout), compiler="c")
    for i in infra:
        assert COMPILED_ON.findall(run.log_path(i).read_text()) == [new_ids["c"][:8]]
    assert time.monotonic() - started < 240
