"""The Docker runtime: each cell compiles and runs in its toolchain image.

Containers get no network, no privileges, no capabilities, a read-only root, the sources
read-only, a memory limit and a timeout that kills; they carry kit's label and are removed
whatever happens (Ctrl-C included). GPUs come through the NVIDIA container toolkit where the
engine has it, else through the device nodes and the driver's user-space libraries.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kit.runtime import nvcc, pyrepro
from kit.runtime.base import CompileJob, RunJob, Runtime, objects_of, run_commands
from kit.runtime.pyrepro import JIT_MEMORY_SHARE
from kit.runtime.runimage import RunImages
from kit.sources import flavour, images
from kit.spec.model import CutlassSource, Toolchain
from kit.spec.repros import ReproKind
from kit.util import cache, cmd, peakmem, platform, reaper
from kit.util.errors import EngineError, KitError
from kit.util.gpu import GpuReport, detect

CUDA = PurePosixPath("/opt/cuda")
REPROS = PurePosixPath("/kit/repros")
CUTLASS = PurePosixPath("/kit/cutlass")
OUT = PurePosixPath("/kit/out")
BIN = PurePosixPath("/kit/bin")
BUILDS = PurePosixPath("/kit/builds")
# A prod image's cache, kept across cells and runs in a host folder of kit's cache per image:
# what `{cache}` in a python repro's env means in a container (FlashInfer's JIT cache).
IMAGE_CACHE = PurePosixPath("/kit/cache")
WHEELS = PurePosixPath("/kit/wheels")  # KIT_WHEELS, a --find-links for cells' packages
PYTHON = "/usr/bin/python3"  # the Dockerfile's apt python3, whatever the base
DRIVER_DIR = PurePosixPath("/usr/local/nvidia/lib64")
# What a CUDA program needs of the driver inside a container (no NVIDIA container toolkit).
DRIVER_LIBS = ("libcuda.so.1", "libnvidia-ptxjitcompiler.so.1", "libnvidia-ml.so.1",
               "libnvidia-nvvm.so.4")
USER = "1000:1000"  # the image's `kit` user
# pip settings that name a file of this machine, meaningless in a container (the image's
# kit-pip brings the CA bundle kit built it with)
_PIP_HOST_PATHS = frozenset({"PIP_CERT", "PIP_CLIENT_CERT", "PIP_CONFIG_FILE", "PIP_TARGET",
                             "PIP_PREFIX", "PIP_ROOT", "PIP_CACHE_DIR", "PIP_LOG", "PIP_SRC",
                             "PIP_REQUIREMENT", "PIP_CONSTRAINT"})
_PROXIES = frozenset({"http_proxy", "https_proxy", "no_proxy", "all_proxy"})


@dataclass(frozen=True)
class GpuAccess:
    mode: str  # nvidia-container-toolkit | device-nodes | none
    detail: str
    devices: list[str] = field(default_factory=list)
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)


def gpu_access(docker_client: Any) -> GpuAccess:
    runtimes = (docker_client.info().get("Runtimes") or {})
    if "nvidia" in runtimes:
        return GpuAccess("nvidia-container-toolkit", "engine has the nvidia runtime")
    nodes = sorted(str(p) for p in Path("/dev").glob("nvidia*")
                   if p.is_char_device() and p.name != "nvidia-modeset")
    if "/dev/nvidiactl" not in nodes:
        return GpuAccess("none", "no /dev/nvidiactl: no NVIDIA driver on this host")
    libs = _driver_libs()
    missing = [n for n in DRIVER_LIBS[:1] if n not in libs]
    if missing:
        return GpuAccess("none", f"driver library {missing[0]} not found by ldconfig")
    return GpuAccess(
        "device-nodes", f"{len(nodes)} device nodes + {len(libs)} driver libraries",
        devices=[f"{n}:{n}:rwm" for n in nodes],
        volumes={path: {"bind": str(DRIVER_DIR / name), "mode": "ro"}
                 for name, path in libs.items()})


def driver_dirs(machine: str | None = None) -> tuple[str, ...]:
    """Where drivers put their libraries when ldconfig's cache does not list them, on this
    machine's architecture (an aarch64 DGX Spark: /usr/lib/aarch64-linux-gnu)."""
    return ("/usr/local/nvidia/lib64", f"/usr/lib/{platform.arch(machine).multiarch}",
            "/usr/lib64", "/usr/lib/wsl/lib")


def _driver_libs() -> dict[str, str]:
    done = cmd.run(["ldconfig", "-p"], timeout=30)
    found: dict[str, str] = {}
    for line in done.output.splitlines():
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and m.group(1) in DRIVER_LIBS and "x86-64" in m.group(2):
            found.setdefault(m.group(1), m.group(3))
    for name in DRIVER_LIBS:
        for folder in driver_dirs():
            if name not in found and (Path(folder) / name).exists():
                found[name] = str(Path(folder) / name)
    return {name: str(Path(path).resolve()) for name, path in found.items()}


class DockerRuntime(Runtime):
    name = "docker"
    facts_runs = True  # the harness's facts path touches no device: any container will do

    def __init__(self, project: Path, *, base: str | None = None, mem_limit: str = "12g",
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.project = project.resolve()
        self.base = base
        self.mem_limit = mem_limit
        self.log = log
        self.client = images.client()
        self.session = secrets.token_hex(4)  # labels this process's containers
        self._specs: dict[tuple[str, str], images.ImageSpec] = {}
        self._lock = threading.Lock()
        self._runners: dict[tuple[str, int], Any] = {}
        self._unbuilt: dict[str, EngineError] = {}  # image tag -> why it could not be built
        self._building: dict[str, threading.Lock] = {}  # image tag -> held while it builds
        self._ready: list[str] = []  # the images this runtime made sure of, for the manifest
        self._said_find_links = False
        self.run_images = RunImages(self.client, base,
                                    driver_libs=lambda: list(self.access().volumes))
        self._said_run_image: set[str] = set()

    def describe(self) -> str:
        access = self.access()
        return f"docker ({access.mode}: {access.detail})"

    @functools.cache  # noqa: B019 - one runtime per process
    def access(self) -> GpuAccess:
        return gpu_access(self.client)

    @functools.cache  # noqa: B019
    def gpus(self) -> GpuReport:
        report = detect()
        if report.present and self.access().mode == "none":
            return GpuReport(gpus=(), error=f"GPU present but not reachable from containers: "
                                            f"{self.access().detail}")
        return report

    def spec(self, tc: Toolchain, cutlass: CutlassSource) -> images.ImageSpec:
        key = (tc.name, cutlass.name)
        with self._lock:
            if key not in self._specs:
                self._specs[key] = images.spec_for(tc, cutlass, project=self.project,
                                                   base=self.base)
            return self._specs[key]

    def toolchain_identity(self, tc: Toolchain) -> str:
        # The image also holds the host compiler; its inputs are hashed into the tag. The
        # CUTLASS part of the tag is covered by the cell's own CUTLASS identity.
        identity = images.toolchain_identity(tc, self.project, self.base)
        base = images.toolchain_args(tc, self.base)["BASE"]
        with contextlib.suppress(Exception):  # a base not pulled yet has no id to add
            identity += ":" + self.client.images.get(base).id.split(":")[-1][:12]
        return identity

    @functools.cache  # noqa: B019 - read once: every prod image of a run gets the same
    def recipe(self) -> flavour.Recipe:
        return flavour.Recipe.from_env()

    def prod_spec(self, tc: Toolchain, cutlass: CutlassSource) -> images.ImageSpec:
        """The prod flavour of the pair's image: where its python repros' cells build and run."""
        return flavour.spec(self.spec(tc, cutlass), self.recipe(), self.project)

    def image_for(self, tc: Toolchain, cutlass: CutlassSource, kind: ReproKind) -> images.ImageSpec:
        """The image a cell of a repro of `kind` compiles and runs in."""
        return self.prod_spec(tc, cutlass) if kind is ReproKind.PYTHON else self.spec(tc, cutlass)

    def python_identity(self, tc: Toolchain, cutlass: CutlassSource) -> str:
        # The prod tag hashes the PyTorch its cells' builds were installed against.
        return self.prod_spec(tc, cutlass).tag

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._ready:
            out = {"images": sorted(set(self._ready)), "bases": self._bases()}
        if self.run_images.chosen():  # binaries that ran in another image than their own
            out["run_images"] = self.run_images.chosen()
        return out

    def _bases(self) -> dict[str, dict[str, Any]]:
        """Each base the run's images started from, as this engine holds it: the platform it
        is (amd64, arm64) and its image id, beside the reference and digest it was asked by."""
        out: dict[str, dict[str, Any]] = {}
        for spec in self._specs.values():
            if spec.base in out or not images.exists(self.client, spec.base):
                continue
            attrs = self.client.images.get(spec.base).attrs
            out[spec.base] = {"platform": f"{attrs.get('Os')}/{attrs.get('Architecture')}",
                              "id": attrs.get("Id", ""),
                              "repo_digests": attrs.get("RepoDigests") or []}
        return out

    def warnings(self, pairs: list[tuple[Toolchain, CutlassSource]]) -> list[str]:
        out = []
        for tc, cutlass in pairs:
            try:
                spec = self.spec(tc, cutlass)
            except KitError as exc:
                out.append(f"{tc.name}: {exc.message.splitlines()[0]}")
                continue
            if not images.base_present(self.client, spec):
                out.append(f"{tc.name} x CUTLASS {cutlass.name}: its image is not built and "
                           f"its base {spec.base} is not here: a run pulls it (without a "
                           "registry: `docker load` it, or --base a local image)")
        return list(dict.fromkeys(out))

    def prepare(self, tc: Toolchain, cutlass: CutlassSource) -> None:
        self.ensure_image(self.spec(tc, cutlass))

    def prepare_python(self, tc: Toolchain, cutlass: CutlassSource) -> None:
        self.ensure_image(self.prod_spec(tc, cutlass))  # PyTorch: minutes, gigabytes

    def ensure_image(self, spec: images.ImageSpec) -> bool:
        """Build spec's image unless its tag is there (a flavour: its toolchain image first),
        once however many compile threads ask; True when this call built it. A failure is
        kept, so each of its cells says why instead of "no such image"."""
        with self._lock:
            building = self._building.setdefault(spec.tag, threading.Lock())
        with building:
            if spec.tag in self._unbuilt:
                raise self._unbuilt[spec.tag]
            try:
                if spec.flavour:
                    self.ensure_image(self.spec(spec.toolchain, spec.cutlass))
                built = images.ensure(self.client, spec, self.log)
            except EngineError as exc:
                self._unbuilt[spec.tag] = exc
                raise
            self._ready.append(spec.tag)
        if built:
            self.log(f"built {spec.tag}")
        return built

    def compile(self, job: CompileJob) -> cmd.Completed:
        if job.repro.kind is ReproKind.PYTHON:
            return self._compile_python(job)
        spec = self.spec(job.cell.toolchain, job.cell.cutlass)
        if spec.tag in self._unbuilt:
            raise self._unbuilt[spec.tag]
        out_dir = job.output.parent
        out_dir.chmod(0o777)  # the container's non-root user writes the binary here
        repros_host = job.repro.root.parent
        root = job.cutlass.root

        def inside(path: Path) -> str:
            for host, mount in ((repros_host, REPROS), (root, CUTLASS)):
                if path.is_relative_to(host):
                    return str(mount / path.relative_to(host).as_posix())
            raise EngineError(f"{path} is outside the folders mounted into the container")

        commands = nvcc.commands(
            nvcc=str(CUDA / "bin" / "nvcc"), cell=job.cell, repro=job.repro, place=inside,
            include_dirs=[inside(p) for p in (*job.cutlass.include_dirs,
                                              *job.repro.include_dirs(root))],
            link_args=[f"-L{CUDA}/lib", f"-L{CUDA}/lib64"],
            output=str(OUT / job.output.name), cutlass_root=root)
        volumes = {str(repros_host): {"bind": str(REPROS), "mode": "ro"},
                   str(root): {"bind": str(CUTLASS), "mode": "ro"},
                   str(out_dir): {"bind": str(OUT), "mode": "rw"}}
        try:
            done = run_commands(commands, lambda argv, left: self._container(
                spec.tag, argv, volumes=volumes, timeout=left, log=job.log, workdir=str(OUT)),
                timeout=job.timeout, objects=objects_of(job))
        finally:
            out_dir.chmod(0o755)
        (out_dir / "image").write_text(spec.tag)  # runs use the image that built it
        return done

    def _compile_python(self, job: CompileJob) -> cmd.Completed:
        """What the host runtime does (kit.pyrepro), with the prod image's python and pip,
        and the paths its launcher will see in a runner container. pip needs a network:
        this container alone gets one; the runs that follow have none."""
        spec = self.prod_spec(job.cell.toolchain, job.cell.cutlass)
        self.ensure_image(spec)
        out_dir = job.output.parent
        volumes = {str(out_dir): {"bind": str(OUT), "mode": "rw"}}
        env = {"HOME": "/tmp", "PIP_NO_CACHE_DIR": "1", **pip_environment()}
        # each wheel by its real file: a link in KIT_WHEELS would point nowhere in there
        wheels = self.recipe().wheel_files
        for name, path in wheels.items():
            volumes[str(path.resolve())] = {"bind": str(WHEELS / name), "mode": "ro"}
        if wheels:
            env["PIP_FIND_LINKS"] = f"{WHEELS} {env.get('PIP_FIND_LINKS', '')}".strip()
        local = [u for u in os.environ.get("PIP_FIND_LINKS", "").split() if "://" not in u]
        if local and not self._said_find_links:
            self._said_find_links = True
            self.log(f"PIP_FIND_LINKS {' '.join(local)}: folders of this machine are not seen "
                     "by the container that installs python cells' packages; KIT_WHEELS is")
        out_dir.chmod(0o777)  # as for nvcc: the image's kit user may be the one writing
        try:
            done = pyrepro.build(
                job, python=PYTHON, cuda_home=CUDA, cache_dir=IMAGE_CACHE, site=OUT / "site",
                pip=("kit-pip",), run=lambda argv, left: self._container(
                    spec.tag, argv, volumes=volumes, timeout=left, log=job.log,
                    workdir=str(OUT), env=env, user=writer(), network_mode="bridge"))
        finally:
            out_dir.chmod(0o755)
        (out_dir / "image").write_text(spec.tag)
        return done

    def image_cache(self, tag: str) -> dict[str, dict[str, str]]:
        """The read-write cache folder a prod image's runs mount (none for other images):
        one per image, so FlashInfer JIT-compiles a module once for every cell and run."""
        if not flavour.is_prod(tag):
            return {}
        folder = cache.images() / flavour.folder_name(tag)
        folder.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:  # the container writes as the image's kit user, never root
            os.chown(folder, 1000, 1000)
        return {str(folder): {"bind": str(IMAGE_CACHE), "mode": "rw"}}

    def probe(self, image: str, argv: list[str], *,
              volumes: dict[str, dict[str, str]] | None = None,
              env: dict[str, str] | None = None, timeout: float = 120) -> cmd.Completed:
        """Run argv once in a locked-down container of `image` (`kit doctor --image`), as
        the user that writes kit's cache (it may mount an image's cache)."""
        return self._container(image, argv, volumes=volumes or {}, timeout=timeout, log=None,
                               workdir="/tmp", env={"HOME": "/tmp", **(env or {})},
                               user=writer())

    def run(self, job: RunJob) -> cmd.Completed:
        """In a long-lived runner container of the binary's image (one per image and GPU),
        one `exec` per cell: a container per cell would cost ~0.4 s each, an exec ~0.07 s."""
        builds = cache.builds()
        if not job.binary.resolve().is_relative_to(builds.resolve()):
            return self._run_in_own_container(job)
        tag = self._tag_for_binary(job)
        runner = self._runner(tag, job.gpu_index)
        inside = BUILDS / job.binary.resolve().relative_to(builds.resolve()).as_posix()
        argv = ["timeout", "--signal=KILL", f"{job.timeout:g}", str(inside), *job.args]
        _, env = self._gpu(job.gpu_index)
        env |= job.env
        user = USER
        if flavour.is_prod(tag):  # a python launcher: writes its image's cache, wants a HOME
            user, env = writer(), {**env, "HOME": "/tmp"}
        started = time.monotonic()
        try:
            made = self.client.api.exec_create(runner.id, argv, environment=env, user=user,
                                               workdir="/tmp")
            output = self.client.api.exec_start(made["Id"]).decode("utf-8", errors="replace")
            status = int(self.client.api.exec_inspect(made["Id"])["ExitCode"])
        except _engine_errors() as exc:
            raise EngineError(f"the Docker engine failed while running {job.binary}: {exc}",
                              hint=ENGINE_DOWN_HINT) from None
        seconds = time.monotonic() - started
        # GNU timeout exits 137 when it had to KILL the program at the limit.
        timed_out = status in (124, 137) and seconds >= job.timeout * 0.98
        if status == 137 and not timed_out:  # a KILL kit did not send: the engine stopping?
            self.check()
        done = cmd.Completed(tuple(argv), _signal_status(status), output, seconds, timed_out)
        cmd.append_log(job.log, done)
        return done

    def _runner(self, image: str, gpu_index: int) -> Any:
        """The idle container runs are exec'd in: the same lockdown as any kit container,
        the build cache read-only, the GPU attached."""
        from docker.errors import DockerException

        key = (image, gpu_index)
        self._guard()  # also for a runner made before: it lives until close()
        with self._lock:
            if key in self._runners:
                return self._runners[key]
            extra, _ = self._gpu(gpu_index)
            volumes = {str(cache.builds()): {"bind": str(BUILDS), "mode": "ro"},
                       **self.image_cache(image), **self.access().volumes}
            if flavour.is_prod(image):  # a JIT build runs there (kit.pyrepro.jit_jobs)
                extra["mem_limit"] = f"{max(12, int(peakmem.total_gb() * JIT_MEMORY_SHARE))}g"
            try:
                runner = self.client.containers.create(
                    image, ["sleep", "infinity"], volumes=volumes, working_dir="/tmp",
                    **{**self._lockdown(), **extra})
                runner.start()
            except DockerException as exc:
                raise EngineError(f"could not start a runner container from {image}: {exc}"
                                  ) from None
            self._runners[key] = runner
            return runner

    def _run_in_own_container(self, job: RunJob) -> cmd.Completed:
        store = job.binary.parent
        spec_tag = self._tag_for_binary(job)
        volumes = {str(store): {"bind": str(BIN), "mode": "ro"}, **self.image_cache(spec_tag),
                   **self.access().volumes}
        extra, env = self._gpu(job.gpu_index)
        env |= job.env
        if flavour.is_prod(spec_tag):
            extra["user"], env = writer(), {**env, "HOME": "/tmp"}
        return self._container(spec_tag, [str(BIN / job.binary.name), *job.args],
                               volumes=volumes, timeout=job.timeout, log=job.log,
                               workdir="/tmp", env=env, **extra)

    def _gpu(self, gpu_index: int) -> tuple[dict[str, Any], dict[str, str]]:
        """How a container gets GPU `gpu_index`: its create() arguments and environment."""
        access = self.access()
        extra: dict[str, Any] = {"devices": access.devices}
        env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        if access.mode == "nvidia-container-toolkit":
            from docker.types import DeviceRequest

            extra["device_requests"] = [DeviceRequest(device_ids=[str(gpu_index)],
                                                      capabilities=[["gpu"]])]
        else:
            env |= {"CUDA_VISIBLE_DEVICES": str(gpu_index), "LD_LIBRARY_PATH": str(DRIVER_DIR)}
        return extra, env

    def _lockdown(self) -> dict[str, Any]:
        return {"network_mode": "none", "user": USER, "cap_drop": ["ALL"],
                "security_opt": ["no-new-privileges"], "read_only": True,
                "tmpfs": {"/tmp": "rw,exec,size=4g"}, "mem_limit": self.mem_limit,
                "pids_limit": 4096,
                "labels": {images.LABEL: "1", "io.kit.session": self.session}}

    def _tag_for_binary(self, job: RunJob) -> str:
        """The image the binary was compiled in (its libraries, its user) where this engine
        has it; else a run image (kit.runtime.runimage): a pack's binaries on a GPU machine
        that never built kit's toolchain images."""
        record = job.binary.parent / "image"
        built_in = record.read_text().strip() if record.is_file() else ""
        if flavour.is_prod(built_in) and not images.exists(self.client, built_in):
            raise EngineError(f"{job.binary}: a python cell runs only in the prod image that "
                              f"installed it, {built_in}, which is not on this engine",
                              hint="docker load that image here, or run the cell with "
                                   "--runtime host")
        choice = self.run_images.for_binary(job.binary, built_in)
        if choice.tag != built_in and choice.tag not in self._said_run_image:
            self._said_run_image.add(choice.tag)
            self.log(f"running binaries in {choice.tag}: {choice.why}")
        return choice.tag

    def _container(self, image: str, argv: list[str], *, volumes: dict[str, dict[str, str]],
                   timeout: float, log: Path | None, workdir: str,
                   env: dict[str, str] | None = None, **extra: Any) -> cmd.Completed:
        """One container, run to its end or its timeout and removed; `extra` adds to (or, for
        a user or a network, relaxes) the lockdown."""
        self._guard()
        started = time.monotonic()
        try:
            container = self.client.containers.create(
                image, argv, volumes=volumes, working_dir=workdir, environment=env or {},
                **{**self._lockdown(), **extra})
        except _engine_errors() as exc:
            raise EngineError(f"could not create a container from {image}: {exc}",
                              hint=ENGINE_DOWN_HINT) from None
        timed_out = oom = False
        try:
            container.start()
            try:
                status = int(container.wait(timeout=timeout)["StatusCode"])
            except _engine_errors():
                if time.monotonic() - started < timeout:  # not the limit: the engine went away
                    raise
                timed_out = True
                container.kill()
                status = 137
            if status == 137 and not timed_out:
                container.reload()
                oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
            output = container.logs(stdout=True, stderr=True).decode("utf-8", errors="replace")
        except _engine_errors() as exc:
            raise EngineError(f"the Docker engine failed while running {image}: {exc}",
                              hint=ENGINE_DOWN_HINT) from None
        finally:
            with contextlib.suppress(*_engine_errors()):  # if not, prune finds it by label
                container.remove(force=True)
        if status == 137 and not timed_out:
            if oom:
                output += (f"\n[kit: oom: the container reached its memory limit "
                           f"({self.mem_limit}) and the kernel's OOM killer ended it]\n")
            else:  # neither kit's timeout nor the memory limit: the engine stopping it?
                self.check()
        done = cmd.Completed(tuple(argv), _signal_status(status), output,
                             time.monotonic() - started, timed_out)
        if log is not None:
            cmd.append_log(log, done)
        return done

    def _guard(self) -> None:
        """If kit is killed, the guard removes this session's containers (kit.reaper)."""
        reaper.GUARD.containers(f"io.kit.session={self.session}")

    def close(self) -> None:
        self._stop_runners()
        self.client.close()

    def _stop_runners(self) -> None:
        from docker.errors import DockerException

        with self._lock:
            runners, self._runners = list(self._runners.values()), {}
        for runner in runners:
            with contextlib.suppress(DockerException, *_engine_errors()):
                runner.remove(force=True)

    def check(self) -> None:
        # On a fresh connection: a stopping dockerd removes its socket at once but goes on
        # answering the connections it has (self.client's pool) until its containers end.
        try:
            images.client().close()
        except EngineError as exc:
            raise EngineError("the Docker engine stopped answering during the run: "
                              f"{exc.message.splitlines()[0]}", hint=ENGINE_DOWN_HINT) from None

    def cleanup(self) -> None:
        from docker.errors import DockerException

        with contextlib.suppress(DockerException, *_engine_errors()):
            for c in self.client.containers.list(
                    all=True, filters={"label": f"io.kit.session={self.session}"}):
                c.remove(force=True)
        self._runners = {}


ENGINE_DOWN_HINT = ("start the engine again (dockerd, or: systemctl start docker); every "
                    "finished cell is saved, and `kit matrix run --resume` does the rest")


def writer() -> str:
    """The user a container writes kit's cache as: yours, so that you can delete what it
    wrote; the image's kit user when kit runs as root (a container never runs as root)."""
    uid = os.getuid()
    return USER if uid == 0 else f"{uid}:{os.getgid()}"


def pip_environment() -> dict[str, str]:
    """What pip in a container takes from this machine's environment, as pip here does:
    PIP_* (an index, a mirror) and proxies, less paths of this machine and any secret."""
    env = {k: v for k, v in cmd.child_environment().items()
           if (k.startswith("PIP_") and k not in _PIP_HOST_PATHS) or k.lower() in _PROXIES}
    # its URLs; a folder of this machine reaches a container as KIT_WHEELS
    links = " ".join(u for u in env.pop("PIP_FIND_LINKS", "").split() if "://" in u)
    return env | ({"PIP_FIND_LINKS": links} if links else {})


def _engine_errors() -> tuple[type[Exception], ...]:
    """What the Docker SDK raises when the engine fails or goes away: a stopped engine gives
    requests' ConnectionError, which is not a DockerException."""
    import requests
    from docker.errors import DockerException

    return (DockerException, requests.exceptions.RequestException, ConnectionError)


def _signal_status(status: int) -> int:
    """A process killed by signal N exits 128+N inside a container; report it as the host
    runtime does (negative), so one classifier serves both."""
    return -(status - 128) if 128 < status < 160 else status
