"""Command-line flags whose defaults come from a frozen configuration dataclass.

STYLE.md #5: configuration is frozen dataclasses and the command line overrides a few fields.
`config_flag(parser, "--seed", BuildConfig, type=int, help=...)` reads the default of the field
`seed` from the dataclass, so each default is written once (in the dataclass, beside the comment
that cites its source) and the help text shows it. Every entry point uses it (the Beam jobs and
the trainer), hence it lives in `schemas`, the base package; it imports nothing of the project.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any


def field_default(cls: type, name: str) -> Any:
    """The default of the dataclass field `name` (calling its default_factory); KeyError if the
    field does not exist or has no default (a required field has none)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{cls.__name__}.{name} is required: it has no default to show")
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def show_default(value: Any) -> str:
    """A default as the help text shows it: None as 'none', booleans as on/off."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:_}"
    return str(value)


def config_flag(parser: argparse.ArgumentParser | argparse._ActionsContainer, flag: str, cls: type, *,
                help: str, field: str | None = None, **kwargs: Any) -> argparse.Action:
    """`parser.add_argument(flag, default=<cls's default of field>, help="<help> (default X)")`.

    The field is the flag's name with dashes as underscores unless `field` names it. `help` may
    already say how the default reads (then it holds '%(default)' or 'default'), else
    ' (default X)' is appended.
    """
    default = field_default(cls, field or flag.lstrip("-").replace("-", "_"))
    if "default" not in help:
        help = f"{help} (default {show_default(default).replace('%', '%%')})"
    return parser.add_argument(flag, default=default, help=help, **kwargs)
