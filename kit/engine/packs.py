"""A pack: a run's builds, carried to a GPU machine that has no toolchain, CUTLASS or network.

One compressed tar: pack.json (what was compiled where, each cell, and the sha256 of every file
in the pack), builds/<compile key>/ (the binary, its meta.json and compiler log, by content, once
each), repros/ (the repro folders and the harness: run arguments, expectations, kinds). Opened,
every file is checked against pack.json before anything runs: a truncated or tampered pack is
refused whole.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kit.sources.images import file_digest
from kit.spec.model import Cell, CutlassKind, CutlassSource, SourceKind, Toolchain
from kit.util.errors import KitError

FORMAT = 1


class PackError(KitError):
    """A pack that cannot be used as it is: truncated, altered, or of another format."""

    exit_code = 6


@dataclass(frozen=True)
class Opened:
    root: Path  # where it was unpacked: pack.json, builds/, repros/
    data: dict[str, Any]  # pack.json

    def cells(self) -> list[tuple[Cell, dict[str, Any]]]:
        return [(cell_from(c["cell"]), c) for c in self.data["cells"]]


def cell_to(cell: Cell) -> dict[str, Any]:
    return {"repro": cell.repro, "arch": cell.arch, "knobs": [list(k) for k in cell.knobs],
            "toolchain": {"name": cell.toolchain.name, "kind": cell.toolchain.kind.value,
                          "ref": cell.toolchain.ref, "cuda": cell.toolchain.cuda},
            "cutlass": {"name": cell.cutlass.name, "kind": cell.cutlass.kind.value,
                        "ref": cell.cutlass.ref}}


def cell_from(data: dict[str, Any]) -> Cell:
    tc, cl = data["toolchain"], data["cutlass"]
    return Cell(repro=data["repro"], arch=data["arch"],
                knobs=tuple((str(k), str(v)) for k, v in data["knobs"]),
                toolchain=Toolchain(name=tc["name"], kind=SourceKind(tc["kind"]), ref=tc["ref"],
                                    cuda=tc.get("cuda", "")),
                cutlass=CutlassSource(name=cl["name"], kind=CutlassKind(cl["kind"]),
                                      ref=cl["ref"]))


def write(out: Path, meta: dict[str, Any], members: dict[str, Path]) -> int:
    """Write the pack: `members` maps a path inside it to a file here. Returns its size."""
    digests = {name: _sha256(path) for name, path in sorted(members.items())}
    data = {**meta, "format": FORMAT, "files": digests}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    with tarfile.open(tmp, "w:gz") as tar:
        blob = json.dumps(data, indent=1, sort_keys=True).encode()
        info = tarfile.TarInfo("pack.json")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
        for name, path in sorted(members.items()):
            tar.add(path, arcname=name, recursive=False)
    tmp.replace(out)
    return out.stat().st_size


def open_pack(path: Path, into: Path) -> Opened:
    """Unpack into `into` and check every file; PackError says what is wrong."""
    if not path.is_file():
        raise PackError(f"{path}: no such pack", hint="make one with `kit pack -o FILE`")
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                p = PurePosixPath(m.name)
                if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
                    raise PackError(f"{path}: {m.name} would land outside the pack")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise PackError(f"{path}: not a whole pack ({exc})",
                        hint="copy it again; its size was printed when it was made") from None
    try:
        data = json.loads((into / "pack.json").read_text())
    except (OSError, ValueError) as exc:
        raise PackError(f"{path}: no readable pack.json ({exc})") from None
    if data.get("format") != FORMAT:
        raise PackError(f"{path}: pack format {data.get('format')}, this kit reads {FORMAT}",
                        hint=f"made by kit {data.get('kit_version', '?')}: run it with that "
                             "kit, or pack again with this one")
    listed = data.get("files") or {}
    found = {str(p.relative_to(into)) for p in into.rglob("*") if p.is_file()} - {"pack.json"}
    if found != set(listed):
        odd = sorted(found ^ set(listed))[:3]
        raise PackError(f"{path}: its files differ from its list ({', '.join(odd)})",
                        hint="the pack was altered after it was made: pack again")
    for name, digest in listed.items():
        if _sha256(into / name) != digest:
            raise PackError(f"{path}: {name} does not match its sha256",
                            hint="the pack was altered or damaged: copy or pack it again")
    return Opened(into, data)


def _sha256(path: Path) -> str:
    return file_digest(path).hex()
