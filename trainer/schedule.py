"""Optimizers and the learning-rate schedule: a model's recipe names its optimizer and its values."""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from transformers import get_linear_schedule_with_warmup

from trainer.config import Recipe

# Parameters that take no weight decay: biases and LayerNorm weights (BERT's
# `AdamWeightDecayOptimizer` excludes "LayerNorm", "layer_norm" and "bias").
_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")


def param_groups(named: Iterable[tuple[str, torch.nn.Parameter]], weight_decay: float) -> list[dict]:
    """Two groups: decayed weights, and biases/LayerNorm without decay (sorted by name: stable)."""
    decay, no_decay = [], []
    for name, param in sorted(named, key=lambda item: item[0]):
        if not param.requires_grad:
            continue
        (no_decay if name.endswith(_NO_DECAY) or param.ndim < 2 else decay).append(param)
    # "layer_adaptation": LAMB's trust ratio skips what weight decay skips (AdamW ignores the key).
    return [{"params": decay, "weight_decay": weight_decay, "layer_adaptation": True},
            {"params": no_decay, "weight_decay": 0.0, "layer_adaptation": False}]


def _adamw(groups: list[dict], *, lr: float, recipe: Recipe) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=lr, betas=recipe.betas, eps=recipe.eps)


def _lamb(groups: list[dict], *, lr: float, recipe: Recipe) -> torch.optim.Optimizer:
    from trainer.lamb import Lamb

    return Lamb(groups, lr=lr, betas=recipe.betas, eps=recipe.eps)


# optimizer name (Recipe.optimizer) -> builder(param groups, lr=, recipe=)
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {"adamw": _adamw, "lamb": _lamb}


def build_optimizer(named: Iterable[tuple[str, torch.nn.Parameter]], *, recipe: Recipe, lr: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    """The recipe's optimizer over `named` parameters (a task's `trainable_parameters()`)."""
    return OPTIMIZERS[recipe.optimizer](param_groups(named, weight_decay), lr=lr, recipe=recipe)


def build_scheduler(optimizer: torch.optim.Optimizer, *, warmup_steps: int, max_steps: int):
    """Linear warmup from 0 to the peak lr over `warmup_steps`, then linear decay to 0 at `max_steps`."""
    return get_linear_schedule_with_warmup(optimizer, num_warmup_steps=warmup_steps, num_training_steps=max_steps)


__all__ = ["OPTIMIZERS", "build_optimizer", "build_scheduler", "param_groups"]
