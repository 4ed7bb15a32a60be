"""The image a binary runs in when the image that built it is not on this engine.

A GPU machine that was handed a pack (`kit matrix run --from`) usually has an engine but no
registry and no kit toolchain images: they are gigabytes, built elsewhere. A compiled repro
needs none of that to run: the CUDA runtime is linked in statically, the driver's libraries
come in through GPU passthrough, and what is left is the C/C++ runtime. So the run image is
either the user's `--base` (any image with a libc, `sleep` and `timeout`), or one kit makes
here from this machine's own libraries: the loader, what `ldd` says the binary, the two
tools and the driver's libraries need (the driver's libraries themselves are bind-mounted at
run time: libcuda.so.1 that cannot load its own dependencies is, to the CUDA runtime, no
driver at all: cudaErrorInsufficientDriver), nothing else (no shell, no package manager).
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import shutil
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.sources import images
from kit.util import cmd
from kit.util.errors import EngineError

REPOSITORY = "kit/run"
# What a runner container runs: `sleep infinity` to stay up, `timeout` around each cell.
TOOLS = ("sleep", "timeout")
# Driver libraries come from the host at run time (GPU passthrough), never from the image.
_DRIVER = re.compile(r"lib(cuda|nvidia-[\w-]+)\.so")


@dataclass(frozen=True)
class Choice:
    tag: str
    why: str  # one sentence for the run's log and manifest


class RunImages:
    """Which image each binary runs in, made at most once per set of libraries."""

    def __init__(self, client: Any, base: str | None,
                 driver_libs: Callable[[], list[str]]) -> None:
        self.client = client
        self.base = base
        self.driver_libs = driver_libs  # their host paths (mounted into every container)
        self._lock = threading.Lock()
        self._missing: dict[str, set[str]] = {}  # run image -> what it stands in for
        self._common: dict[str, Path] | None = None

    def for_binary(self, binary: Path, built_in: str) -> Choice:
        """The image that built the binary if this engine has it; else --base; else a
        host-libraries image."""
        if built_in and images.exists(self.client, built_in):
            return Choice(built_in, "the image that built it")
        missing = f"{built_in} is not on this engine" if built_in else \
            "it was built outside Docker"
        if self.base:
            if not images.exists(self.client, self.base):
                raise EngineError(f"--base {self.base}: not on this engine",
                                  hint="docker load it, or leave --base out: kit then makes a "
                                       "run image from this machine's libraries")
            choice = Choice(self.base, f"--base ({missing})")
        else:
            tag = self._host_image(binary)
            choice = Choice(tag, f"made here from this machine's libraries ({missing})")
        with self._lock:
            self._missing.setdefault(choice.tag, set()).add(built_in)
        return choice

    def chosen(self) -> dict[str, str]:
        """Each run image used, and why: for the manifest."""
        out = {}
        for tag, built in sorted(self._missing.items()):
            how = "--base" if tag == self.base else "made here from this machine's libraries"
            named = sorted(b for b in built if b)
            why = [f"{', '.join(named)} {'is' if len(named) == 1 else 'are'} not on this "
                   "engine"] if named else []
            why += ["some were built outside Docker"] if "" in built else []
            out[tag] = f"{how} ({'; '.join(why)})"
        return out

    def _host_image(self, binary: Path) -> str:
        # once a runtime: what every run image holds; each cell: its own binary's libraries
        if self._common is None:
            self._common = needed([_tool(t) for t in TOOLS], self.driver_libs())
        files = {**self._common, **needed([binary], [])}
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(path.encode() + _digest(path))
        tag = f"{REPOSITORY}:hostlibs-{digest.hexdigest()[:16]}"
        with self._lock:
            if not images.exists(self.client, tag):
                _import(self.client, tag, files)
        return tag


@functools.cache
def _digest(path: str) -> bytes:
    """A library's content: the same files for every cell of a run, hashed once."""
    return images.file_digest(Path(path))


def _tool(name: str) -> Path:
    found = shutil.which(name)
    if not found:
        raise EngineError(f"`{name}` is not on this machine's PATH: kit's run image needs it",
                          hint="install coreutils, or pass --base an image that has it")
    return Path(found)


def needed(programs: list[Path], driver_libs: list[str]) -> dict[str, Path]:
    """Path in the image -> file here: each program at its own path, the libraries and the
    loader where ldd found them (the loader's path is baked into every binary), for the
    programs and for the driver's libraries, less those (they come in as mounts)."""
    out: dict[str, Path] = {str(p): p for p in programs if p.name in TOOLS}
    done = cmd.run(["ldd", *map(str, programs), *driver_libs], timeout=60)
    for line in done.output.splitlines():
        if "not found" in line:
            raise EngineError(f"ldd: {line.strip()}: the program cannot run on this machine",
                              hint="pass --base an image that has the library")
        for path in re.findall(r"(/\S+) \(0x", line):
            if not _DRIVER.search(Path(path).name):
                out[path] = Path(path)
    return out


def _import(client: Any, tag: str, files: dict[str, Path]) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        folder = tarfile.TarInfo("tmp")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(folder)
        for inside, here in sorted(files.items()):
            tar.add(str(here.resolve()), arcname=inside.lstrip("/"), recursive=False)
    repository, _, name = tag.partition(":")
    try:
        client.api.import_image_from_data(buf.getvalue(), repository=repository, tag=name,
                                          changes=[f"LABEL {images.LABEL}=1"])
    except Exception as exc:  # the SDK's errors and requests' alike: say which image
        raise EngineError(f"could not make the run image {tag}: {images.engine_words(exc)}"
                          ) from None
