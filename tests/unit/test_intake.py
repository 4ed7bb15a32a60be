"""kit repro add: a user's own files become a repro, unmodified, with knobs to turn on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.spec import intake, repros
from kit.util.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
OWN = ROOT / "tests" / "data" / "own_repro"


def add(tmp_path: Path, *args: str) -> str:
    (tmp_path / "matrix.yaml").write_text((ROOT / "matrix.yaml").read_text())
    (tmp_path / "repros").mkdir()
    r = CliRunner().invoke(cli, ["repro", "add", *args, "--matrix",
                                 str(tmp_path / "matrix.yaml")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_a_bug_report_folder_becomes_one_repro_per_program(tmp_path: Path) -> None:
    out = add(tmp_path, str(OWN))
    made = sorted(p.name for p in (tmp_path / "repros").iterdir())
    assert made == ["repro_sm90_fp8_grouped_init", "step01_baseline", "step02_offset",
                    "step03_timing"]
    step = tmp_path / "repros" / "step02_offset"
    # the layout is kept, so the step's "../helper.h" still resolves
    assert (step / "steps" / "step02_offset.cu").read_text() == \
        (OWN / "steps" / "step02_offset.cu").read_text()
    assert (step / "helper.h").is_file()
    loaded = repros.load(step / "repro.yaml")
    assert loaded.sources == ("steps/step02_offset.cu",)
    assert loaded.archs == ("sm_90a",)  # a step without an arch tag takes its folder's
    assert loaded.trace and loaded.kind is repros.ReproKind.CUDA
    assert "next: kit matrix run --only repro=" in out


def test_every_candidate_knob_loads_once_uncommented(tmp_path: Path) -> None:
    add(tmp_path, str(OWN / "repro_sm90_fp8_grouped_init.cu"), "--name", "mine")
    spec = tmp_path / "repros" / "mine" / "repro.yaml"
    text = spec.read_text()
    assert "REPRO_PLACEMENT == 1" in text  # where each macro was seen
    spec.write_text(re.sub(r"^  # (\w+: \{)", r"  \1", text, flags=re.MULTILINE))
    repro = repros.load(spec)
    assert set(repro.knobs) == {"repro_placement", "use_int64_shape", "repro_stages",
                                "cutlass_trace"}
    assert repro.knobs["repro_placement"].default == "2"  # from #ifndef / #define 2
    assert repro.defines({"repro_stages": "7"}) == [("REPRO_PLACEMENT", "2"),
                                                     ("REPRO_STAGES", "7")]
    assert repro.defines({"use_int64_shape": "on"}) == [("REPRO_PLACEMENT", "2"),
                                                         ("USE_INT64_SHAPE", "1")]


def test_include_guards_and_a_files_own_constants_are_no_knobs(tmp_path: Path) -> None:
    header = tmp_path / "src" / "util.h"
    header.parent.mkdir()
    header.write_text("#ifndef UTIL_H\n#define UTIL_H\n#define TILE 128\n"
                      "#if TILE > 64\n#endif\n#endif\n")
    main = tmp_path / "src" / "main.cu"
    main.write_text('#include "util.h"\n#include "cutlass/cutlass.h"\n#include "helper.h"\n'
                    "#if defined(USE_FAST) && __CUDA_ARCH__ >= 900\n#endif\n"
                    "int main() { return 0; }\n")
    prog, = intake.programs([main])
    assert prog.headers == (header,)
    assert prog.missing == ("helper.h",)  # CUTLASS's own headers are not "missing"
    knobs = intake.candidates(list(prog.files), prog.root)
    assert [c.macro for c in knobs] == ["USE_FAST"]
    assert knobs[0].tested_defined


def test_a_missing_helper_h_comes_from_cutlass_examples(tmp_path: Path) -> None:
    main = tmp_path / "ex.cu"
    main.write_text('#include "helper.h"\nusing Tag = cutlass::arch::Sm120;\n'
                    "int main() { return 0; }\n")
    added, = intake.add([main], tmp_path / "repros")
    repro = repros.load(added.folder / "repro.yaml")
    assert repro.cutlass_include == ("examples/common",)
    assert repro.archs == ("sm_120a", "sm_121a")
    assert repro.include_dirs(Path("/cutlass"))[-1] == Path("/cutlass/examples/common")


def test_mistakes_say_what_to_do(tmp_path: Path) -> None:
    lib = tmp_path / "lib.cu"
    lib.write_text("__global__ void k() {}\n")
    with pytest.raises(UsageError, match="no source defines main"):
        intake.programs([lib])
    main = tmp_path / "m.cu"
    main.write_text("int main() { return 0; }\n")
    with pytest.raises(UsageError, match="--arch"):
        intake.add([main], tmp_path / "repros")
    intake.add([main], tmp_path / "repros", archs=("sm_90a",))
    with pytest.raises(UsageError, match="exists") as err:
        intake.add([main], tmp_path / "repros", archs=("sm_90a",))
    assert "--replace" in str(err.value.hint)
    with pytest.raises(UsageError, match="MACRO or MACRO=VALUE"):
        intake.scratch(main, tmp_path, defines=("X=$(rm)",), archs=("sm_90a",))
