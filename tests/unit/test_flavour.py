"""The prod flavour's recipe and tag: what a user sets (KIT_TORCH, KIT_TORCH_INDEX,
KIT_WHEELS) and that every part of it is in the tag, without an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.engine import plan
from kit.sources import flavour, images
from kit.spec import matrix
from kit.spec.repros import discover
from kit.util.errors import ToolchainError
from kit.util.gpu import GpuReport

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plain() -> images.ImageSpec:
    m = matrix.load(ROOT / "matrix.yaml", discover(ROOT / "repros"))
    return images.spec_for(m.toolchains["cuda13.0"], m.cutlass["4.2"], project=ROOT)


def wheel(folder: Path, name: str, content: bytes = b"x") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def prod_tag(plain: images.ImageSpec) -> str:
    return flavour.spec(plain, flavour.Recipe.from_env(), ROOT).tag


def test_a_torch_wheel_in_kit_wheels_is_the_default_and_kit_torch_overrides_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIT_TORCH", raising=False)
    monkeypatch.delenv("KIT_WHEELS", raising=False)
    assert flavour.Recipe.from_env().torch == "torch"  # PyPI's (CUDA) build
    for version in ("2.9.1+cpu", "2.13.0+cpu"):
        wheel(tmp_path / "w", f"torch-{version}-cp311-cp311-manylinux_2_28_x86_64.whl")
    wheel(tmp_path / "w", "torchvision-0.99.0-cp311-cp311-linux_x86_64.whl")
    monkeypatch.setenv("KIT_WHEELS", str(tmp_path / "w"))
    assert flavour.Recipe.from_env().torch == "torch==2.13.0+cpu"  # not a newer one from PyPI
    monkeypatch.setenv("KIT_TORCH", "torch==2.9.1+cpu")
    assert flavour.Recipe.from_env().torch == "torch==2.9.1+cpu"
    monkeypatch.setenv("KIT_WHEELS", str(tmp_path / "missing"))
    with pytest.raises(ToolchainError, match=r"KIT_WHEELS=.*not a folder"):
        flavour.Recipe.from_env()


def test_the_tag_is_a_flavour_of_the_plain_image_and_hashes_every_input(
        plain: images.ImageSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KIT_TORCH", "KIT_TORCH_INDEX", "KIT_WHEELS"):
        monkeypatch.delenv(name, raising=False)
    first = prod_tag(plain)
    repository, _, version = first.partition(":")
    assert repository == plain.tag.partition(":")[0] and version.startswith("prod-")
    assert flavour.is_prod(first) and not flavour.is_prod(plain.tag)
    seen = {first}
    monkeypatch.setenv("KIT_TORCH_INDEX", "https://download.pytorch.org/whl/cu130")
    seen.add(prod_tag(plain))
    wheel(tmp_path / "w", "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", b"one")
    monkeypatch.setenv("KIT_WHEELS", str(tmp_path / "w"))
    seen.add(prod_tag(plain))
    wheel(tmp_path / "w", "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", b"two")
    seen.add(prod_tag(plain))  # same name, other bytes: another image
    assert len(seen) == 4
    # A cell's own package (installed per cell at its axis value) is not part of the image:
    # adding a FlashInfer wheel keeps the tag, and the image's JIT cache with it.
    before = prod_tag(plain)
    wheel(tmp_path / "w", "flashinfer_python-0.6.4-py3-none-any.whl")
    assert prod_tag(plain) == before
    spec = flavour.spec(plain, flavour.Recipe.from_env(), ROOT)
    assert spec.buildargs["KIT_IMAGE"] == plain.tag and spec.base == plain.tag
    assert spec.labels["io.kit.flavour"] == "prod"
    assert "io.kit.flavour" not in plain.labels


def test_a_python_cells_build_key_follows_its_image_and_a_cpp_cells_does_not() -> None:
    m = matrix.load(ROOT / "matrix.yaml", discover(ROOT / "repros"))
    cells = matrix.expand(m, preset="prod")[:1]
    cells += matrix.expand(m, preset="smoke")[:1]

    def keys(python_id: str) -> list[str]:
        facts = plan.Facts(toolchain_ids={"cuda13.0": "t"}, cutlass_ids={"4.2": "c"},
                           source_digests={r: "s" for r in m.repros},
                           gpus=GpuReport(gpus=(), error="none"),
                           python_ids={("cuda13.0", "4.2"): python_id} if python_id else {})
        return [s.compile_key for s in plan.plan(cells, m.repros, facts)]

    host, prod_a, prod_b = keys(""), keys("kit/x:prod-a"), keys("kit/x:prod-b")
    assert len({host[0], prod_a[0], prod_b[0]}) == 3  # the python cell: one build per image
    assert host[1] == prod_a[1] == prod_b[1]  # the C++ cell: untouched
