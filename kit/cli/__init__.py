"""The command line: click only; parses, calls one flow, prints."""

from kit.cli.commands import cli, main

__all__ = ["cli", "main"]
