"""The repro catalogue: repros/<name>/repro.yaml, and how a cell's knobs become -D macros."""

from __future__ import annotations

import difflib
import enum
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from kit.spec import build_axes, yamlfile
from kit.spec.yamlfile import Located
from kit.util.errors import MatrixError

HARNESS_DIR = "harness"
_MACRO = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARCH = re.compile(r"^sm_\d{2,3}[af]?$")
# How a program without the harness says what happened (it prints no KIT_RESULT line): the
# CUTLASS examples' spellings, which a repro.yaml's `expect:` extends or replaces key by key.
EXAMPLE_EXPECT = {
    "passed": r"^\s*Disposition:\s*Passed",
    "failed": r"^\s*Disposition:\s*Failed",
    "refused": r"requires (a GPU|CUDA \d)",
}
EXPECT_KEYS = ("passed", "failed", "error", "refused")
# What CUTLASS compiles its host trace in with; kit.plainout reads what it prints.
TRACE_DEFINE = "CUTLASS_DEBUG_TRACE_LEVEL=1"
# A source that includes one of these speaks kit's harness (prints KIT_RESULT).
_HARNESS_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](kit_harness\.h|kit_units\.h)[>"]',
                              re.MULTILINE)


class ReproKind(str, enum.Enum):
    """What a repro is: a C++ program (with kit's harness or without), one of CUTLASS's own
    examples from the chosen CUTLASS, or a python script (the production probe)."""

    CUDA = "cuda"
    CUTLASS_EXAMPLE = "cutlass_example"
    PYTHON = "python"


@dataclass(frozen=True, kw_only=True)
class Knob:
    """One axis a repro understands, and the macros each value sets."""

    name: str
    default: str
    values: dict[str, tuple[tuple[str, str], ...]]  # value -> ((MACRO, text), ...)
    macro: str = ""  # the macro an integer value passes through to
    integer: bool = False
    pattern: str = ""  # a regex of further values kit itself interprets (build axes)
    about: str = ""  # what such a value is, for error messages

    def defines(self, value: str) -> tuple[tuple[str, str], ...]:
        if value in self.values:
            return self.values[value]
        if self.integer and value.lstrip("-").isdigit():
            return ((self.macro, value),)
        if self.pattern and re.fullmatch(self.pattern, value):
            return ()
        raise KeyError(value)

    def accepts(self, value: str) -> bool:
        try:
            self.defines(value)
        except KeyError:
            return False
        return True

    def describe_values(self) -> str:
        names = list(self.values)
        more = ", or an integer" if self.integer else f", or {self.about}" if self.about else ""
        return ", ".join(names) + more


@dataclass(frozen=True)
class Unit:
    """One translation unit of a multi-TU build (`units:`)."""

    source: str
    per_arch: bool = False  # compiled once per arch of the cell's arch list


@dataclass(frozen=True, kw_only=True)
class Repro:
    name: str
    root: Path  # repros/<name>
    description: str
    kind: ReproKind
    sources: tuple[str, ...]
    archs: tuple[str, ...]
    min_cuda: str
    flags: tuple[str, ...]
    run_args: tuple[str, ...]
    knobs: dict[str, Knob] = field(default_factory=dict)
    # cutlass_example: the program lives in the CUTLASS tree, under examples/
    example: str = ""
    # how a program without the harness says passed / failed / error / refused (regexes)
    expect: dict[str, str] = field(default_factory=dict)
    trace: bool = False  # CUTLASS's host trace compiled in (TRACE_DEFINE)
    harness: bool = False  # its sources print KIT_RESULT (kit's harness)
    # include folders inside the chosen CUTLASS tree (examples/common holds the examples'
    # helper.h, which programs derived from them include)
    cutlass_include: tuple[str, ...] = ()
    units: tuple[Unit, ...] = ()  # the per_arch layout's translation units
    # python: the script kit runs, the environment it gets ({cache}, {cuda}, {cpus}, {jobs} filled
    # in), and the packages kit installs for it: axis -> pip requirement with {value}
    script: str = ""
    env: dict[str, str] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    with_packages: tuple[str, ...] = ()  # what those packages import, installed beside them
    run_timeout: float = 0.0  # seconds; 0: the run's --run-timeout
    # axis -> value -> {other axis: value}: choosing vllm=0.11.0 uses vLLM's flashinfer pin
    pins: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def pinned(self, knobs: dict[str, str]) -> dict[str, str]:
        """The knob values with every pin applied (a pinning axis wins over the pinned)."""
        out = dict(knobs)
        for axis, by_value in self.pins.items():
            out |= by_value.get(out.get(axis, ""), {})
        return out

    def knob_problem(self, name: str, value: str) -> tuple[str, str] | None:
        """Why `name=value` makes no cell of this repro, as (message, hint); None when it
        does. The one check of a knob value, wherever it was written."""
        if name not in self.knobs:
            return f"repro {self.name} has no knob {name}", f"knobs: {', '.join(self.knobs)}"
        if self.knobs[name].accepts(value):
            return None
        return (f"repro {self.name} has no {name} '{value}'",
                f"values: {self.knobs[name].describe_values()}")

    def traced(self, knobs: dict[str, str]) -> bool:
        """Whether this cell compiles CUTLASS's host trace in (the cutlass_trace axis can say
        on or off; by default the repro.yaml's `trace:`)."""
        value = knobs.get(build_axes.TRACE, build_axes.AXES[build_axes.TRACE].default)
        return value == "on" or (value == "default" and self.trace)

    def source_paths(self, cutlass_root: Path) -> list[Path]:
        if self.kind is ReproKind.CUTLASS_EXAMPLE:
            return [cutlass_root / "examples" / self.example]
        return [self.root / src for src in self.sources]

    def include_dirs(self, cutlass_root: Path) -> list[Path]:
        """Beyond CUTLASS's own include/ folders."""
        if self.kind is ReproKind.CUTLASS_EXAMPLE:
            example_dir = (cutlass_root / "examples" / self.example).parent
            return [cutlass_root / "examples" / "common", example_dir]
        return [self.root.parent / HARNESS_DIR, *(cutlass_root / d for d in self.cutlass_include)]

    def defines(self, knobs: dict[str, str]) -> list[tuple[str, str]]:
        """The -D macros for these knob values (defaults filled in), in a stable order."""
        out: list[tuple[str, str]] = []
        for name, knob in sorted(self.knobs.items()):
            out.extend(knob.defines(knobs.get(name, knob.default)))
        return out

    def source_digest(self) -> str:
        """Hash of every file that can change the binary: the repro's folder and the harness."""
        h = hashlib.sha256()
        for folder in (self.root, self.root.parent / HARNESS_DIR):
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                if path.name == "README.md":
                    continue
                h.update(str(path.relative_to(folder.parent)).encode())
                h.update(path.read_bytes())
        return h.hexdigest()[:16]


def discover(repros_dir: Path) -> dict[str, Repro]:
    """Every repro under repros_dir, validated; the harness folder is not one."""
    if not repros_dir.is_dir():
        raise MatrixError(f"{repros_dir}: no repros folder",
                          hint="run kit from the project root, or pass --matrix PATH/matrix.yaml "
                               "(its folder holds repros/)")
    found: dict[str, Repro] = {}
    for spec in sorted(repros_dir.glob("*/repro.yaml")):
        repro = load(spec)
        found[repro.name] = repro
    return found


def load(spec_path: Path) -> Repro:
    located = yamlfile.load(spec_path)
    data = yamlfile.check_keys(
        located, (), located.data,
        ("description", "kind", "sources", "archs", "min_cuda", "flags", "run_args", "knobs",
         "example", "expect", "units", "build_axes", "script", "env", "packages", "with",
         "timeout", "pins", "trace", "cutlass_include"),
        required=("kind", "archs"),
    )
    root = spec_path.parent.resolve()  # compiles run elsewhere (cwd = build folder)
    text = _string(located, ("kind",), data["kind"])
    try:
        kind = ReproKind(text)
    except ValueError:
        raise located.error(("kind",), f"unknown repro kind '{text}'",
                            hint=f"known kinds: {', '.join(k.value for k in ReproKind)}"
                            ) from None
    example = str(data.get("example", ""))
    if kind is ReproKind.CUTLASS_EXAMPLE:
        if not example or Path(example).is_absolute() or ".." in Path(example).parts:
            raise located.error(("example",), "a cutlass_example needs example: DIR/FILE.cu "
                                "(relative to CUTLASS's examples/)")
    elif kind is ReproKind.PYTHON:
        script = str(data.get("script", ""))
        if not script or Path(script).is_absolute() or ".." in Path(script).parts \
                or not (root / script).is_file():
            raise located.error(("script",), f"a python repro needs script: FILE.py inside {root}")
    elif "sources" not in data:
        raise located.error((), "missing required key 'sources'")
    packages = _packages(located, data.get("packages") or {})
    env = data.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(v, (str, int)) for v in env.values()):
        raise located.error(("env",), "expected a mapping NAME -> text")
    expect = dict(EXAMPLE_EXPECT)
    raw_expect = data.get("expect") or {}
    if not isinstance(raw_expect, dict):
        raise located.error(("expect",), "expected a mapping passed/failed/error/refused -> "
                            "regular expression")
    if kind is ReproKind.PYTHON and raw_expect:
        raise located.error(("expect",), "a python repro reports through KIT_RESULT; "
                            "expect: is for programs without the harness")
    for key, pattern in raw_expect.items():
        if key not in EXPECT_KEYS:
            close = difflib.get_close_matches(str(key), EXPECT_KEYS, n=1)
            raise located.error(("expect", key), "unknown expectation",
                                hint=f"did you mean '{close[0]}'?" if close
                                else f"known: {', '.join(EXPECT_KEYS)}")
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise located.error(("expect", key), f"not a regular expression: {exc}") from None
        expect[key] = str(pattern)
    sources = _strings(located, ("sources",), data.get("sources", []))
    if kind is ReproKind.PYTHON and "sources" not in data:
        sources = [str(data.get("script"))]
    for i, src in enumerate(sources):
        if Path(src).is_absolute() or ".." in Path(src).parts or not (root / src).is_file():
            raise located.error(("sources", i), f"'{src}' is not a file inside {root}")
    archs = _strings(located, ("archs",), data["archs"])
    for i, arch in enumerate(archs):
        if not _ARCH.match(arch):
            raise located.error(("archs", i), f"'{arch}' is not an nvcc arch such as sm_90a")
    raw_knobs = data.get("knobs") or {}
    if not isinstance(raw_knobs, dict):
        raise located.error(("knobs",), "expected a mapping knob -> {macro, default, values}")
    knobs = {name: _knob(located, ("knobs", name), name, spec, plain=kind is ReproKind.PYTHON)
             for name, spec in raw_knobs.items()}
    for axis in packages:
        if axis not in knobs:
            raise located.error(("packages", axis), f"'{axis}' is not one of the knobs",
                                hint="a package's version comes from a knob's value")
    units = _units(located, root, data.get("units") or [])
    cutlass_include = _strings(located, ("cutlass_include",), data.get("cutlass_include", []))
    for i, folder in enumerate(cutlass_include):
        if Path(folder).is_absolute() or ".." in Path(folder).parts:
            raise located.error(("cutlass_include", i), f"'{folder}' is not a folder inside "
                                "the CUTLASS tree", hint="e.g. examples/common")
    trace = data.get("trace")
    if trace is not None and not isinstance(trace, bool):
        raise located.error(("trace",), "expected true or false")
    harness = kind is not ReproKind.CUTLASS_EXAMPLE and _speaks_harness(
        [root / s for s in sources] + [root / u.source for u in units])
    if trace is None:  # a program that prints no KIT_RESULT is read through CUTLASS's trace
        trace = kind is not ReproKind.PYTHON and not harness
    for i, axis in enumerate(_strings(located, ("build_axes",), data.get("build_axes", []))):
        if axis in knobs:
            raise located.error(("build_axes", i), f"'{axis}' is also one of the knobs")
        try:
            spec = build_axes.axis(axis, has_units=bool(units))
        except KeyError as exc:
            close = difflib.get_close_matches(axis, list(build_axes.AXES), n=1)
            raise located.error(("build_axes", i), str(exc.args[0]),
                                hint=f"did you mean '{close[0]}'?" if close and close[0] != axis
                                else f"build axes: {', '.join(build_axes.AXES)}") from None
        knobs[axis] = Knob(name=axis, default=spec.default, values={v: () for v in spec.values},
                           pattern=spec.pattern, about=spec.about)
    return Repro(
        name=root.name,
        root=root,
        description=str(data.get("description", "")),
        kind=kind,
        sources=tuple(sources),
        archs=tuple(archs),
        min_cuda=str(data.get("min_cuda", "")),
        flags=tuple(_strings(located, ("flags",), data.get("flags", []))),
        run_args=tuple(_strings(located, ("run_args",), data.get("run_args", []))),
        knobs=knobs,
        example=example,
        expect=expect if kind is not ReproKind.PYTHON else {},
        trace=trace,
        harness=harness,
        cutlass_include=tuple(cutlass_include),
        units=units,
        script=str(data.get("script", "")),
        env={str(k): str(v) for k, v in env.items()},
        packages=packages,
        with_packages=tuple(_strings(located, ("with",), data.get("with", []))),
        run_timeout=_seconds(located, data.get("timeout", 0)),
        pins=_pins(located, data.get("pins") or {}, knobs),
    )


def _speaks_harness(paths: list[Path]) -> bool:
    return any(_HARNESS_INCLUDE.search(p.read_text(errors="replace")) for p in paths
               if p.is_file())


def _pins(located: Located, raw: object, knobs: dict[str, Knob]
          ) -> dict[str, dict[str, dict[str, str]]]:
    """pins: {axis: {value: {other_axis: value}}}, every name and value a knob's."""
    if not isinstance(raw, dict):
        raise located.error(("pins",), "expected a mapping axis -> {value: {axis: value}}")
    out: dict[str, dict[str, dict[str, str]]] = {}
    for axis, by_value in raw.items():
        where: tuple[str, ...] = ("pins", str(axis))
        if axis not in knobs or not isinstance(by_value, dict):
            raise located.error(where, f"'{axis}' is not one of the knobs, or maps no values")
        out[str(axis)] = {}
        for value, settings in by_value.items():
            if not knobs[axis].accepts(str(value)) or not isinstance(settings, dict):
                raise located.error((*where, str(value)), f"'{value}' is not a value of {axis}")
            for other, pinned in settings.items():
                if other not in knobs or not knobs[other].accepts(str(pinned)):
                    raise located.error((*where, str(value), str(other)),
                                        f"{other}={pinned} is not a knob value")
            out[str(axis)][str(value)] = {str(k): str(v) for k, v in settings.items()}
    return out


def _seconds(located: Located, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
        raise located.error(("timeout",), "expected seconds (a number)")
    return float(raw)


def _packages(located: Located, raw: object) -> dict[str, str]:
    """axis -> pip requirement, `{value}` standing for the cell's value of that axis."""
    if not isinstance(raw, dict):
        raise located.error(("packages",), "expected a mapping axis -> 'name=={value}'")
    out = {}
    for axis, requirement in raw.items():
        if not isinstance(requirement, str) or "{value}" not in requirement:
            raise located.error(("packages", axis), "expected a pip requirement holding "
                                "{value}, e.g. 'flashinfer-python=={value}'")
        out[str(axis)] = requirement
    return out


def _units(located: Located, root: Path, raw: object) -> tuple[Unit, ...]:
    if not isinstance(raw, list):
        raise located.error(("units",), f"expected a list, got {yamlfile.type_name(raw)}")
    units = []
    for i, spec in enumerate(raw):
        data = yamlfile.check_keys(located, ("units", i), spec, ("source", "per_arch"),
                                   required=("source",))
        src = _string(located, ("units", i, "source"), data["source"])
        if Path(src).is_absolute() or ".." in Path(src).parts or not (root / src).is_file():
            raise located.error(("units", i, "source"), f"'{src}' is not a file inside {root}")
        per_arch = data.get("per_arch", False)
        if not isinstance(per_arch, bool):
            raise located.error(("units", i, "per_arch"), "expected true or false")
        units.append(Unit(src, per_arch))
    return tuple(units)


def _knob(located: Located, keypath: tuple[str, ...], name: str, spec: object, *,
          plain: bool = False) -> Knob:
    """plain (a python repro): values are a list, no macros; the script reads KIT_KNOBS."""
    if plain:
        data = yamlfile.check_keys(located, keypath, spec, ("default", "values"),
                                   required=("default", "values"))
        names = _strings(located, (*keypath, "values"), data["values"])
        knob = Knob(name=name, default=_scalar(data["default"]), values={v: () for v in names})
        if not knob.accepts(knob.default):
            raise located.error((*keypath, "default"), f"'{knob.default}' is not one of its "
                                "values")
        return knob
    data = yamlfile.check_keys(located, keypath, spec, ("macro", "default", "values", "integer"),
                               required=("default", "values"))
    macro = str(data.get("macro", ""))
    if macro and not _MACRO.match(macro):
        raise located.error((*keypath, "macro"), f"'{macro}' is not a C identifier")
    raw_values = data["values"]
    if not isinstance(raw_values, dict) or not raw_values:
        raise located.error((*keypath, "values"), "expected a non-empty mapping value -> macro")
    values: dict[str, tuple[tuple[str, str], ...]] = {}
    for value, setting in raw_values.items():
        where = (*keypath, "values", value)
        if isinstance(setting, dict):
            for m in setting:
                if not _MACRO.match(str(m)):
                    raise located.error((*where, m), f"'{m}' is not a C identifier")
            values[str(value)] = tuple((str(m), _scalar(v)) for m, v in setting.items())
            for m, v in setting.items():
                _no_shell_text(located, (*where, m), _scalar(v))
        else:
            if not macro:
                raise located.error(where, "a scalar value needs the knob's 'macro'")
            values[str(value)] = ((macro, _scalar(setting)),)
            _no_shell_text(located, where, _scalar(setting))
    knob = Knob(name=name, default=_scalar(data["default"]), values=values, macro=macro,
                integer=bool(data.get("integer", False)))
    if not knob.accepts(knob.default):
        raise located.error((*keypath, "default"), f"'{knob.default}' is not one of its values")
    return knob


def _no_shell_text(located: Located, keypath: tuple[str, ...], text: str) -> None:
    """nvcc runs its steps through /bin/sh: a macro text it would expand is refused here,
    at its line, rather than at compile time."""
    bad = next((c for c in ("$", "`", "\\") if c in text), None)
    if bad:
        raise located.error(keypath, f"'{text}' holds {bad!r}, which nvcc's shell would expand",
                            hint="write the value without $, ` or \\")


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _string(located: Located, keypath: tuple[str | int, ...], value: object) -> str:
    if not isinstance(value, str) or not value:
        got = yamlfile.type_name(value)
        raise located.error(keypath, f"expected a non-empty string, got {got}")
    return value


def _strings(located: Located, keypath: tuple[str | int, ...], value: object) -> list[str]:
    if not isinstance(value, list):
        raise located.error(keypath, f"expected a list, got {yamlfile.type_name(value)}")
    return [_scalar(v) if not isinstance(v, (dict, list)) else _string(located, (*keypath, i), v)
            for i, v in enumerate(value)]
