"""CUTLASS headers for a cell: from the nvidia-cutlass wheel, a git ref, or a local folder.

Each source lands once in the cache, keyed by version or commit; the identity recorded in
results is what fixes the headers' content (wheel sha256, commit SHA).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kit.spec.model import CutlassKind, CutlassSource
from kit.util import cache, cmd
from kit.util.errors import CutlassSourceError

_WHEEL_PREFIX = "cutlass_library/source/"
_KEEP = ("include/", "tools/util/include/", "examples/", "LICENSE.txt")
_VERSION_MACROS = re.compile(r"#define CUTLASS_(MAJOR|MINOR|PATCH) (\d+)")


@dataclass(frozen=True, kw_only=True)
class ResolvedCutlass:
    source: CutlassSource
    root: Path  # holds include/ and tools/util/include/
    version: str  # from cutlass/version.h
    identity: str  # sha256 of the wheel, or the commit SHA

    @property
    def include_dirs(self) -> list[Path]:
        return [self.root / "include", self.root / "tools" / "util" / "include"]


def resolve(src: CutlassSource) -> ResolvedCutlass:
    if src.kind is CutlassKind.PYPI:
        root, identity = _pypi(src.ref)
    elif src.kind is CutlassKind.GIT:
        root, identity = _git(src.ref)
    else:
        root = Path(src.ref).expanduser().resolve()
        if not (root / "include" / "cutlass" / "cutlass.h").is_file():
            raise CutlassSourceError(f"{root}: no include/cutlass/cutlass.h",
                                     hint="path: must point at a CUTLASS checkout's top folder")
        identity = "path:" + _tree_hash(root)
    return ResolvedCutlass(source=src, root=root, version=read_version(root), identity=identity)


def read_version(root: Path) -> str:
    try:
        text = (root / "include" / "cutlass" / "version.h").read_text()
    except OSError:
        return "unknown"
    parts = dict(_VERSION_MACROS.findall(text))
    return ".".join(parts.get(k, "?") for k in ("MAJOR", "MINOR", "PATCH"))


def _pypi(version: str) -> tuple[Path, str]:
    dest = cache.cutlass() / f"pypi-{version}"

    def build(tmp: Path) -> None:
        dl = tmp / ".download"
        done = cmd.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--only-binary=:all:", "-d", dl,
                        f"nvidia-cutlass=={version}"], timeout=900)
        wheels = list(dl.glob("nvidia_cutlass-*.whl"))
        if done.returncode != 0 or not wheels:
            raise CutlassSourceError(
                f"could not download nvidia-cutlass=={version}:\n{done.tail(10)}",
                hint="`pip index versions nvidia-cutlass` lists the versions PyPI has",
            )
        unpack_wheel(wheels[0], tmp)
        (tmp / "WHEEL_SHA256").write_text(_file_hash(wheels[0]))
        shutil.rmtree(dl)

    cache.install_atomically(dest, build)
    return dest, "sha256:" + (dest / "WHEEL_SHA256").read_text().strip()


def unpack_wheel(wheel: Path, dest: Path) -> None:
    """Extract the C++ tree the wheel ships under cutlass_library/source/."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if not info.filename.startswith(_WHEEL_PREFIX) or info.is_dir():
                continue
            rel = info.filename[len(_WHEEL_PREFIX):]
            if not rel.startswith(_KEEP) or ".." in Path(rel).parts:
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
    if not (dest / "include" / "cutlass" / "cutlass.h").is_file():
        raise CutlassSourceError(f"{wheel.name} ships no C++ headers under {_WHEEL_PREFIX}")


def _git(spec: str) -> tuple[Path, str]:
    url, _, ref = spec.rpartition("@")
    mirror = _mirror(url)
    commit = _commit(mirror, url, ref)
    dest = cache.cutlass() / f"git-{commit[:16]}"

    def export(tmp: Path) -> None:
        archive = tmp / ".tree.tar"
        cmd.check(["git", "-C", mirror, "archive", "--output", archive, commit,
                   "include", "tools/util/include"], what="git archive", timeout=900)
        cmd.check(["tar", "-xf", archive, "-C", tmp], what="tar")
        archive.unlink()

    cache.install_atomically(dest, export)
    return dest, f"git:{commit}"


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str


def commits_between(url: str, old: str, new: str) -> list[Commit]:
    """OLD, then every commit on the ancestry path to NEW, oldest first (git bisect's range)."""
    mirror = _mirror(url)
    first, last = _commit(mirror, url, old), _commit(mirror, url, new)
    done = cmd.check(["git", "-C", mirror, "log", "--reverse", "--ancestry-path",
                      "--format=%H %s", f"{first}..{last}"], what="git log")
    subject = cmd.check(["git", "-C", mirror, "log", "-1", "--format=%s", first], what="git log")
    commits = [Commit(first, subject.output.strip())]
    for line in done.output.splitlines():
        sha, _, text = line.partition(" ")
        commits.append(Commit(sha, text))
    if len(commits) < 2:
        raise CutlassSourceError(f"{url}: {new} is not a descendant of {old}",
                                 hint="give OLD..NEW with OLD an ancestor of NEW")
    return commits


def _mirror(url: str) -> Path:
    """A bare clone of url in kit's cache, refreshed when a ref is not in it."""
    mirror = cache.cutlass() / "git" / hashlib.sha256(url.encode()).hexdigest()[:16]

    def clone(tmp: Path) -> None:
        cmd.check(["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, tmp / "repo"],
                  what=f"git clone {url}", timeout=1800)
        (tmp / "repo").rename(tmp / "r")
        for p in (tmp / "r").iterdir():
            p.rename(tmp / p.name)
        (tmp / "r").rmdir()

    return cache.install_atomically(mirror, clone)


def _commit(mirror: Path, url: str, ref: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{40}", ref):  # a tag or branch may have moved: refresh
        cmd.run(["git", "-C", mirror, "fetch", "--quiet", "--tags", "--force", "origin",
                 "+refs/heads/*:refs/heads/*"], timeout=900)  # offline: the mirror as it is
    sha = cmd.run(["git", "-C", mirror, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"])
    if sha.returncode != 0:
        cmd.run(["git", "-C", mirror, "fetch", "--quiet", "origin", ref], timeout=900)
        sha = cmd.run(["git", "-C", mirror, "rev-parse", "--verify", "--quiet",
                       f"{ref}^{{commit}}"])
        if sha.returncode != 0:
            raise CutlassSourceError(f"{url}: no commit for '{ref}'",
                                     hint="use a tag, a branch or a full SHA")
    return sha.output.strip()


def _tree_hash(root: Path) -> str:
    """Every header a cell compiles against: a local tree with one line patched is another
    CUTLASS, and its builds are not the unpatched tree's (0.2 s for 4.2's 871 files here)."""
    digest = hashlib.sha256()
    for folder in (root / "include", root / "tools" / "util" / "include"):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
