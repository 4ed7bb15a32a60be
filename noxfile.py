"""nox sessions: `nox -l` lists them. Docker and GPU sessions are not in the default set."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(tags=["check"])
def lint(session: nox.Session) -> None:
    """ruff and mypy (strict) over kit, tests and this file."""
    session.install("-e", ".[test]")
    session.run("ruff", "check", "kit", "tests", "noxfile.py")
    session.run("mypy")


@nox.session(tags=["check"])
def tests(session: nox.Session) -> None:
    """Unit tests, then the integration tests (a real nvcc compile of real repros)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(name="smoke")
def smoke(session: nox.Session) -> None:
    """The smallest useful matrix on the host runtime (real compiles, no_gpu without a GPU)."""
    session.install("-e", ".")
    session.run("kit", "matrix", "run", "--preset", "smoke", *session.posargs)
