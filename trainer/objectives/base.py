"""What every objective and every task share: the `Objective` record, the `Task` module, a step's output.

An objective (one file in this package) says which shard columns a batch needs, how a collated
batch becomes model inputs (masking with the batch's seeded generator), and, as a `Task`
subclass, what one step's loss is, with named parts and summable counts. A model file builds a
task around its `transformers` networks; the loop only ever calls the task:

    task(inputs) -> StepOutput(loss, parts, counts)   # parts: {"mlm_loss": ...}, logged by name
    task.summarize(counts) -> {"mlm_accuracy": ...}   # counts summed over eval batches and ranks
    task.trainable_parameters(), task.checkpoint_state(), task.load_checkpoint_state(state)
    task.exports() -> {"hf": network, ...}            # folders under DIR/ written by save_pretrained

A task holding a frozen network (a distillation teacher) names it in `frozen`: it stays in eval
mode, gets no gradients, and is left out of checkpoints and exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import torch
from torch import nn

from schemas import OBJECTIVES, objective_columns


class StepOutput(NamedTuple):
    """One forward pass of a task: the loss to backpropagate, its named parts (scalars; the loss
    is their weighted sum), and counts that `Task.summarize` turns into metrics (tensors of a
    fixed shape per key, summed over batches and ranks; filled only when asked for)."""

    loss: torch.Tensor
    parts: dict[str, torch.Tensor]
    counts: dict[str, torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class Objective:
    """What a model learns from which shards (STYLE.md #6: one file per objective).

    `prepare(batch, masker, generator)` turns a collated CPU batch into the task's inputs; it may
    draw randomness only from `generator` (seeded by the batch's stream position, so a resumed
    run masks exactly as the uninterrupted one): a `trainer.randomness.BatchRandom` (or a
    `torch.Generator`), handed to the masker as it is; torch draws take
    `trainer.randomness.torch_generator(generator)`.
    """

    name: str  # e.g. "mlm+nsp"
    shard_objective: str  # the `shardlm build --objective` whose shards carry the columns
    shard_help: str  # what those shards hold, for error messages
    columns: tuple[str, ...]  # shard columns a batch must have
    prepare: Callable[[dict[str, torch.Tensor], Any, Any], dict[str, torch.Tensor]]  # (batch, masker, generator)

    def __post_init__(self) -> None:
        # The data side's objective table (schemas.OBJECTIVES) decides what shards hold: a trainer
        # objective names one of its rows and needs only columns that row writes (with languages
        # where the row has them), so the two sides cannot drift apart.
        if self.shard_objective not in OBJECTIVES:
            raise ValueError(f"objective {self.name}: shard objective {self.shard_objective!r} is not in "
                             f"schemas.OBJECTIVES ({', '.join(OBJECTIVES)})")
        written = objective_columns(self.shard_objective, per_language=True)
        extra = [c for c in self.columns if c not in written]
        if extra:
            raise ValueError(f"objective {self.name} needs column(s) {', '.join(extra)} that "
                             f"{self.shard_objective} shards never hold (schemas.OBJECTIVES: {', '.join(written)})")

    def check_batch(self, batch: dict[str, Any]) -> None:
        missing = [c for c in self.columns if c not in batch]
        if missing:
            raise ValueError(f"objective {self.name} needs the shard column(s) {', '.join(missing)}, which the "
                             f"batch lacks; build {self.shard_objective} shards ({self.shard_help})")


class Task(nn.Module):
    """The module the loop trains: owns its networks, computes one step's loss (see module doc)."""

    frozen: tuple[str, ...] = ()  # names of submodules that are never trained, checkpointed or exported

    def forward(self, inputs: dict[str, torch.Tensor], *, with_counts: bool = False) -> StepOutput:
        raise NotImplementedError

    def exports(self) -> dict[str, nn.Module]:
        """{folder name under DIR: transformers model}; "hf" is the main one."""
        raise NotImplementedError

    def summarize(self, counts: dict[str, torch.Tensor]) -> dict[str, float]:
        """Metrics from counts summed over evaluation batches and ranks."""
        return {}

    def _is_frozen(self, name: str) -> bool:
        return any(name == f or name.startswith(f + ".") for f in self.frozen)

    def trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """(name, parameter) of everything the optimizer updates, sorted by name (stable groups)."""
        return sorted((n, p) for n, p in self.named_parameters() if p.requires_grad and not self._is_frozen(n))

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not self._is_frozen(k)}

    def load_checkpoint_state(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not self._is_frozen(k)]
        if missing or unexpected:
            raise ValueError(f"checkpoint weights do not fit this model: missing {missing[:5]}, unexpected "
                             f"{unexpected[:5]}; resume with the model and size the run was started with")

    def train(self, mode: bool = True) -> "Task":
        super().train(mode)
        for name in self.frozen:
            self.get_submodule(name).eval()
        return self


def sum_parts(parts: dict[str, torch.Tensor], weights: dict[str, float] | None = None) -> torch.Tensor:
    """The loss as the weighted sum of its parts (weight 1 unless given)."""
    weights = weights or {}
    return sum(weights.get(name, 1.0) * value for name, value in parts.items())


__all__ = ["Objective", "StepOutput", "Task", "sum_parts"]
