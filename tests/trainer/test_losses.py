"""trainer.losses.cross_entropy gives F.cross_entropy's loss and gradient, with and without ignored targets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainer.losses import cross_entropy


@pytest.mark.parametrize("ignored", [0, 3])
def test_cross_entropy_matches_torch_loss_and_gradient(ignored):
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(9, 50, generator=gen) * 4).requires_grad_()
    targets = torch.randint(0, 50, (9,), generator=gen)
    targets[:ignored] = -100
    reference = logits.detach().clone().requires_grad_()
    expected = F.cross_entropy(reference, targets, ignore_index=-100)
    (expected * 2.5).backward()  # a scaled loss: the backward must use its incoming gradient
    loss = cross_entropy(logits, targets)
    (loss * 2.5).backward()
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.allclose(logits.grad, reference.grad, atol=1e-7)
    assert float(logits.grad[:ignored].abs().sum()) == 0.0  # ignored rows get no gradient
    assert float(logits.grad[ignored:].abs().sum()) > 0


def test_cross_entropy_flows_into_earlier_layers_and_refuses_a_second_backward():
    gen = torch.Generator().manual_seed(1)
    hidden = torch.randn(5, 8, generator=gen, requires_grad=True)
    weight = torch.randn(30, 8, generator=gen, requires_grad=True)
    targets = torch.tensor([1, 2, -100, 4, 29])
    loss = cross_entropy(hidden @ weight.T, targets)
    loss.backward(retain_graph=True)
    grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    F.cross_entropy(hidden @ weight.T, targets).backward()
    assert torch.allclose(grads[0], hidden.grad, atol=1e-6) and torch.allclose(grads[1], weight.grad, atol=1e-6)
    with pytest.raises(RuntimeError, match="allows one backward pass through a loss: compute the loss again"):
        loss.backward()
    assert torch.allclose(grads[0], hidden.grad, atol=1e-6)  # the refused pass changed nothing


def test_cross_entropy_without_autograd_is_torch_s():
    logits, targets = torch.randn(4, 10), torch.tensor([0, -100, 3, 9])
    with torch.no_grad():
        assert torch.equal(cross_entropy(logits, targets), F.cross_entropy(logits, targets))


def test_cross_entropy_refuses_a_second_derivative_in_one_line():
    logits, targets = torch.randn(4, 7, requires_grad=True), torch.tensor([1, 2, -100, 3])
    with pytest.raises(RuntimeError, match=r"no second derivative \(create_graph=True\)"):
        torch.autograd.grad(cross_entropy(logits, targets), logits, create_graph=True)
    (grad,) = torch.autograd.grad(cross_entropy(logits, targets), logits)  # a plain backward still works
    (expected,) = torch.autograd.grad(F.cross_entropy(logits, targets), logits)
    assert torch.allclose(grad, expected, atol=1e-7)
