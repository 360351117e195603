"""What makes a step fast on the hardware without changing what it computes: bf16 autocast
(`--precision`), TF32 matmuls on CUDA, SDPA attention, and `torch.compile` (`--compile`).

- Precision: `auto` is bf16 on a CUDA device that supports it, else fp32. bf16 runs the forward
  pass under `torch.autocast` (weights, gradients and optimizer state stay fp32; the losses cast
  logits to fp32 before cross-entropy), so no loss scaling is needed. bf16 also works on CPU,
  where tests check it against fp32.
- TF32: on CUDA, fp32 matmuls (those autocast leaves in fp32, and every matmul of an fp32 run) use
  TF32 tensor cores (`torch.backends.cuda.matmul.allow_tf32`; the legacy switch, because
  inductor still reads `torch.get_float32_matmul_precision()`, which refuses a mix of the legacy
  and the new `fp32_precision` settings). CPU matmuls are left alone.
- Attention: every `transformers` network whose class supports it runs
  `torch.nn.functional.scaled_dot_product_attention` (`attn_implementation="sdpa"`, flash or
  memory-efficient kernels on GPU); XLM and Longformer have no SDPA path and stay eager. The
  choice is not saved in `config.json`, so exports are the same either way.
- Compile: `torch.compile` wraps the module the loop calls (after DDP); checkpoints and exports
  are taken from the task itself, so no `_orig_mod.` prefix reaches them.
"""

from __future__ import annotations

import contextlib
import logging

import torch
from torch import nn

from trainer.config import PRECISIONS

log = logging.getLogger(__name__)

# torch.compile's backend for --compile. Tests on CPU swap in "aot_eager" (the same graph capture
# and autograd split, without inductor's C++ build, which takes minutes on two cores).
COMPILE_BACKEND = "inductor"


def resolve_precision(requested: str, device: torch.device) -> str:
    """fp32 or bf16 for `requested` (auto/fp32/bf16) on `device`; bf16 on a GPU without it fails."""
    if requested not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    cuda = device.type == "cuda"
    if requested == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if requested == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise ValueError(f"--precision bf16 but {torch.cuda.get_device_name(device)} has no bf16 support; "
                         f"use --precision fp32")
    return requested


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context a forward pass runs in: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def enable_tf32(device: torch.device) -> bool:
    """Let fp32 matmuls and convolutions use TF32 on CUDA; True when it did (nothing on CPU)."""
    if device.type != "cuda":
        return False
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return True


def use_sdpa(task: nn.Module) -> dict[str, str]:
    """Ask every `transformers` network in `task` for SDPA attention where its class has it;
    returns {module name: attention implementation} of the outermost networks ("" is the task)."""
    from transformers import PreTrainedModel

    found: dict[str, str] = {}
    for name, module in task.named_modules():
        if not isinstance(module, PreTrainedModel) or any(outer == "" or name.startswith(outer + ".") for outer in found):
            continue
        if module._supports_sdpa and module.config._attn_implementation != "sdpa":
            module.set_attn_implementation("sdpa")
        found[name] = module.config._attn_implementation
    return found


def compile_model(model: nn.Module) -> nn.Module:
    """`torch.compile(model)` with COMPILE_BACKEND; shapes that vary (the number of selected
    tokens, the batch's longest sequence) are made dynamic after their first recompile."""
    return torch.compile(model, backend=COMPILE_BACKEND)


__all__ = ["COMPILE_BACKEND", "PRECISIONS", "autocast", "compile_model", "enable_tf32", "resolve_precision", "use_sdpa"]
