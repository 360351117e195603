"""Batched tokenization of documents into sentences of token ids with word-start flags (pure).

A tokenized document keeps its tokens flat (numpy arrays) with sentence offsets, which is
compact to hold in memory. Between Beam stages documents travel in batches (`DocBatch`: the
arrays of many documents end to end), so that Beam's per-element work and pickling are paid
once per batch, not once per document.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Iterator, Sequence

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


@dataclass(frozen=True, eq=False)
class DocBatch:
    """Tokenized documents end to end: document k is sentences doc_sentences[k]:doc_sentences[k+1],
    sentence i is tokens sentence_offsets[i]:sentence_offsets[i+1] of ids and word_start."""

    doc_ids: tuple[str, ...]
    langs: tuple[str, ...]
    ids: np.ndarray  # uint32
    word_start: np.ndarray  # bool
    sentence_offsets: np.ndarray  # int64, sentences + 1 token offsets, [0] == 0
    doc_sentences: np.ndarray  # int64, documents + 1 sentence offsets, [0] == 0

    @classmethod
    def of(cls, docs: Sequence[TokenizedDoc]) -> DocBatch:
        """The documents in one batch (their arrays copied end to end)."""
        if not docs:
            return cls((), (), np.zeros(0, np.uint32), np.zeros(0, bool), np.zeros(1, np.int64), np.zeros(1, np.int64))
        tokens = np.cumsum([0] + [d.num_tokens for d in docs], dtype=np.int64)
        sentences = np.cumsum([0] + [d.num_sentences for d in docs], dtype=np.int64)
        offsets = np.concatenate([[0], *(d.offsets[1:] + t for d, t in zip(docs, tokens))]).astype(np.int64)
        return cls(tuple(d.doc_id for d in docs), tuple(d.lang for d in docs),
                   np.concatenate([d.ids for d in docs]).astype(np.uint32),
                   np.concatenate([d.word_start for d in docs]).astype(bool), offsets, sentences)

    def __len__(self) -> int:
        return len(self.doc_ids)

    def token_counts(self) -> np.ndarray:
        """Tokens of each document."""
        return np.diff(self.sentence_offsets[self.doc_sentences])

    def sentence_counts(self) -> np.ndarray:
        return np.diff(self.doc_sentences)

    def docs(self) -> Iterator[TokenizedDoc]:
        """The documents, their arrays views into the batch's."""
        bounds = self.doc_sentences.tolist()
        for k, (doc_id, lang) in enumerate(zip(self.doc_ids, self.langs)):
            offsets = self.sentence_offsets[bounds[k]:bounds[k + 1] + 1]
            lo, hi = int(offsets[0]), int(offsets[-1])
            yield TokenizedDoc(doc_id=doc_id, ids=self.ids[lo:hi], word_start=self.word_start[lo:hi],
                               offsets=offsets - lo, lang=lang)

    def select(self, keep: Sequence[int]) -> DocBatch:
        """The documents at indices `keep`, in that order."""
        keep = np.asarray(keep, dtype=np.int64)
        if len(keep) == len(self) and np.array_equal(keep, np.arange(len(self))):
            return self
        first, last = self.doc_sentences[keep], self.doc_sentences[keep + 1]
        sentences = index_ranges(first, last)  # the kept sentences, in order
        lengths = np.diff(self.sentence_offsets)[sentences]
        tokens = index_ranges(self.sentence_offsets[first], self.sentence_offsets[last])
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        doc_sentences = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(last - first, out=doc_sentences[1:])
        return DocBatch(tuple(self.doc_ids[k] for k in keep.tolist()), tuple(self.langs[k] for k in keep.tolist()),
                        self.ids[tokens], self.word_start[tokens], offsets, doc_sentences)


def index_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The integers of [starts[i], ends[i]) for every i, end to end."""
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    step = np.ones(total, dtype=np.int64)
    heads = np.cumsum(lengths)[:-1]
    step[0] = starts[0]
    step[heads] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
    return np.cumsum(step)


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
    """`tokenize_batch` as a list of documents."""
    batch, skipped = tokenize_batch(tokenizer, docs, rule)
    return list(batch.docs()), skipped


def tokenize_batch(tokenizer: Tokenizer, docs: Iterable[tuple[str, str] | tuple[str, str, str]],
                   rule: WordStartRule | None = None) -> tuple[DocBatch, Counter]:
    """Split (doc_id, text) or (doc_id, text, lang) tuples into sentences and encode them in one batch.

    `lang` (the documents dataset's ISO 639-1 code; "und" when absent) picks the sentence
    splitter's rules and is the documents' lang. Returns the tokenized documents (input order)
    and a Counter of skipped documents by reason: `empty_text` (no sentence) or `no_tokens`
    (sentences that encode to nothing). Sentences that encode to no token are dropped. Word
    starts follow the tokenizer family's rule (`pipelines.tokenizer.word_starts`); pass `rule`
    to build it once per tokenizer.
    """
    rule = rule or word_start_rule(tokenizer)
    skipped: Counter = Counter()
    doc_ids: list[str] = []
    langs: list[str] = []
    counts: list[int] = []
    flat: list[str] = []
    for doc_id, text, *lang in docs:
        sentences = split_sentences(text or "", lang[0] if lang else None)
        if sentences:
            doc_ids.append(doc_id)
            langs.append(lang[0] if lang else "und")
            counts.append(len(sentences))
            flat.extend(sentences)
        else:
            skipped["empty_text"] += 1
    # encode_batch_fast: the same ids without computing offsets, which only the `offsets`
    # family reads (a fifth less CPU on BERT's WordPiece; docs/benchmarks.md)
    encode = tokenizer.encode_batch if rule.family == "offsets" else tokenizer.encode_batch_fast
    encodings = encode(flat, add_special_tokens=False) if flat else []
    ids, word_start, lengths = _flatten(encodings, flat, rule)
    owner = np.repeat(np.arange(len(counts)), counts)
    kept = lengths > 0
    per_doc = np.bincount(owner[kept], minlength=len(counts))
    if not per_doc.all():
        skipped["no_tokens"] += int((per_doc == 0).sum())
        keep = per_doc > 0
        doc_ids = [d for d, k in zip(doc_ids, keep.tolist()) if k]
        langs = [lang for lang, k in zip(langs, keep.tolist()) if k]
        per_doc = per_doc[keep]
    offsets = np.zeros(int(kept.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[kept], out=offsets[1:])
    doc_sentences = np.zeros(len(per_doc) + 1, dtype=np.int64)
    np.cumsum(per_doc, out=doc_sentences[1:])
    return DocBatch(tuple(doc_ids), tuple(langs), ids, word_start, offsets, doc_sentences), skipped


def encode_texts(tokenizer: Tokenizer, texts: list[str], rule: WordStartRule | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode texts in one batch without special tokens: all ids, their word-start flags (each
    text's first token starts a word) and each text's length (a text of no token: 0)."""
    rule = rule or word_start_rule(tokenizer)
    encode = tokenizer.encode_batch if rule.family == "offsets" else tokenizer.encode_batch_fast  # as tokenize_batch
    encodings = encode(texts, add_special_tokens=False) if texts else []
    return _flatten(encodings, texts, rule)


def _flatten(encodings: list[Encoding], texts: list[str], rule: WordStartRule
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All encodings' ids, their word-start flags, and each encoding's length."""
    lengths = np.fromiter(map(len, encodings), dtype=np.int64, count=len(encodings))  # len(e) == len(e.ids)
    total = int(lengths.sum())
    # each e.ids builds a Python list: once per encoding
    ids = np.fromiter(chain.from_iterable([e.ids for e in encodings]), dtype=np.uint32, count=total)
    if rule.family == "offsets":
        flags = [offset_word_starts(t, e.offsets) for t, e in zip(texts, encodings)]
        word_start = np.concatenate(flags) if flags else np.zeros(0, dtype=bool)
    else:
        first = np.cumsum(lengths) - lengths
        word_start = rule.flags(ids, first[lengths > 0])
    return ids, word_start, lengths
