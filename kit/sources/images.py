"""Toolchain images: one per toolchain x CUTLASS source, built through the Docker SDK and
tagged by the hash of everything that goes into them, so an image is rebuilt only when an
input changed. The lock file (images/lock.json) pins what a tag cannot: base digests and the
sha256 of every wheel."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kit import __version__
from kit.spec.model import CutlassKind, CutlassSource, SourceKind, Toolchain
from kit.util.errors import EngineError, ToolchainError

LABEL = "io.kit.managed"
DEFAULT_PIP_BASE = "debian:bookworm-slim"
DEFAULT_APT_BASE = {"trixie": "debian:trixie-slim", "experimental": "debian:sid-slim"}
LOCK_PATH = Path("images") / "lock.json"


@dataclass(frozen=True, kw_only=True)
class ImageSpec:
    toolchain: Toolchain
    cutlass: CutlassSource
    base: str
    buildargs: dict[str, str]
    context_files: dict[str, bytes] = field(repr=False)  # path in context -> content
    # files too big to hold in memory (wheels): path in context -> file, hashed by content
    context_paths: dict[str, Path] = field(default_factory=dict, repr=False)
    flavour: str = ""  # "" the toolchain x CUTLASS image; "prod" that image plus PyTorch

    @property
    def input_hash(self) -> str:
        h = hashlib.sha256()
        contents = {**{p: hashlib.sha256(c).digest() for p, c in self.context_files.items()},
                    **{p: file_digest(f) for p, f in self.context_paths.items()}}
        for path, digest in sorted(contents.items()):
            h.update(path.encode() + b"\0" + digest)
        h.update(json.dumps(self.buildargs, sort_keys=True).encode())
        return h.hexdigest()[:16]

    @property
    def tag(self) -> str:
        # A flavour is a tag of the same repository: `kit images list` shows it beside its
        # toolchain image, and the matrix gains no axis.
        version = f"{self.flavour}-{self.input_hash}" if self.flavour else self.input_hash
        return f"kit/{self.toolchain.name}-cutlass{self.cutlass.name}:{version}"

    @property
    def labels(self) -> dict[str, str]:
        labels = {
            LABEL: "1",
            "io.kit.toolchain": self.toolchain.spec,
            "io.kit.cuda": self.toolchain.cuda,
            "io.kit.cutlass": self.cutlass.spec,
            "io.kit.cutlass-sha256": self.buildargs.get("CUTLASS_SHA256", ""),
            "io.kit.input-hash": self.input_hash,
            "org.opencontainers.image.title": f"kit {self.toolchain.name} + CUTLASS "
                                              f"{self.cutlass.name}",
            "org.opencontainers.image.description": "CUDA toolchain, CUTLASS headers and the "
                                                    "kit repro harness",
            "org.opencontainers.image.version": __version__,
            "org.opencontainers.image.base.name": self.base,
        }
        if self.flavour:
            labels |= {"io.kit.flavour": self.flavour,
                       "io.kit.torch": self.buildargs.get("TORCH", ""),
                       "io.kit.torch-index": self.buildargs.get("TORCH_INDEX_URL", ""),
                       "org.opencontainers.image.title": f"kit {self.toolchain.name} + CUTLASS "
                                                         f"{self.cutlass.name} ({self.flavour})",
                       "org.opencontainers.image.description": "a kit toolchain image plus "
                                                               "PyTorch, for python repros"}
        return labels

    def write_context(self, fh: IO[bytes]) -> None:
        """The build context as a tar, streamed into fh (wheels can be gigabytes)."""
        with tarfile.open(fileobj=fh, mode="w") as tar:
            for path, content in sorted(self.context_files.items()):
                info = tarfile.TarInfo(path)
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
            for path, file in sorted(self.context_paths.items()):
                info = tarfile.TarInfo(path)
                info.size = file.stat().st_size
                info.mode = 0o644
                with file.open("rb") as src:
                    tar.addfile(info, src)


_digests: dict[tuple[str, int, int], bytes] = {}
_digests_lock = threading.Lock()


def file_digest(path: Path) -> bytes:
    """sha256 of a file, remembered by (path, size, mtime): a 3 GB PyTorch wheel takes
    seconds to read, and every plan asks for the tag of each image it uses."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    with _digests_lock:
        _digests[key] = h.digest()
    return h.digest()


def load_lock(project: Path) -> dict[str, Any]:
    path = project / LOCK_PATH
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ToolchainError(f"{path} is unreadable: {exc}",
                             hint="`kit images lock` writes it anew") from None
    return data if isinstance(data, dict) else {}


def spec_for(tc: Toolchain, cutlass: CutlassSource, *, project: Path,
             base: str | None = None, lock: dict[str, Any] | None = None) -> ImageSpec:
    """The image a toolchain x CUTLASS pair needs. `base` overrides where the image starts
    (a mirror, a local tag); it never changes which CUDA an image: toolchain is."""
    lock = lock if lock is not None else load_lock(project)
    if cutlass.kind is not CutlassKind.PYPI:
        raise ToolchainError(f"CUTLASS '{cutlass.name}' ({cutlass.spec}): images bake in pypi: "
                             "sources only", hint="the docker runtime mounts other sources "
                                                  "read-only; give the image a pypi: CUTLASS")
    cutlass_sha = (lock.get("cutlass") or {}).get(cutlass.ref, {}).get("sha256", "")
    args = {**toolchain_args(tc, base), "CUTLASS_PYPI": cutlass.ref,
            "CUTLASS_SHA256": cutlass_sha}
    pins = (lock.get("pip") or {}).get(tc.ref, {}) if tc.kind is SourceKind.PIP else {}
    for package, arg in (("nvidia-cuda-runtime", "CUDA_RUNTIME_VERSION"),
                         ("nvidia-cuda-cccl", "CUDA_CCCL_VERSION")):
        if package in pins:
            args[arg] = pins[package]["version"]
    return ImageSpec(toolchain=tc, cutlass=cutlass, base=args["BASE"], buildargs=args,
                     context_files=context_files(project))


def toolchain_args(tc: Toolchain, base: str | None) -> dict[str, str]:
    """The build args that choose the CUDA toolchain (and the base it starts from)."""
    if tc.kind is SourceKind.PIP:
        return {"TOOLCHAIN": "pip", "CUDA_PIP_VERSION": tc.ref, "BASE": base or DEFAULT_PIP_BASE}
    if tc.kind is SourceKind.APT:
        return {"TOOLCHAIN": "apt", "APT_SUITE": tc.ref,
                "BASE": base or DEFAULT_APT_BASE.get(tc.ref, f"debian:{tc.ref}-slim")}
    if tc.kind is SourceKind.IMAGE:  # the image is the toolchain: --base cannot replace it
        return {"TOOLCHAIN": "image", "BASE": tc.ref}
    raise ToolchainError(f"toolchain '{tc.name}' is host:, which needs no image",
                         hint="use --runtime host for host: toolchains")


def ca_bundle() -> bytes:
    """The CA bundle pip inside a build should trust: the one this host's tools are told to
    use, so that a TLS-intercepting proxy works in builds as it does here."""
    for var in ("KIT_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value).read_bytes()
    # else the host's system bundle (a proxy's CA installed here is in it)
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    return system.read_bytes() if system.is_file() else b""


def context_files(project: Path) -> dict[str, bytes]:
    """The build context: the Dockerfile, the harness and the CA bundle, nothing else."""
    files = {"Dockerfile": (project / "Dockerfile").read_bytes(), "kit-ca.crt": ca_bundle()}
    for path in sorted((project / "repros" / "harness").rglob("*")):
        if path.is_file():
            files[str(path.relative_to(project))] = path.read_bytes()
    return files


def toolchain_identity(tc: Toolchain, project: Path, base: str | None) -> str:
    """What fixes the binaries a toolchain image produces: its base, its toolchain args and
    the Dockerfile (which also pins the host compiler through the base's packages)."""
    h = hashlib.sha256(json.dumps(toolchain_args(tc, base), sort_keys=True).encode())
    h.update(context_files(project)["Dockerfile"])
    return f"docker:{h.hexdigest()[:16]}"


def client() -> Any:
    """A Docker SDK client that answers, or an EngineError saying what to install."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        raise EngineError("the docker Python SDK is not installed",
                          hint="python3 -m pip install docker") from None
    c = None
    try:
        c = docker.from_env(timeout=600)
        c.ping()
    except DockerException as exc:
        if c is not None:
            c.close()
        raise EngineError(f"no Docker engine answers: {engine_words(exc)}",
                          hint="install one (Debian: apt-get install docker.io), start dockerd, "
                               "or use --runtime host") from None
    return c


def engine_words(exc: BaseException) -> str:
    """What the SDK's exception means, in words: its text is a nested Python repr."""
    text = str(exc)
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if "FileNotFoundError" in text or "No such file or directory" in text:
        return f"nothing listens at {where} (is dockerd installed and started?)"
    if "ConnectionRefused" in text or "Connection refused" in text:
        return f"{where} refuses connections (dockerd stopped?)"
    if "PermissionError" in text or "Permission denied" in text:
        return f"permission denied on {where} (are you in the docker group?)"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def exists(docker_client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        docker_client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def ensure(docker_client: Any, spec: ImageSpec, log: Callable[[str], None]) -> bool:
    """Build spec's image unless its tag exists. Returns True when it built."""
    if exists(docker_client, spec.tag):
        return False
    lines: list[str] = []
    for line in _stream_build(docker_client, spec):
        lines.append(line)
        log(line)
    if not exists(docker_client, spec.tag):
        why = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), "")
        if _PULL_FAILED.search(why) and not exists(docker_client, spec.base):
            own = spec.toolchain.kind is SourceKind.IMAGE  # its CUDA is the base: no --base
            raise EngineError(f"the base image {spec.base} is not here and cannot be pulled "
                              f"({why.removeprefix('ERROR: ')[:160]})",
                              hint=f"`docker load -i` a saved {spec.base}, point the engine at a "
                                   "registry mirror, " + (
                                       "or run another column (--axis cuda=NAME of a pip: "
                                       "toolchain)" if own else
                                       "pass --base a local image, or run on the host "
                                       "toolchains with --runtime host"))
        raise EngineError(f"building {spec.tag} failed: {why}\n" + "\n".join(lines[-25:]),
                          hint="check the base image (--base) is present or pullable, "
                               "or run on the host toolchains with --runtime host")
    return True


# What an engine says when FROM needs a registry it cannot reach.
_PULL_FAILED = re.compile(r"registry|no such host|dial tcp|pull access denied|"
                          r"manifest unknown|TLS handshake|i/o timeout")


def base_present(docker_client: Any, spec: ImageSpec) -> bool:
    """Whether a build of spec needs no pull: its image or its base is already here."""
    return exists(docker_client, spec.tag) or exists(docker_client, spec.base)


def _stream_build(docker_client: Any, spec: ImageSpec) -> Iterator[str]:
    from docker.errors import APIError

    with tempfile.TemporaryFile() as context:
        spec.write_context(context)
        context.seek(0)
        try:
            stream = docker_client.api.build(
                fileobj=context, custom_context=True, tag=spec.tag, buildargs=spec.buildargs,
                labels=spec.labels, rm=True, forcerm=True, decode=True, pull=False)
            for chunk in stream:
                if "stream" in chunk:
                    text = str(chunk["stream"]).rstrip()
                    if text:
                        yield text
                elif "error" in chunk:
                    yield f"ERROR: {chunk['error']}"
        except APIError as exc:
            yield f"ERROR: {exc.explanation or exc}"


def managed(docker_client: Any) -> list[dict[str, Any]]:
    out = []
    for img in docker_client.images.list(filters={"label": LABEL}):
        labels = img.labels or {}
        out.append({"id": img.short_id, "tags": img.tags,
                    "toolchain": labels.get("io.kit.toolchain", ""),
                    "cutlass": labels.get("io.kit.cutlass", ""),
                    "flavour": labels.get("io.kit.flavour", ""),
                    "size_mb": round(img.attrs.get("Size", 0) / 1e6),
                    "created": img.attrs.get("Created", "")})
    return out


def prune(docker_client: Any, keep: set[str]) -> dict[str, list[str]]:
    """Remove kit's stray containers, and kit images whose tag is not in `keep`."""
    removed: dict[str, list[str]] = {"containers": [], "images": []}
    for c in docker_client.containers.list(all=True, filters={"label": LABEL}):
        c.remove(force=True)
        removed["containers"].append(c.short_id)
    for img in docker_client.images.list(filters={"label": LABEL}):
        if not keep.intersection(img.tags):
            docker_client.images.remove(img.id, force=True)
            removed["images"].append(img.short_id)
    return removed
