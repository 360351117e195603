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

from pipelines.build.objectives.common import Draws
from pipelines.build.tokenize_docs import DocBatch, TokenizedDoc, index_ranges

WINDOW_SEQ_LENS = 2  # a pool window holds up to 2 x seq_len tokens: room for a random start inside it


def pool_hashes(seed: int, doc_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each document's rank in the bottom-k sample and the draw that places its window: the two
    64-bit halves of blake2b("pool", seed, id), as uint64 arrays."""
    digests = b"".join(hashlib.blake2b(f"pool\x00{seed}\x00{doc_id}".encode("utf-8"), digest_size=16).digest()
                       for doc_id in doc_ids)
    halves = np.frombuffer(digests, dtype=">u8").reshape(len(doc_ids), 2).astype(np.uint64)
    return halves[:, 0], halves[:, 1]


def pool_rank(seed: int, doc_id: str) -> tuple[int, str]:
    """The order of the bottom-k sample: a 64-bit hash of (seed, id), ties broken by the id."""
    return int(pool_hashes(seed, [doc_id])[0][0]), doc_id


def window_starts(draws: np.ndarray, sentence_counts: np.ndarray) -> np.ndarray:
    """Each window's first sentence: the draw's high 32 bits scaled to [0, sentences)."""
    return ((draws >> np.uint64(32)) * sentence_counts.astype(np.uint64) >> np.uint64(32)).astype(np.int64)


def pool_window(doc: TokenizedDoc, seed: int, window_tokens: int) -> TokenizedDoc:
    """Whole sentences of `doc` from a seeded random sentence until `window_tokens` tokens
    (at least one sentence, itself cut to `window_tokens`), as a compact copy."""
    start = int(window_starts(pool_hashes(seed, [doc.doc_id])[1], np.array([doc.num_sentences]))[0])
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
    return _windows(batch, pool_hashes(seed, batch.doc_ids)[1], window_tokens)


def _windows(batch: DocBatch, draws: np.ndarray, window_tokens: int) -> DocBatch:
    if not len(batch):
        return batch
    first, last = batch.doc_sentences[:-1], batch.doc_sentences[1:]
    start = first + window_starts(draws, batch.sentence_counts())
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


def candidates_of(batch: DocBatch, seed: int, window_tokens: int) -> PoolCandidates:
    """The batch's documents as entries of the bottom-k sample: their ranks and windows."""
    ranks, draws = pool_hashes(seed, batch.doc_ids)
    return PoolCandidates(ranks, _windows(batch, draws, window_tokens))


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
    """Entries of a pool's bottom-k sample: ranks (uint64) and their windows (a DocBatch), kept as
    at most `n` of the smallest (rank, id) by `add` and `smallest`. `add` keeps the parts apart
    until they are needed, so that adding a batch does not copy what is held."""

    def __init__(self, ranks: np.ndarray | None = None, windows: DocBatch | None = None):
        self._parts: list[tuple[np.ndarray, DocBatch]] = []
        if ranks is not None and len(ranks):
            self._parts.append((np.asarray(ranks, dtype=np.uint64), windows))

    def __len__(self) -> int:
        return sum(len(ranks) for ranks, _ in self._parts)

    def add(self, other: PoolCandidates) -> PoolCandidates:
        self._parts += other._parts
        return self

    def _joined(self) -> tuple[np.ndarray, DocBatch]:
        if len(self._parts) != 1:
            ranks = np.concatenate([r for r, _ in self._parts]) if self._parts else np.zeros(0, dtype=np.uint64)
            self._parts = [(ranks, DocBatch.join([w for _, w in self._parts]))]
        return self._parts[0]

    @property
    def ranks(self) -> np.ndarray:
        return self._joined()[0]

    @property
    def windows(self) -> DocBatch:
        return self._joined()[1]

    def smallest(self, n: int) -> PoolCandidates:
        """The n entries of smallest (rank, id), in that order."""
        ranks, windows = self._joined()
        order = np.lexsort((np.array(windows.doc_ids, dtype=str), ranks))[:n] if len(ranks) else ranks
        return PoolCandidates(ranks[order], windows.select(order))

    def __reduce__(self):
        return PoolCandidates, self._joined()
