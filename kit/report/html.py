"""report.html: one self-contained page (no network) — a grid per table coloured by outcome,
filters by axis, each cell opening its reason, evidence, KIT_RESULT and log."""

from __future__ import annotations

import html
import json
from typing import Any

from kit.model import CellResult, Outcome
from kit.report import pivot
from kit.report.markdown import LEGEND

COLOURS = {
    Outcome.OK: "#2e7d32", Outcome.WRONG_RESULT: "#ad1457",
    Outcome.CAN_IMPLEMENT_FAILED: "#6a1b9a", Outcome.INIT_ERROR_INTERNAL: "#c62828",
    Outcome.INIT_ERROR_OTHER: "#d84315", Outcome.RUN_FAILED: "#e65100",
    Outcome.COMPILE_ERROR: "#5d4037", Outcome.CRASH: "#000000", Outcome.TIMEOUT: "#f9a825",
    Outcome.SKIPPED_ARCH: "#90a4ae", Outcome.NO_GPU: "#b0bec5", Outcome.INFRA_ERROR: "#ff6f00",
}
LOG_CAP = 64 * 1024

STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0} th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3;text-align:left} td.cell{color:#fff;cursor:pointer;white-space:nowrap}
td.empty{background:#fafafa} .hidden{display:none}
.legend span{display:inline-block;margin:2px 8px 2px 0;padding:2px 6px;color:#fff}
#details{position:fixed;right:16px;top:16px;width:46%;max-height:90vh;overflow:auto;
 background:#fff;border:2px solid #444;padding:12px;box-shadow:0 4px 16px #0004}
pre{white-space:pre-wrap;background:#f6f6f6;padding:8px;font-size:12px}
.filters label{margin-right:12px}
"""

SCRIPT = """
const data = JSON.parse(document.getElementById('kit-data').textContent);
function applyFilters() {
  const chosen = {};
  document.querySelectorAll('select[data-axis]').forEach(s => {
    if (s.value !== '*') chosen[s.dataset.axis] = s.value; });
  document.querySelectorAll('td.cell').forEach(td => {
    const axes = data.cells[td.dataset.id].axes;
    const ok = Object.entries(chosen).every(([a, v]) => !(a in axes) || axes[a] === v);
    td.classList.toggle('hidden', !ok); td.hidden = !ok; });
  document.querySelectorAll('tr.row').forEach(tr => {
    const any = tr.querySelector('td.cell:not(.hidden)');
    tr.classList.toggle('hidden', !any); tr.hidden = !any; });
}
function show(id) {
  const c = data.cells[id], d = document.getElementById('details');
  d.querySelector('h3').textContent = c.label;
  d.querySelector('.what').textContent = c.outcome + ': ' + c.reason;
  d.querySelector('.evidence').textContent = JSON.stringify(c.evidence, null, 2);
  d.querySelector('.result').textContent = c.kit_result ? JSON.stringify(c.kit_result, null, 2)
                                                         : '(no KIT_RESULT line)';
  d.querySelector('.log').textContent = data.logs[id] || '(no log)';
  d.hidden = false;
}
document.querySelectorAll('select[data-axis]').forEach(s => s.addEventListener('change',
  applyFilters));
document.querySelectorAll('td.cell').forEach(td => td.addEventListener('click',
  () => show(td.dataset.id)));
document.getElementById('close').addEventListener('click',
  () => { document.getElementById('details').hidden = true; });
// #filter:axis=value[&axis=value] preselects filters (links into a report).
const m = decodeURIComponent(location.hash).match(/^#filter:(.*)$/);
if (m) m[1].split('&').forEach(p => { const [a, v] = p.split('=');
  const s = document.querySelector('select[data-axis="' + a + '"]'); if (s) s.value = v; });
applyFilters();
"""


def render(results: list[CellResult], manifest: dict[str, Any], logs: dict[str, str]) -> str:
    e = html.escape
    run_id = str(manifest.get("run_id", ""))
    payload = {"cells": {r.cell_id: r.to_dict() for r in results},
               "logs": {k: v[-LOG_CAP:] for k, v in logs.items()}}
    blob = json.dumps(payload, ensure_ascii=False).replace("</", "<\\/")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>kit {e(run_id)}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>kit matrix <code>{e(run_id)}</code></h1>"]
    parts += [f"<p><b>{e(f)}</b></p>" for f in
              pivot.findings(results) + pivot.static_findings(results)]
    counts = ", ".join(f"{n} {o}" for o, n in pivot.counts(results).items())
    parts.append(f"<p>{e(counts)}</p>")
    parts.append(_filters(results))
    used = sorted({r.outcome for r in results}, key=list(Outcome).index)
    parts.append("<p class='legend'>" + "".join(
        f"<span style='background:{COLOURS[o]}' title='{e(LEGEND[o])}'>{o.value}"
        f"</span>" for o in used) + "</p>")
    for table in pivot.tables(results):
        parts.append(_table(table))
    parts.append(_environment(manifest))
    parts.append("<div id='details' hidden><button id='close'>close</button><h3></h3>"
                 "<p class='what'></p><h4>evidence</h4><pre class='evidence'></pre>"
                 "<h4>KIT_RESULT</h4><pre class='result'></pre><h4>log</h4>"
                 "<pre class='log'></pre></div>")
    parts.append(f"<script type='application/json' id='kit-data'>{blob}</script>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _filters(results: list[CellResult]) -> str:
    out = ["<p class='filters'>"]
    axes: dict[str, set[str]] = {}
    for r in results:
        for a, v in r.axes.items():
            axes.setdefault(a, set()).add(v)
    for axis, values in axes.items():
        if len(values) < 2:
            continue
        options = "".join(f"<option value='{html.escape(v, quote=True)}'>{html.escape(v)}"
                          "</option>" for v in sorted(values))
        out.append(f"<label>{html.escape(axis)} <select data-axis='{html.escape(axis, True)}'>"
                   f"<option value='*'>all</option>{options}</select></label>")
    return "".join(out) + "</p>"


def _table(t: pivot.Table) -> str:
    e = html.escape
    title = " · ".join(f"{k} <code>{e(v)}</code>" for k, v in t.split.items())
    head = "".join(f"<th>{e(' / '.join(c) or 'result')}</th>" for c in t.cols)
    rows = []
    for r in t.rows:
        cells = [f"<th>{e(' · '.join(r))}</th>"]
        for c in t.cols:
            found = t.at(r, c)
            if not found:
                cells.append("<td class='empty'></td>")
            for x in found:
                cells.append(f"<td class='cell' data-id='{e(x.cell_id, True)}' "
                             f"style='background:{COLOURS[x.outcome]}' title='{e(x.reason, True)}'>"
                             f"{e(x.outcome.value)}</td>")
        rows.append(f"<tr class='row'>{''.join(cells)}</tr>")
    return (f"<h2>{title}</h2><p>rows: {e(' × '.join(t.row_axes))}; columns: "
            f"{e(' / '.join(t.col_axes))}</p><table><tr><th></th>{head}</tr>"
            + "".join(rows) + "</table>")


def _environment(m: dict[str, Any]) -> str:
    e = html.escape
    gpus = m.get("gpus") or {}
    lines = [f"GPU {g['index']}: {g['name']} (compute capability {g['cc']})"
             for g in gpus.get("gpus", [])] or [f"GPU: none ({gpus.get('error', '')})"]
    if gpus.get("driver"):
        lines.append(f"driver {gpus['driver']}, CUDA driver API {gpus.get('cuda_driver', '?')}")
    lines += [f"toolchain {k}: {v}" for k, v in (m.get("toolchains") or {}).items()]
    lines += [f"CUTLASS {k}: {v}" for k, v in (m.get("cutlass") or {}).items()]
    lines.append(f"runtime: {m.get('runtime', '?')}   kit {m.get('kit_version', '?')}")
    if m.get("command"):
        lines.append(f"re-run: {m['command']}")
    return ("<details><summary>Environment and how to re-run</summary><pre>"
            + e("\n".join(lines)) + "</pre></details>")
