"""kit's settings as click options: each built from its one declaration in kit.spec.options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from kit.spec.options import SETTINGS

F = TypeVar("F", bound=Callable[..., Any])


def setting(name: str) -> Callable[[F], F]:
    """The click option for SETTINGS[name]: its flags, type and minimum, default, KIT_*
    variable and help."""
    s = SETTINGS[name]
    kind = click.IntRange(min=int(s.minimum)) if s.kind is int else \
        click.FloatRange(min=s.minimum)
    return click.option(*s.flags, name, type=kind, default=s.default, envvar=s.env,
                        show_default=s.default is not None, show_envvar=True, help=s.help)
