"""Batched tokenization of documents into sentences of token ids with word-start flags (pure).

A tokenized document keeps its tokens flat (numpy arrays) with sentence offsets, which is
compact to hold in memory and cheap to pickle between Beam stages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Sequence

import numpy as np
from tokenizers import Encoding, Tokenizer

from pipelines.build.sentences import split_sentences
from pipelines.tokenizer.word_starts import WordStartRule, offset_word_starts, word_start_rule


@dataclass(frozen=True, kw_only=True, eq=False)
class TokenizedDoc:
    """A document as sentences: sentence i is ids[offsets[i]:offsets[i+1]]."""

    doc_id: str
    ids: np.ndarray  # uint32, all sentences concatenated, no special tokens
    word_start: np.ndarray  # bool, same length as ids
    offsets: np.ndarray  # int64, num_sentences + 1 entries, offsets[0] == 0
    lang: str = "und"  # the documents dataset's language code; `src-tgt` for a translation pair

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


def make_doc(doc_id: str, sentences: Sequence[tuple[Sequence[int], Sequence[bool]]],
             lang: str = "und") -> TokenizedDoc:
    """Build a TokenizedDoc from (ids, word_start) per sentence (tests, small inputs)."""
    lengths = [len(ids) for ids, _ in sentences]
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    ids = np.fromiter((t for s, _ in sentences for t in s), dtype=np.uint32, count=int(offsets[-1]))
    ws = np.fromiter((bool(w) for _, s in sentences for w in s), dtype=bool, count=int(offsets[-1]))
    return TokenizedDoc(doc_id=doc_id, ids=ids, word_start=ws, offsets=offsets, lang=lang)


def tokenize_documents(tokenizer: Tokenizer, docs: Iterable[tuple[str, str] | tuple[str, str, str]],
                       rule: WordStartRule | None = None) -> tuple[list[TokenizedDoc], Counter]:
    """Split (doc_id, text) or (doc_id, text, lang) tuples into sentences and encode them in one batch.

    `lang` (the documents dataset's ISO 639-1 code) picks the sentence splitter's rules.
    Returns the tokenized documents (input order) and a Counter of skipped documents by
    reason: `empty_text` (no sentence) or `no_tokens` (sentences that encode to nothing).
    Sentences that encode to no token are dropped. Word starts follow the tokenizer family's
    rule (`pipelines.tokenizer.word_starts`); pass `rule` to build it once per tokenizer.
    """
    rule = rule or word_start_rule(tokenizer)
    skipped: Counter = Counter()
    per_doc: list[tuple[str, list[str]]] = []
    for doc_id, text, *lang in docs:
        sentences = split_sentences(text or "", lang[0] if lang else None)
        if sentences:
            per_doc.append((doc_id, sentences))
        else:
            skipped["empty_text"] += 1
    flat = [s for _, sentences in per_doc for s in sentences]
    # encode_batch_fast: the same ids without computing offsets, which only the `offsets`
    # family reads (a fifth less CPU on BERT's WordPiece; docs/benchmarks.md)
    encode = tokenizer.encode_batch if rule.family == "offsets" else tokenizer.encode_batch_fast
    encodings = encode(flat, add_special_tokens=False) if flat else []
    ids, word_start, lengths = _flatten(encodings, flat, rule)
    out: list[TokenizedDoc] = []
    sentence, token = 0, 0
    for doc_id, sentences in per_doc:
        doc_lengths = lengths[sentence:sentence + len(sentences)]
        size = int(doc_lengths.sum())
        sentence += len(sentences)
        kept = doc_lengths[doc_lengths > 0]
        if not len(kept):
            skipped["no_tokens"] += 1
            continue
        offsets = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum(kept, out=offsets[1:])
        out.append(TokenizedDoc(doc_id=doc_id, ids=ids[token:token + size],
                                word_start=word_start[token:token + size], offsets=offsets))
        token += size
    return out, skipped


def encode_texts(tokenizer: Tokenizer, texts: list[str], rule: WordStartRule | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode texts in one batch without special tokens: all ids, their word-start flags (each
    text's first token starts a word) and each text's length (a text of no token: 0)."""
    rule = rule or word_start_rule(tokenizer)
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False) if texts else []
    return _flatten(encodings, texts, rule)


def _flatten(encodings: list[Encoding], texts: list[str], rule: WordStartRule
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All encodings' ids, their word-start flags, and each encoding's length."""
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
    total = int(lengths.sum())
    ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.uint32, count=total)
    if rule.family == "offsets":
        flags = [offset_word_starts(t, e.offsets) for t, e in zip(texts, encodings)]
        word_start = np.concatenate(flags) if flags else np.zeros(0, dtype=bool)
    else:
        first = np.cumsum(lengths) - lengths
        word_start = rule.flags(ids, first[lengths > 0])
    return ids, word_start, lengths
