"""Every failure a user can fix has its own class and exit code; the command line (kit.cli)
turns them into its output, nothing below it knows about click."""

from __future__ import annotations


class KitError(Exception):
    """A failure the user can act on. The message says what happened, the hint what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.hint = hint
        self.message = message if hint is None else f"{message}\n  hint: {hint}"
        super().__init__(self.message)

    def format_message(self) -> str:
        return self.message


class MatrixError(KitError):
    """matrix.yaml (or a repro.yaml) is wrong; the message names file, line and key."""

    exit_code = 2


class UsageError(KitError):
    """A command-line value kit cannot use (bad --only, unknown run id...)."""

    exit_code = 2


class ToolchainError(KitError):
    """A CUDA toolchain could not be found or installed."""

    exit_code = 3


class CutlassSourceError(KitError):
    """CUTLASS headers could not be fetched or found."""

    exit_code = 3


class EngineError(KitError):
    """The Docker engine is missing or failed."""

    exit_code = 4


class GpuError(KitError):
    """NVML or the GPU misbehaved in a way that stops the run."""

    exit_code = 5


class ResultsError(KitError):
    """A results folder is missing, locked or unreadable."""

    exit_code = 6


class CommandError(KitError):
    """A subprocess kit depends on (not a kernel under test) failed."""

    exit_code = 7


class InfraError(KitError):
    """Every cell of a run failed for reasons of kit or its environment, none for the kernel's:
    the run answered nothing, and says so with its exit code."""

    exit_code = 10


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, after the command said what it saved and how to go on: nothing more to say."""
