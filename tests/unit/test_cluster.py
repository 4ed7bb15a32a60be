"""The cluster's pure parts: resources a node advertises, the GPUs kit may use, their union."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.runtime import cluster
from kit.runtime.ray import _digest_files, repro_files
from kit.util.gpu import Gpu, GpuReport, gate

H100 = Gpu(index=0, name="NVIDIA H100", cc=(9, 0), uuid="GPU-h100")
SPARK = Gpu(index=0, name="NVIDIA GB10", cc=(12, 1), uuid="GPU-gb10")


def facts(*gpus: Gpu, host: str = "box", machine: str = "x86_64", docker: str = "",
          cpus: int = 16, mem: float = 64.0) -> cluster.NodeFacts:
    return cluster.NodeFacts(hostname=host, machine=machine, kit_version="0.1.0",
                             python="3.11", gpus=GpuReport(gpus=gpus, driver="580"),
                             docker=docker, cpus=cpus, mem_available_gb=mem)


def node(node_id: str, f: cluster.NodeFacts | None, **resources: float) -> cluster.Node:
    return cluster.Node(node_id=node_id, ip="10.0.0.1", alive=True, resources=resources,
                        facts=f)


def test_a_node_advertises_compile_slots_by_cores_and_memory_and_one_unit_per_gpu() -> None:
    two = Gpu(index=1, name="NVIDIA H100", cc=(9, 0), uuid="GPU-2")
    res = cluster.resources_for(facts(H100, two, docker="28.2", cpus=16, mem=30.0))
    assert res == {"kit_nvcc": 4, "kit_sm_90": 2, "kit_docker": 1, "kit_host_x86_64": 1000}
    assert cluster.resources_for(facts(cpus=2, mem=64.0))["kit_nvcc"] == 2
    assert cluster.resources_for(facts(mem=1.0))["kit_nvcc"] == 1  # never none by memory
    only_runs = cluster.resources_for(facts(SPARK, machine="aarch64"), compile=False)
    assert only_runs == {"kit_sm_121": 1, "kit_host_aarch64": 1000}
    assert "kit_sm_90" not in cluster.resources_for(facts(H100), gpus=False)
    assert cluster.gpu_resource_cc("kit_sm_121") == (12, 1)
    assert cluster.gpu_resource_cc("kit_sm_90") == (9, 0)
    assert cluster.gpu_resource_cc("kit_nvcc") is None


def test_a_gpu_counts_only_where_nvml_sees_it_and_the_node_advertises_it() -> None:
    assert node("n", facts(), kit_nvcc=2, kit_sm_90=1).gpus == ()  # advertised, not there
    assert node("n", facts(H100), kit_nvcc=2).gpus == ()  # there, not offered to kit
    assert node("n", facts(H100), kit_sm_90=1).gpus == (H100,)
    assert node("n", facts(H100)).kit_ready is False  # plain `ray start`: kit leaves it
    assert node("n", None, kit_nvcc=1).kit_ready is False  # did not answer the probe
    assert node("n", facts(H100), kit_sm_90=1).compile_slots == 0


def test_the_clusters_gpus_are_numbered_across_nodes_and_gating_picks_the_right_node() -> None:
    hopper = node("n-hopper", facts(H100, host="hopper"), kit_nvcc=4, kit_sm_90=1)
    spark = node("n-spark", facts(SPARK, host="spark", machine="aarch64"), kit_sm_121=1)
    builder = node("n-build", facts(host="build"), kit_nvcc=8)
    found = cluster.gpu_map([spark, builder, hopper])
    names = [g.name for g in found.report.gpus]
    assert names == ["NVIDIA H100 on hopper", "NVIDIA GB10 on spark"]
    assert [g.index for g in found.report.gpus] == [0, 1]
    g, _ = gate("sm_121a", found.report)
    assert g is not None and found.where[g.index] == cluster.Placement("n-spark", SPARK)
    g, _ = gate("sm_90a", found.report)
    assert g is not None and found.where[g.index].node_id == "n-hopper"
    g, why = gate("sm_100a", found.report)
    assert g is None and "GB10 on spark" in why
    empty = cluster.gpu_map([builder])
    assert not empty.report.present and "no node advertises" in empty.report.error


def test_a_task_is_feasible_only_where_one_node_has_everything_it_needs() -> None:
    nodes = [{"kit_nvcc": 2.0, "kit_host_x86_64": 1000.0}, {"kit_sm_121": 1.0}]
    assert cluster.feasible({"kit_nvcc": 1}, nodes)
    assert not cluster.feasible({"kit_nvcc": 1, "kit_sm_121": 1}, nodes)
    assert not cluster.feasible({"kit_sm_90": 1}, nodes)
    assert not cluster.feasible({"kit_nvcc": 1}, [])


def test_status_says_what_a_plain_node_should_add() -> None:
    text = cluster.render([node("abcdef0123", facts(H100, host="hopper")),
                           node("0123456789", facts(host="build"), kit_nvcc=8)])
    assert "hopper/abcdef01" in text and "not used by kit" in text
    assert '"kit_sm_90":1' in text
    assert "compiles: 8 at once; runs: nothing (no GPU)" in text
    assert "1 of 2 live nodes usable by kit; 8 compile slots, 0 GPUs" in text


def test_start_passes_the_resources_to_ray_start() -> None:
    argv = cluster.start_argv(head=False, address="10.0.0.1:6379", port=6379,
                              resources={"kit_nvcc": 4}, extra=("--num-cpus", "8"))
    assert argv[1:4] == ["-m", "ray.scripts.scripts", "start"]
    assert "--address=10.0.0.1:6379" in argv and '--resources={"kit_nvcc": 4}' in argv
    assert argv[-2:] == ["--num-cpus", "8"]


def test_cluster_start_refuses_an_unclear_role() -> None:
    result = CliRunner().invoke(cli, ["cluster", "start"])
    assert result.exit_code == 2 and "--head or --address" in result.output


def test_without_ray_the_cli_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ray)
    result = CliRunner().invoke(cli, ["cluster", "status"])
    assert result.exit_code == 9
    assert "pip install 'kit[cluster]'" in result.output


def test_a_repro_travels_with_the_harness_and_its_digest_follows_the_content(
        project: Path) -> None:
    from kit.flows import selection

    repro = selection.repros_of(project)["sm90"]
    files = repro_files(repro)
    assert set(files) == {"sm90/repro.yaml", "sm90/main.cu", "harness/kit_harness.h"}
    before = _digest_files(files)
    (project.parent / "repros" / "harness" / "kit_harness.h").write_text("// changed\n")
    assert _digest_files(repro_files(repro)) != before
