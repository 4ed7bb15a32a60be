"""A run's tables for a terminal: rich tables, outcomes in colour, failures and static findings
below; what report.md holds, drawn for a person at a shell rather than for GitHub."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from kit.report import pivot
from kit.report.html import COLOURS
from kit.report.markdown import LEGEND
from kit.spec.model import CellResult, Outcome


def render(results: list[CellResult], manifest: dict[str, Any], *,
           rows: tuple[str, ...] = pivot.DEFAULT_ROWS,
           cols: tuple[str, ...] = pivot.DEFAULT_COLS) -> RenderableType:
    parts: list[RenderableType] = [Text(f"kit matrix {manifest.get('run_id', '?')}",
                                        style="bold")]
    finds = pivot.findings(results) + pivot.static_findings(results)
    parts += [Text(f"• {f}") for f in finds]
    counts = ", ".join(f"{n} {o}" for o, n in pivot.counts(results).items())
    parts.append(Text(counts, style="dim"))
    for t in pivot.tables(results, rows=rows, cols=cols):
        parts += [Text(""), Text(" · ".join(f"{k} {v}" for k, v in t.split.items()),
                                 style="bold"), _table(t)]
    used = sorted({r.outcome for r in results}, key=list(Outcome).index)
    parts.append(Text(" · ".join(f"{o.mark} {o.value}: {LEGEND[o]}" for o in used),
                      style="dim"))
    bad = [r for r in results
           if r.outcome not in (Outcome.OK, Outcome.SKIPPED_ARCH, Outcome.NO_GPU)]
    for r in bad[:20]:
        cause = f" ({r.evidence.cause})" if r.evidence.cause else ""
        line = Text(f"{r.outcome.mark} {r.label}: ")
        line.append(f"{r.outcome.value}{cause}", style=_style(r.outcome))
        line.append(f" — {r.reason}")
        parts.append(line)
    if len(bad) > 20:
        parts.append(Text(f"… and {len(bad) - 20} more: kit report --format md", style="dim"))
    return Group(*parts)


def _table(t: pivot.Table) -> Table:
    table = Table(show_lines=True)
    widest = max((len(f"{x.outcome.mark} {x.outcome.value}") for x in
                  (x for r in t.rows for c in t.cols for x in t.at(r, c))), default=8)
    table.add_column(" × ".join(t.row_axes) or "cells", style="cyan", overflow="fold")
    for c in t.cols:  # an outcome is read whole: the axis labels give way first
        table.add_column(" / ".join(c) or "result", overflow="fold", min_width=widest)
    for r in t.rows:
        cells: list[Text | str] = [" · ".join(r)]
        for c in t.cols:
            found = t.at(r, c)
            text = Text()
            for i, x in enumerate(found):
                text.append(("  " if i else "") + f"{x.outcome.mark} {x.outcome.value}",
                            style=_style(x.outcome))
            cells.append(text)
        table.add_row(*cells)
    return table


def _style(outcome: Outcome) -> str:
    return f"bold {COLOURS[outcome]}" if outcome.is_gpu_verdict else COLOURS[outcome]


def show(results: list[CellResult], manifest: dict[str, Any], console: Console, *,
         rows: tuple[str, ...] = pivot.DEFAULT_ROWS,
         cols: tuple[str, ...] = pivot.DEFAULT_COLS) -> None:
    console.print(render(results, manifest, rows=rows, cols=cols))
