"""Results -> tables: rows and columns chosen by axis, one table per split (repro, arch)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from kit.spec.model import CellResult, Outcome

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
    """One sentence per failing (outcome, cause): how many cells, and the axis values that
    pick out exactly those cells (one value, or two together), else the values it never
    happens with. Compared only with cells of the same repros that reached the same kind of
    verdict (GPU outcomes with GPU outcomes, compiles with compiles)."""
    out = []
    groups: dict[tuple[Outcome, str], list[CellResult]] = defaultdict(list)
    for r in results:
        if r.outcome is Outcome.COMPILE_ERROR or (r.outcome.is_gpu_verdict
                                                  and r.outcome is not Outcome.OK):
            groups[(r.outcome, r.evidence.cause)].append(r)
    for (outcome, cause), hit in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        repros = {r.axes.get("repro") for r in hit}
        pool = [r for r in results if r.axes.get("repro") in repros and (
            r.outcome.is_gpu_verdict if outcome.is_gpu_verdict
            else r.outcome not in (Outcome.INFRA_ERROR,))]
        label = f"{outcome.value} ({cause})" if cause else outcome.value
        # say whose cells: "exactly the cells with X" is read against every repro otherwise
        whose = "" if len({r.axes.get("repro") for r in results}) == 1 else \
            f" of {', '.join(sorted(str(x) for x in repros))}"
        sentence = f"{label} on {len(hit)}/{len(pool)} cells{whose}"
        exact = _explain(hit, pool)
        if exact:
            sentence += f": exactly the cells with {' and '.join(exact)}"
        else:
            never = _never(hit, pool)
            if never:
                sentence += f"; never with {', '.join(never[:4])}"
        out.append(sentence)
    return out


def static_findings(results: list[CellResult]) -> list[str]:
    """The binaries' static check as a sentence (no GPU involved): which cells name
    device_kernel two ways, and the axis values that pick them out."""
    pool = [r for r in results if "kernels_named_twice" in r.binary_facts]
    hit = [r for r in pool if r.binary_facts["kernels_named_twice"]]
    if not hit:
        return []
    seen = sorted({" vs ".join(r.binary_facts.get("spellings") or ["C<N>", "C<Nu>"])
                   for r in hit})
    sentence = (f"static check: {len(hit)}/{len(pool)} binaries name cutlass::device_kernel "
                f"two ways ({'; '.join(seen)})")
    exact = _explain(hit, pool)
    if exact:
        sentence += f": exactly the cells with {' and '.join(exact)}"
    return [sentence]


def _values(pool: list[CellResult]) -> list[tuple[str, str]]:
    """(axis, value) pairs that vary across the pool (an absent axis is not a value)."""
    pairs = []
    for axis in _axes_of(pool):
        values = sorted({r.axes[axis] for r in pool if axis in r.axes})
        if len(values) > 1 or any(axis not in r.axes for r in pool):
            pairs += [(axis, v) for v in values]
    return pairs


def _explain(hit: list[CellResult], pool: list[CellResult]) -> list[str]:
    target = {id(r) for r in hit}
    pairs = _values(pool)

    def selects(conds: tuple[tuple[str, str], ...]) -> bool:
        chosen = {id(r) for r in pool if all(r.axes.get(a) == v for a, v in conds)}
        return chosen == target

    for one in pairs:
        if selects((one,)):
            return [f"{one[0]}={one[1]}"]
    for i, first in enumerate(pairs):
        for second in pairs[i + 1:]:
            if first[0] != second[0] and selects((first, second)):
                return [f"{first[0]}={first[1]}", f"{second[0]}={second[1]}"]
    # Two causes side by side: the cells of one value, plus those of another.
    for i, first in enumerate(pairs):
        for second in pairs[i + 1:]:
            either = {id(r) for r in pool if r.axes.get(first[0]) == first[1]
                      or r.axes.get(second[0]) == second[1]}
            if first[0] != second[0] and either == target:
                return [f"{first[0]}={first[1]}, plus those with {second[0]}={second[1]}"]
    return []


def _never(hit: list[CellResult], pool: list[CellResult]) -> list[str]:
    out = []
    for axis, value in _values(pool):
        with_v = [r for r in pool if r.axes.get(axis) == value]
        if with_v and not any(r in hit for r in with_v):
            out.append(f"{axis}={value}")
    return out
