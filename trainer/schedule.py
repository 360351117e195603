"""Optimizer and learning-rate schedule: AdamW with decoupled weight decay, linear warmup/decay."""

from __future__ import annotations

import torch
from transformers import get_linear_schedule_with_warmup

# Parameters that take no weight decay: biases and LayerNorm weights (BERT's
# `AdamWeightDecayOptimizer` excludes "LayerNorm", "layer_norm" and "bias").
_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: decayed weights, and biases/LayerNorm without decay (sorted by name: stable)."""
    decay, no_decay = [], []
    for name, param in sorted(model.named_parameters()):
        if not param.requires_grad:
            continue
        (no_decay if name.endswith(_NO_DECAY) or param.ndim < 2 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, *, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # betas (0.9, 0.98) and eps 1e-6: RoBERTa paper section 3.1 (more stable than BERT's 0.999
    # with large batches); the same values suit BERT.
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=(0.9, 0.98), eps=1e-6)


def build_scheduler(optimizer: torch.optim.Optimizer, *, warmup_steps: int, max_steps: int):
    """Linear warmup from 0 to the peak lr over `warmup_steps`, then linear decay to 0 at `max_steps`."""
    return get_linear_schedule_with_warmup(optimizer, num_warmup_steps=warmup_steps, num_training_steps=max_steps)


__all__ = ["build_optimizer", "build_scheduler", "param_groups"]
