"""`kit matrix plan` as text: one aligned line a cell, a reason shared by several cells said
once as a numbered note, then the counts and how long the compiles should take here."""

from __future__ import annotations

from collections import Counter

from kit.engine import plan
from kit.engine.scheduler import Estimate


def render(steps: list[plan.Step], estimate: Estimate | None = None,
           max_cells: int | None = None) -> str:
    shared = [r for r, n in Counter(s.reason for s in steps if s.reason).most_common() if n > 1]
    notes = {reason: i for i, reason in enumerate(shared, start=1)}
    rows = []
    for s in steps:
        what = "compile+run" if s.run is plan.RunDecision.RUN else f"compile, {s.run.value}"
        why = f"[{notes[s.reason]}]" if s.reason in notes else s.reason
        rows.append((s.cell.label, what, why))
    width = max((len(r[0]) for r in rows), default=0)
    what_width = max((len(r[1]) for r in rows), default=0)
    lines = [f"{label:<{width}}  {what:<{what_width}}  {why}".rstrip()
             for label, what, why in rows]
    if notes:
        lines += [""] + [f"[{i}] {reason}" for reason, i in notes.items()]
    summ = plan.summary(steps)
    lines += ["", f"{summ['cells']} cells, {summ['binaries']} distinct binaries; "
              + ", ".join(f"{v} {k}" for k, v in summ.items() if k not in ("cells", "binaries"))]
    if estimate is not None and estimate.builds:
        guess = "" if estimate.measured == estimate.builds else \
            f" ({estimate.builds - estimate.measured} of them never compiled here: guessed)"
        lines.append(f"{estimate.builds} to compile, about {_duration(estimate.seconds)} here "
                     f"by the compile history{guess}")
    elif estimate is not None:
        lines.append("every binary is in the build cache: nothing to compile")
    if max_cells is not None and len(steps) > max_cells:
        lines.append(f"more than --max-cells {max_cells:,}: `kit matrix run` refuses this "
                     "selection unless --max-cells says more")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
