"""Hostile matrix.yaml: whatever the file holds, kit answers with a MatrixError naming the
file (and line), never with a traceback."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.spec import matrix
from kit.spec.repros import discover
from kit.util.errors import KitError
from tests.unit.conftest import write_project

KEYS = ["toolchains", "cutlass", "axes", "include", "exclude", "presets", "pip", "host",
        "image", "pypi", "git", "path", "repro", "cuda", "arch", "placement", "shape_type",
        "stages", "cuda13.0", "4.2", "smoke", "description", "$(touch /tmp/x)", "a;b", "\n"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.sampled_from(KEYS), st.text(max_size=12))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=25)


def check(path: Path) -> None:
    """Loading either works or raises a KitError that names the file; nothing else escapes."""
    message = ""
    try:
        matrix.expand(matrix.load(path, discover(path.parent / "repros")))
    except KitError as exc:
        message = exc.message
    assert not message or str(path) in message


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_any_structure_gets_a_clear_error(tmp_path: Path, doc: object) -> None:
    path = write_project(tmp_path, yaml.safe_dump(doc, allow_unicode=True))
    check(path)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_text_gets_a_clear_error(tmp_path: Path, text: str) -> None:
    path = write_project(tmp_path, text)
    check(path)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(axes=documents, include=documents, exclude=documents, presets=documents)
def test_deep_mistakes_past_a_valid_header(tmp_path: Path, axes: object, include: object,
                                           exclude: object, presets: object) -> None:
    doc = {"toolchains": {"cuda13.0": {"pip": "13.0.88"}}, "cutlass": {"4.2": {"pypi": "4.2"}},
           "axes": axes, "include": include, "exclude": exclude, "presets": presets}
    path = write_project(tmp_path, yaml.safe_dump(doc, allow_unicode=True))
    check(path)


# Lines that define anchors and refer to them, in any order and nesting: self-references,
# references to later anchors, aliases of aliases.
ANCHORED = st.lists(st.tuples(
    st.sampled_from(["toolchains", "axes", "presets", "include", "x", "y"]),
    st.sampled_from(["a", "b", "c"]),
    st.lists(st.sampled_from(["*a", "*b", "*c", "1", "cuda13.0", "{k: *a}", "[*b, *b]"]),
             min_size=1, max_size=6)), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=ANCHORED)
def test_anchors_and_aliases_get_a_clear_error_or_load(tmp_path: Path,
                                                       lines: list[tuple[str, str, list[str]]]
                                                       ) -> None:
    text = "".join(f"{key}: &{anchor} [{', '.join(items)}]\n" for key, anchor, items in lines)
    path = write_project(tmp_path, text)
    check(path)
