"""The builder registry: one module per objective of `schemas.OBJECTIVES`, one line each.

An objective's Arrow columns and description live in `schemas/examples.py` (the base every
package reads); its builder lives here as `pipelines/build/objectives/<name>.py`, exposing
`BUILDER` (common.Builder). Adding an objective: a line in `schemas.OBJECTIVES`, a module here
and a line in `BUILDERS`.
"""

from __future__ import annotations

from pipelines.build.objectives import clm, mlm, nsp, sop, tlm
from pipelines.build.objectives.common import BuildOptions, Builder, Example, ShardContext, examples_table
from schemas import OBJECTIVES

BUILDERS: dict[str, Builder] = {
    "mlm": mlm.BUILDER,
    "nsp": nsp.BUILDER,
    "sop": sop.BUILDER,
    "tlm": tlm.BUILDER,
    "clm": clm.BUILDER,
}
assert all(BUILDERS[name].name == name for name in BUILDERS), "a BUILDERS key differs from its builder's name"
assert list(BUILDERS) == list(OBJECTIVES), "schemas.OBJECTIVES and BUILDERS list the same objectives, in order"


def get_builder(objective: str) -> Builder:
    """The builder of an objective of `schemas.OBJECTIVES`; ValueError naming the choices otherwise."""
    if objective not in BUILDERS:
        raise ValueError(f"unknown --objective {objective!r}; choose one of {', '.join(BUILDERS)}")
    return BUILDERS[objective]


__all__ = ["BUILDERS", "BuildOptions", "Builder", "Example", "ShardContext", "examples_table", "get_builder"]
