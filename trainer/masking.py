"""Dynamic masking at load time (DESIGN.md "Masking happens at load time"): pure, vectorised torch.

Every batch is masked with its own `torch.Generator`, seeded by `batch_seed(seed, epoch,
rank, worker, position)` where (worker, position) are the stream coordinates of the batch's
first example (`_worker`, `_position` from `shards.stream.ShardStream`). A DataLoader batch is
built by one worker from consecutive positions of that worker's sub-stream, so the key names
the batch uniquely within an epoch and rank; and because the stream resumes at the exact next
example, a resumed run sees the same batches with the same keys, hence exactly the masks of the
uninterrupted run. The masks do not depend on the trainer's step counter or on global RNG state.

How many: a sequence with n maskable tokens (not padding, not a special id of the manifest)
gets a budget of floor(p * n + u) predictions, u ~ U[0, 1) (fairseq's RoBERTa rule: the expected
count is exactly p * n, short sequences are not under-masked), capped by `max_predictions`.

Which: the maskable tokens are grouped into words and the words into units; units are taken in
a random order, word by word, while the selected tokens stay within the budget (a prefix of
whole words in the random unit order, found with one sort per batch):

- `token` unit: every token is its own word and unit (BERT, RoBERTa; uniform without replacement);
- `word` unit: a word starts where the shard's `word_start` flag is set (whole-word masking,
  google-research/bert `--do_whole_word_mask`), for every tokenizer family;
- `ngram` unit: runs of n words, n <= 3 drawn with p(n) ∝ 1/n (ALBERT, Lan et al. 2020 section
  4.1; google-research/albert `create_pretraining_data.py`). The words are cut into consecutive
  n-grams, each n drawn independently, so n-grams never overlap; ALBERT draws n-grams at random
  starts and skips overlapping ones, and shortens an n-gram that would exceed the budget, as the
  word-by-word prefix does here.

What the selected become: [MASK] with probability `replace_mask`, a random non-special token
with `replace_random`, else unchanged (BERT 0.8 / 0.1 / 0.1; ELECTRA 0.85 / 0 / 0.15). The
`causal` preset masks nothing and labels every token with the next one.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace
from typing import Iterable

import torch

from trainer.config import VocabInfo

IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss's default ignore_index, the transformers convention
UNITS = ("token", "word", "ngram", "causal")
_LAST = torch.iinfo(torch.int64).max  # sort key of positions that cannot be selected


@dataclass(frozen=True, kw_only=True)
class MaskingConfig:
    """Which tokens are selected for prediction and what the selected become (module doc)."""

    unit: str = "token"
    mask_prob: float = 0.15
    replace_mask: float = 0.8
    replace_random: float = 0.1
    max_ngram: int = 3
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
        if self.max_ngram < 1:
            raise ValueError(f"max_ngram must be at least 1, got {self.max_ngram}")

    @property
    def needs_word_starts(self) -> bool:
        return self.unit in ("word", "ngram")


# Named presets (`shardlm train --masking NAME`); a model's spec names its default.
PRESETS: dict[str, MaskingConfig] = {
    "token": MaskingConfig(),  # BERT section 3.1, RoBERTa
    "whole_word": MaskingConfig(unit="word"),  # google-research/bert, "Whole Word Masking" (2019)
    "ngram": MaskingConfig(unit="ngram"),  # ALBERT section 4.1: n-grams of up to 3 words
    # ELECTRA (Clark et al. 2020, google-research/electra pretrain_helpers.mask): 85% [MASK], no random
    "electra": MaskingConfig(replace_mask=0.85, replace_random=0.0),
    "causal": MaskingConfig(unit="causal"),  # CLM: no masking, next-token labels
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


def special_table(vocab_size: int, special_ids: Iterable[int]) -> torch.Tensor:
    """A bool per id: True for the special ids (ids outside the vocabulary are ignored)."""
    table = torch.zeros(vocab_size, dtype=torch.bool)
    ids = torch.tensor([i for i in set(special_ids) if 0 <= i < vocab_size], dtype=torch.long)
    table[ids] = True
    return table


def replacement_vocab(vocab_size: int, special_ids: Iterable[int]) -> torch.Tensor:
    """The ids a random replacement may draw: the whole vocabulary except special ids."""
    ids = torch.nonzero(~special_table(vocab_size, special_ids)).flatten()
    if ids.numel() == 0:
        raise ValueError(f"vocabulary of {vocab_size} ids holds only special tokens; nothing to draw from")
    return ids


def budgets(maskable: torch.Tensor, config: MaskingConfig, generator: torch.Generator) -> torch.Tensor:
    """floor(p * n + u) per row (n maskable tokens), at most n and at most max_predictions."""
    n = maskable.sum(dim=1)
    u = torch.rand(n.shape[0], generator=generator, dtype=torch.float64)
    k = torch.floor(config.mask_prob * n.double() + u).long().clamp(max=n)
    return k if config.max_predictions is None else k.clamp(max=config.max_predictions)


def word_ids(maskable: torch.Tensor, word_start: torch.Tensor | None) -> torch.Tensor:
    """Per position, the index of its word in the row (every maskable token its own word when
    `word_start` is None); a continuation right after an unmaskable token starts a word."""
    if word_start is None:
        begins = maskable
    else:
        after_unmaskable = torch.ones_like(maskable)
        after_unmaskable[:, 1:] = ~maskable[:, :-1]
        begins = maskable & (word_start.bool() | after_unmaskable)
    return begins.long().cumsum(dim=1) - 1  # -1 before the first word; unused there (not maskable)


def ngram_starts(num_words: int, rows: int, config: MaskingConfig, generator: torch.Generator) -> torch.Tensor:
    """(rows, num_words) True where an n-gram starts: the words cut into consecutive n-grams of
    n words, n drawn per word with p(n) ∝ 1/n (n <= max_ngram), by pointer doubling (no loop over words)."""
    weights = 1.0 / torch.arange(1, config.max_ngram + 1, dtype=torch.float64)
    cumulative = (weights / weights.sum()).cumsum(0)
    draws = torch.rand(rows, num_words, generator=generator, dtype=torch.float64)
    lengths = torch.searchsorted(cumulative, draws, right=True).clamp(max=config.max_ngram - 1) + 1
    jump = torch.cat([torch.arange(num_words) + lengths, torch.full((rows, 1), num_words)], dim=1)
    jump = jump.clamp(max=num_words)  # position num_words: past the end, jumps to itself
    reached = torch.zeros(rows, 1, dtype=torch.long)  # next^k(0) for k < 2^level
    while reached.shape[1] < num_words:
        reached = torch.cat([reached, jump.gather(1, reached)], dim=1)
        jump = jump.gather(1, jump)
    starts = torch.zeros(rows, num_words + 1, dtype=torch.bool)
    starts.scatter_(1, reached, True)
    return starts[:, :num_words]


def select(maskable: torch.Tensor, word_start: torch.Tensor | None, config: MaskingConfig,
           generator: torch.Generator) -> torch.Tensor:
    """The selected positions (module doc): whole words of randomly ordered units, within the budget."""
    rows, width = maskable.shape
    k = budgets(maskable, config, generator)
    if config.unit == "token":  # every token a word: the k maskable positions of lowest random score
        scores = torch.rand(rows, width, generator=generator, dtype=torch.float64).masked_fill_(~maskable, 2.0)
        most = int(k.max()) if rows else 0
        if most == 0:
            return torch.zeros_like(maskable)
        lowest = scores.topk(most, dim=1, largest=False).values  # sorted; much cheaper than a full sort
        threshold = lowest.gather(1, (k - 1).clamp(min=0)[:, None])
        return (scores <= threshold) & maskable & (k > 0)[:, None]
    words = word_ids(maskable, word_start).masked_fill(~maskable, width)
    units = words
    if config.unit == "ngram":
        span = ngram_starts(width, rows, config, generator).long().cumsum(dim=1) - 1
        units = span.gather(1, words.clamp(max=width - 1))
    scores = torch.randint(0, 2**40, (rows, width), generator=generator)  # one per unit index
    keys = scores.gather(1, units.clamp(max=width - 1)) * width + torch.arange(width)  # a unit's words in order
    order = keys.masked_fill(~maskable, _LAST).argsort(dim=1)
    sizes = torch.zeros(rows, width + 1, dtype=torch.long).scatter_add_(1, words, maskable.long())
    ranked_words = words.gather(1, order)
    return torch.zeros_like(maskable).scatter_(1, order, fill_words(ranked_words, sizes.gather(1, ranked_words), k))


def fill_words(ranked_words: torch.Tensor, sizes: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
    """Greedy fill in ranked order, as google-research/bert's whole-word masking: a word is taken
    when it fits in what is left of the budget, else skipped. Each pass takes the longest prefix
    of whole words that fits among the words that still could; a skipped word can never fit
    later, so a few passes (one per skip) give the greedy result."""
    rows, width = ranked_words.shape
    real = ranked_words < width  # maskable positions come first in the ranking
    chosen = torch.zeros_like(real)
    left = budget.clone()
    word_end = real.clone()
    word_end[:, :-1] &= ranked_words[:, :-1] != ranked_words[:, 1:]  # a word's tokens are adjacent
    while True:
        open_ = real & ~chosen & (sizes <= left[:, None])
        taken = open_.long().cumsum(dim=1)
        fits = (taken * (open_ & word_end & (taken <= left[:, None]))).amax(dim=1)
        if not bool((fits > 0).any()):
            return chosen
        chosen |= open_ & (taken <= fits[:, None])
        left -= fits


def next_token_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Causal LM labels: the next real token at each position, -100 at the last one and on padding."""
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    follows = attention_mask[:, 1:].bool()
    labels[:, :-1] = torch.where(follows, input_ids[:, 1:], labels[:, :-1])
    return labels


class Masker:
    """Masks batches for one vocabulary and config; the special-id table and the replacement
    vocabulary are built once, not per batch. Runs on CPU (its generators are CPU generators)."""

    def __init__(self, vocab: VocabInfo, config: MaskingConfig):
        self.vocab, self.config = vocab, config
        ids = set(vocab.special_ids.values())
        self.specials = special_table(max(vocab.vocab_size, max(ids, default=0) + 1), ids)
        self.replacement = replacement_vocab(vocab.vocab_size, ids)

    def maskable(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """True where a token may be selected: real (not padding) and not a special id."""
        special = self.specials.index_select(0, input_ids.reshape(-1).clamp(0, self.specials.numel() - 1))
        return attention_mask.bool() & ~special.view_as(input_ids)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, generator: torch.Generator,
                 word_start: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked input ids, labels): labels hold the original id where selected, else -100."""
        if input_ids.device.type != "cpu":
            raise ValueError("masking runs on CPU tensors (the generator is a CPU generator); mask before .to(device)")
        cfg = self.config
        if cfg.unit == "causal":
            return input_ids, next_token_labels(input_ids, attention_mask)
        if cfg.needs_word_starts and word_start is None:
            raise ValueError(f"{cfg.unit} masking needs the shards' word_start column; rebuild the shards with "
                             f"shardlm build, or use --masking token")
        selected = select(self.maskable(input_ids, attention_mask), word_start, cfg, generator)
        where = selected.reshape(-1).nonzero().squeeze(1)  # draws for the selected positions only
        originals = input_ids.reshape(-1).index_select(0, where)
        action = torch.rand(where.shape, generator=generator)
        draws = self.replacement.index_select(0, torch.randint(self.replacement.numel(), where.shape,
                                                               generator=generator)).to(input_ids.dtype)
        to_random = (action >= cfg.replace_mask) & (action < cfg.replace_mask + cfg.replace_random)
        replaced = torch.where(action < cfg.replace_mask, self.vocab.mask_id, torch.where(to_random, draws, originals))
        masked = input_ids.reshape(-1).clone().index_copy_(0, where, replaced).view_as(input_ids)
        return masked, input_ids.masked_fill(~selected, IGNORE_INDEX)


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over selected tokens (labels != -100); 0 when none is selected."""
    flat_labels = labels.reshape(-1)
    if not bool((flat_labels != IGNORE_INDEX).any()):
        return logits.sum() * 0.0  # keeps the graph (DDP needs every parameter used) without NaN
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), flat_labels,
                                             ignore_index=IGNORE_INDEX)


__all__ = ["IGNORE_INDEX", "PRESETS", "UNITS", "Masker", "MaskingConfig", "batch_seed", "budgets", "make_generator",
           "masked_lm_loss", "masking_config", "next_token_labels", "ngram_starts", "replacement_vocab", "select",
           "special_table", "word_ids"]
