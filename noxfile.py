"""nox sessions: `nox -l` lists them. Docker and GPU sessions are not in the default set.

One `repro-<toolchain>` session per toolchain in matrix.yaml runs the matrix for that
toolchain in its Docker image, e.g. `nox -s repro-cuda13.0`; `nox -s prod` runs the production
kernel in the prod image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nox
import yaml

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

MATRIX = Path(__file__).parent / "matrix.yaml"


@nox.session(tags=["check"])
def lint(session: nox.Session) -> None:
    """ruff and mypy (strict) over kit, tests, bench and this file."""
    session.install("-e", ".[test]")
    session.run("ruff", "check", "kit", "tests", "bench", "noxfile.py")
    session.run("mypy")


@nox.session(tags=["check"])
def tests(session: nox.Session) -> None:
    """Unit tests, then the integration tests (real nvcc, real CUTLASS, a real engine)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(name="smoke")
def smoke(session: nox.Session) -> None:
    """The smallest useful matrix (real compiles; no_gpu without a GPU)."""
    session.install("-e", ".")
    session.run("kit", "matrix", "run", "--preset", "smoke", *session.posargs)


@nox.session(name="prod", tags=["docker"])
def prod(session: nox.Session) -> None:
    """The production kernel (FlashInfer's CUTLASS fused MoE) in the prod image.

    KIT_TORCH, KIT_TORCH_INDEX and KIT_WHEELS choose its PyTorch (`-- --runtime host`:
    KIT_PYTHON's)."""
    session.install("-e", ".")
    session.run("kit", "matrix", "run", "--preset", "prod", "--runtime", "docker",
                *session.posargs)


def _toolchains() -> dict[str, str]:
    """matrix.yaml's toolchains that have an image (name -> source, e.g. pip: 13.0.88)."""
    data = yaml.safe_load(MATRIX.read_text()) or {}
    return {name: ", ".join(f"{k}: {str(v).split('@')[0]}" for k, v in spec.items())
            for name, spec in (data.get("toolchains") or {}).items()
            if isinstance(spec, dict) and "host" not in spec}


def _repro_session(toolchain: str, source: str) -> Callable[[nox.Session], None]:
    def session(session: nox.Session) -> None:
        session.install("-e", ".")
        session.run("kit", "matrix", "run", "--runtime", "docker", "--axis",
                    f"cuda={toolchain}", *session.posargs)

    session.__doc__ = (f"The default matrix on {toolchain} ({source}) in its image; "
                       f"-- --preset P for another.")
    return session


for _name, _source in _toolchains().items():
    # One session per toolchain: `nox -s repro-cuda13.0 -- --preset seed-steps`.
    nox.session(name=f"repro-{_name}", tags=["docker"])(_repro_session(_name, _source))
