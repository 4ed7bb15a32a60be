"""A local CUTLASS tree is known by every header in it: patch one line and it is another
CUTLASS, whose builds are its own."""

from __future__ import annotations

from pathlib import Path

from kit.sources import cutlass_src
from kit.spec.model import CutlassKind, CutlassSource


def tree(root: Path, builder_line: str) -> CutlassSource:
    (root / "include" / "cutlass" / "gemm").mkdir(parents=True)
    (root / "include" / "cutlass" / "cutlass.h").write_text("#pragma once\n")
    (root / "include" / "cutlass" / "version.h").write_text(
        "#define CUTLASS_MAJOR 4\n#define CUTLASS_MINOR 2\n#define CUTLASS_PATCH 0\n")
    (root / "include" / "cutlass" / "gemm" / "builder.inl").write_text(builder_line)
    return CutlassSource(name=root.name, kind=CutlassKind.PATH, ref=str(root))


def test_a_patched_tree_is_another_cutlass_of_the_same_version(tmp_path: Path) -> None:
    upstream = cutlass_src.resolve(tree(tmp_path / "upstream",
                                        "static constexpr auto SFVectorSize = 32u;\n"))
    patched = cutlass_src.resolve(tree(tmp_path / "patched",
                                       "static constexpr int SFVectorSize = 32u;\n"))
    assert upstream.version == patched.version == "4.2.0"
    assert upstream.identity != patched.identity
    again = cutlass_src.resolve(CutlassSource(name="again", kind=CutlassKind.PATH,
                                              ref=str(tmp_path / "upstream")))
    assert again.identity == upstream.identity  # the same files: the same builds
