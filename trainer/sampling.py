"""Language sampling (Lample & Conneau 2019 section 3.1; Conneau et al. 2020 section 3.1): each
example of a multilingual shard set is drawn from language i with probability

    q_i = p_i^alpha / sum_j p_j^alpha,   p_i = n_i / sum_k n_k   (n_i: the language's examples)

so low-resource languages are seen more often than their share (alpha 0.5 for XLM, 0.3 for XLM-R;
alpha 1 keeps the shares, 0 makes them equal).

`LanguageSampler` interleaves one sub-stream per language (a `ShardStream` over the shard set
keeping that language's examples) by a seeded draw: draw d picks its language from a uniform
number hashed from (seed, rank, d), so the sequence of languages depends on nothing but the seed.
A language whose sub-stream ends starts its next epoch (its own, reshuffled), so small languages
repeat while large ones are still in their first pass. State for an exact resume: the number of
draws consumed and each sub-stream's own state (epoch, next position).

Each sub-stream reads the whole shard set and drops the other languages' examples: reading costs
one pass over the shard bytes per language. Runs in the training process (`--num-workers 0`).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, Iterator

import numpy as np
from torch.utils.data import IterableDataset

from shards.stream import POSITION_KEY, WORKER_KEY, ShardStream, StreamConfig


def sampling_probabilities(counts: dict[str, int], alpha: float) -> dict[str, float]:
    """q ∝ p^alpha over the languages with examples, in code order."""
    if alpha < 0:
        raise ValueError(f"--lang-alpha must not be negative, got {alpha}")
    present = {code: n for code, n in sorted(counts.items()) if n > 0}
    if not present:
        raise ValueError("no language has examples: the manifest's examples/lang/<code> counts are all zero")
    total = sum(present.values())
    weights = {code: (n / total) ** alpha for code, n in present.items()}
    norm = sum(weights.values())
    return {code: w / norm for code, w in weights.items()}


def language_counts(manifest: dict[str, Any]) -> dict[str, int]:
    """Examples per language code from the manifest's `examples/lang/<code>` counts."""
    counts = manifest.get("counts") or {}
    return {code: int(counts.get(f"examples/lang/{code}", 0)) for code in manifest.get("languages") or {}}


def uniform(seed: int, rank: int, draw: int) -> float:
    """A uniform number in [0, 1) for draw `draw`: the same on every run with this seed."""
    payload = struct.pack("<3q", seed, rank, draw) + b"lang"
    return (int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "little") >> 11) / float(1 << 53)


class LanguageSampler(IterableDataset):
    """Examples of a shard set whose examples carry `lang`, languages drawn with q (module doc).

    Items carry `_worker` 0 and `_position` = the draw's index; `observe` (as ShardStream's) takes
    them back and records, for each observed draw, the position its language's sub-stream reached.
    """

    def __init__(self, urls: list[str], config: StreamConfig, *, languages: dict[str, int], q: dict[str, float],
                 rank: int, world_size: int, storage_options: dict):
        super().__init__()
        self.config, self.rank = config, rank
        self.codes = list(q)
        self.lang_ids = [languages[code] for code in self.codes]
        self.cumulative = np.cumsum([q[code] for code in self.codes])
        self.streams = [ShardStream(urls, config, rank=rank, world_size=world_size, storage_options=storage_options)
                        for _ in self.codes]
        self.draws = 0  # draws consumed (observed) so far
        self._pending: dict[int, tuple[int, int, int]] = {}  # draw -> (language index, worker, position)
        self.epoch = 0  # the loop's epoch: languages run their own epochs (state_dict)

    def language_of(self, draw: int) -> int:
        """Index into self.codes of the language draw `draw` takes."""
        u = uniform(self.config.seed, self.rank, draw)
        return min(int(np.searchsorted(self.cumulative, u * self.cumulative[-1], side="right")), len(self.codes) - 1)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _language_examples(self, index: int) -> Iterator[dict[str, Any]]:
        """One language's examples forever, epoch after epoch of its sub-stream."""
        stream, lang = self.streams[index], self.lang_ids[index]
        while True:
            found = False
            for example in stream:
                if int(example["lang"]) == lang:
                    found = True
                    yield example
            if not found and not stream.state_dict()["next_position"]:
                raise ValueError(f"rank {self.rank} got no {self.codes[index]} examples from the shard set; "
                                 f"use fewer ranks or check the manifest's languages")
            stream.set_epoch(stream.epoch + 1)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._pending = {}
        sources = [self._language_examples(i) for i in range(len(self.codes))]
        draw = self.draws
        while True:
            index = self.language_of(draw)
            example = dict(next(sources[index]))
            self._pending[draw] = (index, int(example[WORKER_KEY]), int(example[POSITION_KEY]))
            example[WORKER_KEY], example[POSITION_KEY] = 0, draw
            yield example
            draw += 1

    def observe(self, workers, positions) -> None:
        draws = sorted(int(p) for p in positions)
        for draw in draws:
            index, worker, position = self._pending.pop(draw)
            self.streams[index].observe([worker], [position])
        if draws:
            self.draws = max(self.draws, draws[-1] + 1)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "draws": self.draws, "next_position": {"0": self.draws},
                "languages": {code: s.state_dict() for code, s in zip(self.codes, self.streams)}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "languages" not in state or sorted(state["languages"]) != sorted(self.codes):
            raise ValueError("the checkpoint's stream was not language-sampled over these languages; resume with "
                             "the --lang-alpha and --data the run was started with")
        self.epoch, self.draws = int(state["epoch"]), int(state["draws"])
        for code, stream in zip(self.codes, self.streams):
            stream.load_state_dict(state["languages"][code])


__all__ = ["LanguageSampler", "language_counts", "sampling_probabilities", "uniform"]
