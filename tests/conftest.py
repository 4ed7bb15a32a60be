from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never touch the user's ~/.cache/kit; integration tests share one cache per
    session so a toolchain is installed once (KIT_TEST_CACHE keeps it across sessions)."""
    shared = os.environ.get("KIT_TEST_CACHE")
    monkeypatch.setenv("KIT_CACHE", shared or str(tmp_path_factory.getbasetemp() / "kit-cache"))


@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)
