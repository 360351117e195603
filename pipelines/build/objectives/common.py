"""What every objective's builder shares: the builder record, the options it is made from,
the per-document generator, segment helpers and the Arrow conversion (pure, no Beam)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from pipelines.build.tokenize_docs import TokenizedDoc

Example = dict[str, Any]
Segment = tuple[np.ndarray, np.ndarray]  # (token ids, word-start flags)
PACKINGS = ("full", "doc")  # RoBERTa (Liu et al. 2019) Table 2: FULL-SENTENCES, DOC-SENTENCES


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """What a builder's config is made from: the job's options that shape examples.

    Each builder reads the fields it names in `Builder.options` (beside seq_len, seed and the
    special ids); the job refuses a non-default value of a field no chosen builder reads.
    """

    seq_len: int
    seed: int = 0
    cls_id: int
    sep_id: int
    short_seq_prob: float = 0.1  # google-research/bert create_pretraining_data.py default
    dupe_factor: int = 1  # google-research/bert uses 10 (static masks); masks here are dynamic
    packing: str = "full"
    per_language: bool = False
    negative_pool: int = 10_000
    pair_overflow: str = "drop"  # tlm: drop (XLM) or truncate a pair longer than seq_len
    languages: dict[str, int] = field(default_factory=dict)  # code -> id (the manifest's table)


@dataclass(frozen=True, kw_only=True)
class ShardContext:
    """What a builder may need beyond one shard's documents: its split and side data computed
    over the whole corpus (never over the shard, so examples do not depend on sharding)."""

    split: str = "train"
    negative_pool: Any = None  # negative_pool.NegativePool of the split, for builders that need one


@dataclass(frozen=True, kw_only=True)
class Builder:
    """One registry entry: how to make an objective's config and build its examples.

    `build(docs, config, counter, context)` yields examples with the columns of
    `schemas.examples_schema(name, ...)` from a shard's documents sorted by id; it draws from
    generators seeded by (seed, document id) only. `reads` is the input it takes: a documents
    dataset, or a parallel corpus of sentence pairs (each pair a two-sentence TokenizedDoc whose
    lang is `src-tgt`). `options` names the BuildOptions fields it reads.
    """

    name: str
    make_config: Callable[[BuildOptions], Any]
    build: Callable[[Sequence[TokenizedDoc], Any, Counter, ShardContext], Iterator[Example]]
    reads: str = "documents"
    options: frozenset[str] = frozenset()
    needs_negative_pool: bool = False


def streams(docs: Sequence[TokenizedDoc], packing: str, per_language: bool) -> Iterator[list[TokenizedDoc]]:
    """The document runs packed independently: one per document (doc), one per language
    (per_language, languages in code order, documents in input order), or all of them."""
    if packing == "doc":
        for doc in (sorted(docs, key=lambda d: d.lang) if per_language else docs):
            yield [doc]
    elif per_language:
        for _, group in groupby(sorted(docs, key=lambda d: d.lang), key=lambda d: d.lang):
            yield list(group)
    elif docs:
        yield list(docs)


def doc_rng(seed: int, doc_id: str) -> np.random.Generator:
    """The generator of one document: seeded by (seed, doc id) only, whatever the runner."""
    digest = hashlib.sha256(f"{seed}\x00{doc_id}".encode("utf-8")).digest()
    # entropy words [seed mod 2^32, the digest's 8 words]: as one uint32 array, which SeedSequence
    # reads as it reads the list of ints [seed & 0xFFFFFFFF, *words] (same state), at half the cost
    words = np.empty(9, dtype=np.uint32)
    words[0] = seed & 0xFFFFFFFF
    words[1:] = np.frombuffer(digest, dtype=np.uint32)
    return np.random.Generator(np.random.PCG64(words))


def concat(doc: TokenizedDoc, sentences: Sequence[int]) -> Segment:
    """Tokens of consecutive sentences."""
    sentences = list(sentences)
    lo, hi = doc.offsets[sentences[0]], doc.offsets[sentences[-1] + 1]
    return doc.ids[lo:hi], doc.word_start[lo:hi]


def target_length(config: Any, rng: np.random.Generator) -> int:
    """BERT's target: seq_len - 3, or with probability short_seq_prob a random length in [2, that]."""
    max_num_tokens = config.seq_len - 3  # [CLS] A [SEP] B [SEP]
    if rng.random() < config.short_seq_prob:
        return int(rng.integers(2, max_num_tokens + 1))
    return max_num_tokens


def iter_chunks(doc: TokenizedDoc, target: int) -> Iterator[list[int]]:
    """`create_instances_from_document`'s chunks: consecutive sentence indices until `target`
    tokens or the document's end. The caller may `send` a number of sentences to put back
    (they start the next chunk)."""
    lengths = doc.sentence_lengths().tolist()
    last = len(lengths) - 1
    chunk: list[int] = []
    chunk_len, i = 0, 0
    while i <= last:
        chunk.append(i)
        chunk_len += lengths[i]
        if i == last or chunk_len >= target:
            unused = yield chunk
            if unused:
                i -= unused
            chunk, chunk_len = [], 0
        i += 1


def truncate_pair(a: Segment, b: Segment, max_num_tokens: int, rng: np.random.Generator) -> tuple[Segment, Segment]:
    """`truncate_seq_pair` of google-research/bert: while too long, drop a token from the front or
    the back (each with probability 0.5) of the longer side (B on a tie).

    Draws exactly the generator values the one-token-at-a-time loop draws, in runs: while one
    side stays the one to cut, all its draws are taken at once (long sentences at seq 4096)."""
    if len(a[0]) + len(b[0]) <= max_num_tokens:  # fits: nothing drawn
        return a, b
    bounds = [[0, len(a[0])], [0, len(b[0])]]
    while True:
        len_a, len_b = bounds[0][1] - bounds[0][0], bounds[1][1] - bounds[1][0]
        excess = len_a + len_b - max_num_tokens
        if excess <= 0:
            break
        side, run = (bounds[0], len_a - len_b) if len_a > len_b else (bounds[1], len_b - len_a + 1)
        run = min(run, excess)
        front = int(np.count_nonzero(rng.random(run) < 0.5))
        side[0] += front
        side[1] -= run - front
    (alo, ahi), (blo, bhi) = bounds
    return (a[0][alo:ahi], a[1][alo:ahi]), (b[0][blo:bhi], b[1][blo:bhi])


def pair_example(a: Segment, b: Segment, doc_id: str, cls_id: int, sep_id: int, label: str, value: int) -> Example:
    """[CLS] A [SEP] B [SEP] with segment_b_start and one label column. Word starts are the
    tokens' own: a segment cut inside a word by truncation starts with a continuation."""
    len_a, len_b = len(a[0]), len(b[0])
    ids = np.empty(len_a + len_b + 3, dtype=np.uint32)
    ws = np.ones(len_a + len_b + 3, dtype=bool)
    ids[0], ids[len_a + 1], ids[-1] = cls_id, sep_id, sep_id
    ids[1:len_a + 1], ws[1:len_a + 1] = a
    ids[len_a + 2:-1], ws[len_a + 2:-1] = b
    return {"input_ids": ids, "word_start": ws, "doc_id": doc_id, "segment_b_start": len_a + 2, label: value}


def examples_table(examples: Sequence[Example], schema: pa.Schema) -> pa.Table:
    """Examples as a table of `schema` (ids cast to its uint16/uint32 type)."""
    columns = []
    for f in schema:
        values = [e[f.name] for e in examples]
        if pa.types.is_list(f.type):
            lengths = np.fromiter((len(v) for v in values), dtype=np.int32, count=len(values))
            offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int32)]).astype(np.int32)
            flat = np.concatenate(values) if values else np.array([], dtype=np.uint32)
            item = pa.array(flat).cast(f.type.value_type)  # safe cast: an id over the type raises
            columns.append(pa.ListArray.from_arrays(pa.array(offsets), item, type=f.type))
        else:
            columns.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(columns, schema=schema)
