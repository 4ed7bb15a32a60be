"""`kit report bundle`: one tar.gz to attach upstream — manifest, reports, the failing cells'
standalone .cu files and their logs (each log capped, the whole capped)."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from kit.engine.results import RunDir
from kit.report import export
from kit.spec.model import (
    Cell,
    CellResult,
    CutlassKind,
    CutlassSource,
    Outcome,
    SourceKind,
    Toolchain,
)
from kit.spec.repros import Repro, ReproKind

LOG_CAP = 256 * 1024
TOTAL_CAP = 20 * 1024 * 1024
_REPORTS = ("manifest.json", "report.md", "report.json", "report.xml", "report.html")
_OK = {Outcome.OK, Outcome.SKIPPED_ARCH, Outcome.NO_GPU}


def members(run: RunDir, repros: dict[str, Repro]) -> list[tuple[str, bytes]]:
    """What a bundle holds, in order, within the caps: (name inside the run, content)."""
    found: list[tuple[str, bytes]] = []
    for name in _REPORTS:
        if (run.path / name).is_file():
            found.append((name, (run.path / name).read_bytes()))
    for r in run.load().results:
        if r.outcome in _OK:
            continue
        log = run.log_path(r.cell_id)
        if log.is_file():
            data = log.read_bytes()
            if len(data) > LOG_CAP:
                data = b"[... kit: log cut to its last 256 KiB ...]\n" + data[-LOG_CAP:]
            found.append((f"logs/{r.cell_id}.log", data))
        source = _standalone(r, repros)
        if source is not None:
            found.append((f"repros/{r.cell_id}.cu", source.encode()))
    kept, total = [], 0
    for name, data in found:
        if total + len(data) > TOTAL_CAP:
            break
        kept.append((name, data))
        total += len(data)
    return kept


def build(run: RunDir, repros: dict[str, Repro], out: Path) -> list[str]:
    """Write the bundle to `out`; return the names it holds."""
    chosen = members(run, repros)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in chosen:
            info = tarfile.TarInfo(f"{run.run_id}/{name}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return [name for name, _ in chosen]


def texts(run: RunDir, repros: dict[str, Repro]) -> dict[str, str]:
    """The bundle as flat text files (what a gist holds); the HTML page stays out."""
    return {name.replace("/", "__"): data.decode("utf-8", errors="replace")
            for name, data in members(run, repros) if not name.endswith(".html")}


def _standalone(r: CellResult, repros: dict[str, Repro]) -> str | None:
    """The failing cell as one .cu, for repros written (and built) as a single source."""
    repro = repros.get(r.axes.get("repro", ""))
    if repro is None or repro.kind is not ReproKind.CUDA or len(repro.sources) != 1:
        return None
    knobs = tuple(sorted((k, v) for k, v in r.axes.items() if k in repro.knobs))
    cell = Cell(repro=repro.name,
                toolchain=Toolchain(name=r.axes["cuda"], kind=SourceKind.HOST, ref="auto"),
                cutlass=CutlassSource(name=r.axes["cutlass"], kind=CutlassKind.PATH, ref=""),
                arch=r.axes["arch"], knobs=knobs)
    try:
        return export.standalone(repro, cell, r.axes["cutlass"])
    except ValueError:  # a multi-TU build: no single .cu stands for it
        return None
