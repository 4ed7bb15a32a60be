"""How `kit bisect` runs: its two ends picked from the matrix or a run, its probes executed
and stored like any matrix cell (so a resumed bisect reuses them, and the compile cache makes
each probe that shares a binary cost only its run)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kit.engine import bisect, plan, results
from kit.engine.bisect import BisectError, ProbeResult, Values
from kit.engine.execute import execute
from kit.engine.progress import Reporter
from kit.engine.results import RunDir
from kit.flows import run as workflow
from kit.flows import selection
from kit.report import bisectmd
from kit.runtime.base import Runtime
from kit.sources import cutlass_src
from kit.sources.cutlass_src import ResolvedCutlass
from kit.spec import matrix, selectors
from kit.spec.model import Cell, CellResult, CutlassKind, CutlassSource
from kit.spec.options import Options
from kit.util import files


@dataclasses.dataclass(kw_only=True)
class Prober:
    """Runs batches of cells (all of a batch's compiles in parallel) `repeat` times each."""

    m: matrix.Matrix
    runtime: Runtime
    run_dir: RunDir
    opts: Options
    reporter: Reporter
    repeat: int = 1
    make_cell: Callable[[Values], Cell] | None = None
    resolved: dict[str, ResolvedCutlass] = dataclasses.field(default_factory=dict)
    steps: dict[str, plan.Step] = dataclasses.field(default_factory=dict)

    def __call__(self, batch: list[Values]) -> list[ProbeResult]:
        make = self.make_cell or (lambda v: matrix.cell_of(self.m, v))
        cells = [make(v) for v in batch]
        self._prepare(cells)
        steps = plan.plan(cells, self.m.repros,
                          workflow.facts(self.m, cells, self.runtime, self.resolved))
        self.steps.update((s.cell_id, s) for s in steps)
        unique = list({s.cell_id: s for s in steps}.values())
        seen: dict[str, list[CellResult]] = {s.cell_id: [] for s in unique}
        for rep in range(self.repeat):
            rd = self.run_dir if rep == 0 else RunDir(self.run_dir.path / "repeats" / str(rep))
            execute(unique, repros=self.m.repros, cutlass=self.resolved, runtime=self.runtime,
                    run_dir=rd, opts=dataclasses.replace(self.opts, resume=True),
                    reporter=self.reporter)
            for s in unique:
                seen[s.cell_id].append(_load(rd, s.cell_id))
        out = []
        for values, step in zip(batch, steps, strict=True):
            runs = seen[step.cell_id]
            outcomes = tuple(r.outcome.value for r in runs)
            agreed = outcomes[0] if len(set(outcomes)) == 1 else bisect.FLAKY
            out.append(ProbeResult(values=values, outcome=agreed, seen=outcomes,
                                   cell_id=step.cell_id, reason=runs[0].reason[:160]))
        return out

    def _prepare(self, cells: list[Cell]) -> None:
        new = [c for c in cells if c.cutlass.name not in self.resolved]
        if new:
            self.resolved.update(workflow.prepare(new, self.runtime, self.reporter,
                                                  self.m.repros))


def _load(rd: RunDir, cell_id: str) -> CellResult:
    return CellResult.from_dict(json.loads(rd.cell_path(cell_id).read_text()))


def pick(spec: str, m: matrix.Matrix, cells: list[Cell],
         run: list[CellResult] | None) -> Values:
    """A cell by id or label (in the run, or the selection), or by `axis=value,...` matching
    exactly one cell of the selection."""
    for r in run or []:
        if spec in (r.cell_id, r.label):
            return dict(r.axes)
    for c in cells:
        if spec == c.label:
            return c.axes
    pairs = selectors.parse_only(spec.split(","), m.known_axes()) if "=" in spec else {}
    if not pairs:
        raise BisectError(f"no cell '{spec}'", hint="give a cell id or label from "
                          "`kit matrix plan` / a run, or axis=value,axis=value")
    matching = [c for c in cells if selectors.matches(c.axes, pairs)]
    if len(matching) != 1:
        labels = ", ".join(c.label for c in matching[:4])
        raise BisectError(f"'{spec}' matches {len(matching)} cells of the selection"
                          + (f" ({labels}{', ...' if len(matching) > 4 else ''})"
                             if matching else ""),
                          hint="add axis=value pairs (or --preset / --only) until one is left")
    return matching[0].axes


def nearest_good(bad: Values, run: list[CellResult]) -> Values:
    """The passing cell of the run closest to `bad` (fewest differing axes, same repro)."""
    ok = [r for r in run if r.outcome.value == "ok" and r.axes.get("repro") == bad.get("repro")
          and set(r.axes) == set(bad)]
    if not ok:
        raise BisectError("the run has no passing cell of this repro to start from",
                          hint="give --good explicitly")
    best = min(ok, key=lambda r: sum(r.axes[a] != bad[a] for a in bad))
    return dict(best.axes)


def axis_order(m: matrix.Matrix) -> dict[str, list[str]]:
    """Axes whose values read as versions (toolchains, CUTLASS, integer knobs) in order."""
    candidates: dict[str, list[str]] = {"cuda": list(m.toolchains), "cutlass": list(m.cutlass)}
    for repro in m.repros.values():
        for name, knob in repro.knobs.items():
            candidates.setdefault(name, list(knob.values))
    values_in_matrix = {a: list(vs) for a, vs in m.axes.items()}
    out = {}
    for axis, values in candidates.items():
        merged = list(dict.fromkeys([*values, *values_in_matrix.get(axis, [])]))
        sorted_values = bisect.ordered(merged)
        if sorted_values and len(sorted_values) > 2:
            out[axis] = sorted_values
    return out


def start(results_root: Path, resume: str | None) -> RunDir:
    return results.find(results_root, resume) if resume else results.create(results_root)


def finish(prober: Prober, sel: selection.Selection, what: dict[str, Any], markdown: str) -> None:
    """The probes' reports, and bisect.md / bisect.json beside them."""
    rd = prober.run_dir
    steps = list(prober.steps.values())
    manifest = workflow.make_manifest(rd, sel, prober.m, steps, prober.runtime, prober.resolved,
                                 prober.opts)
    manifest["bisect"] = what
    if sel.command:  # how to resume it: add --resume
        manifest["command"] = sel.command
    rd.write_manifest(manifest)
    results.point_latest(rd)
    workflow.write_reports(rd, [_load(rd, s.cell_id) for s in steps])
    files.write_atomic(rd.path / "bisect.md", markdown)
    files.write_json(rd.path / "bisect.json", what)


def integer_spans(m: matrix.Matrix, good: Values, bad: Values) -> dict[str, list[str]]:
    """An integer knob (stage counts) between two integers: every integer from one to the
    other, so halving can name the two neighbours where it flips."""
    repro = m.repros[good["repro"]]
    out = {}
    for axis, knob in repro.knobs.items():
        g, b = good.get(axis, ""), bad.get(axis, "")
        if knob.integer and g != b and g.lstrip("-").isdigit() and b.lstrip("-").isdigit():
            lo, hi = sorted((int(g), int(b)))
            out[axis] = [str(v) for v in range(lo, hi + 1)]
    return out


def axes(prober: Prober, good: Values, bad: Values, *, max_together: int,
         sel: selection.Selection) -> bisect.Bisection:
    order = axis_order(prober.m) | integer_spans(prober.m, good, bad)
    found = bisect.axes(good, bad, prober, order=order, max_together=max_together)
    finish(prober, sel, {"kind": "axes", **found.to_dict()},
           bisectmd.render(found, title=bad.get("repro", "")))
    return found


def cutlass_commits(prober: Prober, cell: Values, span: str, repo: str | None,
                    sel: selection.Selection) -> bisect.VersionBisection:
    """First commit in OLD..NEW of a CUTLASS git repository whose headers change the cell."""
    old, sep, new = span.partition("..")
    if not sep or not old or not new:
        raise BisectError(f"--cutlass {span}: expected OLD..NEW (two git refs)")
    base = prober.m.cutlass.get(cell["cutlass"])
    url = repo or (base.ref.rpartition("@")[0] if base and base.kind is CutlassKind.GIT
                   else "")
    if not url:
        raise BisectError(f"CUTLASS '{cell['cutlass']}' is not a git source",
                          hint="pass --cutlass-repo URL (a clone of NVIDIA/cutlass)")
    commits = cutlass_src.commits_between(url, old, new)
    template = matrix.cell_of(prober.m, cell)

    def make(values: Values) -> Cell:
        sha = values["cutlass"]
        return dataclasses.replace(template, cutlass=CutlassSource(
            name=f"git-{sha[:12]}", kind=CutlassKind.GIT, ref=f"{url}@{sha}"))

    prober.make_cell = make
    found = bisect.commits([c.sha for c in commits], cell, prober)
    found.subjects = {c.sha: c.subject for c in commits}
    finish(prober, sel, {"kind": "cutlass", "repo": url, **found.to_dict()},
           bisectmd.render_commits(found, title=cell.get("repro", ""), repo=url))
    return found
