"""Compile here, run there: a pack carries a run's real binaries; a run --from it uses none
of the compile machine's outcomes, and a damaged pack is refused before anything runs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit.cli.commands import cli
from kit.engine import packs, results
from kit.spec.model import Outcome
from kit.util import gpu
from tests.integration.conftest import BASE, fresh_cache, selftest_project


def kit(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return r.exit_code, r.output


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    matrix = selftest_project(tmp_path, "arch: [sm_90a, sm_121a]\nmode: [ok]\n")
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path, "compile-cache")))
    code, out = kit("matrix", "run", "--matrix", str(matrix), "--runtime", "host",
                    "--compile-only", "--results", str(tmp_path / "compiled"))
    assert code == 0, out
    compiled = results.find(tmp_path / "compiled", None).load().results
    assert {r.outcome for r in compiled} == {Outcome.NO_GPU}
    assert all("compile only" in r.reason for r in compiled)
    code, out = kit("pack", "--results", str(tmp_path / "compiled"), "-o",
                    str(tmp_path / "cells.kitpack.tar.gz"))
    assert code == 0 and "2 cells" in out, out
    # the run side: another cache, with nothing compiled in it
    monkeypatch.setenv("KIT_CACHE", str(fresh_cache(tmp_path, "run-cache")))
    return tmp_path / "cells.kitpack.tar.gz"


def test_a_pack_runs_where_it_was_not_compiled(pack: Path, tmp_path: Path) -> None:
    code, out = kit("matrix", "run", "--from", str(pack), "--runtime", "host", "--results",
                    str(tmp_path / "ran"))
    assert code == 0, out
    run = results.find(tmp_path / "ran", None)
    cells = run.load().results
    assert len(cells) == 2 and all(r.compile_cached for r in cells)  # nothing compiled here
    manifest = run.manifest()
    assert manifest["from_pack"]["compile_side"]["toolchains"]["cuda13.0"].startswith("pip:")
    assert "--from" in manifest["command"] and "kit pack" in manifest["command"]
    if not gpu.detect().present:
        assert {r.outcome for r in cells} == {Outcome.NO_GPU}
        assert out.count("not run here: no GPU") == 1  # said once, not once a cell


def test_a_pack_can_carry_some_of_a_runs_cells(pack: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "compile-cache"))  # back where it compiled
    compiled = str(tmp_path / "compiled")
    code, out = kit("pack", "--results", compiled, "-o", str(tmp_path / "one.tar.gz"),
                    "--only", "arch=sm_121*")
    assert code == 0 and "1 cells" in out, out
    with tarfile.open(tmp_path / "one.tar.gz", "r:gz") as tar:
        data = json.loads(tar.extractfile("pack.json").read())  # type: ignore[union-attr]
    assert [c["axes"]["arch"] for c in data["cells"]] == ["sm_121a"]
    code, out = kit("pack", "--results", compiled, "-o", str(tmp_path / "none.tar.gz"),
                    "--only", "arch=sm_100a")
    assert code == 2 and "arch" in out and "sm_90a" in out  # the values the run has
    assert not (tmp_path / "none.tar.gz").exists()


def rewrite(pack: Path, change: dict[str, bytes]) -> Path:
    """The same pack with some members' bytes replaced (pack.json left as it was)."""
    out = pack.with_name("changed.tar.gz")
    with tarfile.open(pack, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isfile() else b""  # type: ignore[union-attr]
            if m.name in change:
                data = change[m.name]
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    return out


def test_a_tampered_or_truncated_pack_is_refused_and_nothing_runs(pack: Path,
                                                                   tmp_path: Path) -> None:
    with tarfile.open(pack, "r:gz") as tar:
        binary = next(m.name for m in tar.getmembers() if m.name.endswith("/bin"))
    tampered = rewrite(pack, {binary: b"\x7fELF not the binary that was compiled"})
    code, out = kit("matrix", "run", "--from", str(tampered), "--runtime", "host",
                    "--results", str(tmp_path / "ran"))
    assert code == 6 and "does not match its sha256" in out
    assert not (tmp_path / "ran").exists()  # refused before a run folder was made
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    code, out = kit("matrix", "run", "--from", str(truncated), "--runtime", "host",
                    "--results", str(tmp_path / "ran"))
    assert code == 6 and "not a whole pack" in out


def test_a_pack_of_another_format_is_refused_and_another_kit_version_said(
        pack: Path, tmp_path: Path) -> None:
    with tarfile.open(pack, "r:gz") as tar:
        data = json.loads(tar.extractfile("pack.json").read())  # type: ignore[union-attr]
    newer = rewrite(pack, {"pack.json": json.dumps({**data, "format": 99}).encode()})
    with pytest.raises(packs.PackError, match="pack format 99"):
        packs.open_pack(newer, tmp_path / "open1")
    older = rewrite(pack, {"pack.json": json.dumps({**data, "kit_version": "0.0.1"}).encode()})
    code, out = kit("matrix", "run", "--from", str(older), "--runtime", "host", "--results",
                    str(tmp_path / "ran"))
    assert code == 0 and "pack made by kit 0.0.1" in out


def facts_seen(run: results.RunDir) -> list[str]:
    """The stage each cell's facts-only run reported (it ran in the runtime's container)."""
    out = []
    for log in sorted((run.path / "logs").glob("*.facts.log")):
        line = next(x for x in log.read_text().splitlines() if x.startswith("KIT_RESULT "))
        out.append(json.loads(line.removeprefix("KIT_RESULT "))["stage"])
    return out


def test_a_pack_runs_in_docker_where_its_images_are_not(pack: Path, tmp_path: Path,
                                                         engine: Any) -> None:
    """A GPU machine with an engine but none of kit's toolchain images (no registry): the
    binaries run in an image kit makes from this machine's libraries: no shell, no tools
    but the two a runner needs."""
    code, out = kit("matrix", "run", "--from", str(pack), "--runtime", "docker",
                    "--results", str(tmp_path / "ran"))
    assert code == 0, out
    run = results.find(tmp_path / "ran", None)
    [(tag, why)] = run.manifest()["run_images"].items()
    assert tag.startswith("kit/run:hostlibs-") and "built outside Docker" in why
    assert f"running binaries in {tag}" in out
    assert facts_seen(run) == ["facts", "facts"]  # each binary ran, in that image
    assert engine.images.get(tag).labels == {"io.kit.managed": "1"}  # `kit images prune`
    made = engine.containers.create(tag, ["/bin/sh"])
    try:
        with pytest.raises(Exception, match=r"/bin/sh|no such file"):
            made.start()  # no shell in there
    finally:
        made.remove(force=True)


def test_a_pack_runs_in_the_base_it_is_given(pack: Path, tmp_path: Path, engine: Any) -> None:
    code, out = kit("matrix", "run", "--from", str(pack), "--runtime", "docker", "--base",
                    BASE, "--results", str(tmp_path / "ran"))
    assert code == 0, out
    run = results.find(tmp_path / "ran", None)
    assert run.manifest()["run_images"] == {BASE: "--base (some were built outside Docker)"}
    assert facts_seen(run) == ["facts", "facts"]
    code, out = kit("matrix", "run", "--from", str(pack), "--runtime", "docker", "--base",
                    "kit-test/nothing:here", "--results", str(tmp_path / "ran2"))
    assert code == 0, out
    cells = results.find(tmp_path / "ran2", None).load().results
    assert {c.prediction["facts_error"] for c in cells if c.prediction} == {
        "--base kit-test/nothing:here: not on this engine"}


def test_the_run_image_holds_what_the_driver_libraries_load() -> None:
    """The driver's libraries are mounted at run time, but what they link against must be in
    the image: a libcuda.so.1 that cannot load its own libraries is, to the CUDA runtime, an
    insufficient driver (seen on the H100: cudaErrorInsufficientDriver in every cell). Here
    libssl stands in for a driver library: its libcrypto comes in, itself does not."""
    from kit.runtime import runimage

    stand_in = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
    if not Path(stand_in).is_file():
        pytest.skip("no libssl.so.3 on this machine to stand in for a driver library")
    files = runimage.needed([Path("/usr/bin/sleep")], [stand_in])
    assert "/usr/bin/sleep" in files
    assert any(Path(p).name == "libcrypto.so.3" for p in files)
    assert not any(Path(p).name == "libssl.so.3" for p in files)
    without = runimage.needed([Path("/usr/bin/sleep")], [])
    assert not any(Path(p).name == "libcrypto.so.3" for p in without)
