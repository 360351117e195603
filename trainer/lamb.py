"""LAMB, the layer-wise adaptive optimizer ALBERT pretrains with (You et al. 2020, "Large Batch
Optimization for Deep Learning: Training BERT in 76 minutes", Algorithm 2).

The update follows google-research/albert `lamb_optimizer.py` line by line:

    m = β1·m + (1-β1)·g          v = β2·v + (1-β2)·g²        (no bias correction)
    u = m / (√v + ε) + λ·w                                     (λ: the group's weight decay)
    r = ‖w‖ / ‖u‖  when both norms are positive, else 1        (the trust ratio)
    w = w - lr·r·u

Parameters exempt from weight decay (biases, LayerNorm: `trainer.schedule.param_groups`' second
group) are also exempt from the trust ratio (`r = 1`), as `exclude_from_layer_adaptation` defaults
to `exclude_from_weight_decay` there.
"""

from __future__ import annotations

import torch


class Lamb(torch.optim.Optimizer):
    """LAMB over param groups with `weight_decay` and `layer_adaptation` (default True) per group."""

    def __init__(self, params, *, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0):
        if lr <= 0 or eps <= 0 or not all(0.0 <= b < 1.0 for b in betas) or weight_decay < 0:
            raise ValueError(f"LAMB needs lr > 0, eps > 0, betas in [0, 1) and weight_decay >= 0; got lr={lr}, "
                             f"eps={eps}, betas={betas}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      layer_adaptation=True))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad.float()
                state = self.state[param]
                if not state:
                    state["exp_avg"] = torch.zeros_like(param, dtype=torch.float32)
                    state["exp_avg_sq"] = torch.zeros_like(param, dtype=torch.float32)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(grad, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                weight = param.float()
                update = m / (v.sqrt() + group["eps"])
                if group["weight_decay"]:
                    update.add_(weight, alpha=group["weight_decay"])
                ratio = 1.0
                if group["layer_adaptation"]:
                    w_norm, u_norm = torch.linalg.vector_norm(weight), torch.linalg.vector_norm(update)
                    ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
                param.sub_((group["lr"] * ratio * update).to(param.dtype))
        return loss


__all__ = ["Lamb"]
