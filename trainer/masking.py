"""Dynamic masking at load time (DESIGN.md "Masking happens at load time"): pure torch.

Every batch is masked with its own `torch.Generator`, seeded by `batch_seed(seed, epoch,
rank, worker, position)` where (worker, position) are the stream coordinates of the batch's
first example (`_worker`, `_position` from `shards.stream.ShardStream`). A DataLoader batch is
built by one worker from consecutive positions of that worker's sub-stream, so the key names
the batch uniquely within an epoch and rank; and because the stream resumes at the exact next
example, a resumed run sees the same batches with the same keys, hence exactly the masks of the
uninterrupted run. The masks do not depend on the trainer's step counter or on global RNG state.

Selection follows fairseq's RoBERTa masking: a sequence with n maskable tokens gets
floor(p * n + u) masked tokens, u ~ U[0, 1) (so the expected count is exactly p * n, and short
sequences are not systematically under-masked as with rounding down), chosen uniformly without
replacement among its maskable positions. Special ids (from the manifest) and padding are never
maskable.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace
from typing import Iterable

import torch

from trainer.config import VocabInfo

IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss's default ignore_index, the transformers convention


@dataclass(frozen=True, kw_only=True)
class MaskingConfig:
    """Which tokens are selected for prediction and what the selected become.

    Default: BERT's. 15% of maskable tokens are selected; of those 80% become [MASK], 10% a
    random token, 10% stay unchanged (Devlin et al. 2019, section 3.1 "Task #1: Masked LM").
    """

    unit: str = "token"  # what is selected: "token"
    mask_prob: float = 0.15
    replace_mask: float = 0.8
    replace_random: float = 0.1
    max_predictions: int | None = None  # at most this many selected tokens per sequence

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown masking unit {self.unit!r}; choose one of {', '.join(UNITS)}")
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"--mask-prob must be in (0, 1), got {self.mask_prob}")
        if self.replace_mask < 0 or self.replace_random < 0 or self.replace_mask + self.replace_random > 1:
            raise ValueError(f"replace_mask + replace_random must be within [0, 1], got "
                             f"{self.replace_mask} + {self.replace_random}")
        if self.max_predictions is not None and self.max_predictions <= 0:
            raise ValueError(f"--max-predictions must be positive, got {self.max_predictions}")


UNITS = ("token",)
# Named presets (`shardlm train --masking NAME`); a model's spec names its default.
PRESETS: dict[str, MaskingConfig] = {
    "token": MaskingConfig(),
    # ELECTRA (Clark et al. 2020, google-research/electra pretrain_helpers.mask): 85% [MASK], no random
    "electra": MaskingConfig(replace_mask=0.85, replace_random=0.0),
}


def masking_config(preset: str, *, mask_prob: float | None = None, max_predictions: int | None = None) -> MaskingConfig:
    """A preset with the command line's overrides; ValueError naming the presets otherwise."""
    if preset not in PRESETS:
        raise ValueError(f"unknown masking {preset!r}; choose one of {', '.join(PRESETS)}")
    overrides: dict = {}
    if mask_prob is not None:
        overrides["mask_prob"] = mask_prob
    if max_predictions is not None:
        overrides["max_predictions"] = max_predictions
    return replace(PRESETS[preset], **overrides)


def batch_seed(seed: int, epoch: int, rank: int, worker: int, position: int, purpose: str = "train") -> int:
    """A 63-bit seed from the batch's coordinates; `purpose` separates train and eval streams."""
    payload = struct.pack("<5q", seed, epoch, rank, worker, position) + purpose.encode("utf-8")
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "little") >> 1


def make_generator(seed: int) -> torch.Generator:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    return gen


def maskable_positions(input_ids: torch.Tensor, attention_mask: torch.Tensor,
                       special_ids: Iterable[int]) -> torch.Tensor:
    """True where a token may be selected: real (not padding) and not a special id."""
    specials = torch.tensor(sorted(set(special_ids)), dtype=input_ids.dtype, device=input_ids.device)
    return attention_mask.bool() & ~torch.isin(input_ids, specials)


def replacement_vocab(vocab_size: int, special_ids: Iterable[int]) -> torch.Tensor:
    """The ids a random replacement may draw: the whole vocabulary except special ids."""
    keep = torch.ones(vocab_size, dtype=torch.bool)
    for sid in set(special_ids):
        if 0 <= sid < vocab_size:
            keep[sid] = False
    ids = torch.nonzero(keep).flatten()
    if ids.numel() == 0:
        raise ValueError(f"vocabulary of {vocab_size} ids holds only special tokens; nothing to draw from")
    return ids


def select_positions(maskable: torch.Tensor, mask_prob: float, generator: torch.Generator,
                     max_predictions: int | None = None) -> torch.Tensor:
    """Choose floor(p*n + u) maskable positions per row (at most max_predictions), uniformly
    without replacement."""
    rows, width = maskable.shape
    n = maskable.sum(dim=1)
    u = torch.rand(rows, generator=generator)
    k = torch.floor(mask_prob * n.double() + u.double()).long().clamp(max=n)
    if max_predictions is not None:
        k = k.clamp(max=max_predictions)
    scores = torch.rand(rows, width, generator=generator)
    scores = scores.masked_fill(~maskable, 2.0)  # non-maskable rank after every maskable one
    ranks = scores.argsort(dim=1, stable=True).argsort(dim=1, stable=True)
    return (ranks < k.unsqueeze(1)) & maskable


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, *, special_ids: Iterable[int],
                vocab_size: int, mask_id: int, config: MaskingConfig,
                generator: torch.Generator, replacement: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (masked input ids, labels): labels hold the original id where selected, else -100.

    The generator draws a fixed number of values for a given batch shape, whatever is selected,
    so masks depend only on the seed and the batch.
    """
    if input_ids.device.type != "cpu":
        raise ValueError("mask_tokens runs on CPU tensors (the generator is a CPU generator); mask before .to(device)")
    special_ids = list(special_ids)
    selected = select_positions(maskable_positions(input_ids, attention_mask, special_ids),
                                config.mask_prob, generator, config.max_predictions)
    action = torch.rand(input_ids.shape, generator=generator)
    vocab = replacement if replacement is not None else replacement_vocab(vocab_size, special_ids)
    random_ids = vocab[torch.randint(vocab.numel(), input_ids.shape, generator=generator)]
    to_mask = selected & (action < config.replace_mask)
    to_random = selected & (action >= config.replace_mask) & (action < config.replace_mask + config.replace_random)
    masked = input_ids.clone()
    masked[to_mask] = mask_id
    masked[to_random] = random_ids[to_random].to(input_ids.dtype)
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[selected] = input_ids[selected]
    return masked, labels


class Masker:
    """Masks batches for one vocabulary and config; the special ids and the replacement
    vocabulary are built once, not per batch."""

    def __init__(self, vocab: VocabInfo, config: MaskingConfig):
        self.vocab, self.config = vocab, config
        self.special_ids = sorted(set(vocab.special_ids.values()))
        self.replacement = replacement_vocab(vocab.vocab_size, self.special_ids)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, generator: torch.Generator,
                 word_start: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_tokens(input_ids, attention_mask, special_ids=self.special_ids, vocab_size=self.vocab.vocab_size,
                           mask_id=self.vocab.mask_id, config=self.config, generator=generator,
                           replacement=self.replacement)


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over selected tokens (labels != -100); 0 when none is selected."""
    flat_labels = labels.reshape(-1)
    if not bool((flat_labels != IGNORE_INDEX).any()):
        return logits.sum() * 0.0  # keeps the graph (DDP needs every parameter used) without NaN
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), flat_labels,
                                             ignore_index=IGNORE_INDEX)


__all__ = ["IGNORE_INDEX", "PRESETS", "Masker", "MaskingConfig", "masking_config", "masked_lm_loss", "batch_seed", "make_generator", "mask_tokens", "maskable_positions",
           "replacement_vocab", "select_positions"]
