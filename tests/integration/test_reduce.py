"""kit reduce's machinery end to end on a small synthetic failure: real C-Vise, real g++, the
compile_error oracle, the result checked again from a clean folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kit.engine import oracles
from kit.flows import reduce

# A host file with one error buried in code that has nothing to do with it.
PADDING = "\n".join(f"int filler_{i}(int x) {{ return x * {i} + {i % 7}; }}" for i in range(150))
BROKEN = """
template <class T, int N> struct Box { T v[N]; };
template <class T> struct Wrap { using type = Box<T, T>; };
Wrap<int>::type broken;
"""


def test_a_synthetic_compile_error_is_reduced_to_a_few_lines(tmp_path: Path) -> None:
    if shutil.which("cvise") is None:
        pytest.fail("cvise is missing: apt-get install cvise (.ci/run installs it)")
    (tmp_path / reduce.HOST_FILE).write_text(PADDING + BROKEN + PADDING)
    shutil.copyfile(tmp_path / reduce.HOST_FILE, tmp_path / "original.ii")
    first = reduce._first_error(tmp_path, "-std=c++17")
    signature = oracles.signature_of(first)
    assert signature == "type/value mismatch at argument #"
    reduce.write_test(tmp_path, "compile_error", signature, "-std=c++17")
    assert reduce.holds(tmp_path)
    finished = reduce.reduce(tmp_path, jobs=2, budget=300)
    found = reduce.result("synthetic", "compile_error", signature, tmp_path, 0, finished,
                          "-std=c++17")
    assert finished and found.holds
    assert found.lines_before > 300 and found.lines_after <= 6
    assert "filler" not in (tmp_path / reduce.HOST_FILE).read_text()
    assert (tmp_path / "result.json").is_file()
