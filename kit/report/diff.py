"""Two runs side by side: which cells flipped, for a comment like "fixed in CUTLASS 4.4.2"."""

from __future__ import annotations

from dataclasses import dataclass

from kit.spec.model import CORE_AXES, CellResult, Outcome


@dataclass(frozen=True)
class Change:
    cell: str  # the matching key: axis values, less the ignored axes
    a: Outcome | None
    b: Outcome | None

    @property
    def kind(self) -> str:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        if self.a is Outcome.OK and self.b.is_gpu_verdict:
            return "regression"
        if self.b is Outcome.OK and (self.a.is_gpu_verdict or self.a is Outcome.COMPILE_ERROR):
            return "fix"
        if self.a is not Outcome.COMPILE_ERROR and self.b is Outcome.COMPILE_ERROR:
            return "regression"
        return "changed"

    def to_dict(self) -> dict[str, str | None]:
        return {"cell": self.cell, "a": self.a.value if self.a else None,
                "b": self.b.value if self.b else None, "kind": self.kind}


def key(r: CellResult, ignore: tuple[str, ...]) -> str:
    """The cell's label, or with ignored axes left out: core axes first, then the knobs."""
    if not ignore:
        return r.label
    order = [*CORE_AXES, *sorted(k for k in r.axes if k not in CORE_AXES)]
    return "-".join(r.axes[k] for k in order if k in r.axes and k not in ignore)


def changes(a: list[CellResult], b: list[CellResult], *,
            ignore: tuple[str, ...] = ()) -> list[Change]:
    """Cells matched on their axis values (less `ignore`, e.g. the CUTLASS version compared)."""
    ma = {key(r, ignore): r.outcome for r in a}
    mb = {key(r, ignore): r.outcome for r in b}
    return [Change(k, ma.get(k), mb.get(k)) for k in sorted(set(ma) | set(mb))
            if ma.get(k) is not mb.get(k)]


def render_md(found: list[Change], name_a: str, name_b: str, total: int) -> str:
    if not found:
        return f"No cell changed outcome between `{name_a}` and `{name_b}` ({total} cells).\n"
    counts: dict[str, int] = {}
    for c in found:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    head = ", ".join(f"{n} {k}{'s' if n > 1 and not k.endswith('d') else ''}"
                     for k, n in sorted(counts.items()))
    lines = [f"**{len(found)} of {total} cells changed between `{name_a}` and `{name_b}`: "
             f"{head}.**", "", f"| cell | `{name_a}` | `{name_b}` | |", "| --- | --- | --- | --- |"]
    for c in found:
        a = f"{c.a.mark} {c.a.value}" if c.a else "—"
        b = f"{c.b.mark} {c.b.value}" if c.b else "—"
        lines.append(f"| `{c.cell}` | {a} | {b} | {c.kind} |")
    return "\n".join(lines) + "\n"
