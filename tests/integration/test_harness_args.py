"""The repros' shared command line (repros/harness/kit_args.h), compiled for real with the host
compiler and run: what a user typing at a repro binary sees."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "repros" / "harness"

# A program with the options every repro has (one of them stepped, as sm90_ptr_array's m).
PROGRAM = r"""
#include <cstdio>
#include "kit_args.h"

static void usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--m M] [--seed S]\n", argv0);
}

int main(int argc, char** argv) {
  long long m = 256, seed = 2025;
  int rc = kit::parse_args(argc, argv, {{"m", &m, 16, 1 << 20, 16}, {"seed", &seed, 0, 1LL << 62}},
                           usage);
  if (rc >= 0) return rc;
  std::printf("m=%lld seed=%lld\n", m, seed);
  return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("no g++ (the host compiler nvcc drives)")
    folder = tmp_path_factory.mktemp("args")
    (folder / "main.cpp").write_text(PROGRAM)
    subprocess.run([gxx, "-std=c++17", "-Wall", "-Werror", "-I", str(HARNESS), "-o",
                    str(folder / "prog"), str(folder / "main.cpp")], check=True, timeout=120)
    return folder / "prog"


def run(program: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([program, *args], capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout, done.stderr


def test_both_spellings_and_defaults(program: Path) -> None:
    assert run(program) == (0, "m=256 seed=2025\n", "")
    assert run(program, "--m", "64", "--seed=7") == (0, "m=64 seed=7\n", "")


def test_help_prints_usage_and_exits_0(program: Path) -> None:
    code, out, err = run(program, "--help")
    assert (code, out) == (0, "") and err.startswith("usage: ")


@pytest.mark.parametrize(("args", "message"), [
    (["--x", "1"], "unknown argument: --x"),
    (["--m"], "missing value for --m"),
    (["--m", "abc"], "bad value for --m: 'abc' (an integer in 16..1048576, a multiple of 16)"),
    (["--m=24"], "bad value for --m: '24' (an integer in 16..1048576, a multiple of 16)"),
    (["--seed", "-1"], "bad value for --seed: '-1' (an integer in 0..4611686018427387904)"),
    (["--m", "99999999999999999999"], "bad value for --m"),
    (["m=64"], "unexpected argument: m=64"),
])
def test_mistakes_exit_2_with_the_reason_and_the_usage(program: Path, args: list[str],
                                                       message: str) -> None:
    code, out, err = run(program, *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and "usage: " in err
