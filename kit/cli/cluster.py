"""`kit cluster ...`: start a node with kit's resources, and see what the cluster can do."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys

import click

from kit.cli.settings import setting
from kit.runtime import cluster
from kit.util import cmd
from kit.util.errors import UsageError

address_option = click.option(
    "--address", "address", default="auto", show_default=True, envvar="KIT_CLUSTER",
    metavar="ADDRESS", help="The cluster: HOST:PORT, ray://HOST:10001, or auto (the one this "
    "machine is part of).")


@click.group("cluster")
def cluster_group() -> None:
    """Several GPU machines as one (Ray): start nodes, see what each can compile and run."""


@cluster_group.command("status")
@address_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def cluster_status(address: str, as_json: bool) -> None:
    """Every node: its GPUs, what it can compile and run, and what kit uses of it."""
    cluster.connect(address)
    try:
        nodes = cluster.probe()
    finally:
        with contextlib.suppress(Exception):
            cluster.disconnect()
    if as_json:
        click.echo(json.dumps({"address": address, "nodes": [n.to_dict() for n in nodes]},
                              indent=2, sort_keys=True))
        return
    click.echo(cluster.render(nodes))


@cluster_group.command("start", context_settings={"ignore_unknown_options": True})
@click.option("--head", is_flag=True, help="Start the head node (the cluster's first).")
@click.option("--address", "join", metavar="HEAD:PORT", help="Join the cluster of this head.")
@click.option("--port", type=click.IntRange(1, 65535), default=6379, show_default=True,
              help="--head: the port the head listens on.")
@click.option("--compile-slots", type=click.IntRange(min=1), help="Compiles at once on this "
              "node [cores, capped by free memory / --compile-gb].")
@setting("compile_gb")
@click.option("--no-compile", is_flag=True, help="This node only runs cells (no kit_nvcc).")
@click.option("--no-gpus", is_flag=True, help="kit runs no cell on this node's GPUs.")
@click.option("--dry-run", is_flag=True, help="Print the `ray start` command; start nothing.")
@click.argument("ray_args", nargs=-1, type=click.UNPROCESSED)
def cluster_start(head: bool, join: str | None, port: int, compile_slots: int | None,
                  compile_gb: float, no_compile: bool, no_gpus: bool, dry_run: bool,
                  ray_args: tuple[str, ...]) -> None:
    """`ray start` with the resources that say what this node can do for kit.

    \b
      kit cluster start --head                       on the first machine
      kit cluster start --address HEAD:6379          on every other one
      kit cluster start --address HEAD:6379 -- --num-cpus 8   (more `ray start` options)
    """
    if head == bool(join):
        raise UsageError("give either --head or --address HEAD:PORT")
    facts = cluster.node_facts()
    resources = cluster.resources_for(facts, compile_slots=compile_slots,
                                      compile=not no_compile, gpus=not no_gpus,
                                      compile_gb=compile_gb)
    argv = cluster.start_argv(head=head, address=join, port=port, resources=resources,
                              extra=ray_args)
    click.echo("$ " + shlex.join(argv), err=True)
    if dry_run:
        return
    cluster.import_ray()
    done = cmd.run(argv)
    click.echo(done.output, nl=False)
    if done.returncode != 0:
        sys.exit(done.returncode)
