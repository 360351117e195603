"""A model's registry entry (STYLE.md #6): sizes, position limit, objective, recipe, task builder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from trainer.config import ModelSize, Recipe, TrainConfig, VocabInfo

if TYPE_CHECKING:
    from trainer.objectives.base import Objective, Task


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What a model file gets to build its task: the size, the shard set's vocabulary, seq_len
    and tokenizer, and the whole run configuration (for model-specific flags)."""

    size: ModelSize
    vocab: VocabInfo
    seq_len: int
    config: TrainConfig
    tokenizer: Any = None  # the shard set's tokenizer (transformers), when the run has loaded it
    manifest: dict[str, Any] | None = None  # the shard set's manifest (its languages table, objective)


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
    # For a model with several objectives (XLM): the one a shard set feeds, from its manifest and
    # --data; raises a one-line error naming the build when none fits. None: `objective` only.
    select_objective: Callable[[dict[str, Any], str], "Objective"] | None = None
    lang_alpha: float | None = None  # language sampling q ∝ p^alpha on shards with per-example languages
    options: tuple[str, ...] = ()  # the trainer.config.MODEL_OPTIONS it takes (distilbert: "teacher")
    # --init DIR: load(task, DIR, shards' tokenizer); None: trainer.initialize.load_exports (same
    # model, same size). A model that starts from another one (Longformer from RoBERTa) gives its own.
    load_init: Callable[["Task", str, Any], None] | None = None


__all__ = ["BuildContext", "ModelSpec"]
