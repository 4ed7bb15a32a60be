"""matrix.yaml -> a validated Matrix -> the list of cells (include/exclude, presets, --only)."""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.spec import build_axes, selectors, yamlfile
from kit.spec.model import CORE_AXES, Cell, CutlassKind, CutlassSource, SourceKind, Toolchain
from kit.spec.repros import Repro
from kit.spec.yamlfile import KeyPath, Located
from kit.util.errors import UsageError

TOP_KEYS = ("toolchains", "cutlass", "axes", "include", "exclude", "presets")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_CUDA_VERSION = re.compile(r"^(\d+)\.(\d+)")

Combo = dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Preset:
    name: str
    description: str
    axes: dict[str, list[str]]
    include: list[Combo]
    exclude: list[Combo]


@dataclass(kw_only=True)
class Matrix:
    located: Located
    toolchains: dict[str, Toolchain]
    cutlass: dict[str, CutlassSource]
    repros: dict[str, Repro]
    axes: dict[str, list[str]]
    include: list[Combo] = field(default_factory=list)
    exclude: list[Combo] = field(default_factory=list)
    presets: dict[str, Preset] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.located.path

    def known_axes(self) -> list[str]:
        knobs = {k for r in self.repros.values() for k in r.knobs}
        return [*CORE_AXES, *sorted(knobs)]

    def axis_values(self, axis: str) -> list[str] | None:
        """Every value the axis can take here; None where any integer (or a pattern) may be
        one (a stage count, an arch list)."""
        if axis == "repro":
            return sorted(self.repros)
        if axis == "cuda":
            return list(self.toolchains)
        if axis == "cutlass":
            return list(self.cutlass)
        if axis == "arch":
            return sorted({a for r in self.repros.values() for a in r.archs})
        knobs = [r.knobs[axis] for r in self.repros.values() if axis in r.knobs]
        if any(k.integer or k.pattern for k in knobs):
            return None
        return sorted({v for k in knobs for v in k.values})


def load(path: Path, repros: dict[str, Repro]) -> Matrix:
    located = yamlfile.load(path)
    data = yamlfile.check_keys(located, (), located.data, TOP_KEYS, required=("toolchains",))
    matrix = Matrix(
        located=located,
        toolchains=_toolchains(located, data["toolchains"]),
        cutlass=_cutlass_sources(located, data.get("cutlass") or {}),
        repros=repros,
        axes={},
    )
    known = matrix.known_axes()
    matrix.axes = _axes(located, ("axes",), data.get("axes") or {}, known)
    matrix.include = _combos(located, ("include",), data.get("include") or [], known)
    matrix.exclude = _combos(located, ("exclude",), data.get("exclude") or [], known)
    presets = data.get("presets") or {}
    if not isinstance(presets, dict):
        raise located.error(("presets",), f"expected a mapping name -> preset, got "
                                          f"{yamlfile.type_name(presets)}")
    for name, spec in presets.items():
        matrix.presets[name] = _preset(located, ("presets", name), name, spec, known)
    # Expanding once with each preset validates every value against the repros now, so a
    # mistake in a rarely used preset is still caught at load time.
    expand(matrix)
    for name in matrix.presets:
        expand(matrix, preset=name)
    return matrix


def _toolchains(located: Located, raw: Any) -> dict[str, Toolchain]:
    if not isinstance(raw, dict) or not raw:
        raise located.error(("toolchains",), "expected a non-empty mapping name -> source",
                            hint="e.g. toolchains: {cuda13.0: {pip: '13.0.88'}}")
    out: dict[str, Toolchain] = {}
    kinds = [k.value for k in SourceKind]
    for name, spec in raw.items():
        keypath: KeyPath = ("toolchains", name)
        _check_name(located, keypath, name)
        spec = yamlfile.check_keys(located, keypath, spec, (*kinds, "cuda"))
        given = [k for k in kinds if k in spec]
        if len(given) != 1:
            raise located.error(keypath, f"give exactly one source ({', '.join(kinds)})",
                                hint="e.g. {pip: '13.0.88'} or {host: auto}")
        kind = SourceKind(given[0])
        ref = str(spec[kind.value])
        cuda = str(spec.get("cuda", ""))
        if kind is SourceKind.PIP:
            cuda = cuda or _major_minor(ref)
            if not _CUDA_VERSION.match(ref):
                raise located.error((*keypath, "pip"), f"'{ref}' is not a version such as 13.0.88")
        if kind is SourceKind.IMAGE and "@sha256:" not in ref:
            raise located.error((*keypath, "image"), "image toolchains must be pinned by digest",
                                hint="write REF@sha256:<digest>; `docker inspect` shows it")
        if kind in (SourceKind.IMAGE, SourceKind.APT) and not cuda:
            raise located.error(keypath, "say which CUDA version it provides: cuda: '12.9'")
        out[name] = Toolchain(name=name, kind=kind, ref=ref, cuda=cuda)
    return out


def _cutlass_sources(located: Located, raw: Any) -> dict[str, CutlassSource]:
    if not isinstance(raw, dict):
        raise located.error(("cutlass",), "expected a mapping name -> source")
    out: dict[str, CutlassSource] = {}
    kinds = [k.value for k in CutlassKind]
    for name, spec in raw.items():
        keypath: KeyPath = ("cutlass", str(name))
        _check_name(located, keypath, str(name))
        spec = yamlfile.check_keys(located, keypath, spec, kinds)
        if len(spec) != 1:
            raise located.error(keypath, f"give exactly one source ({', '.join(kinds)})",
                                hint="e.g. {pypi: '4.2.0.0'}")
        (kind_name, ref), = spec.items()
        kind = CutlassKind(kind_name)
        ref = str(ref)
        if kind is CutlassKind.GIT and "@" not in ref.rsplit("/", 1)[-1]:
            raise located.error((*keypath, "git"), "write URL@REF (a tag, branch or SHA)")
        out[str(name)] = CutlassSource(name=str(name), kind=kind, ref=ref)
    return out


def _axes(located: Located, keypath: KeyPath, raw: Any, known: list[str]) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        raise located.error(keypath, f"expected a mapping axis -> values, got "
                                     f"{yamlfile.type_name(raw)}")
    out: dict[str, list[str]] = {}
    for axis, values in raw.items():
        where = (*keypath, axis)
        _check_axis(located, where, axis, known)
        if not isinstance(values, list):
            values = [values] if not isinstance(values, dict) else values
        if not isinstance(values, list) or not values:
            raise located.error(where, "an axis needs a non-empty list of values")
        strs = []
        for i, v in enumerate(values):
            if isinstance(v, (dict, list)) or v is None:
                raise located.error((*where, i), f"expected a scalar value, got "
                                                 f"{yamlfile.type_name(v)}")
            strs.append(_text(v))
        out[axis] = strs
    return out


def _combos(located: Located, keypath: KeyPath, raw: Any, known: list[str]) -> list[Combo]:
    if not isinstance(raw, list):
        raise located.error(keypath, f"expected a list of mappings, got {yamlfile.type_name(raw)}")
    combos = []
    for i, entry in enumerate(raw):
        where = (*keypath, i)
        if not isinstance(entry, dict) or not entry:
            raise located.error(where, "expected a non-empty mapping axis: value")
        for axis, value in entry.items():
            _check_axis(located, (*where, axis), axis, known)
            if isinstance(value, (dict, list)) or value is None:
                raise located.error((*where, axis), "expected a scalar value")
        combos.append({a: _text(v) for a, v in entry.items()})
    return combos


def _preset(located: Located, keypath: KeyPath, name: str, raw: Any, known: list[str]) -> Preset:
    spec = yamlfile.check_keys(located, keypath, raw, ("description", "axes", "include", "exclude"))
    return Preset(
        name=name,
        description=str(spec.get("description", "")),
        axes=_axes(located, (*keypath, "axes"), spec.get("axes") or {}, known),
        include=_combos(located, (*keypath, "include"), spec.get("include") or [], known),
        exclude=_combos(located, (*keypath, "exclude"), spec.get("exclude") or [], known),
    )


def _check_axis(located: Located, keypath: KeyPath, axis: str, known: list[str]) -> None:
    if axis not in known:
        close = difflib.get_close_matches(axis, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known axes: {', '.join(known)}"
        raise located.error(keypath, f"unknown axis '{axis}'", hint=hint)


def _check_name(located: Located, keypath: KeyPath, name: str) -> None:
    if not _NAME.match(name):
        raise located.error(keypath, f"'{name}' is not a usable name (letters, digits, . _ + -)")


def _major_minor(version: str) -> str:
    m = _CUDA_VERSION.match(version)
    return f"{m.group(1)}.{m.group(2)}" if m else ""


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- expansion


# Beyond this the product is not expanded at all (memory and minutes); --max-cells guards runs.
MAX_COMBINATIONS = 1_000_000


def expand(matrix: Matrix, *, preset: str | None = None,
           only: dict[str, list[str]] | None = None,
           overrides: dict[str, list[str]] | None = None) -> list[Cell]:
    """Every cell of the matrix (or preset), in a stable order, filtered by `only`.
    `overrides` replace axes after the preset (the command line wins)."""
    axes = dict(matrix.axes)
    include, exclude = list(matrix.include), list(matrix.exclude)
    axes_key: KeyPath = ("axes",)
    if preset is not None:
        if preset not in matrix.presets:
            close = difflib.get_close_matches(preset, list(matrix.presets), n=1)
            hint = (f"did you mean '{close[0]}'?" if close
                    else f"presets: {', '.join(matrix.presets) or '(none defined)'}")
            raise UsageError(f"unknown preset '{preset}' in {matrix.path}", hint=hint)
        p = matrix.presets[preset]
        axes.update(p.axes)
        include += p.include
        exclude += p.exclude
        axes_key = ("presets", preset, "axes")
    axes.update(overrides or {})
    axes.setdefault("repro", sorted(matrix.repros))
    axes.setdefault("cuda", list(matrix.toolchains))
    axes.setdefault("cutlass", list(matrix.cutlass))
    if not axes["cutlass"]:
        raise matrix.located.error(("cutlass",), "no CUTLASS source defined",
                                   hint="e.g. cutlass: {'4.2': {pypi: '4.2.0.0'}}")

    names = list(axes)
    size = math.prod(len(v) for v in axes.values())
    if size > MAX_COMBINATIONS:
        widest = sorted(axes, key=lambda a: -len(axes[a]))[:3]
        raise UsageError(f"the axes multiply to {size:,} combinations (more than "
                         f"{MAX_COMBINATIONS:,})",
                         hint="the widest: " + ", ".join(f"{a} ({len(axes[a])} values)"
                                                         for a in widest))
    product = [dict(zip(names, values, strict=True))
               for values in itertools.product(*axes.values())]
    product = [c for c in product if not any(_matches(c, e) for e in exclude)]
    combos = _apply_include(product, include, axes)

    cells: dict[str, Cell] = {}
    for combo in combos:
        for cell in _cells_for(matrix, combo, axes_key, set(overrides or {})):
            if only and not _selected(cell, only):
                continue
            cells.setdefault(cell.label, cell)
    return list(cells.values())


def _matches(combo: Combo, pattern: Combo) -> bool:
    return all(combo.get(k) == v for k, v in pattern.items())


def _apply_include(product: list[Combo], include: list[Combo],
                   axes: dict[str, list[str]]) -> list[Combo]:
    """GitHub Actions semantics: an include entry extends every combination whose original
    axis values it matches (its other keys are added); one that extends none is added as a
    combination of its own, taking each axis that has a single value from the matrix, and
    one combination per value of a core axis (toolchain, CUTLASS) it leaves open."""
    combos = [dict(c) for c in product]
    for entry in include:
        extended = False
        for i, orig in enumerate(product):
            combo = combos[i]
            if all(orig.get(k) == v for k, v in entry.items() if k in axes):
                combo.update({k: v for k, v in entry.items() if k not in axes})
                extended = True
        if not extended:
            single = {a: vs[0] for a, vs in axes.items() if len(vs) == 1}
            open_core = [a for a in ("repro", "cuda", "cutlass")
                         if a not in entry and len(axes.get(a, [])) > 1]
            for values in itertools.product(*(axes[a] for a in open_core)):
                combos.append(single | dict(zip(open_core, values, strict=True)) | entry)
    return combos


def _cells_for(matrix: Matrix, combo: Combo, axes_key: KeyPath,
               from_command_line: Collection[str] = ()) -> list[Cell]:
    """The cell(s) one combination stands for. An axis the repro lacks does not apply to it;
    a missing core axis (in an include entry) means each value the matrix offers. A bad value
    of an axis in `from_command_line` (--axis) is the command line's mistake, not the file's."""
    located = matrix.located
    repro_name = combo.get("repro")
    if repro_name not in matrix.repros:
        close = difflib.get_close_matches(str(repro_name), list(matrix.repros), n=1)
        raise located.error((*axes_key, "repro"), f"unknown repro '{repro_name}'",
                            hint=f"did you mean '{close[0]}'?" if close
                            else f"repros: {', '.join(matrix.repros)}")
    repro = matrix.repros[repro_name]
    tc_name = combo.get("cuda")
    if tc_name not in matrix.toolchains:
        raise located.error((*axes_key, "cuda"), f"unknown toolchain '{tc_name}'",
                            hint=f"toolchains: {', '.join(matrix.toolchains)}")
    cl_name = combo.get("cutlass")
    if cl_name not in matrix.cutlass:
        raise located.error((*axes_key, "cutlass"), f"unknown CUTLASS source '{cl_name}'",
                            hint=f"cutlass: {', '.join(matrix.cutlass)}")
    arch = combo.get("arch")
    archs = [arch] if arch else list(repro.archs)
    knobs: dict[str, str] = {}
    for name, knob in repro.knobs.items():
        value = combo.get(name, knob.default)
        problem = repro.knob_problem(name, value)
        if problem is not None:
            message, hint = problem
            if name in from_command_line:
                raise UsageError(f"--axis {name}={value}: {message}", hint=hint)
            raise located.error((*axes_key, name), message, hint=hint)
        knobs[name] = value
    knobs = repro.pinned(knobs)
    return [
        Cell(repro=repro.name, toolchain=matrix.toolchains[tc_name],
             cutlass=matrix.cutlass[cl_name], arch=a, knobs=tuple(sorted(knobs.items())))
        for a in archs
        # an arch the source is not written for is not a cell, nor one its arch list lacks
        if a in repro.archs and build_axes.is_cell(a, knobs)
    ]


def cell_of(matrix: Matrix, values: dict[str, str]) -> Cell:
    """The one cell with these axis values (every core axis given), checked like the matrix's
    own cells; values of axes its repro lacks are ignored."""
    missing = [a for a in CORE_AXES if a not in values]
    if missing:
        raise UsageError(f"a cell needs a value for {', '.join(missing)}")
    found = _cells_for(matrix, dict(values), ())
    if len(found) != 1:
        raise UsageError(f"{', '.join(f'{a}={v}' for a, v in values.items())} is not a cell "
                         "of this matrix (an arch its repro or arch list lacks)")
    return found[0]


def _selected(cell: Cell, only: dict[str, list[str]]) -> bool:
    return selectors.matches(cell.axes, only)
