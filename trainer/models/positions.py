"""Initial position tables: the sine/cosine waves of Vaswani et al. 2017 ("Attention Is All You
Need", section 3.5) written into a learned position embedding, which then trains as usual. A size
asks for them with `ModelSize.sinusoidal_positions`."""

from __future__ import annotations

import math

import torch


def sinusoidal_(table: torch.nn.Embedding, std: float) -> None:
    """Overwrite a position table (rows = positions) with sine waves in its even columns and cosine
    waves in its odd ones, frequencies 1 / 10000^(2i/d), scaled to standard deviation `std` (the
    table's own initialisation scale, so the embedding sum keeps its size)."""
    n, d = table.weight.shape
    position = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    waves = torch.zeros(n, d)
    waves[:, 0::2] = torch.sin(position * frequency)
    waves[:, 1::2] = torch.cos(position * frequency[: d // 2])
    with torch.no_grad():
        table.weight.copy_((waves * (std / waves.std())).to(table.weight.dtype))
        if table.padding_idx is not None:  # RoBERTa's pad position stays zero, as transformers leaves it
            table.weight[table.padding_idx].zero_()


__all__ = ["sinusoidal_"]
