"""Dynamic masking at load time (DESIGN.md "Masking happens at load time"): vectorised numpy, no sort;
the `token` unit in one numba kernel per batch where numba is installed (`Masker`).

Every batch is masked from its own seed (`trainer.randomness`: `batch_seed`, `BatchRandom`, the
SFC64 generator it sets), so a resumed run sees exactly the masks of the uninterrupted one.

Draws, in this order, from the generator's 64-bit words (the compiled kernel draws the same words
itself, so both paths give the same masks): one random byte per unit (the little-endian bytes of
ceil(units / 8) words) decides whether it is selected (`bernoulli_positions`); a uniform double
(word >> 11) * 2**-53, numpy's `random()`, per tie of that byte, per n-gram slot (`ngram` unit)
and per unit for a `max_predictions` cap; one such double per selected token for its action; one
word per random replacement, its top 32 bits taken into the replacement vocabulary by Lemire's
bounded multiply, the rare rejected draws redrawn in order after the others (`random_indices`).

Which: the maskable tokens (not padding, not a special id of the manifest) are grouped into
units and each unit is selected independently with probability p (`mask_prob`), all its tokens
together, so every maskable token is selected with probability exactly p, whatever the unit
(the rule of transformers' DataCollatorForLanguageModeling for tokens; the count per sequence
is binomial rather than fixed):

- `token` unit: every token is its own unit (BERT, RoBERTa);
- `word` unit: a word starts where the shard's `word_start` flag is set (whole-word masking,
  google-research/bert `--do_whole_word_mask`), for every tokenizer family, or right after an
  unmaskable token;
- `ngram` unit: runs of n words, n <= 3 drawn with p(n) ∝ 1/n (ALBERT, Lan et al. 2020 section
  4.1; google-research/albert `create_pretraining_data.py`). Each sequence's words are cut into
  consecutive n-grams, each n drawn independently (the last one cut at the end), so n-grams
  never overlap; ALBERT draws n-grams at random starts and skips overlapping ones.

With `max_predictions`, a sequence that drew more selected tokens keeps whole units in a random
order (the order of their uniform draws) while they fit, skipping a unit that does not
(google-research/bert's greedy rule); for tokens that is a uniformly random subset of that size.

What the selected become: [MASK] with probability `replace_mask`, a random non-special token
with `replace_random`, else unchanged, drawn per token (BERT 0.8 / 0.1 / 0.1; ELECTRA
0.85 / 0 / 0.15). The `causal` preset masks nothing and labels every token with the next one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Iterable

import numpy as np
import torch

from shards.columns import optional_kernels
from trainer.config import ModelSize, TrainConfig, VocabInfo
from trainer.losses import cross_entropy
from trainer.randomness import (BatchRandom, Randomness, batch_seed, bernoulli, bernoulli_positions, make_generator,
                                mask_seed, masking_rng, random_bytes, random_indices, sfc64_state, torch_generator)

IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss's default ignore_index, the transformers convention
UNITS = ("token", "word", "ngram", "causal")


@dataclass(frozen=True, kw_only=True)
class MaskingConfig:
    """Which tokens are selected for prediction and what the selected become (module doc)."""

    unit: str = "token"
    mask_prob: float = 0.15
    replace_mask: float = 0.8
    replace_random: float = 0.1
    max_ngram: int = 3
    max_predictions: int | None = None  # at most this many selected tokens per sequence (whole units)

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


def mask_prob(config: TrainConfig, size: ModelSize) -> float | None:
    """--mask-prob, else the size's masking rate, else None (the preset's)."""
    return config.mask_prob if config.mask_prob is not None else size.mask_prob


def run_masking(config: TrainConfig, preset: str, size: ModelSize) -> MaskingConfig:
    """A run's masking: --masking, else the model's `preset`, at `mask_prob`'s rate, with
    --max-predictions."""
    return masking_config(config.masking or preset, mask_prob=mask_prob(config, size),
                          max_predictions=config.max_predictions)


def special_table(vocab_size: int, special_ids: Iterable[int]) -> np.ndarray:
    """A bool per id: True for the special ids (ids outside the vocabulary are ignored)."""
    table = np.zeros(vocab_size, dtype=np.bool_)
    table[[i for i in set(special_ids) if 0 <= i < vocab_size]] = True
    return table


def replacement_vocab(vocab_size: int, special_ids: Iterable[int]) -> np.ndarray:
    """The ids a random replacement may draw: the whole vocabulary except special ids."""
    ids = np.flatnonzero(~special_table(vocab_size, special_ids))
    if ids.size == 0:
        raise ValueError(f"vocabulary of {vocab_size} ids holds only special tokens; nothing to draw from")
    return ids


def word_begins(maskable: np.ndarray, word_start: np.ndarray) -> np.ndarray:
    """True at the first token of each word: a maskable token flagged `word_start`, or right after
    an unmaskable one (a continuation after padding or a special token starts a word)."""
    after_unmaskable = np.ones_like(maskable)
    after_unmaskable[:, 1:] = ~maskable[:, :-1]
    return maskable & (word_start | after_unmaskable)


def ngram_units(rows: int, num_words: int, config: MaskingConfig, rng: np.random.Generator) -> np.ndarray:
    """(rows, num_words): the n-gram of each word slot, numbered across the batch (row r's n-grams
    come after row r - 1's). Each row's words are cut into consecutive n-grams of n words, n drawn
    per n-gram with p(n) ∝ 1/n (n <= max_ngram); the last one is cut at num_words."""
    weights = 1.0 / np.arange(1, config.max_ngram + 1)
    draws = rng.random((rows, num_words))
    lengths = np.ones((rows, num_words), dtype=np.int32)
    for bound in (weights / weights.sum()).cumsum()[:-1]:
        lengths += draws >= bound
    first = np.cumsum(lengths, axis=1, dtype=np.int32) - lengths  # first word of each n-gram in its row
    first += (np.arange(rows, dtype=np.int32) * num_words)[:, None]
    starts = np.zeros(rows * num_words, dtype=np.int32)
    starts[first[first < (np.arange(1, rows + 1) * num_words)[:, None]]] = 1
    return (np.cumsum(starts) - 1).reshape(rows, num_words)


def unit_index(maskable: np.ndarray, word_start: np.ndarray | None, config: MaskingConfig,
               rng: np.random.Generator) -> tuple[np.ndarray | None, int]:
    """(unit of each position, number of units in the batch); (None, positions) for the `token`
    unit, where each position is its own unit. Units are numbered across the batch."""
    rows, width = maskable.shape
    if config.unit == "token":
        return None, maskable.size
    begins = word_begins(maskable, word_start)
    words = np.cumsum(begins.ravel(), dtype=np.int64).reshape(rows, width)  # words so far, across rows
    if config.unit == "word":
        return np.maximum(words - 1, 0), int(words[-1, -1]) if words.size else 0
    before = np.zeros(rows, dtype=np.int64)  # words of the rows above
    before[1:] = words[:-1, -1]
    in_row = np.maximum(words - before[:, None] - 1, 0)
    slots = int(in_row.max(initial=0)) + 1
    of_slot = ngram_units(rows, slots, config, rng).ravel()
    return of_slot[in_row + (np.arange(rows) * slots)[:, None]], int(of_slot[-1]) + 1


def select(maskable: np.ndarray, word_start: np.ndarray | None, config: MaskingConfig,
           rng: np.random.Generator) -> np.ndarray:
    """The selected positions (module doc): each unit with probability mask_prob, whole units
    within max_predictions per row."""
    units, count = unit_index(maskable, word_start, config, rng)
    drawn = bernoulli(rng, count, config.mask_prob)
    selected = maskable & (drawn.reshape(maskable.shape) if units is None else drawn[units])
    cap = config.max_predictions
    if cap is not None and selected.size:
        over = np.flatnonzero(np.count_nonzero(selected, axis=1) > cap)
        if over.size:  # a random order of the units: a uniform draw each
            order = rng.random(count)
            order = order.reshape(maskable.shape) if units is None else order[units]
            selected[over] = cap_units(selected[over], order[over], None if units is None else units[over], cap)
    return selected


def cap_units(selected: np.ndarray, score: np.ndarray, units: np.ndarray | None, cap: int) -> np.ndarray:
    """Rows of selected positions cut to at most `cap` each: whole units in increasing score
    order, a unit taken when it fits in what is left (google-research/bert's greedy fill)."""
    rows, width = selected.shape
    if units is None:  # tokens: the cap lowest scores
        units = np.arange(rows * width).reshape(rows, width)
    order = np.argsort(np.where(selected, score, np.inf), axis=1, kind="stable")  # a unit's tokens adjacent
    ranked = np.take_along_axis(np.where(selected, units, -1), order, axis=1)
    real = ranked >= 0
    size = np.zeros(ranked.shape, dtype=np.int64)  # tokens of the unit (units are numbered across rows)
    size[real] = np.bincount(ranked[real])[ranked[real]]
    end = real.copy()
    end[:, :-1] &= ranked[:, :-1] != ranked[:, 1:]  # last token of a unit in the ranking
    chosen = np.zeros_like(real)
    left = np.full(rows, cap, dtype=np.int64)
    while True:  # each pass: the longest prefix of whole open units that fits; a skipped one never fits later
        open_ = real & ~chosen & (size <= left[:, None])
        taken = np.cumsum(open_, axis=1)
        fits = (taken * (open_ & end & (taken <= left[:, None]))).max(axis=1)
        if not (fits > 0).any():
            break
        chosen |= open_ & (taken <= fits[:, None])
        left -= fits
    out = np.zeros_like(selected)
    np.put_along_axis(out, order, chosen, axis=1)
    return out


def next_token_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Causal LM labels: the next real token at each position, -100 at the last one and on padding."""
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    follows = attention_mask[:, 1:].bool()
    labels[:, :-1] = torch.where(follows, input_ids[:, 1:], labels[:, :-1])
    return labels


def kernels() -> ModuleType | None:
    """`trainer.masking_kernels`, or None without numba: `Masker` then takes the numpy path,
    whose masks are the same."""
    return optional_kernels("trainer.masking_kernels")


def _below(x: float) -> int:
    """ceil(x * 2**53): a uniform double m * 2**-53 (numpy's `random()`) is below x exactly when m is below it."""
    return math.ceil(x * 2.0**53)


class Masker:
    """Masks batches for one vocabulary and config; the special-id table and the replacement
    vocabulary are built once, not per batch. Runs on CPU tensors (numpy underneath).

    The `token` unit without a cap (BERT, RoBERTa, ELECTRA) runs in one compiled kernel per
    batch (`trainer.masking_kernels.mask_tokens`) where numba is installed (`compiled` None:
    then; False: never; True: required, ValueError without numba), else in numpy; the draws are
    the same words either way (module doc), so are the masks. Other units always run in numpy."""

    def __init__(self, vocab: VocabInfo, config: MaskingConfig, *, compiled: bool | None = None):
        self.vocab, self.config = vocab, config
        ids = set(vocab.special_ids.values())
        self.specials = special_table(max(vocab.vocab_size, max(ids, default=0) + 1), ids)
        self.allowed = ~self.specials
        self.replacement = replacement_vocab(vocab.vocab_size, ids)
        self.compiled = False  # a flag, not the module: a Masker stays picklable (spawned DataLoader workers)
        if compiled is not False and config.unit == "token" and config.max_predictions is None:
            self.compiled = kernels() is not None
            if not self.compiled and compiled:
                raise ValueError("compiled masking needs numba (pip install 'shardlm[train]')")
            if self.compiled:  # load the int64 kernel now: forked DataLoader workers inherit it
                threshold = int(config.mask_prob * 256)  # below: random_bytes' split, doubles as 53-bit integers
                self._cuts = (threshold, _below(config.mask_prob * 256 - threshold), _below(config.replace_mask),
                              _below(config.replace_mask + config.replace_random))
                one = np.ones((1, 1), dtype=np.int64)
                self.compiled_tokens(one, one, 0)

    def maskable(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """True where a token may be selected: real (not padding) and not a special id."""
        return (attention_mask != 0) & ~np.take(self.specials, input_ids, mode="clip")

    def drawn_tokens(self, ids: np.ndarray, attention_mask: np.ndarray,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`select` for the `token` unit without a cap, as flat positions and their ids: the same
        draws and positions (`bernoulli_positions`), but maskability is checked only at the
        candidates, the ~p share of positions whose byte did not rule them out, instead of over
        the whole batch."""
        raw, threshold, rest = random_bytes(rng, ids.size, self.config.mask_prob)
        candidates = np.flatnonzero(raw <= threshold if rest > 0 else raw < threshold)
        if rest > 0:  # ties: one uniform draw each, in index order, as bernoulli_positions draws them
            tied = np.flatnonzero(raw.take(candidates) == threshold)
            keep = np.ones(candidates.size, dtype=np.bool_)
            keep[tied] = rng.random(tied.size) < rest
            candidates = candidates[keep]
        originals = ids.reshape(-1).take(candidates)
        ok = np.logical_and(attention_mask.reshape(-1).take(candidates), self.allowed.take(originals, mode="clip"))
        return candidates[ok], originals[ok]

    @property
    def kernels(self):
        """`trainer.masking_kernels` where this Masker runs compiled, else None."""
        return kernels() if self.compiled else None

    def compiled_tokens(self, ids: np.ndarray, attention_mask: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(masked ids, labels) of the `token` unit without a cap, by the compiled kernel: the
        draws of the numpy path (`__call__`) from the same seed, in the same order."""
        cfg = self.config
        masked, labels = np.empty(ids.shape, dtype=ids.dtype), np.empty(ids.shape, dtype=ids.dtype)
        self.kernels.mask_tokens(seed, ids.reshape(-1), attention_mask.reshape(-1), self.allowed, self.replacement,
                                 *self._cuts, self.vocab.mask_id, masked.reshape(-1), labels.reshape(-1))
        return masked, labels

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, generator: Randomness,
                 word_start: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked input ids, labels): labels hold the original id where selected, else -100.
        `generator`: the batch's `BatchRandom` (or a `torch.Generator`, see `mask_seed`)."""
        if input_ids.device.type != "cpu":
            raise ValueError("masking runs on CPU tensors (the generator is a CPU generator); mask before .to(device)")
        cfg = self.config
        if cfg.unit == "causal":
            return input_ids, next_token_labels(input_ids, attention_mask)
        if cfg.needs_word_starts and word_start is None:
            raise ValueError(f"{cfg.unit} masking needs the shards' word_start column; rebuild the shards with "
                             f"shardlm build, or use --masking token")
        ids = input_ids.numpy()
        if self.compiled:
            masked, labels = self.compiled_tokens(ids, attention_mask.numpy(), mask_seed(generator))
            return torch.from_numpy(masked), torch.from_numpy(labels)
        rng = masking_rng(generator)
        if cfg.unit == "token" and cfg.max_predictions is None:
            where, originals = self.drawn_tokens(ids, attention_mask.numpy(), rng)
        else:
            starts = None if word_start is None or not cfg.needs_word_starts else word_start.numpy().astype(np.bool_, copy=False)
            where = np.flatnonzero(select(self.maskable(ids, attention_mask.numpy()), starts, cfg, rng))
            originals = ids.ravel()[where]
        action = rng.random(where.size)  # per selected token: [MASK], random or unchanged
        masked = ids.copy()
        flat = masked.reshape(-1)
        flat[where[action < cfg.replace_mask]] = self.vocab.mask_id
        if cfg.replace_random > 0:
            to_random = where[(action >= cfg.replace_mask) & (action < cfg.replace_mask + cfg.replace_random)]
            flat[to_random] = self.replacement[random_indices(rng, self.replacement.size, to_random.size)]
        labels = np.full(ids.shape, IGNORE_INDEX, dtype=ids.dtype)
        labels.reshape(-1)[where] = originals
        return torch.from_numpy(masked), torch.from_numpy(labels)


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over selected tokens (labels != -100); 0 when none is selected."""
    flat_labels = labels.reshape(-1)
    if not bool((flat_labels != IGNORE_INDEX).any()):
        return logits.sum() * 0.0  # keeps the graph (DDP needs every parameter used) without NaN
    return cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), flat_labels)  # trainer.losses


__all__ = ["IGNORE_INDEX", "PRESETS", "UNITS", "BatchRandom", "Masker", "MaskingConfig", "Randomness", "batch_seed",
           "bernoulli", "bernoulli_positions", "cap_units", "kernels", "make_generator", "mask_seed", "masked_lm_loss",
           "masking_config", "masking_rng", "next_token_labels", "ngram_units", "random_bytes", "random_indices",
           "replacement_vocab", "select", "sfc64_state", "special_table", "torch_generator", "unit_index",
           "word_begins"]
