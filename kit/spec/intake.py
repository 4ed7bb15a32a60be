"""A user's own .cu files into repros/<name>/, as they are: the sources, the local headers they
include, and a repro.yaml that names the targets, the flags and every macro the sources test
with #if / #ifdef / #ifndef as a candidate knob (commented, with the values seen).

Nothing in the sources changes. kit reads the program's own output (kit.plainout) and
CUTLASS's host trace, which the repro.yaml compiles in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kit.spec import build_axes
from kit.spec.model import CORE_AXES
from kit.spec.model import digest as model_digest
from kit.util.errors import UsageError

SOURCE_SUFFIXES = (".cu", ".cpp", ".cc", ".cxx")
DEFAULT_FLAGS = ("-std=c++17", "--expt-relaxed-constexpr", "-O2")
_MAIN = re.compile(r"^\s*(?:int|auto)\s+main\s*\(", re.MULTILINE)
_QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)
_DIRECTIVE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif)\b(.*)$")
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)(?:\s+(\S.*?))?\s*(?://.*)?$")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_COMPARE = re.compile(r"\b([A-Za-z_]\w*)\s*(==|!=|>=|<=|>|<)\s*(-?\d+)\b")
# Macros a compiler, CUDA or CUTLASS sets, or that only a compiler's own headers test.
_NOT_KNOBS = re.compile(r"^(_.*|defined|CUTLASS_.*|CUTE_.*|CUDA_.*|CUDART_.*|NDEBUG|DEBUG|"
                        r"WIN32|_WIN32|__.*|true|false|KIT_REPRO|KIT_KNOBS)$")
# CUTLASS's arch tags name the target: Sm90 -> sm_90a (the arch-specific features CUTLASS's
# Hopper/Blackwell kernels need).
_ARCH_TAG = re.compile(r"cutlass::arch::Sm(\d{2,3})\b")
_TAG_ARCHS = {"90": ("sm_90a",), "100": ("sm_100a",), "103": ("sm_103a",),
              "120": ("sm_120a", "sm_121a"), "121": ("sm_121a",)}
# The first CUDA release whose nvcc knows each target (notes: nvcc targets per CUDA version).
_MIN_CUDA = {"sm_90a": "12.0", "sm_100a": "12.8", "sm_103a": "12.9", "sm_120a": "12.8",
             "sm_121a": "12.9"}


@dataclass
class Candidate:
    """A macro the sources test: a knob the user may turn on by uncommenting it."""

    macro: str
    values: list[str] = field(default_factory=list)  # numbers seen in comparisons
    default: str = ""  # `#ifndef X / #define X V` gives V
    tested_defined: bool = False  # #ifdef / #ifndef / defined(X), and no value compared
    ordered: bool = False  # compared with < or >: any integer may be meant
    valued: bool = False  # its value is used in code (StageCount<X>): any integer may be meant
    seen: list[str] = field(default_factory=list)  # file:line  directive

    @property
    def knob(self) -> str:
        name = self.macro.lower()
        return f"m_{name}" if name in CORE_AXES or name in build_axes.AXES else name

    def yaml(self) -> str:
        """The knob's repro.yaml line (one YAML flow mapping)."""
        if self.tested_defined and not self.values and not self.default:
            if self.valued:  # `#ifdef X ... Foo<X>`: unset, or a number (--axis x=off,7)
                return (f'{self.knob}: {{macro: {self.macro}, default: "off", '
                        f'values: {{"off": {{}}}}, integer: true}}')
            return (f'{self.knob}: {{default: "off", values: {{"off": {{}}, '
                    f'"on": {{{self.macro}: 1}}}}}}')
        values = sorted(set(self.values) | ({self.default} if self.default else set()),
                        key=lambda v: (not v.lstrip("-").isdigit(), int(v) if
                                       v.lstrip("-").isdigit() else 0, v))
        if not values:
            values = ["0", "1"]
        default = self.default or values[0]
        listed = ", ".join(f'"{v}": {v}' for v in values)
        integer = ", integer: true" if self.ordered or self.valued else ""
        return (f'{self.knob}: {{macro: {self.macro}, default: "{default}", '
                f"values: {{{listed}}}{integer}}}")


@dataclass(frozen=True)
class Program:
    """One repro to be: its sources (the first holds main) and every local header."""

    name: str
    sources: tuple[Path, ...]
    headers: tuple[Path, ...]
    missing: tuple[str, ...]  # quoted includes found neither beside their file nor in CUTLASS

    @property
    def files(self) -> tuple[Path, ...]:
        return (*self.sources, *self.headers)

    @property
    def root(self) -> Path:
        """The folder all its files sit under: their layout is kept below it."""
        return Path(os.path.commonpath([str(p.parent) for p in self.files]))


@dataclass(frozen=True)
class Added:
    name: str
    folder: Path
    archs: tuple[str, ...]
    knobs: tuple[Candidate, ...]
    files: tuple[str, ...]
    missing: tuple[str, ...]


def programs(paths: list[Path], name: str | None = None) -> list[Program]:
    """The programs among these files and folders: each file with a main() is one, the
    files without one are sources of each. A folder stands for the sources under it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in SOURCE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    # absolute, not resolved: a symlinked file keeps its place beside the files it includes
    files = list(dict.fromkeys(Path(os.path.normpath(Path.cwd() / p)) for p in files))
    if not files:
        raise UsageError("no .cu source among the paths given",
                         hint=f"kit reads {', '.join(SOURCE_SUFFIXES)} files")
    mains = [p for p in files if _MAIN.search(p.read_text(errors="replace"))]
    if not mains:
        raise UsageError("no source defines main()",
                         hint="kit runs programs: give the file that holds main()")
    shared = [p for p in files if p not in mains]
    out = []
    for main in mains:
        own = name if name and len(mains) == 1 else \
            f"{name}_{slug(main.stem)}" if name else slug(main.stem)
        sources = (main, *shared)
        headers, missing = local_headers(sources)
        out.append(Program(own, sources, headers, missing))
    return out


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "repro"


def local_headers(sources: tuple[Path, ...]) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """Every quoted include found beside the file that includes it, followed through the
    headers themselves; and those not found there (CUTLASS's own, or a header to copy)."""
    found: list[Path] = []
    missing: list[str] = []
    todo = list(sources)
    seen = set(todo)
    while todo:
        current = todo.pop(0)
        for include in _QUOTED_INCLUDE.findall(current.read_text(errors="replace")):
            target = Path(os.path.normpath(current.parent / include))
            if target.is_file():
                if target not in seen:
                    seen.add(target)
                    found.append(target)
                    todo.append(target)
            elif not include.startswith(("cutlass/", "cute/")):
                missing.append(include)
    return tuple(found), tuple(dict.fromkeys(missing))


def archs_of(texts: list[str]) -> tuple[str, ...]:
    tags = sorted({m for t in texts for m in _ARCH_TAG.findall(t)}, key=int)
    return tuple(a for tag in tags for a in _TAG_ARCHS.get(tag, ()))


def candidates(files: list[Path], root: Path) -> list[Candidate]:
    """Macros the files test, in the order first seen, include guards and the macros a file
    defines for itself left out."""
    found: dict[str, Candidate] = {}
    own: set[str] = set()
    for path in files:
        lines = path.read_text(errors="replace").splitlines()
        where = path.relative_to(root) if path.is_relative_to(root) else path
        for i, text in enumerate(lines):
            define = _DEFINE.match(text)
            if define:
                guarded = i > 0 and re.match(rf"^\s*#\s*ifndef\s+{define.group(1)}\b",
                                             lines[i - 1])
                if guarded and define.group(2) is not None and define.group(1) in found:
                    found[define.group(1)].default = define.group(2).strip("()")
                elif not guarded:
                    own.add(define.group(1))
                elif define.group(2) is None:  # an include guard
                    found.pop(define.group(1), None)
                continue
            directive = _DIRECTIVE.match(text)
            if directive is None:
                continue
            kind, expr = directive.group(1), directive.group(2).split("//")[0]
            for macro in _IDENT.findall(expr):
                if _NOT_KNOBS.match(macro) or macro.isdigit():
                    continue
                cand = found.setdefault(macro, Candidate(macro))
                cand.seen.append(f"{where}:{i + 1}  #{kind}{expr.rstrip()}")
                if kind in ("ifdef", "ifndef") or f"defined({macro})" in expr.replace(" ", "") \
                        or re.search(rf"defined\s+{macro}\b", expr):
                    cand.tested_defined = True
            for macro, op, value in _COMPARE.findall(expr):
                if macro in found:
                    found[macro].values.append(value)
                    found[macro].ordered |= op in ("<", ">", "<=", ">=")
    text = "\n".join(p.read_text(errors="replace") for p in files)
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)  # comments say, not use
    code = "\n".join(ln for ln in text.splitlines()  # a #define's body uses its macros
                     if not re.match(r"\s*#\s*(?!define)", ln))
    for macro, cand in found.items():
        used = re.sub(rf"^\s*#\s*define\s+{macro}\b.*$", "", code, flags=re.MULTILINE)
        cand.valued = re.search(rf"\b{macro}\b", used) is not None
    return [c for m, c in found.items() if m not in own]


def add(paths: list[Path], repros_dir: Path, *, name: str | None = None,
        archs: tuple[str, ...] = (), replace: bool = False) -> list[Added]:
    """Make repros_dir/<name>/ for each program: files copied with their layout, repro.yaml
    written. A folder that exists is an error unless `replace`."""
    made = []
    progs = programs(paths, name)
    # a step file without an arch tag takes the targets of the programs it came with
    together = archs or archs_of([p.read_text(errors="replace") for g in progs for p in g.files])
    for prog in progs:
        folder = repros_dir / prog.name
        if folder.exists() and not replace:
            raise UsageError(f"{folder} exists", hint="choose another --name, or --replace it")
    for prog in progs:
        own = archs or archs_of([p.read_text(errors="replace") for p in prog.files])
        made.append(write(prog, repros_dir / prog.name, archs=own or together))
    return made


def write(prog: Program, folder: Path, *, archs: tuple[str, ...] = (),
          flags: tuple[str, ...] = DEFAULT_FLAGS) -> Added:
    texts = [p.read_text(errors="replace") for p in prog.files]
    targets = archs or archs_of(texts)
    if not targets:
        raise UsageError(f"{prog.sources[0].name}: no CUTLASS arch tag (cutlass::arch::SmNN) "
                         "to take the target from", hint="name it: --arch sm_90a")
    root = prog.root
    knobs = candidates(list(prog.files), root)
    staging = folder.with_name(f".{folder.name}.adding")
    if staging.exists():
        shutil.rmtree(staging)
    rel = [p.relative_to(root) for p in prog.files]
    for src, dst in zip(prog.files, rel, strict=True):
        (staging / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, staging / dst)
    (staging / "repro.yaml").write_text(repro_yaml(prog, rel[:len(prog.sources)], targets,
                                                   knobs, flags))
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)  # whole or not at all
    return Added(prog.name, folder, targets, tuple(knobs), tuple(str(r) for r in rel),
                 prog.missing)


def _shown(path: Path) -> Path:
    """A path as the user would type it: relative to where kit runs, when under it."""
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def repro_yaml(prog: Program, sources: list[Path], archs: tuple[str, ...],
               knobs: list[Candidate], flags: tuple[str, ...]) -> str:
    min_cuda = max((_MIN_CUDA.get(a, "12.0") for a in archs),
                   key=lambda v: tuple(int(x) for x in v.split(".")))
    helper = any(Path(m).name == "helper.h" for m in prog.missing)
    lines = [
        f"# Made by `kit repro add` from {_shown(prog.sources[0])}.",
        "# The sources are as you wrote them. Edit this file: it is the repro.",
        f"description: {json.dumps(prog.sources[0].name + ' (a program of your own, as it is)')}",
        "kind: cuda",
        f"sources: [{', '.join(json.dumps(str(s)) for s in sources)}]",
        f"archs: [{', '.join(archs)}]",
        f'min_cuda: "{min_cuda}"',
        f"flags: [{', '.join(json.dumps(f) for f in flags)}]",
        "run_args: []",
        "# CUTLASS's host trace, compiled in (-DCUTLASS_DEBUG_TRACE_LEVEL=1), tells kit which call",
        "# inside initialize() failed and why (the shared memory asked for, the CUDA error).",
        "trace: true",
        "# --axis cutlass_trace=on,off builds both ways: the trace should change no outcome.",
        "build_axes: [cutlass_trace]",
    ]
    if helper:
        lines += ["# helper.h is not beside the source: CUTLASS's examples/common has one.",
                  "cutlass_include: [examples/common]"]
    lines += [
        "# kit reads CUTLASS's status names (`initialize(): Error Internal`), CUTLASS_CHECK's",
        "# `Got cutlass error`, and `Disposition: Passed|Failed`. Your program's own words go",
        "# here, one regular expression per line kind:",
        "# expect:",
        '#   passed: "^All groups match"',
        '#   failed: "^MISMATCH"',
        '#   error: "^FATAL"',
        "# Macros your sources test, offered as knobs: uncomment one to make it an axis",
        "# (kit matrix run --only repro=NAME --axis KNOB=V1,V2 runs each value).",
        "knobs:",
    ]
    for cand in knobs:
        lines.append(f"  # {cand.yaml()}")
        lines += [f"  #     seen: {s}" for s in cand.seen[:3]]
    if not knobs:
        lines.append("  # (no #if / #ifdef / #ifndef macro found)")
    return "\n".join(lines) + "\n"


_DEFINE_ARG = re.compile(r"^[A-Za-z_]\w*(=[^$`\\]*)?$")


def scratch(path: Path, under: Path, *, defines: tuple[str, ...] = (),
            archs: tuple[str, ...] = ()) -> tuple[Path, str]:
    """One program made into a repro in a folder of its own under `under` (cache.adhoc()), for
    `kit repro run FILE.cu`: -D MACRO[=VALUE] become flags. Returns (repros folder, name)."""
    for d in defines:
        if not _DEFINE_ARG.match(d):
            raise UsageError(f"-D {d}: expected MACRO or MACRO=VALUE",
                             hint="a value holds no $, ` or \\ (nvcc's shell would expand them)")
    progs = programs([path])
    if len(progs) != 1:
        raise UsageError(f"{path}: one program at a time", hint="kit repro add takes several")
    prog = progs[0]
    key = model_digest([str(p) for p in prog.files], 12)
    folder = under / key
    write(prog, folder / prog.name, archs=archs,
          flags=(*DEFAULT_FLAGS, *(f"-D{d}" for d in defines)))
    return folder, prog.name
