"""What a command line selects from a matrix: `--only AXIS=GLOB` filters and `--axis
AXIS=V1,V2` overrides, checked against the axes the matrix knows."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence

from kit.util.errors import UsageError


def parse_only(filters: Sequence[str], known: Iterable[str]) -> dict[str, list[str]]:
    """`--only axis=glob` strings -> {axis: [globs]} (OR within an axis, AND across axes)."""
    out: dict[str, list[str]] = {}
    for text in filters:
        for part in text.split():
            axis, patterns = _axis_arg("--only", part, list(known), many=False,
                                       example="--only 'cuda=cuda13.*' --only repro=sm90*")
            out.setdefault(axis, []).extend(patterns)
    return out


def matches(axes: Mapping[str, str], chosen: dict[str, list[str]]) -> bool:
    """A cell's axes against parsed `--only` filters: every axis named, one of its globs. A
    cell without the axis (a knob its repro lacks) is not matched."""
    return all(axis in axes and any(fnmatch.fnmatchcase(str(axes[axis]), g) for g in globs)
               for axis, globs in chosen.items())


def parse_axis_overrides(texts: Sequence[str], known: Iterable[str]) -> dict[str, list[str]]:
    """`--axis cuda=host,cuda13.2` strings -> {axis: values} that replace the matrix's."""
    out: dict[str, list[str]] = {}
    for text in texts:
        axis, values = _axis_arg("--axis", text, list(known), many=True,
                                 example="--axis cuda=host --axis stages=auto,5")
        out[axis] = values
    return out


def _axis_arg(option: str, text: str, known: list[str], *, many: bool,
              example: str) -> tuple[str, list[str]]:
    axis, sep, rest = text.partition("=")
    values = [v for v in rest.split(",") if v] if many else ([rest] if rest else [])
    if not sep or not axis or not values:
        shape = "AXIS=VALUE[,VALUE...]" if many else "AXIS=VALUE (globs allowed)"
        raise UsageError(f"{option} '{text}': expected {shape}", hint=f"e.g. {example}")
    if axis not in known:
        close = difflib.get_close_matches(axis, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"axes: {', '.join(known)}"
        raise UsageError(f"{option} '{text}': unknown axis '{axis}'", hint=hint)
    return axis, values


def check_values(option: str, chosen: dict[str, list[str]],
                 values_of: Callable[[str], list[str] | None]) -> None:
    """A pattern that matches no value the axis has is a mistake, not an empty selection:
    say which values there are."""
    for axis, patterns in chosen.items():
        values = values_of(axis)
        if values is None:
            continue
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(v, pattern) for v in values):
                close = [f"*{pattern}"] if any(fnmatch.fnmatchcase(v, f"*{pattern}")
                                               for v in values) \
                    else difflib.get_close_matches(pattern, values, n=1)
                raise UsageError(f"{option} {axis}={pattern}: no {axis} matches",
                                 hint=(f"did you mean '{close[0]}'? " if close else "")
                                 + f"{axis}: {', '.join(values)}")
