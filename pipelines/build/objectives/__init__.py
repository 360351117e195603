"""The builder registry: one module per objective of `schemas.OBJECTIVES`, one line each.

An objective's Arrow columns and description live in `schemas/examples.py` (the base every
package reads); its builder lives here as `pipelines/build/objectives/<name>.py`, exposing
`BUILDER` (common.Builder). Adding an objective: a line in `schemas.OBJECTIVES` and a module
here; `BUILDERS` loads one module per row of the table, in its order.
"""

from __future__ import annotations

import importlib

from pipelines.build.objectives.common import (
    BuildOptions, Builder, Example, ExampleColumns, ShardContext, examples_table)
from schemas import OBJECTIVES


def load_builder(objective: str) -> Builder:
    """`BUILDER` of the module `pipelines/build/objectives/<objective>.py`; ImportError naming the
    missing file when a row of `schemas.OBJECTIVES` has no builder module."""
    try:
        module = importlib.import_module(f"{__name__}.{objective}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{objective}":
            raise  # the module exists; something it imports does not
        raise ImportError(f"schemas.OBJECTIVES lists {objective!r} but pipelines/build/objectives/{objective}.py, "
                          f"its builder, does not exist") from None
    builder = getattr(module, "BUILDER", None)
    if getattr(builder, "name", None) != objective:
        raise ImportError(f"pipelines/build/objectives/{objective}.py has no BUILDER named {objective!r}")
    return builder


BUILDERS: dict[str, Builder] = {name: load_builder(name) for name in OBJECTIVES}


def get_builder(objective: str) -> Builder:
    """The builder of an objective of `schemas.OBJECTIVES`; ValueError naming the choices otherwise."""
    if objective not in BUILDERS:
        raise ValueError(f"unknown --objective {objective!r}; choose one of {', '.join(BUILDERS)}")
    return BUILDERS[objective]


__all__ = ["BUILDERS", "BuildOptions", "Builder", "Example", "ExampleColumns", "ShardContext", "examples_table",
           "get_builder", "load_builder"]
