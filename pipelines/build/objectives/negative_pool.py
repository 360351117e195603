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

from pipelines.build.objectives.common import Draws, doc_draws
from pipelines.build.tokenize_docs import DocBatch, TokenizedDoc, index_ranges

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


def pool_windows(batch: DocBatch, seed: int, window_tokens: int) -> DocBatch:
    """`pool_window` of every document of the batch (the same windows), as one batch."""
    if not len(batch):
        return batch
    first, last = batch.doc_sentences[:-1], batch.doc_sentences[1:]
    start = first + np.array([doc_draws(seed, f"pool\x00{doc_id}").integers(n)
                              for doc_id, n in zip(batch.doc_ids, batch.sentence_counts().tolist())], dtype=np.int64)
    offsets = batch.sentence_offsets
    lo = offsets[start]
    # the last sentence end within window_tokens of the start (at least one sentence, within the document)
    end = np.minimum(np.maximum(np.searchsorted(offsets, lo + window_tokens, side="right") - 1, start + 1), last)
    hi = np.minimum(offsets[end], lo + window_tokens)
    sentences = index_ranges(start, end)
    owner = np.repeat(np.arange(len(batch)), end - start)
    lengths = np.minimum(offsets[sentences + 1], hi[owner]) - offsets[sentences]
    sentence_offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=sentence_offsets[1:])
    doc_sentences = np.zeros(len(batch) + 1, dtype=np.int64)
    np.cumsum(end - start, out=doc_sentences[1:])
    tokens = index_ranges(lo, hi)
    return DocBatch(batch.doc_ids, batch.langs, batch.ids[tokens], batch.word_start[tokens], sentence_offsets,
                    doc_sentences)


class NegativePool:
    """The pool of one split: documents (windows) in rank order, held as one DocBatch (a few
    arrays: cheap to pickle and to size in Beam's side-input cache), with positions by id."""

    def __init__(self, docs: Sequence[TokenizedDoc] = ()):
        self.batch = DocBatch.of(list(docs))
        self._index: dict[str, int] | None = None  # made on first use, not pickled

    @classmethod
    def of_batch(cls, batch: DocBatch) -> NegativePool:
        pool = cls.__new__(cls)
        pool.batch, pool._index = batch, None
        return pool

    @property
    def docs(self) -> tuple[TokenizedDoc, ...]:
        return tuple(self.batch.docs())

    def __len__(self) -> int:
        return len(self.batch)

    def _position(self, doc_id: str) -> int | None:
        if self._index is None:
            self._index = {d: i for i, d in enumerate(self.batch.doc_ids)}
        return self._index.get(doc_id)

    def positions(self, doc_ids: Sequence[str]) -> np.ndarray:
        """Each document's index in the pool, -1 for one not in it."""
        found = [self._position(d) for d in doc_ids]
        return np.array([-1 if k is None else k for k in found], dtype=np.int64)

    def others(self, doc_id: str) -> int:
        """How many pool documents are not this one."""
        return len(self) - (self._position(doc_id) is not None)

    def draw_other(self, doc_id: str, draws: Draws) -> int:
        """The index of a pool document other than `doc_id`, uniformly (one generator draw)."""
        own = self._position(doc_id)
        other = draws.integers(len(self) - (own is not None))
        if own is not None:
            other += other >= own
        return other

    def joined(self) -> tuple[np.ndarray, np.ndarray]:
        """The windows' ids and word starts end to end."""
        return self.batch.ids, self.batch.word_start

    def offsets(self, index: int) -> list[int]:
        """Window `index`'s sentence offsets in the joined tokens."""
        bounds = self.batch.doc_sentences
        return self.batch.sentence_offsets[bounds[index]:bounds[index + 1] + 1].tolist()

    def __reduce__(self):  # the batch: one array each instead of three per window
        return NegativePool.of_batch, (self.batch,)


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
