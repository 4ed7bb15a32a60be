"""kit on x86_64 and aarch64 (a DGX Spark): each tool's name for the machine, chosen by it."""

from __future__ import annotations

import pytest

from kit.runtime import docker
from kit.sources import lock
from kit.util import platform


def test_each_naming_of_both_machines() -> None:
    assert platform.arch("x86_64").oci == "amd64"
    assert platform.arch("amd64").multiarch == "x86_64-linux-gnu"
    spark = platform.arch("aarch64")
    assert (spark.oci, spark.multiarch, spark.wheel) == ("arm64", "aarch64-linux-gnu", "aarch64")
    assert platform.arch("arm64") == spark
    with pytest.raises(ValueError, match="ppc64le"):
        platform.arch("ppc64le")


def test_wheels_are_told_apart_by_their_platform_tag() -> None:
    assert platform.wheel_arch(
        "nvidia_cuda_nvcc-13.0.88-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl"
    ) == "aarch64"
    assert platform.wheel_arch(
        "nvidia_cuda_nvcc-13.0.88-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    ) == "x86_64"
    assert platform.wheel_arch("nvidia_cutlass-4.2.0.0-py3-none-any.whl") == "any"
    assert platform.wheel_arch("nvidia_cuda_nvcc-13.0.88-py3-none-win_amd64.whl") is None
    assert platform.wheel_arch("nvidia_cuda_nvcc-13.0.88.tar.gz") is None


def test_gpu_passthrough_looks_for_driver_libraries_in_the_machines_own_folder() -> None:
    assert "/usr/lib/aarch64-linux-gnu" in docker.driver_dirs("aarch64")
    assert "/usr/lib/x86_64-linux-gnu" not in docker.driver_dirs("aarch64")
    assert "/usr/lib/x86_64-linux-gnu" in docker.driver_dirs("x86_64")


REF = ("nvidia/cuda:12.9.1-devel-ubuntu24.04@sha256:"
       "020bc241a628776338f4d4053fed4c38f6f7f3d7eb5919fecb8de313bb8ba47c")


def test_the_lock_records_a_digest_as_verified_only_when_a_registry_serves_it() -> None:
    def served(ref: str) -> dict[str, object]:
        return {"Descriptor": {"digest": ref.partition("@")[2],
                               "mediaType": "application/vnd.oci.image.index.v1+json"},
                "Platforms": [{"os": "linux", "architecture": "arm64"},
                              {"os": "linux", "architecture": "amd64"}]}

    ok = lock.verify_image(REF, served)
    assert ok["verified"] and ok["index"] and ok["platforms"] == ["linux/amd64", "linux/arm64"]

    def other(ref: str) -> dict[str, object]:
        return {"Descriptor": {"digest": "sha256:" + "0" * 64}}

    moved = lock.verify_image(REF, other)
    assert not moved["verified"] and "serves sha256:000" in moved["why"]

    def offline(ref: str) -> dict[str, object]:
        raise ConnectionError('Get "https://registry-1.docker.io/v2/": no such host')

    unverified = lock.verify_image(REF, offline)
    assert not unverified["verified"] and unverified["why"].startswith("no registry answered")
    assert not lock.verify_image(REF, None)["verified"]
    assert lock.verify_image(REF, None)["digest"] == REF.partition("@")[2]
