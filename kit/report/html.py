"""report.html: one self-contained page (no network) — a grid per table coloured by outcome,
filters by axis, each cell opening its reason, evidence, KIT_RESULT and log.

Links into a page: `#filter:axis=value&axis=value` preselects filters, `#cell:<cell id>` opens
that cell's details (the browser test drives both)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from kit.report import pivot
from kit.report.markdown import LEGEND, toolchain_lines
from kit.report.markdown import predictions as markdown_predictions
from kit.spec.model import CellResult, Outcome

COLOURS = {
    Outcome.OK: "#2e7d32", Outcome.WRONG_RESULT: "#ad1457",
    Outcome.CAN_IMPLEMENT_FAILED: "#6a1b9a", Outcome.INIT_ERROR_INTERNAL: "#c62828",
    Outcome.INIT_ERROR_OTHER: "#d84315", Outcome.RUN_FAILED: "#e65100",
    Outcome.COMPILE_ERROR: "#5d4037", Outcome.CRASH: "#212121",
    Outcome.EXITED_UNVERIFIED: "#455a64", Outcome.TIMEOUT: "#8d6e00",
    Outcome.SKIPPED_ARCH: "#607d8b", Outcome.NO_GPU: "#78909c", Outcome.INFRA_ERROR: "#ef6c00",
}
LOG_CAP = 64 * 1024  # a backstop: the caller already truncates logs

STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin:28px 0 4px} .sub{color:#666;margin:0 0 6px}
table{border-collapse:collapse;margin:8px 0} th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3;text-align:left;font-weight:600} th.axes{color:#666;font-weight:400}
td.cell{color:#fff;cursor:pointer;white-space:nowrap} td.cell:hover{outline:3px solid #000a}
td.empty{background:#fafafa} .hidden{display:none}
.finding{font-weight:600;margin:4px 0} .counts{margin:8px 0 12px}
.legend{margin:10px 0} .legend span{display:inline-block;margin:2px 10px 2px 0}
.legend b{display:inline-block;padding:1px 6px;color:#fff;font-weight:500}
td.static{outline:2px dashed #fff;outline-offset:-4px} .flag{font-weight:700}
.filters{margin:10px 0;padding:8px;background:#f6f6f6} .filters label{margin-right:14px}
#details{position:fixed;right:16px;top:16px;width:46%;max-height:90vh;overflow:auto;
 background:#fff;border:2px solid #444;padding:12px;box-shadow:0 4px 16px #0004}
#details h3{margin:4px 0;word-break:break-all}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:8px;font-size:12px}
"""

SCRIPT = """
const data = JSON.parse(document.getElementById('kit-data').textContent);
function hide(el, h) { el.classList.toggle('hidden', h); el.hidden = h; }
function applyFilters() {
  const chosen = {};
  document.querySelectorAll('select[data-axis]').forEach(s => {
    if (s.value !== '*') chosen[s.dataset.axis] = s.value; });
  document.querySelectorAll('td.cell').forEach(td => {
    const axes = data.cells[td.dataset.id].axes;
    hide(td, !Object.entries(chosen).every(([a, v]) => axes[a] === v)); });
  document.querySelectorAll('section.table').forEach(sec => {
    const cols = new Set();
    sec.querySelectorAll('td.cell:not(.hidden)').forEach(td => cols.add(td.dataset.col));
    sec.querySelectorAll('[data-col]:not(td.cell)').forEach(el =>
      hide(el, !cols.has(el.dataset.col)));
    sec.querySelectorAll('tr.row').forEach(tr =>
      hide(tr, !tr.querySelector('td.cell:not(.hidden)')));
    hide(sec, cols.size === 0); });
}
function show(id) {
  const c = data.cells[id], d = document.getElementById('details');
  if (!c) return;
  const ev = c.evidence || {};
  d.querySelector('h3').textContent = c.label;
  d.querySelector('.what').textContent = c.outcome + (c.reason ? ': ' + c.reason : '');
  d.querySelector('.cause').textContent = ev.cause ? 'cause: ' + ev.cause
    + (ev.detail && !(c.reason || '').includes(ev.detail) ? ' — ' + ev.detail : '') : '';
  d.querySelector('.times').textContent = 'compile ' + (c.compile_seconds ?? '–') + ' s'
    + (c.compile_cached ? ' (cached)' : '') + ', run ' + (c.run_seconds ?? '–')
    + ' s, exit status ' + (c.exit_status ?? '–') + (c.gpu ? ', GPU ' + c.gpu : '');
  const facts = ev.facts || {};
  d.querySelector('.evidence').textContent = Object.keys(facts).length
    ? JSON.stringify(facts, null, 2) : '(no further facts)';
  d.querySelector('.result').textContent = c.kit_result ? JSON.stringify(c.kit_result, null, 2)
                                                         : '(no KIT_RESULT line)';
  d.querySelector('.log').textContent = data.logs[id] || '(no log)';
  d.dataset.id = id;
  d.hidden = false;
}
document.querySelectorAll('select[data-axis]').forEach(s =>
  s.addEventListener('change', applyFilters));
document.querySelectorAll('td.cell').forEach(td =>
  td.addEventListener('click', () => show(td.dataset.id)));
document.querySelectorAll('button[data-open]').forEach(a =>
  a.addEventListener('click', () => show(a.dataset.open)));
const details = document.getElementById('details');
document.getElementById('close').addEventListener('click', () => { details.hidden = true; });
document.addEventListener('keydown', ev => { if (ev.key === 'Escape') details.hidden = true; });
const hash = decodeURIComponent(location.hash);
if (hash.startsWith('#filter:')) hash.slice(8).split('&').forEach(p => {
  const i = p.indexOf('='), a = p.slice(0, i), v = p.slice(i + 1);
  const s = [...document.querySelectorAll('select[data-axis]')].find(x => x.dataset.axis === a);
  if (s && [...s.options].some(o => o.value === v)) s.value = v; });
applyFilters();
if (hash.startsWith('#cell:')) show(hash.slice(6));
"""


def render(results: list[CellResult], manifest: dict[str, Any], logs: dict[str, str]) -> str:
    e = html.escape
    run_id = str(manifest.get("run_id", "?"))
    parts = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>kit matrix {e(run_id)}</title><style>{STYLE}</style></head><body>",
             f"<h1>kit matrix <code>{e(run_id)}</code></h1>"]
    finds = pivot.findings(results) + pivot.static_findings(results)
    parts += [f"<p class='finding'>{e(f)}.</p>" for f in finds]
    counts = pivot.counts(results)
    parts.append(f"<p class='counts'>{len(results)} cells: " + ", ".join(
        f"{n} {e(o)}" for o, n in counts.items()) + "</p>")
    parts.append(_legend(results))
    parts.append(_filters(results))
    parts += [_table(t) for t in pivot.tables(results)]
    parts.append(_failures(results))
    parts.append(_static(results))
    told = markdown_predictions(results)
    if told:  # a prediction is not an outcome: its own list, uncoloured
        parts.append("<div class='predictions'><h2>" + html.escape(told[0].lstrip("# "))
                     + "</h2>" + "".join(f"<p>{html.escape(line.lstrip('- '))}</p>"
                                         for line in told[2:] if line) + "</div>")
    parts.append(_environment(manifest))
    parts.append("<div id='details' hidden><button id='close' type='button'>close</button>"
                 "<h3></h3><p class='what'></p><p class='cause'></p><p class='times'></p>"
                 "<h4>evidence: facts</h4><pre class='evidence'></pre><h4>KIT_RESULT</h4>"
                 "<pre class='result'></pre><h4>log</h4><pre class='log'></pre></div>")
    parts.append(f"<script type='application/json' id='kit-data'>{_blob(results, logs)}"
                 "</script>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _blob(results: list[CellResult], logs: dict[str, str]) -> str:
    """The data as JSON a <script> element cannot end early: every '<' (so '</script>' and
    '<!--' too) becomes the JSON escape \\u003c, which JSON.parse reads back as '<'."""
    payload = {"cells": {r.cell_id: r.to_dict() for r in results},
               "logs": {r.cell_id: fold_symbols(logs[r.cell_id][-LOG_CAP:]) for r in results
                        if r.cell_id in logs}}
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# A mangled C++ name of hundreds of characters (ptxas names CUTLASS kernels so): its head is
# enough to tell it apart in a log read in a browser.
_LONG_SYMBOL = re.compile(r"_Z[A-Za-z0-9_]{160,}")


def fold_symbols(log: str) -> str:
    return _LONG_SYMBOL.sub(lambda m: f"{m.group(0)[:72]}…[{len(m.group(0)):,} chars]", log)


def _failures(results: list[CellResult]) -> str:
    e = html.escape
    bad = [r for r in results
           if r.outcome not in (Outcome.OK, Outcome.SKIPPED_ARCH, Outcome.NO_GPU)]
    if not bad:
        return ""
    items = "".join(
        f"<li><button type='button' class='open' data-open='{e(r.cell_id)}'>{e(r.label)}"
        "</button>: "
        f"<strong>{e(r.outcome.value)}</strong>"
        + (f" — cause <code>{e(r.evidence.cause)}</code>" if r.evidence.cause else "")
        + f": {e(r.reason)}</li>" for r in bad[:200])
    more = f"<p>… and {len(bad) - 200} more (report.json has all)</p>" if len(bad) > 200 else ""
    return (f"<div class='failures'><h2>Failures, with cause and evidence</h2><ul>{items}</ul>"
            f"{more}</div>")


def _static(results: list[CellResult]) -> str:
    e = html.escape
    flagged = [r for r in results if r.binary_facts.get("warning")]
    if not flagged:
        return ""
    items = "".join(f"<li><button type='button' class='open' data-open='{e(r.cell_id)}'>"
                    f"{e(r.label)}</button> ⚑ {e(str(r.binary_facts['warning']))}</li>"
                    for r in flagged)
    return ("<div class='static'><h2>Static checks of the binaries (no GPU involved)</h2>"
            f"<ul>{items}</ul></div>")


def _legend(results: list[CellResult]) -> str:
    used = sorted({r.outcome for r in results}, key=list(Outcome).index)
    return "<p class='legend'>" + "".join(
        f"<span><b style='background:{COLOURS[o]}'>{o.value}</b> "
        f"{html.escape(LEGEND[o])}</span>" for o in used) + "</p>"


def _filters(results: list[CellResult]) -> str:
    e = html.escape
    values: dict[str, set[str]] = {}
    for r in results:
        for a, v in r.axes.items():
            values.setdefault(a, set()).add(v)
    out = []
    for axis, vals in values.items():
        if len(vals) < 2:
            continue  # one value wherever the axis exists: nothing to filter
        options = "".join(f"<option value='{e(v)}'>{e(v)}</option>" for v in sorted(vals))
        out.append(f"<label>{e(axis)} <select data-axis='{e(axis)}'>"
                   f"<option value='*'>all</option>{options}</select></label>")
    if not out:
        return ""
    return "<div class='filters'>filter: " + "".join(out) + "</div>"


def _table(t: pivot.Table) -> str:
    e = html.escape
    title = " · ".join(f"{e(k)} <code>{e(v)}</code>" for k, v in t.split.items())
    head = "".join(f"<th data-col='{i}'>{e(' / '.join(c) or 'result')}</th>"
                   for i, c in enumerate(t.cols))
    rows = []
    for r in t.rows:
        cells = [f"<th>{e(' · '.join(r))}</th>"]
        for i, c in enumerate(t.cols):
            found = t.at(r, c)
            if not found:
                cells.append(f"<td class='empty' data-col='{i}'></td>")
            for x in found:
                warning = str(x.binary_facts.get("warning") or "")
                tip = "\n".join(t for t in (x.label, x.reason, warning) if t)
                flag = "<span class='flag' title='static check'> ⚑</span>" if warning else ""
                cells.append(f"<td class='cell{' static' if warning else ''}' "
                             f"data-id='{e(x.cell_id)}' data-col='{i}' "
                             f"data-outcome='{e(x.outcome.value)}' "
                             f"style='background:{COLOURS[x.outcome]}' title='{e(tip)}'>"
                             f"{e(x.outcome.value)}{flag}</td>")
        rows.append(f"<tr class='row'>{''.join(cells)}</tr>")
    corner = e(" × ".join(t.row_axes) or "cells")
    return (f"<section class='table'><h2>{title}</h2><p class='sub'>rows: "
            f"{e(' × '.join(t.row_axes))}; columns: {e(' / '.join(t.col_axes))}</p>"
            f"<table><tr><th class='axes'>{corner}</th>{head}</tr>{''.join(rows)}</table>"
            "</section>")


def _environment(m: dict[str, Any]) -> str:
    gpus = m.get("gpus") or {}
    lines = []
    for g in gpus.get("gpus", []):
        optin = g.get("smem_optin_bytes")
        lines.append(f"GPU {g['index']}: {g['name']} (compute capability {g['cc']}"
                     + (f", opt-in shared memory {optin:,} B" if optin else "") + ")")
    if not gpus.get("gpus"):
        lines.append(f"GPU: none ({gpus.get('error') or 'NVML found no device'})")
    if gpus.get("driver"):
        lines.append(f"driver {gpus['driver']}, CUDA driver API {gpus.get('cuda_driver', '?')}")
    lines += toolchain_lines(m)
    lines += [f"CUTLASS {k}: {v}" for k, v in (m.get("cutlass") or {}).items()]
    lines.append(f"runtime: {m.get('runtime', '?')}   kit {m.get('kit_version', '?')}")
    out = ("<details open><summary>Environment and how to re-run</summary><pre>"
           + html.escape("\n".join(lines)) + "</pre>")
    if m.get("command"):
        out += f"<p>Re-run:</p><pre>{html.escape(str(m['command']))}</pre>"
    return out + "</details>"
