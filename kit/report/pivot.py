"""Results -> tables: rows and columns chosen by axis, one table per split (repro, arch)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from kit.model import CellResult, Outcome

DEFAULT_ROWS = ("cuda", "cutlass")
DEFAULT_COLS = ("placement", "shape_type")
DEFAULT_SPLIT = ("repro", "arch")


@dataclass
class Table:
    split: dict[str, str]
    row_axes: list[str]
    col_axes: list[str]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    cols: list[tuple[str, ...]] = field(default_factory=list)
    cells: dict[tuple[tuple[str, ...], tuple[str, ...]], list[CellResult]] = field(
        default_factory=dict)

    def at(self, row: tuple[str, ...], col: tuple[str, ...]) -> list[CellResult]:
        return self.cells.get((row, col), [])


def tables(results: list[CellResult], *, rows: tuple[str, ...] = DEFAULT_ROWS,
           cols: tuple[str, ...] = DEFAULT_COLS,
           split: tuple[str, ...] = DEFAULT_SPLIT) -> list[Table]:
    groups: dict[tuple[str, ...], list[CellResult]] = defaultdict(list)
    for r in results:
        groups[tuple(r.axes.get(a, "") for a in split)].append(r)
    out = []
    for key in sorted(groups):
        members = groups[key]
        present = [a for a in cols if any(a in r.axes for r in members)]
        # An axis that varies inside this table but is in neither rows nor columns joins
        # the rows, so no two results ever hide in one table cell.
        varying = [a for a in _axes_of(members)
                   if a not in (*split, *rows, *present)
                   and len({r.axes.get(a, "") for r in members}) > 1]
        row_axes = [*rows, *varying]
        t = Table(split=dict(zip(split, key, strict=True)), row_axes=row_axes, col_axes=present)
        for r in members:
            rk = tuple(r.axes.get(a, "—") for a in row_axes)
            ck = tuple(r.axes.get(a, "—") for a in present)
            t.cells.setdefault((rk, ck), []).append(r)
            if rk not in t.rows:
                t.rows.append(rk)
            if ck not in t.cols:
                t.cols.append(ck)
        t.rows.sort()
        t.cols.sort()
        out.append(t)
    return out


def _axes_of(results: list[CellResult]) -> list[str]:
    seen: list[str] = []
    for r in results:
        for a in r.axes:
            if a not in seen:
                seen.append(a)
    return seen


def counts(results: list[CellResult]) -> dict[str, int]:
    c = Counter(r.outcome.value for r in results)
    return {o.value: c[o.value] for o in Outcome if c[o.value]}


def findings(results: list[CellResult]) -> list[str]:
    """One sentence per failing outcome: how many cells, and the axis values that explain it
    (every cell with X=a fails this way; no cell with X=b does)."""
    out = []
    failing = [o for o in Outcome if o.is_gpu_verdict and o is not Outcome.OK]
    for outcome in [*failing, Outcome.COMPILE_ERROR]:
        hit = [r for r in results if r.outcome is outcome]
        if not hit:
            continue
        # Compare only with cells that reached the same phase of judgement.
        pool = [r for r in results if r.outcome.is_gpu_verdict] if outcome.is_gpu_verdict \
            else results
        always, never = [], []
        for axis in _axes_of(pool):
            values = sorted({r.axes.get(axis, "") for r in pool})
            if len(values) < 2:
                continue
            for v in values:
                with_v = [r for r in pool if r.axes.get(axis) == v]
                n_hit = sum(r.outcome is outcome for r in with_v)
                if n_hit == len(with_v) and len(with_v) == len(hit):
                    always.append(f"{axis}={v}")
                elif n_hit == 0 and any(r.axes.get(axis) != v for r in hit):
                    never.append(f"{axis}={v}")
        sentence = f"{outcome.value} on {len(hit)}/{len(pool)} cells"
        if always:
            sentence += f": exactly the cells with {' and '.join(always)}"
        if never:
            sentence += f"; never with {', '.join(never[:4])}"
        out.append(sentence)
    return out
