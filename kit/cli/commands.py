"""The `kit` command line: parses, wires, prints. The thinking lives in workflow and below."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import re
import shlex
import sys
import traceback
import webbrowser
from pathlib import Path
from typing import Any, cast

import click
from rich.console import Console

from kit import __version__
from kit.cli.cluster import cluster_group
from kit.cli.settings import setting
from kit.engine import plan, predict, results
from kit.engine.progress import Reporter
from kit.flows import bisect as bisect_run
from kit.flows import doctor, selection
from kit.flows import images as image_flow
from kit.flows import pack as pack_flow
from kit.flows import reduce as reduce_flow
from kit.flows import run as workflow
from kit.report import bundle, diff, export, markdown, pivot, plantext, score, terminal
from kit.runtime import choose
from kit.runtime.base import Runtime
from kit.spec import intake, repros
from kit.spec.options import Options
from kit.util import cache, files
from kit.util.errors import Interrupted, KitError, ResultsError, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "KIT",
           "max_content_width": 100}


def _runtime(name: str, matrix_path: Path, base: str | None = None,
             cluster: str | None = None) -> Runtime:
    return choose.open_runtime(name, project=matrix_path.resolve().parent, base=base,
                               cluster=cluster, build_log=_build_log,
                               note=lambda text: click.echo(text, err=True))


def _runtime_args(runtime: str, base: str | None) -> tuple[str, ...]:
    args = () if runtime == "auto" else ("--runtime", runtime)
    return args + (("--base", base) if base else ())


def _build_log(line: str) -> None:
    # Image builds are long: show the step lines, keep the rest for --debug.
    if line.startswith(("Step ", "ERROR", "built ", "running binaries in ")):
        click.echo(f"  image: {line}", err=True)
    else:
        logging.getLogger("kit.sources.images").debug(line)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


matrix_option = click.option(
    "--matrix", "matrix_path", type=click.Path(path_type=Path), default=Path("matrix.yaml"),
    show_default=True, help="The matrix file.")
preset_option = click.option("--preset", help="A named preset from the matrix file (e.g. smoke).")
only_option = click.option(
    "--only", multiple=True, metavar="AXIS=GLOB",
    help="Keep cells whose AXIS matches GLOB. Repeat: OR within an axis, AND across axes.")
axis_option = click.option(
    "--axis", multiple=True, metavar="AXIS=V1[,V2]",
    help="Replace an axis's values (after the preset), e.g. --axis cuda=host.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
results_option = click.option(
    "--results", "results_root", type=click.Path(path_type=Path), default=Path("results"),
    show_default=True, help="Folder holding one sub-folder per run.")
runtime_option = click.option(
    "--runtime", type=click.Choice(choose.NAMES), default="auto",
    show_default=True,
    help="Where cells compile and run. host: local or kit-installed toolchains; docker: one "
         "pinned image per toolchain x CUTLASS; auto: docker when an engine answers.")
base_option = click.option(
    "--base", help="Base image for kit's images (a mirror, a local tag) [per toolchain].")
cluster_option = click.option(
    "--cluster", metavar="ADDRESS", help="Spread the cells over a Ray cluster: HOST:PORT, "
    "ray://HOST:10001 or auto (`kit cluster status` shows its nodes).")


class KitGroup(click.Group):
    """Turns kit's own errors into click's, which print `Error: ...` and exit with the error's
    code: the one place kit.util.errors meets click."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KitError as exc:
            raise as_click(exc) from exc


def as_click(exc: KitError) -> click.ClickException:
    """click's exception for a kit error: its message (with the hint) and its exit code."""
    kind = type("KitClickException", (click.ClickException,), {"exit_code": exc.exit_code})
    return cast(click.ClickException, kind(exc.message))


@click.group(cls=KitGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="kit")
@click.option("--debug", is_flag=True, envvar="KIT_DEBUG",
              help="Show tracebacks and every command kit runs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find which toolchain x CUTLASS x C++ detail breaks a GPU kernel, in one command.

    \b
    Typical session:
      kit doctor                          what this machine can compile and run
      kit matrix plan --preset smoke      the cells, and which will run here
      kit matrix run --preset smoke       compile, run, classify, write results/<run>/
      kit matrix show                     the table of the latest run
      kit repro export sm12x_mxf8_mxf4_grouped -D placement=function_template
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(name)s: %(message)s")


@cli.command("doctor")
@click.option("--image", "image_tags", multiple=True, metavar="TAG",
              help="Also report the torch / flashinfer / vllm / cutlass versions in this "
                   "image and in the cell builds installed in it (`kit images list`).")
@json_option
def doctor_cmd(image_tags: tuple[str, ...], as_json: bool) -> None:
    """Report GPUs (NVML), nvcc toolchains, the Docker engine and cached CUTLASS trees."""
    report = doctor.examine(image_tags)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(doctor.render(report))


@cli.group("matrix")
def matrix_group() -> None:
    """Plan, run, show and compare matrices."""


@matrix_group.command("plan")
@matrix_option
@preset_option
@only_option
@axis_option
@runtime_option
@base_option
@cluster_option
@json_option
def matrix_plan(matrix_path: Path, preset: str | None, only: tuple[str, ...],
                axis: tuple[str, ...], runtime: str, base: str | None, cluster: str | None,
                as_json: bool) -> None:
    """List the cells, what will be compiled, run or skipped here, and why."""
    sel = selection.Selection(matrix_path=matrix_path, preset=preset, only=only, axis=axis)
    with contextlib.closing(_runtime(runtime, matrix_path, base, cluster)) as rt:
        planned = workflow.plan_here(sel, rt)
    for warning in planned.warnings:
        click.echo(f"warning: {warning}", err=True)
    est = planned.estimate
    if as_json:
        _echo_json({"summary": plan.summary(planned.steps),
                    "steps": [s.to_dict() for s in planned.steps], "warnings": planned.warnings,
                    "estimate": {"compile_seconds": round(est.seconds, 1), "builds": est.builds,
                                 "measured": est.measured}})
        return
    click.echo(plantext.render(planned.steps, est, max_cells=Options().max_cells))


@matrix_group.command("run")
@matrix_option
@preset_option
@only_option
@axis_option
@runtime_option
@base_option
@cluster_option
@results_option
@setting("jobs")
@setting("mem_gb")
@setting("compile_gb")
@setting("compile_timeout")
@setting("run_timeout")
@setting("max_cells")
@setting("gpus")
@click.option("--compile-only", is_flag=True, help="Compile every cell and run none; "
              "`kit pack` then carries the builds to a GPU machine.")
@click.option("--from", "from_pack", type=click.Path(path_type=Path), metavar="PACK",
              help="Run a pack's cells here (made by `kit pack` where they were compiled); "
                   "no toolchain, CUTLASS or network needed.")
@click.option("--resume", "resume", is_flag=False, flag_value="latest", default=None,
              metavar="[RUN]", help="Continue a run: finished cells are kept (default: latest).")
@click.option("--rerun", is_flag=True, help="Compile and run every cell again, even those an "
              "earlier run on this machine already has a result for.")
@json_option
def matrix_run(matrix_path: Path, preset: str | None, only: tuple[str, ...],
               axis: tuple[str, ...], runtime: str, base: str | None, cluster: str | None,
               results_root: Path, jobs: int | None,
               mem_gb: float | None, compile_gb: float, compile_timeout: float,
               run_timeout: float, max_cells: int, gpus: int | None, compile_only: bool,
               from_pack: Path | None, resume: str | None, rerun: bool,
               as_json: bool) -> None:
    """Compile every cell, run it where the GPU can, classify, store, report."""
    sel = selection.Selection(matrix_path=matrix_path, preset=preset, only=only, axis=axis,
                             runtime_args=_runtime_args(runtime, base)
                             + (("--cluster", cluster) if cluster else ()))
    opts = Options(jobs=jobs, mem_gb=mem_gb, compile_gb=compile_gb,
                   compile_timeout=compile_timeout, run_timeout=run_timeout,
                   max_cells=max_cells, resume=resume is not None, compile_only=compile_only,
                   gpus=gpus)
    if from_pack is not None and (compile_only or preset or only or axis):
        raise UsageError("--from runs a pack's own cells",
                         hint="choose them when packing (kit pack --only); --from takes no "
                              "selection")
    with Reporter(quiet=as_json) as reporter, \
            contextlib.closing(_runtime(runtime, matrix_path, base, cluster)) as rt:
        if from_pack is not None:
            run_dir, final = pack_flow.run_from(from_pack, rt, results_root=results_root,
                                                opts=opts, reporter=reporter)
        else:
            run_dir, final = workflow.run(sel, rt, results_root=results_root, opts=opts,
                                          reporter=reporter, resume_ref=resume, rerun=rerun)
    if as_json:
        _echo_json({"run": str(run_dir.path), "counts": pivot.counts(final),
                    "findings": pivot.findings(final)})
        return
    click.echo(markdown.render(final, run_dir.manifest()))
    click.echo(f"results: {run_dir.path}  (report.md, .json, .xml, .html)", err=True)


@matrix_group.command("show")
@click.argument("run", required=False)
@results_option
@click.option("--rows", default=",".join(pivot.DEFAULT_ROWS), show_default=True,
              help="Axes for table rows, comma-separated.")
@click.option("--cols", default=",".join(pivot.DEFAULT_COLS), show_default=True,
              help="Axes for table columns, comma-separated.")
@click.option("--format", "fmt", type=click.Choice(["auto", "text", "md"]), default="auto",
              show_default=True, help="text: tables drawn for a terminal; md: report.md's "
              "markdown; auto: text on a terminal, md when piped.")
@json_option
def matrix_show(run: str | None, results_root: Path, rows: str, cols: str, fmt: str,
                as_json: bool) -> None:
    """Show a run's pivot table (default: the latest run)."""
    run_dir = results.find(results_root, run)
    loaded = run_dir.load()
    for path, why in loaded.broken:
        click.echo(f"warning: unreadable cell result {path.name}: {why}", err=True)
    if as_json:
        _echo_json({"run": str(run_dir.path), "counts": pivot.counts(loaded.results),
                    "cells": [r.to_dict() for r in loaded.results]})
        return
    console = Console()
    if fmt == "text" or (fmt == "auto" and console.is_terminal):
        terminal.show(loaded.results, run_dir.manifest(), console, rows=_axes_arg(rows),
                      cols=_axes_arg(cols))
        return
    click.echo(markdown.render(loaded.results, run_dir.manifest(),
                               rows=_axes_arg(rows), cols=_axes_arg(cols)))


def _axes_arg(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.split(",") if a.strip())


@matrix_group.command("score")
@click.argument("predicted_run")
@click.argument("real_run")
@results_option
@json_option
def matrix_score(predicted_run: str, real_run: str, results_root: Path, as_json: bool) -> None:
    """Score one run's predictions (cells no GPU there ran) against another's real outcomes.

    \b
      kit matrix run --preset sm90 --compile-only    (a CPU machine: predictions only)
      kit matrix score latest RUN_ON_THE_GPU
    """
    predicted = results.find(results_root, predicted_run)
    real = results.find(results_root, real_run)
    found = predict.score(predicted.load().results, real.load().results)
    if as_json:
        _echo_json(found)
        return
    click.echo(score.render(found, predicted.run_id, real.run_id), nl=False)


@matrix_group.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@results_option
@click.option("--ignore-axis", multiple=True, metavar="AXIS",
              help="Match cells without this axis, e.g. --ignore-axis cutlass to compare "
                   "two CUTLASS versions.")
@click.option("--format", "fmt", type=click.Choice(["text", "md"]), default="text",
              show_default=True)
@json_option
def matrix_diff(run_a: str, run_b: str, results_root: Path, ignore_axis: tuple[str, ...],
                fmt: str, as_json: bool) -> None:
    """What changed between two runs, cell by cell: regressions, fixes, the rest."""
    a = results.find(results_root, run_a).load().results
    b = results.find(results_root, run_b).load().results
    found = diff.changes(a, b, ignore=ignore_axis)
    if as_json:
        _echo_json({"a": run_a, "b": run_b, "changes": [c.to_dict() for c in found]})
    elif fmt == "md":
        total = len({diff.key(r, ignore_axis) for r in [*a, *b]})
        click.echo(diff.render_md(found, run_a, run_b, total), nl=False)
    elif not found:
        click.echo(f"no differences in {len(a)} cells")
    else:
        for c in found:
            click.echo(f"{c.kind:<10} {c.cell}: {c.a.value if c.a else '(absent)'} -> "
                       f"{c.b.value if c.b else '(absent)'}")


@cli.command("bisect")
@matrix_option
@preset_option
@only_option
@axis_option
@runtime_option
@base_option
@results_option
@click.option("--bad", required=True, metavar="CELL",
              help="The failing cell: an id or label (from --run or the selection), or "
                   "axis=value,... matching one cell of the selection.")
@click.option("--good", metavar="CELL", help="The passing cell, as --bad. Default with --run: "
              "the run's passing cell nearest to --bad.")
@click.option("--run", "run_ref", metavar="RUN", help="Take the cells (and their outcomes) "
              "from this run of the results folder.")
@click.option("--cutlass", "span", metavar="OLD..NEW", help="Bisect CUTLASS commits instead of "
              "axes: the first commit between two refs where --bad's outcome changes.")
@click.option("--cutlass-repo", metavar="URL", help="The CUTLASS git repository for --cutlass "
              "(default: the cell's git: source).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs per probe; a probe counts only when all agree (flaky kernels).")
@click.option("--max-together", type=click.IntRange(min=1, max=4), default=3,
              show_default=True, help="The most axes changed together in one probe.")
@setting("run_timeout")
@setting("jobs")
@click.option("--resume", metavar="RUN", help="Continue a bisect: its probes are reused.")
@json_option
def bisect_cmd(matrix_path: Path, preset: str | None, only: tuple[str, ...],
               axis: tuple[str, ...], runtime: str, base: str | None, results_root: Path,
               bad: str, good: str | None, run_ref: str | None, span: str | None,
               cutlass_repo: str | None, repeat: int, max_together: int, run_timeout: float,
               jobs: int | None, resume: str | None, as_json: bool) -> None:
    """Find the smallest change that flips a cell's outcome.

    \b
    Between two cells: changes one differing axis at a time from --good toward --bad, then
    two together, ...; reports the smallest sets that flip the outcome (an interaction when
    only two together do), whether reverting them in --bad restores it, and for ordered axes
    (toolchain versions, stage counts) the two neighbouring values where it changes.
    Between CUTLASS commits (--cutlass OLD..NEW): the first commit whose headers change it;
    commits where the cell gives a third outcome (does not build) are skipped.

    \b
      kit bisect --preset sm90 --bad placement=function_template,tile_k=unsigned_trait \\
                 --good placement=namespace_scope,tile_k=literal
      kit bisect --run latest --bad <cell-id>          # good = nearest passing cell
      kit bisect --bad repro=sm90_ptr_array_grouped --cutlass v4.1.0..v4.2.0

    Probes land in a results folder like a run (report.md and bisect.md / bisect.json).
    """
    sel = selection.Selection(matrix_path=matrix_path, preset=preset, only=only, axis=axis,
                             runtime_args=_runtime_args(runtime, base),
                             command="kit " + shlex.join(sys.argv[1:]))
    opts = Options(jobs=jobs, run_timeout=run_timeout)
    with Reporter(quiet=as_json) as reporter, \
            contextlib.closing(_runtime(runtime, matrix_path, base)) as rt:
        m, cells = selection.load(sel)
        run = results.find(results_root, run_ref).load().results if run_ref else None
        bad_cell = bisect_run.pick(bad, m, cells, run)
        prober = bisect_run.Prober(m=m, runtime=rt, opts=opts, reporter=reporter,
                                   repeat=repeat,
                                   run_dir=bisect_run.start(results_root, resume))
        with prober.run_dir.lock():
            if span:
                found: Any = bisect_run.cutlass_commits(prober, bad_cell, span, cutlass_repo,
                                                        sel)
            else:
                good_cell = bisect_run.pick(good, m, cells, run) if good else (
                    bisect_run.nearest_good(bad_cell, run or []) if run else None)
                if good_cell is None:
                    raise UsageError("give --good CELL, or --run RUN to start from its "
                                     "nearest passing cell")
                found = bisect_run.axes(prober, good_cell, bad_cell,
                                        max_together=max_together, sel=sel)
    folder = prober.run_dir.path.resolve()
    if as_json:
        _echo_json({"run": str(folder), **found.to_dict()})
        return
    click.echo((folder / "bisect.md").read_text())
    click.echo(f"results: {folder}  (bisect.md, bisect.json, report.md)", err=True)


@cli.command("pack")
@click.argument("run", required=False)
@results_option
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The pack to write (a .tar.gz).")
@only_option
def pack_cmd(run: str | None, results_root: Path, output: Path, only: tuple[str, ...]) -> None:
    """Pack a run's builds for a GPU machine (default: the latest run).

    \b
      kit matrix run --preset sm90 --compile-only     here, where the toolchains are
      kit pack -o sm90.kitpack.tar.gz
      kit matrix run --from sm90.kitpack.tar.gz       there, where the GPU is
      kit pack -o small.kitpack.tar.gz --only placement=function_template   some cells
    """
    run_dir = results.find(results_root, run)
    cells, size = pack_flow.make(run_dir, output, only)
    click.echo(f"wrote {output}: {cells} cells, {size / 2**20:,.1f} MB")


@cli.command("reduce")
@click.argument("cell")
@matrix_option
@preset_option
@only_option
@axis_option
@results_option
@click.option("--run", "run_ref", metavar="RUN", help="Take the cell and its outcome from this "
              "run; the reduction lands in its folder.")
@click.option("--oracle", type=click.Choice(["static", "compile_error"]),
              help="What must stay true [compile_error for a cell that did not compile, "
                   "else static: a kernel named two ways].")
@click.option("--budget", default="30m", show_default=True, metavar="DURATION",
              help="How long C-Vise may work (90s, 30m, 2h); run again to go on from the best.")
@click.option("-j", "--jobs", type=click.IntRange(min=1),
              help="Tests C-Vise runs at once [cores].")
@json_option
def reduce_cmd(cell: str, matrix_path: Path, preset: str | None, only: tuple[str, ...],
               axis: tuple[str, ...], results_root: Path, run_ref: str | None,
               oracle: str | None, budget: str, jobs: int | None, as_json: bool) -> None:
    """Reduce a cell to the smallest file that still shows its property (C-Vise).

    \b
    The cell's host translation unit (nvcc -cuda) is reduced with the host compiler alone in
    the loop, judged by one of kit's oracles; the result is a file and one command
    (sh test.sh) that shows the property from a clean folder, for a compiler team.
    \b
      kit reduce --preset sm90 placement=function_template,tile_k=unsigned_trait \\
                 --only repro=sm90_fp8_blockwise_grouped --axis cuda=host --budget 1h
    """
    sel = selection.Selection(matrix_path=matrix_path, preset=preset, only=only, axis=axis)
    with Reporter(quiet=as_json) as reporter:
        found = reduce_flow.run(sel, cell, results_root=results_root, run_ref=run_ref,
                                oracle=oracle, budget=_duration(budget),
                                jobs=jobs or os.cpu_count() or 1, reporter=reporter)
    if as_json:
        _echo_json(dataclasses.asdict(found))
        return
    ended = "finished" if found.finished else "budget spent: run again to go on"
    click.echo(f"{found.cell}: {found.lines_before:,} -> {found.lines_after:,} lines "
               f"({found.bytes_before:,} -> {found.bytes_after:,} bytes) in "
               f"{found.seconds:.0f} s; {ended}; the property "
               f"{'holds' if found.holds else 'DOES NOT hold'} from a clean folder")
    for name, what in found.compilers.items():
        click.echo(f"  {name}: {what}")


def _duration(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m|h)?", text.strip())
    if m is None:
        raise UsageError(f"--budget {text}: expected a duration such as 90s, 30m or 2h")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


@cli.command("report")
@click.argument("args", nargs=-1, metavar="[bundle] [RUN]")
@results_option
@click.option("--format", "fmt", type=click.Choice(["md", "json", "junit", "html"]),
              default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write the report here ('-': stdout); bundle: the tar.gz "
                   "[results/<run>/bundle.tar.gz].")
@click.option("--open", "open_it", is_flag=True, help="html: open it in a browser.")
@matrix_option
def report_cmd(args: tuple[str, ...], results_root: Path, fmt: str, output: Path | None,
               open_it: bool, matrix_path: Path) -> None:
    """Re-write and print a run's report (reads results; never re-runs).

    \b
    kit report [RUN] --format md|json|junit   print one format (RUN: default latest)
    kit report [RUN] --format html [--open]   on a terminal: its path (piped: the page)
    kit report bundle [RUN] [-o FILE]         manifest, reports, failing cells' .cu and logs
    """
    bundle_mode = bool(args) and args[0] == "bundle"
    rest = args[1:] if bundle_mode else args
    if len(rest) > 1:
        raise UsageError(f"expected at most one RUN, got {' '.join(rest)}")
    run_dir = results.find(results_root, rest[0] if rest else None)
    for path, why in run_dir.load().broken:  # left out of the report; said, not hidden
        click.echo(f"warning: unreadable cell result {path.name}: {why}", err=True)
    workflow.write_reports(run_dir)
    if bundle_mode:
        out = output or run_dir.path / "bundle.tar.gz"
        names = bundle.build(run_dir, selection.repros_of(matrix_path),
                             out)
        click.echo(f"wrote {out} ({len(names)} files, {out.stat().st_size:,} bytes)")
        return
    name = {"md": "report.md", "json": "report.json", "junit": "report.xml",
            "html": "report.html"}[fmt]
    written = run_dir.path / name
    if output is not None and str(output) != "-":
        files.write_atomic(output, written.read_text())
        click.echo(f"wrote {output}", err=True)
    elif fmt == "html" and output is None and (open_it or sys.stdout.isatty()):
        # a page of 100+ KB is for a browser, not a terminal
        click.echo(f"{written}  ({written.stat().st_size:,} bytes)")
    else:
        click.echo(written.read_text(), nl=False)
    if open_it:
        webbrowser.open(written.resolve().as_uri())


@cli.command("publish")
@click.argument("run", required=False)
@results_option
@click.option("--repo", required=True, metavar="OWNER/NAME", help="Repository of the issue.")
@click.option("--issue", type=click.IntRange(min=1), required=True, help="Issue number.")
@click.option("--gist", is_flag=True, help="Also upload reports, logs and the failing cells' "
              "standalone .cu files as a secret gist, linked from the comment.")
@click.option("--dry-run", is_flag=True, help="Print exactly what would be sent; send nothing.")
@click.option("--key", help="Marker that makes a re-publish update kit's earlier comment "
              "[the run's preset, else 'kit'].")
@click.option("--api", default="https://api.github.com", show_default=True,
              help="GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).")
@matrix_option
@json_option
def publish_cmd(run: str | None, results_root: Path, repo: str, issue: int, gist: bool,
                dry_run: bool, key: str | None, api: str, matrix_path: Path,
                as_json: bool) -> None:
    """Post a run's report on an upstream issue (token: GITHUB_TOKEN or GH_TOKEN).

    Secrets, the home folder, the host name and the user name are redacted from everything
    sent. Re-publishing updates kit's own earlier comment instead of adding another.
    """
    from kit.report import publish

    run_dir = results.find(results_root, run)
    workflow.write_reports(run_dir)
    token = publish.token_from_env(dict(os.environ), required=not dry_run)
    gh = publish.GitHub(token=token or "<none>", api=api.rstrip("/"), dry_run=dry_run)
    files = bundle.texts(run_dir, selection.repros_of(matrix_path)) if gist else {}
    done = publish.publish_run(gh, run_dir.path, (run_dir.path / "report.md").read_text(),
                               files, repo=repo, issue=issue, gist=gist,
                               key=key or str(run_dir.manifest().get("preset") or "kit"))
    if as_json or dry_run:
        _echo_json(done)
        return
    click.echo(f"comment {done['comment']['action']}: {done['comment']['url']}")
    if gist:
        click.echo(f"gist: {done['gist']['url']}")


@cli.group("images")
def images_group() -> None:
    """Toolchain images: build, list, prune, and lock their inputs."""


@images_group.command("build")
@matrix_option
@preset_option
@only_option
@axis_option
@base_option
@json_option
def images_build(matrix_path: Path, preset: str | None, only: tuple[str, ...],
                 axis: tuple[str, ...], base: str | None, as_json: bool) -> None:
    """Build (or find in the cache) the image of each toolchain x CUTLASS the cells use."""
    from kit.runtime.docker import DockerRuntime

    sel = selection.Selection(matrix_path=matrix_path, preset=preset, only=only, axis=axis)
    with contextlib.closing(DockerRuntime(matrix_path.resolve().parent, base=base,
                                          log=(lambda _: None) if as_json
                                          else _build_log)) as runtime:
        built = image_flow.build_images(sel, runtime)
    if as_json:
        _echo_json(built)
        return
    for b in built:
        click.echo(f"{b['tag']}: {'built' if b['built'] else 'up to date (cache hit)'}")


@images_group.command("list")
@json_option
def images_list(as_json: bool) -> None:
    """kit's images on this engine."""
    from kit.sources import images

    with contextlib.closing(images.client()) as client:
        found = images.managed(client)
    if as_json:
        _echo_json(found)
        return
    for img in found:
        name = ", ".join(img["tags"]) or f"{img['id']} (a build stage: `kit images prune`)"
        click.echo(f"{name}  {img['toolchain']}  {img['cutlass']}  {img['size_mb']} MB")


@images_group.command("prune")
@matrix_option
@click.option("--all", "remove_all", is_flag=True, help="Also remove images the matrix uses.")
@json_option
def images_prune(matrix_path: Path, remove_all: bool, as_json: bool) -> None:
    """Remove kit's leftover containers and images no toolchain of the matrix uses."""
    from kit.sources import images

    keep = set() if remove_all else image_flow.current_image_tags(matrix_path)
    with contextlib.closing(images.client()) as client:
        removed = images.prune(client, keep)
    if as_json:
        _echo_json(removed)
        return
    click.echo(f"removed {len(removed['containers'])} containers, "
               f"{len(removed['images'])} images")


@images_group.command("lock")
@matrix_option
def images_lock(matrix_path: Path) -> None:
    """Resolve wheel versions and sha256s (PyPI) into images/lock.json, and check each image
    toolchain's digest with a registry where one answers."""
    path, data = image_flow.write_lock(matrix_path)
    for name, entry in sorted((data.get("images") or {}).items()):
        state = "verified" if entry.get("verified") else f"unverified ({entry.get('why')})"
        click.echo(f"{name}: {entry['digest'][:19]}… {state}")
    click.echo(f"wrote {path}")


@cli.group("repro")
def repro_group() -> None:
    """The kernels: list them, run one cell, export a standalone .cu."""


@repro_group.command("list")
@matrix_option
@json_option
def repro_list(matrix_path: Path, as_json: bool) -> None:
    """Every repro with its targets and knobs."""
    catalogue = selection.repros_of(matrix_path)
    if as_json:
        _echo_json({n: {"description": r.description, "archs": list(r.archs),
                        "knobs": {k: {"default": kn.default, "values": list(kn.values),
                                      "integer": kn.integer} for k, kn in r.knobs.items()}}
                    for n, r in catalogue.items()})
        return
    for name, r in catalogue.items():
        click.echo(f"{name}: {r.description}\n  targets: {', '.join(r.archs)}")
        for k, kn in r.knobs.items():
            click.echo(f"  -D {k}=  {kn.describe_values()}  (default {kn.default})")


cell_options = [
    matrix_option,
    click.option("-D", "defines", multiple=True, metavar="KNOB=VALUE", help="A knob value."),
    click.option("--cuda", help="Toolchain name from the matrix [first one]."),
    click.option("--cutlass", help="CUTLASS source name from the matrix [first one]."),
    click.option("--arch", help="Target [the repro's first]."),
]


def _with_cell_options(f: Any) -> Any:
    for opt in reversed(cell_options):
        f = opt(f)
    return f


@repro_group.command("add")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--name", help="The repro's name [the file's stem]; with several programs, "
              "their prefix.")
@click.option("--arch", "archs", multiple=True, metavar="SM",
              help="A target, e.g. sm_90a (repeat for more) [from cutlass::arch::SmNN].")
@click.option("--replace", is_flag=True, help="Replace a repro of that name.")
@matrix_option
@json_option
def repro_add(paths: tuple[Path, ...], name: str | None, archs: tuple[str, ...],
              replace: bool, matrix_path: Path, as_json: bool) -> None:
    """Make your own .cu files a repro, unmodified: repros/<name>/ with the sources, the
    local headers they include and a repro.yaml to edit.

    \b
    Each file with a main() is one program; a folder stands for the sources under it
    (a repro, its steps/ and a helper header make one repro per program).
    \b
      kit repro add repro_init.cu
      kit repro add ~/bug/ --name seed
      kit matrix run --only repro=repro_init
    """
    added = intake.add(list(paths), matrix_path.parent / "repros", name=name, archs=archs,
                       replace=replace)
    for a in added:  # what was written must load: a mistake here is kit's, said at once
        repros.load(a.folder / "repro.yaml")
    if as_json:
        _echo_json([{"name": a.name, "folder": str(a.folder), "archs": list(a.archs),
                     "files": list(a.files), "knobs": [c.yaml() for c in a.knobs],
                     "not_found": list(a.missing)} for a in added])
        return
    for a in added:
        click.echo(f"added {a.name}: {a.folder} ({len(a.files)} files, targets "
                   f"{', '.join(a.archs)})")
        if a.knobs:
            click.echo(f"  candidate knobs (commented in repro.yaml): "
                       f"{', '.join(c.macro for c in a.knobs)}")
        if a.missing:
            click.echo(f"  not beside the sources: {', '.join(a.missing)}")
    first = added[0].name
    click.echo(f"next: kit matrix run --only repro={first}   (edit "
               f"{added[0].folder / 'repro.yaml'} to turn knobs on)")


def _is_source_file(name: str) -> bool:
    return name.endswith(intake.SOURCE_SUFFIXES) or Path(name).is_file()


@repro_group.command("run")
@click.argument("name")
@_with_cell_options
@runtime_option
@base_option
@results_option
@json_option
def repro_run(name: str, matrix_path: Path, defines: tuple[str, ...], cuda: str | None,
              cutlass: str | None, arch: str | None, runtime: str, base: str | None,
              results_root: Path, as_json: bool) -> None:
    """Compile and run one cell, fast; prints its outcome and KIT_RESULT.

    NAME is a repro, or a .cu file run once without adding it (-D MACRO=VALUE then sets
    its macros): kit repro run my_repro.cu -D REPRO_STAGES=7
    """
    more: tuple[Path, ...] = ()
    command = ""
    if _is_source_file(name):
        words = [name, *(f"-D{d}" for d in defines)]
        words += [w for opt, v in (("--cuda", cuda), ("--cutlass", cutlass), ("--arch", arch))
                  if v for w in (opt, v)]
        command = "kit repro run " + shlex.join(words)
        folder, name = intake.scratch(Path(name), cache.adhoc(), defines=defines,
                                      archs=(arch,) if arch else ())
        more, defines = (folder,), ()
    cell = selection.one_cell(matrix_path, name, defines, cuda, cutlass, arch, more)[1]
    # The cell's values replace the matrix axes, and the filter drops what include adds.
    pinned = tuple(f"{k}={v}" for k, v in cell.axes.items())
    sel = selection.Selection(matrix_path=matrix_path, only=pinned, axis=pinned,
                             repro_dirs=more, command=command)
    with Reporter(quiet=as_json) as reporter, \
            contextlib.closing(_runtime(runtime, matrix_path, base)) as rt:
        run_dir, final = workflow.run(sel, rt, results_root=results_root, opts=Options(),
                                      reporter=reporter)
    if as_json:
        _echo_json([r.to_dict() for r in final])
        return
    for r in final:
        click.echo(f"{r.outcome.mark} {r.outcome.value}: {r.reason}")
        if r.kit_result:
            click.echo("KIT_RESULT " + json.dumps(r.kit_result))
    click.echo(f"log: {run_dir.log_path(final[0].cell_id)}" if final else "", err=True)


@repro_group.command("export")
@click.argument("name")
@_with_cell_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here [stdout].")
def repro_export(name: str, matrix_path: Path, defines: tuple[str, ...], cuda: str | None,
                 cutlass: str | None, arch: str | None, output: Path | None) -> None:
    """One standalone .cu: harness inlined, knobs fixed, nvcc line in its header."""
    m, cell = selection.one_cell(matrix_path, name, defines, cuda, cutlass, arch)
    try:
        text = export.standalone(m.repros[name], cell, cell.cutlass.ref)
    except ValueError as exc:  # not one translation unit: nothing to export as one file
        raise UsageError(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        files.write_atomic(output, text)
        click.echo(f"wrote {output}", err=True)


cli.add_command(cluster_group)


def main() -> None:
    debug = os.environ.get("KIT_DEBUG", "") not in ("", "0") or "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False, prog_name="kit")
    except click.exceptions.Abort as exc:
        if not isinstance(exc.__cause__, Interrupted):  # else the command has said it all
            click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt as exc:
        if not isinstance(exc, Interrupted):
            click.echo("interrupted", err=True)
        sys.exit(130)
    except (click.ClickException, KitError) as exc:
        if debug:
            traceback.print_exc()
        shown = as_click(exc) if isinstance(exc, KitError) else exc
        shown.show()
        sys.exit(shown.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:  # a full disk, wherever kit was writing: an error, not a traceback
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        if debug:
            traceback.print_exc()
        where = exc.filename2 or exc.filename or "a file"  # copies: filename2 is the target
        as_click(ResultsError(f"cannot write {where}: {exc.strerror}",
                              hint="free some space; every cell already written is intact, "
                                   "and `kit matrix run --resume` continues")).show()
        sys.exit(ResultsError.exit_code)
