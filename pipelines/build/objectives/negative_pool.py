"""The corpus-wide pool that `nsp` draws its random segments B from.

BERT's `create_pretraining_data.py` draws B from any document of the corpus it holds in memory.
A Beam job sees one shard's documents at a time; drawing from those made the negatives depend on
sharding (with one document per shard there is nothing to draw from). Instead every split has a
pool chosen over the whole corpus before examples are built: the `size` documents with the smallest
hash of (seed, document id) (a bottom-k sample: uniform, and the same whatever the runner, the
number of workers or of shards), each kept as a window of up to `window_tokens` tokens of whole
sentences from a seeded random sentence. A document's examples then depend only on (seed, its
id, the pool), and the pool is a side input of the step that builds examples (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from pipelines.build.objectives.common import Draws, doc_draws, joined
from pipelines.build.tokenize_docs import DocBatch, TokenizedDoc

WINDOW_SEQ_LENS = 2  # a pool window holds up to 2 x seq_len tokens: room for a random start inside it


def pool_rank(seed: int, doc_id: str) -> tuple[int, str]:
    """The order of the bottom-k sample: a 64-bit hash of (seed, id), ties broken by the id."""
    digest = hashlib.blake2b(f"pool\x00{seed}\x00{doc_id}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big"), doc_id


def pool_window(doc: TokenizedDoc, seed: int, window_tokens: int) -> TokenizedDoc:
    """Whole sentences of `doc` from a seeded random sentence until `window_tokens` tokens
    (at least one sentence, itself cut to `window_tokens`), as a compact copy."""
    start = doc_draws(seed, f"pool\x00{doc.doc_id}").integers(doc.num_sentences)
    lengths = doc.sentence_lengths()
    end, total = start, 0
    while end < doc.num_sentences and (end == start or total + int(lengths[end]) <= window_tokens):
        total += int(lengths[end])
        end += 1
    lo = int(doc.offsets[start])
    hi = min(int(doc.offsets[end]), lo + window_tokens)
    offsets = np.minimum(doc.offsets[start:end + 1] - lo, hi - lo).astype(np.int64)
    return TokenizedDoc(doc_id=doc.doc_id, ids=doc.ids[lo:hi].copy(), word_start=doc.word_start[lo:hi].copy(),
                        offsets=offsets, lang=doc.lang)


class NegativePool:
    """The pool of one split: documents (windows) in rank order, with their positions by id."""

    def __init__(self, docs: Sequence[TokenizedDoc] = ()):
        self.docs = tuple(docs)
        self._index = {d.doc_id: i for i, d in enumerate(self.docs)}
        self._joined: tuple[np.ndarray, np.ndarray] | None = None
        self._offsets: list[list[int]] = []

    def __len__(self) -> int:
        return len(self.docs)

    def others(self, doc_id: str) -> int:
        """How many pool documents are not this one."""
        return len(self.docs) - (doc_id in self._index)

    def draw_other(self, doc_id: str, draws: Draws) -> int:
        """The index of a pool document other than `doc_id`, uniformly (one generator draw)."""
        own = self._index.get(doc_id)
        other = draws.integers(len(self.docs) - (own is not None))
        if own is not None:
            other += other >= own
        return other

    def joined(self) -> tuple[np.ndarray, np.ndarray]:
        """The windows' ids and word starts end to end (made once)."""
        if self._joined is None:
            ids, ws, bases = joined(self.docs)
            self._joined = ids, ws
            self._offsets = [[base + o for o in d.offsets.tolist()] for d, base in zip(self.docs, bases)]
        return self._joined

    def offsets(self, index: int) -> list[int]:
        """Window `index`'s sentence offsets in the joined tokens."""
        self.joined()
        return self._offsets[index]

    def __reduce__(self):  # the windows as one DocBatch: one array each instead of three per window
        return _pool_from_batch, (DocBatch.of(self.docs),)


def _pool_from_batch(batch: DocBatch) -> NegativePool:
    return NegativePool(list(batch.docs()))


class PoolCandidates:
    """Entries of a pool's bottom-k sample: (rank, window) pairs, kept as at most `n` of the
    smallest rank by `add` and `smallest`; pickled as one DocBatch of the windows."""

    def __init__(self, ranks: Sequence[tuple[int, str]] = (), windows: Sequence[TokenizedDoc] = ()):
        self.ranks, self.windows = list(ranks), list(windows)

    def __len__(self) -> int:
        return len(self.ranks)

    def add(self, other: PoolCandidates) -> PoolCandidates:
        self.ranks += other.ranks
        self.windows += other.windows
        return self

    def smallest(self, n: int) -> PoolCandidates:
        """The n entries of smallest rank, in rank order."""
        order = sorted(range(len(self.ranks)), key=self.ranks.__getitem__)[:n]
        return PoolCandidates([self.ranks[i] for i in order], [self.windows[i] for i in order])

    def __reduce__(self):
        return _candidates_from_batch, (self.ranks, DocBatch.of(self.windows))


def _candidates_from_batch(ranks: list[tuple[int, str]], windows: DocBatch) -> PoolCandidates:
    return PoolCandidates(ranks, list(windows.docs()))
