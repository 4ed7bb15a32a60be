"""report.md: a GitHub comment a CUTLASS maintainer can act on."""

from __future__ import annotations

from typing import Any

from kit.report import pivot
from kit.spec.model import CellResult, Outcome

LEGEND = {
    Outcome.OK: "ran and verified against the reference",
    Outcome.WRONG_RESULT: "ran, result differs from the reference",
    Outcome.CAN_IMPLEMENT_FAILED: "can_implement() refused the arguments",
    Outcome.INIT_ERROR_INTERNAL: "can_implement() passed, initialize() returned Error Internal",
    Outcome.INIT_ERROR_OTHER: "initialize() returned another error",
    Outcome.RUN_FAILED: "run() or the kernel failed",
    Outcome.COMPILE_ERROR: "nvcc refused the source",
    Outcome.CRASH: "the process died without reporting",
    Outcome.EXITED_UNVERIFIED: "exited cleanly without a verdict kit can read (may not verify)",
    Outcome.TIMEOUT: "killed at the time limit",
    Outcome.SKIPPED_ARCH: "compiled; this GPU cannot run the target (no result claimed)",
    Outcome.NO_GPU: "compiled; no GPU on the machine (no result claimed)",
    Outcome.INFRA_ERROR: "kit or its environment failed, not the kernel",
}


def render(results: list[CellResult], manifest: dict[str, Any], *,
           rows: tuple[str, ...] = pivot.DEFAULT_ROWS,
           cols: tuple[str, ...] = pivot.DEFAULT_COLS) -> str:
    lines = [f"### kit matrix `{manifest.get('run_id', '?')}`", ""]
    finds = pivot.findings(results) + pivot.static_findings(results)
    if finds:
        lines += [f"**{finds[0]}.**", *[f"- {f}." for f in finds[1:]], ""]
    elif results:
        lines += [f"**All {len(results)} cells: {_count_text(pivot.counts(results))}.**", ""]
    lines += [_count_text(pivot.counts(results)), ""]
    for table in pivot.tables(results, rows=rows, cols=cols):
        lines += _table(table)
    used = sorted({r.outcome for r in results}, key=list(Outcome).index)
    legend = " · ".join(f"{o.mark} `{o.value}` {LEGEND[o]}" for o in used)
    lines += [f"<sub>{legend}</sub>", ""]
    lines += _failures(results)
    lines += _static(results)
    lines += predictions(results)
    lines += _environment(manifest)
    return "\n".join(lines).rstrip() + "\n"


def _count_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {o}" for o, n in counts.items())


def _table(t: pivot.Table) -> list[str]:
    title = " · ".join(f"{k} `{v}`" for k, v in t.split.items())
    head = [" × ".join(t.row_axes) or "cells"]
    head += [" / ".join(c) or "result" for c in t.cols]
    out = [f"#### {title}", "", _row(head), _row(["---"] * len(head))]
    if t.col_axes:
        out.insert(2, f"<sub>columns: {' / '.join(t.col_axes)}</sub>\n")
    for r in t.rows:
        cells = [" · ".join(f"`{v}`" for v in r)]
        for c in t.cols:
            found = t.at(r, c)
            cells.append(" ".join(f"{x.outcome.mark} {x.outcome.value}" for x in found) or "")
        out.append(_row(cells))
    return [*out, ""]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _failures(results: list[CellResult]) -> list[str]:
    bad = [r for r in results
           if r.outcome not in (Outcome.OK, Outcome.SKIPPED_ARCH, Outcome.NO_GPU)]
    if not bad:
        return []
    out = ["#### Failures, with cause and evidence", ""]
    for r in bad[:60]:
        cause = f" — cause `{r.evidence.cause}`" if r.evidence.cause else ""
        where = f" (GPU {r.gpu})" if r.gpu else ""
        out.append(f"- `{r.label}`{where}: **{r.outcome.value}**{cause}: {r.reason}")
    if len(bad) > 60:
        out.append(f"- … and {len(bad) - 60} more (report.json has all)")
    return [*out, ""]


def _static(results: list[CellResult]) -> list[str]:
    flagged = [r for r in results if r.binary_facts.get("warning")]
    if not flagged:
        return []
    out = ["#### Static checks of the binaries (no GPU involved)", ""]
    for r in flagged:
        out.append(f"- `{r.label}`: {r.binary_facts['warning']}")
    clean = [r for r in results if r.binary_facts.get("device_kernel_instantiations") == 1]
    if clean:
        out.append(f"- {len(clean)} other binaries hold exactly one `device_kernel` instantiation.")
    return [*out, ""]


def _environment(m: dict[str, Any]) -> list[str]:
    gpus = m.get("gpus") or {}
    out = ["<details><summary>Environment and how to re-run</summary>", "", "```"]
    for g in gpus.get("gpus", []):
        optin = g.get("smem_optin_bytes")
        out.append(f"GPU {g['index']}: {g['name']} (compute capability {g['cc']}"
                   + (f", opt-in shared memory {optin:,} B" if optin else "") + ")")
    if not gpus.get("gpus"):
        out.append(f"GPU: none ({gpus.get('error') or 'NVML found no device'})")
    if gpus.get("driver"):
        out.append(f"driver {gpus['driver']}, CUDA driver API {gpus.get('cuda_driver', '?')}")
    out += toolchain_lines(m)
    for name, cl in (m.get("cutlass") or {}).items():
        out.append(f"CUTLASS {name}: {cl}")
    out.append(f"runtime: {m.get('runtime', '?')}   kit {m.get('kit_version', '?')}")
    reused = m.get("reused") or {}
    if reused:
        runs = ", ".join(sorted(set(reused.values())))
        out.append(f"{len(reused)} unchanged cells carried over from earlier runs ({runs})")
    out += ["```", ""]
    if m.get("command"):
        out += ["Re-run:", "", "```sh", m["command"], "```", ""]
    out += ["</details>", ""]
    return out


def toolchain_lines(m: dict[str, Any]) -> list[str]:
    """One line a toolchain; an image column says whether its digest was ever verified."""
    out = []
    digests = m.get("digests") or {}
    for name, tc in (m.get("toolchains") or {}).items():
        pin = digests.get(name) or {}
        note = "" if not pin else " (digest verified by a registry)" if pin.get("verified") \
            else f" (digest not verified: {pin.get('why') or 'never pulled'})"
        out.append(f"toolchain {name}: {tc}{note}")
    return out


def predictions(results: list[CellResult]) -> list[str]:
    """Cells no GPU here ran, with what their target would likely do: labelled, apart from
    the outcomes, never counted as one."""
    told = [r for r in results if r.prediction and not r.outcome.is_gpu_verdict]
    if not told:
        return []
    hazards = [r for r in told if r.prediction and r.prediction.get("outcome") != "none"]
    out = ["#### Predictions for targets no GPU here ran (predictions, not outcomes)", "",
           f"{len(told)} cells predicted: {len(hazards)} with a known hazard, "
           f"{len(told) - len(hazards)} with none known.", ""]
    for r in hazards[:60]:
        p = r.prediction or {}
        out.append(f"- `{r.label}`: predicted `{p.get('outcome')}` ({p.get('cause')}: "
                   f"{p.get('detail')})")
    return [*out, ""]
