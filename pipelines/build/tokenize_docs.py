"""Batched tokenization of documents into sentences of token ids with word-start flags (pure).

A tokenized document keeps its tokens flat (numpy arrays) with sentence offsets, which is
compact to hold in memory and cheap to pickle between Beam stages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from tokenizers import Encoding, Tokenizer

from pipelines.build.sentences import split_sentences


@dataclass(frozen=True, kw_only=True, eq=False)
class TokenizedDoc:
    """A document as sentences: sentence i is ids[offsets[i]:offsets[i+1]]."""

    doc_id: str
    ids: np.ndarray  # uint32, all sentences concatenated, no special tokens
    word_start: np.ndarray  # bool, same length as ids
    offsets: np.ndarray  # int64, num_sentences + 1 entries, offsets[0] == 0

    @property
    def num_sentences(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    def sentence(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return self.ids[lo:hi], self.word_start[lo:hi]

    def sentence_lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def make_doc(doc_id: str, sentences: Sequence[tuple[Sequence[int], Sequence[bool]]]) -> TokenizedDoc:
    """Build a TokenizedDoc from (ids, word_start) per sentence (tests, small inputs)."""
    lengths = [len(ids) for ids, _ in sentences]
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    ids = np.fromiter((t for s, _ in sentences for t in s), dtype=np.uint32, count=int(offsets[-1]))
    ws = np.fromiter((bool(w) for _, s in sentences for w in s), dtype=bool, count=int(offsets[-1]))
    return TokenizedDoc(doc_id=doc_id, ids=ids, word_start=ws, offsets=offsets)


def word_starts(word_ids: Sequence[int | None]) -> list[bool]:
    """A token starts a word when its word id differs from the previous token's (None: a start)."""
    out, previous = [], object()
    for wid in word_ids:
        out.append(wid is None or wid != previous)
        previous = wid
    return out


def tokenize_documents(tokenizer: Tokenizer, docs: Iterable[tuple[str, str]]
                       ) -> tuple[list[TokenizedDoc], Counter]:
    """Split (doc_id, text) pairs into sentences and encode them in one batch.

    Returns the tokenized documents (input order) and a Counter of skipped documents by
    reason: `empty_text` (no sentence) or `no_tokens` (sentences that encode to nothing).
    Sentences that encode to no token are dropped.
    """
    skipped: Counter = Counter()
    per_doc: list[tuple[str, list[str]]] = []
    for doc_id, text in docs:
        sentences = split_sentences(text or "")
        if sentences:
            per_doc.append((doc_id, sentences))
        else:
            skipped["empty_text"] += 1
    flat = [s for _, sentences in per_doc for s in sentences]
    encodings = tokenizer.encode_batch(flat, add_special_tokens=False) if flat else []
    out: list[TokenizedDoc] = []
    pos = 0
    for doc_id, sentences in per_doc:
        doc = _to_doc(doc_id, encodings[pos:pos + len(sentences)])
        pos += len(sentences)
        if doc.num_sentences:
            out.append(doc)
        else:
            skipped["no_tokens"] += 1
    return out, skipped


def _to_doc(doc_id: str, encodings: list[Encoding]) -> TokenizedDoc:
    kept = [e for e in encodings if e.ids]
    lengths = [len(e.ids) for e in kept]
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter((t for e in kept for t in e.ids), dtype=np.uint32, count=int(offsets[-1]))
    ws = np.fromiter((w for e in kept for w in word_starts(e.word_ids)), dtype=bool, count=int(offsets[-1]))
    return TokenizedDoc(doc_id=doc_id, ids=ids, word_start=ws, offsets=offsets)
