"""Token cross-entropy with its gradient formed in the forward pass: three passes over the
[tokens, vocabulary] logits instead of five.

`torch.nn.functional.cross_entropy` writes log-probabilities in the forward pass; its backward
fills a zero tensor of the logits' size, scatters the targets into it and runs the log-softmax
backward (reading two such tensors, writing a third). At a small hidden size the vocabulary
projection's logits are the largest tensors of a training step and these passes are memory-bound:
on BERT-Tiny's 30,522-token head (benchmarks/trainer.py) they took about 13% of a CPU step. Here the
forward pass writes the log-probabilities, turns them in place into the gradient (softmax minus
the one-hot targets, the known derivative of the mean negative log-likelihood), and the backward
pass only scales it. The loss is the same mean over the same tokens; the gradient equals autograd's
to float rounding (tests/trainer/test_losses.py). The price: one backward pass per loss (a second
one, `retain_graph=True`, and a second derivative, `create_graph=True`, each fail with one line
that names `F.cross_entropy` as the way out); the training loop needs neither.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


class _CrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        valid = targets != IGNORE_INDEX
        safe = torch.where(valid, targets, 0)[:, None]
        count = valid.sum()
        log_probs = torch.log_softmax(logits, dim=-1)
        picked = log_probs.gather(1, safe)[:, 0]
        loss = -torch.where(valid, picked, 0.0).sum() / count
        grad = log_probs.exp_()  # softmax, in the log-probabilities' buffer
        grad.scatter_add_(1, safe, -valid[:, None].to(grad.dtype))
        ctx.save_for_backward(grad, valid.to(grad.dtype) / count)
        ctx.used = False
        return loss

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        if ctx.used:  # the first pass scaled the saved gradient in place and handed it on
            raise RuntimeError("trainer.losses.cross_entropy allows one backward pass through a loss: compute the loss "
                               "again, or use torch.nn.functional.cross_entropy to backward twice (retain_graph=True)")
        if torch.is_grad_enabled():  # backward(create_graph=True): the gradient below is not differentiable
            raise RuntimeError("trainer.losses.cross_entropy has no second derivative (create_graph=True); "
                               "use torch.nn.functional.cross_entropy")
        ctx.used = True
        grad, row_scale = ctx.saved_tensors
        return grad.mul_((row_scale * grad_loss)[:, None]), None


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of `logits` [N, V] against `targets` [N] over the targets that are not
    -100 (`F.cross_entropy(..., ignore_index=-100)`); the caller makes sure one target is. Without
    autograd (evaluation) it is `F.cross_entropy` itself."""
    if not (torch.is_grad_enabled() and logits.requires_grad):
        return F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX)
    return _CrossEntropy.apply(logits, targets)


__all__ = ["cross_entropy"]
