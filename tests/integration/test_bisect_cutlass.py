"""`kit bisect --cutlass`: a git repository made of real CUTLASS releases (the nvidia-cutlass
wheels' headers, one commit per release) and a repro that needs the MX scale-factor type
`float_ue8m0_t`; kit finds the release that introduced it, compiling with real nvcc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

RELEASES = ["3.5.1.0", "3.6.0.0", "3.7.0.0", "3.8.0.0", "4.2.0.0"]
PREFIX = "cutlass_library/source/"

PROBE = """\
// Does this CUTLASS have the MX block-scaled types the SM12x MXF8 x MXF4 GEMM is made of?
#include <cstdio>
#include "cutlass/numeric_types.h"

int main() {
  cutlass::float_ue8m0_t scale(2.0f);
  std::printf("KIT_RESULT {\\"stage\\":\\"done\\",\\"status\\":\\"Success\\","
              "\\"verify\\":{\\"ran\\":true,\\"passed\\":%s}}\\n",
              float(scale) == 2.0f ? "true" : "false");
  return 0;
}
"""


def wheel(version: str, folder: Path) -> Path:
    found = sorted(folder.glob(f"nvidia_cutlass-{version}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        f"nvidia-cutlass=={version}", "-d", folder], check=True)
        found = sorted(folder.glob(f"nvidia_cutlass-{version}-*.whl"))
    return found[0]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "kit", "GIT_AUTHOR_EMAIL": "kit@localhost",
           "GIT_COMMITTER_NAME": "kit", "GIT_COMMITTER_EMAIL": "kit@localhost"}
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


@pytest.fixture(scope="module")
def releases_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One commit per release: include/ and tools/util/include/ as the wheel ships them."""
    wheels = Path(os.environ.get("KIT_TEST_WHEELS")
                  or tmp_path_factory.getbasetemp() / "wheels")
    wheels.mkdir(parents=True, exist_ok=True)
    repo = tmp_path_factory.mktemp("cutlass-releases")
    git(repo, "init", "--quiet", "--initial-branch=main")
    for version in RELEASES:
        for old in ("include", "tools"):
            subprocess.run(["rm", "-rf", str(repo / old)], check=True)
        with zipfile.ZipFile(wheel(version, wheels)) as zf:
            for name in zf.namelist():
                rel = name[len(PREFIX):]
                if name.startswith(PREFIX) and rel.startswith(("include/", "tools/util/include/")) \
                        and not name.endswith("/"):
                    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
                    (repo / rel).write_bytes(zf.read(name))
        git(repo, "add", "-A")
        short = version.removesuffix(".0")
        git(repo, "commit", "--quiet", "-m", f"CUTLASS {short}")
        git(repo, "tag", f"v{short}")
    return repo


def test_bisect_finds_the_release_that_introduced_the_mx_types(releases_repo: Path,
                                                               tmp_path: Path) -> None:
    repro = tmp_path / "repros" / "mx_types"
    repro.mkdir(parents=True)
    (repro / "main.cu").write_text(PROBE)
    (repro / "repro.yaml").write_text(textwrap.dedent("""\
        description: compiles only where CUTLASS has float_ue8m0_t
        kind: cuda
        sources: [main.cu]
        archs: [sm_90a]
        flags: [-std=c++17]
        """))
    (tmp_path / "repros" / "harness").mkdir()
    (tmp_path / "matrix.yaml").write_text(textwrap.dedent(f"""\
        toolchains:
          cuda13.0: {{pip: "13.0.88"}}
        cutlass:
          releases: {{git: "{releases_repo}@v4.2.0"}}
        axes:
          repro: [mx_types]
        """))
    cmd = [sys.executable, "-m", "kit", "bisect", "--runtime", "host", "--bad", "repro=mx_types",
           "--cutlass", "v3.5.1..v4.2.0", "--json"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    subjects = found["subjects"]
    assert subjects[found["first"]] == "CUTLASS 3.8.0"
    assert found["old"]["outcome"] == "compile_error"
    # compiled; whether it then runs depends on the machine's GPU
    assert found["new"]["outcome"] in ("ok", "no_gpu", "skipped_arch")
    # five commits: the two ends, then halving (3.7 and 3.6 or 3.8), never every commit
    assert len(found["probes"]) <= 4
    text = (Path(found["run"]) / "bisect.md").read_text()
    assert f"**{found['first'][:12]}** (CUTLASS 3.8.0) is the first commit" in text
    # the probes are cells of a normal run folder
    assert (Path(found["run"]) / "report.md").is_file()

    # A resumed bisect reuses every probe: no cell is compiled or run again.
    cells = sorted((Path(found["run"]) / "cells").glob("*.json"))
    before = {p: p.stat().st_mtime_ns for p in cells}
    again = subprocess.run([*cmd, "--resume", Path(found["run"]).name], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["first"] == found["first"]
    assert {p: p.stat().st_mtime_ns for p in cells} == before
