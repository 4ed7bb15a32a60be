"""kit's cache folder (~/.cache/kit), and the one owner of every path under it: toolchains,
CUTLASS trees, tools, compiled binaries and objects, image contexts, compile history.

Everything lands through `install_atomically`: built in a temporary sibling, renamed into
place, guarded by a file lock, so a killed install never leaves a half-written folder and two
kit processes never install the same thing twice at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def root() -> Path:
    env = os.environ.get("KIT_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kit"


def builds() -> Path:
    """One folder per compile key: the binary, its compiler log, meta.json."""
    return root() / "builds"


def objects() -> Path:
    """Translation units' objects, shared by cells that differ only in link order."""
    return root() / "objects"


def toolchains() -> Path:
    return root() / "toolchains"


def cutlass() -> Path:
    return root() / "cutlass"


def tools() -> Path:
    """Tools kit installs for itself (cuobjdump)."""
    return root() / "tools"


def images() -> Path:
    """Build contexts and caches of kit's images (the prod flavour's JIT cache)."""
    return root() / "images"


def cluster() -> Path:
    return root() / "cluster"


def adhoc() -> Path:
    """Files run once with `kit repro run FILE.cu`, each made a repro of its own."""
    return root() / "adhoc"


def history_file() -> Path:
    """Measured compile costs (kit.engine.history)."""
    return root() / "history.json"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as fh:  # noqa: PTH123 - fcntl wants a file object
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def install_atomically(dest: Path, build: Callable[[Path], None]) -> Path:
    """Return dest, creating it with build(tmp_dir) first if it is not there yet."""
    if dest.is_dir():
        return dest
    with locked(dest):
        if dest.is_dir():  # another process finished it while we waited
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            build(tmp)
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from containers' non-root user
            tmp.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
