"""The README's commands, as doc tests: every `kit ...` it shows parses against the real
command line, and every selection it shows (--preset, --only, --axis) selects cells of the
real matrix.yaml. A command the CLI does not know, or an example that matches nothing (such
as `--only 'cuda=13.*'` against toolchains named cuda13.0), fails here, not in a user's hands.

Running them for real needs compiles, a GPU or an engine: the integration tests do that for the
commands they name; this test checks what every one of them says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli import cli
from kit.flows import selection
from kit.spec import intake

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# Placeholders of the synopsis lines (`kit matrix plan [--preset P] ...`): not runnable as shown.
SYNOPSIS = re.compile(r"[\[\]|]|\.\.\.|\b(RUN|CELL|FILE|NAME|TAG|ADDR|HEAD|IMAGE|N|P|T|C|K|S|"
                      r"GiB|OWNER/NAME|RUN_A|RUN_B|URL|OLD\.\.NEW)\b")


def commands() -> list[str]:
    """Every `kit ...` line of the README's code blocks and inline code, comments cut off."""
    found: list[str] = []
    for block in re.findall(r"```(?:sh|bash)?\n(.*?)```", README, re.DOTALL):
        for line in block.splitlines():
            text = line.split("  #")[0].strip()
            text = re.sub(r"^(\w+=\S+ )+", "", text)  # KIT_PYTHON=... kit ...
            if text.startswith("kit ") and "&&" not in text:
                found.append(text)
    found += [c for c in re.findall(r"`(kit [^`]+)`", README) if "\n" not in c]
    return sorted(set(found))


RUNNABLE = [c for c in commands() if not SYNOPSIS.search(c.removeprefix("kit "))]


def added() -> set[str]:
    """Repros the README's own `kit repro add` lines make (the file's stem, or --name)."""
    names = set()
    for c in RUNNABLE:
        args = shlex.split(c)
        if args[1:3] == ["repro", "add"] and len(args) > 3:
            names.add(_value(args, "--name") or intake.slug(Path(args[3]).stem))
    return names


def test_the_readme_shows_commands_to_check() -> None:
    assert len(RUNNABLE) >= 15  # the doc test reads the README, not an empty list


@pytest.mark.parametrize("command", RUNNABLE)
def test_each_command_parses(command: str) -> None:
    args = shlex.split(command)[1:]
    # --help after everything: click parses every option name and argument before it
    result = CliRunner().invoke(cli, [*args, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, f"{command}: {result.output}"


@pytest.mark.parametrize("command", [c for c in RUNNABLE if c.startswith(
    ("kit matrix plan", "kit matrix run", "kit images build", "kit bisect"))
    and ("--preset" in c or "--only" in c or "--axis" in c)])
def test_each_selection_selects_cells_of_the_real_matrix(command: str) -> None:
    args = shlex.split(command)
    if any(f"repro={name}" in command for name in added()):
        return  # the repro the README's `kit repro add` line makes, named as kit names it
    preset = _value(args, "--preset")
    only = tuple(_values(args, "--only"))
    axis = tuple(_values(args, "--axis"))
    sel = selection.Selection(matrix_path=ROOT / "matrix.yaml", preset=preset, only=only,
                              axis=axis)
    _, cells = selection.load(sel)
    assert cells, command


def test_a_selection_that_matches_nothing_would_fail_here() -> None:
    sel = selection.Selection(matrix_path=ROOT / "matrix.yaml", only=("cuda=13.*",))
    with pytest.raises(Exception, match="no cuda matches"):
        selection.load(sel)


def _value(args: list[str], flag: str) -> str | None:
    found = _values(args, flag)
    return found[-1] if found else None


def _values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag] + \
        [a.split("=", 1)[1] for a in args if a.startswith(f"{flag}=")]
