"""repro.yaml for a python repro: what kit checks before anything is installed or run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kit.spec.repros import load
from kit.util.errors import MatrixError

PROBE = """\
kind: python
script: probe.py
archs: [sm_90a]
packages: {flashinfer: "flashinfer-python=={value}"}
with: [ninja]
timeout: 3600
env: {MAX_JOBS: "{cpus}"}
knobs:
  flashinfer: {default: "0.5.2", values: ["0.5.2", "0.5.3"]}
"""


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "prod"
    folder.mkdir(exist_ok=True)
    (folder / "probe.py").write_text("print('KIT_RESULT {}')\n")
    (folder / "repro.yaml").write_text(text)
    return folder / "repro.yaml"


def test_a_python_repro_reads_its_script_packages_env_and_timeout(tmp_path: Path) -> None:
    repro = load(write(tmp_path, PROBE))
    assert (repro.kind, repro.script, repro.run_timeout) == ("python", "probe.py", 3600.0)
    assert repro.packages == {"flashinfer": "flashinfer-python=={value}"}
    assert repro.with_packages == ("ninja",) and repro.env == {"MAX_JOBS": "{cpus}"}
    assert repro.knobs["flashinfer"].accepts("0.5.3")
    assert repro.defines({"flashinfer": "0.5.3"}) == []  # no macros: KIT_KNOBS carries it


@pytest.mark.parametrize(("change", "message", "line"), [
    (("script: probe.py", "script: ../probe.py"), "needs script: FILE.py", 2),
    (('{flashinfer: "flashinfer-python=={value}"}', '{flashnfer: "flashinfer-python=={value}"}'),
     "'flashnfer' is not one of the knobs", 4),
    (('{flashinfer: "flashinfer-python=={value}"}', '{flashinfer: "flashinfer-python"}'),
     "holding {value}", 4),
    (("timeout: 3600", "timeout: soon"), "expected seconds", 6),
])
def test_mistakes_name_their_line(tmp_path: Path, change: tuple[str, str], message: str,
                                  line: int) -> None:
    with pytest.raises(MatrixError, match=message) as info:
        load(write(tmp_path, PROBE.replace(*change)))
    assert f"repro.yaml:{line}:" in info.value.format_message()


def test_a_pinning_axis_sets_the_pinned_one_and_mistakes_are_refused(tmp_path: Path) -> None:
    pinned = PROBE + ('  vllm: {default: none, values: [none, main]}\n'
                      'pins:\n  vllm:\n    main: {flashinfer: "0.5.3"}\n')
    repro = load(write(tmp_path, pinned))
    assert repro.pinned({"flashinfer": "0.5.2", "vllm": "main"}) == {
        "flashinfer": "0.5.3", "vllm": "main"}
    assert repro.pinned({"flashinfer": "0.5.2", "vllm": "none"})["flashinfer"] == "0.5.2"
    with pytest.raises(MatrixError, match=r"flashinfer=9\.9 is not a knob value") as info:
        load(write(tmp_path, pinned.replace('"0.5.3"}', '"9.9"}')))
    assert "pins.vllm.main.flashinfer" in info.value.format_message()


def test_kit_python_by_name_becomes_an_absolute_interpreter_path(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The launcher's `#!` line must be absolute: the kernel does not search PATH for it (the
    # H100 run with KIT_PYTHON=python3 failed with FileNotFoundError before this).
    from kit.runtime.host import repro_python
    from kit.util.errors import ToolchainError

    monkeypatch.setenv("KIT_PYTHON", "python3")
    found = Path(repro_python())
    assert found.is_absolute() and os.access(found, os.X_OK)
    monkeypatch.setenv("KIT_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(ToolchainError, match="no such interpreter") as err:
        repro_python()
    assert "KIT_PYTHON=" in (err.value.hint or "")


def test_export_inlines_a_harness_header_at_every_include_each_copy_guarded(
        tmp_path: Path) -> None:
    # A first include under a disabled #if must not swallow the one that counts, and headers
    # that include each other must not inline forever.
    from kit.report.export import inline_harness

    (tmp_path / "kit_a.h").write_text('#pragma once\n#include "kit_b.h"\nint a();\n')
    (tmp_path / "kit_b.h").write_text('#pragma once\n#include "kit_a.h"\nint b();\n')
    source = '#ifdef NEVER\n#include "kit_a.h"\n#endif\n#include "kit_a.h"\n#include <vector>\n'
    out = inline_harness(source, tmp_path)
    assert out.count("#ifndef KIT_INLINED_KIT_A_H") == 2 and out.count("int a();") == 2
    assert out.count("int b();") == 2 and "(kit_a.h: inlined around this)" in out
    assert "#pragma once" not in out and "#include <vector>" in out
    assert '#include "kit_' not in out
