"""A model's registry entry (STYLE.md #6): sizes, position limit, objective, recipe, task builder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from trainer.config import ModelSize, Recipe, TrainConfig, VocabInfo

if TYPE_CHECKING:
    from trainer.objectives.base import Objective, Task


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What a model file gets to build its task: the size, the shard set's vocabulary and
    seq_len, and the whole run configuration (for model-specific flags)."""

    size: ModelSize
    vocab: VocabInfo
    seq_len: int
    config: TrainConfig


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One registry entry; `trainer/models/<name>.py` defines `SPEC`."""

    name: str
    paper: str  # the recipe's source
    objective: "Objective"  # what it learns and from which shards
    masking: str  # default trainer.masking preset
    sizes: dict[str, ModelSize]  # every name in trainer.config.SIZE_NAMES
    max_positions: int  # the longest sequence the position table takes
    recipe: Recipe
    auto_class: str  # the transformers Auto class that reloads DIR/hf
    build_task: Callable[[BuildContext], "Task"]  # networks freshly initialised from torch's seeded RNG


__all__ = ["BuildContext", "ModelSpec"]
