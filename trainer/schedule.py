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


def fusable(groups: list[dict]) -> bool:
    """Whether torch's fused AdamW takes every parameter of `groups`: floating point, and all on
    CUDA or all on the CPU (then AdamW runs fused by default)."""
    params = [p for group in groups for p in group["params"]]
    devices = {p.device.type for p in params}
    return bool(params) and devices in ({"cuda"}, {"cpu"}) and all(p.is_floating_point() for p in params)


def _adamw(groups: list[dict], *, lr: float, recipe: Recipe, fused: bool | None = None) -> torch.optim.Optimizer:
    """AdamW; fused (one kernel for every parameter's update) unless told not to, wherever torch
    has the kernel (CUDA and CPU). On CPU the loop over tensors took 24 ms of a 0.6 s BERT-Tiny
    step (eight passes over the 30,522 x 128 embedding), the fused kernel 4 ms."""
    fused = fusable(groups) if fused is None else fused
    return torch.optim.AdamW(groups, lr=lr, betas=recipe.betas, eps=recipe.eps, fused=fused or None)


def _lamb(groups: list[dict], *, lr: float, recipe: Recipe, fused: bool | None = None) -> torch.optim.Optimizer:
    """LAMB (trainer.lamb), one parameter at a time: it has no fused kernel. ALBERT, the model that
    uses it, shares its layers, so a step updates 32 tensors whatever its size (BERT-base: 206)."""
    from trainer.lamb import Lamb

    return Lamb(groups, lr=lr, betas=recipe.betas, eps=recipe.eps)


# optimizer name (Recipe.optimizer) -> builder(param groups, lr=, recipe=, fused=)
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {"adamw": _adamw, "lamb": _lamb}


def build_optimizer(named: Iterable[tuple[str, torch.nn.Parameter]], *, recipe: Recipe, lr: float,
                    weight_decay: float, fused: bool | None = None) -> torch.optim.Optimizer:
    """The recipe's optimizer over `named` parameters (a task's `trainable_parameters()`); `fused`
    None: fused AdamW where torch has the kernel (trainer.schedule.fusable)."""
    return OPTIMIZERS[recipe.optimizer](param_groups(named, weight_decay), lr=lr, recipe=recipe, fused=fused)


def build_scheduler(optimizer: torch.optim.Optimizer, *, warmup_steps: int, max_steps: int):
    """Linear warmup from 0 to the peak lr over `warmup_steps`, then linear decay to 0 at `max_steps`."""
    return get_linear_schedule_with_warmup(optimizer, num_warmup_steps=warmup_steps, num_training_steps=max_steps)


__all__ = ["OPTIMIZERS", "build_optimizer", "build_scheduler", "fusable", "param_groups"]
