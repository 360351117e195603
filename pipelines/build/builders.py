"""Example builders: tokenized documents -> training examples (pure, seeded, no Beam).

- nsp: BERT's sentence pairs, following `create_instances_from_document` of Google's
  `create_pretraining_data.py` (google-research/bert), with an explicit generator per document.
- mlm: RoBERTa's FULL-SENTENCES packing (Liu et al. 2019, section 4.2): consecutive sentences,
  crossing document boundaries with an extra separator, up to seq_len tokens.

An example is a dict with the columns of `schemas.examples_schema(objective, ...)`:
input_ids / word_start as numpy arrays, doc_id, and for nsp segment_b_start and
next_sentence_label.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from pipelines.build.tokenize_docs import TokenizedDoc

Example = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class NspConfig:
    seq_len: int
    cls_id: int
    sep_id: int
    short_seq_prob: float = 0.1  # google-research/bert create_pretraining_data.py default
    dupe_factor: int = 1  # google-research/bert uses 10 (static masks); masks here are dynamic


@dataclass(frozen=True, kw_only=True)
class MlmConfig:
    seq_len: int
    cls_id: int
    sep_id: int


def doc_rng(seed: int, doc_id: str) -> np.random.Generator:
    """The generator of one document: seeded by (seed, doc id) only, whatever the runner."""
    digest = hashlib.sha256(f"{seed}\x00{doc_id}".encode("utf-8")).digest()
    return np.random.Generator(np.random.PCG64([seed & 0xFFFFFFFF, *np.frombuffer(digest, dtype=np.uint32)]))


# ----------------------------------------------------------------------------- nsp


def build_nsp(docs: Sequence[TokenizedDoc], config: NspConfig, seed: int,
              counter: Counter | None = None) -> Iterator[Example]:
    """NSP pairs for every document of a group (random B segments come from the group)."""
    for index, doc in enumerate(docs):
        rng = doc_rng(seed, doc.doc_id)
        for _ in range(config.dupe_factor):
            yield from nsp_document(docs, index, config, rng, counter)


def nsp_document(docs: Sequence[TokenizedDoc], index: int, config: NspConfig, rng: np.random.Generator,
                 counter: Counter | None = None) -> Iterator[Example]:
    """`create_instances_from_document`: pack segments into chunks, split each into A and B."""
    doc = docs[index]
    max_num_tokens = config.seq_len - 3  # [CLS] A [SEP] B [SEP]
    target = max_num_tokens
    if rng.random() < config.short_seq_prob:
        target = int(rng.integers(2, max_num_tokens + 1))
    lengths = doc.sentence_lengths()
    chunk: list[int] = []  # sentence indices
    chunk_len = 0
    i = 0
    while i < doc.num_sentences:
        chunk.append(i)
        chunk_len += int(lengths[i])
        if i == doc.num_sentences - 1 or chunk_len >= target:
            example, unused = _nsp_pair(docs, index, chunk, target, config, rng)
            if example is not None:
                yield example
            elif counter is not None:
                counter["nsp/dropped/no_random_document"] += 1
            i -= unused  # put the unused segments back: they start the next chunk
            chunk, chunk_len = [], 0
        i += 1


def _nsp_pair(docs: Sequence[TokenizedDoc], index: int, chunk: list[int], target: int, config: NspConfig,
              rng: np.random.Generator) -> tuple[Example | None, int]:
    """One example from a chunk; returns it (None when impossible) and the number of unused segments."""
    doc = docs[index]
    a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
    a = _concat(doc, chunk[:a_end])
    is_random = len(chunk) == 1 or rng.random() < 0.5
    if is_random and len(docs) < 2:  # no other document in the group to draw B from
        if len(chunk) == 1:
            return None, 0
        is_random = False
    unused = 0
    if is_random:
        b = _random_segment(docs, index, target - len(a[0]), rng)
        unused = len(chunk) - a_end
    else:
        b = _concat(doc, chunk[a_end:])
    a, b = _truncate_pair(a, b, config.seq_len - 3, rng)
    ids = np.concatenate([[config.cls_id], a[0], [config.sep_id], b[0], [config.sep_id]]).astype(np.uint32)
    ws = np.concatenate([[True], _starts_word(a[1]), [True], _starts_word(b[1]), [True]]).astype(bool)
    example = {"input_ids": ids, "word_start": ws, "doc_id": doc.doc_id,
               "segment_b_start": len(a[0]) + 2, "next_sentence_label": int(is_random)}
    return example, unused


def _starts_word(word_start: np.ndarray) -> np.ndarray:
    """A segment cut by truncation starts with a word (a fragment counts as one)."""
    out = word_start.copy()
    out[:1] = True
    return out


def _random_segment(docs: Sequence[TokenizedDoc], index: int, target_b: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive sentences of another document from a random start, until target_b tokens."""
    other = int(rng.integers(len(docs) - 1))
    other += other >= index  # uniform over the other documents
    rdoc = docs[other]
    start = int(rng.integers(rdoc.num_sentences))
    lengths = rdoc.sentence_lengths()
    end, total = start, 0
    while end < rdoc.num_sentences:
        total += int(lengths[end])
        end += 1
        if total >= target_b:
            break
    return _concat(rdoc, range(start, end))


def _concat(doc: TokenizedDoc, sentences: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Tokens of consecutive sentences."""
    sentences = list(sentences)
    lo, hi = doc.offsets[sentences[0]], doc.offsets[sentences[-1] + 1]
    return doc.ids[lo:hi], doc.word_start[lo:hi]


def _truncate_pair(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], max_num_tokens: int,
                   rng: np.random.Generator) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`truncate_seq_pair`: drop a token from the front or back (at random) of the longer side."""
    bounds = [[0, len(a[0])], [0, len(b[0])]]
    while (bounds[0][1] - bounds[0][0]) + (bounds[1][1] - bounds[1][0]) > max_num_tokens:
        side = bounds[0] if bounds[0][1] - bounds[0][0] > bounds[1][1] - bounds[1][0] else bounds[1]
        if rng.random() < 0.5:
            side[0] += 1
        else:
            side[1] -= 1
    (alo, ahi), (blo, bhi) = bounds
    return (a[0][alo:ahi], a[1][alo:ahi]), (b[0][blo:bhi], b[1][blo:bhi])


# ----------------------------------------------------------------------------- mlm


def build_mlm(docs: Sequence[TokenizedDoc], config: MlmConfig) -> Iterator[Example]:
    """FULL-SENTENCES: <s> sentences... </s>, packed across documents with a </s> between them.

    A sentence longer than seq_len - 2 is cut into pieces of that size. Deterministic: it
    draws no randomness. doc_id is the document the example starts in.
    """
    budget = config.seq_len - 2
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    length, start_doc = 0, ""
    sep = (np.array([config.sep_id], dtype=np.uint32), np.array([True]))
    for doc in docs:
        first = True
        for piece in _pieces(doc, budget):
            boundary = 1 if (length and first) else 0
            if length and length + boundary + len(piece[0]) > budget:
                yield _mlm_example(parts, start_doc, config)
                parts, length, boundary = [], 0, 0
            if not length:
                start_doc = doc.doc_id
            if boundary:
                parts.append(sep)
            parts.append(piece)
            length += boundary + len(piece[0])
            first = False
    if length:
        yield _mlm_example(parts, start_doc, config)


def _pieces(doc: TokenizedDoc, budget: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for i in range(doc.num_sentences):
        ids, ws = doc.sentence(i)
        for lo in range(0, len(ids), budget):
            yield ids[lo:lo + budget], _starts_word(ws[lo:lo + budget])


def _mlm_example(parts: list[tuple[np.ndarray, np.ndarray]], doc_id: str, config: MlmConfig) -> Example:
    ids = np.concatenate([[config.cls_id], *(p[0] for p in parts), [config.sep_id]]).astype(np.uint32)
    ws = np.concatenate([[True], *(p[1] for p in parts), [True]]).astype(bool)
    return {"input_ids": ids, "word_start": ws, "doc_id": doc_id}


# ----------------------------------------------------------------------------- arrow


def examples_table(examples: Sequence[Example], schema: pa.Schema) -> pa.Table:
    """Examples as a table of `schema` (ids cast to its uint16/uint32 type)."""
    columns = []
    for field in schema:
        values = [e[field.name] for e in examples]
        if pa.types.is_list(field.type):
            lengths = np.fromiter((len(v) for v in values), dtype=np.int32, count=len(values))
            offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int32)]).astype(np.int32)
            flat = np.concatenate(values) if values else np.array([], dtype=np.uint32)
            item = pa.array(flat).cast(field.type.value_type)  # safe cast: an id over the type raises
            columns.append(pa.ListArray.from_arrays(pa.array(offsets), item, type=field.type))
        else:
            columns.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)
