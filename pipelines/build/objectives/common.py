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

from pipelines.build.tokenize_docs import TokenizedDoc, index_ranges

Example = dict[str, Any]
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

    `build(docs, config, counter, context)` returns the examples (`ExampleColumns`) with the columns
    of `schemas.examples_schema(name, ...)` from a shard's documents sorted by id; it draws from
    generators seeded by (seed, document id) only. `reads` is the input it takes: a documents
    dataset, or a parallel corpus of sentence pairs (each pair a two-sentence TokenizedDoc whose
    lang is `src-tgt`). `options` names the BuildOptions fields it reads.
    """

    name: str
    make_config: Callable[[BuildOptions], Any]
    build: Callable[[Sequence[TokenizedDoc], Any, Counter, ShardContext], ExampleColumns]
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


def doc_bit_generator(seed: int, doc_id: str) -> np.random.PCG64:
    """The bit generator of one document: seeded by (seed, doc id) only, whatever the runner."""
    return np.random.PCG64(entropy_words(seed, [doc_id])[0])


def entropy_words(seed: int, doc_ids: Sequence[str]) -> np.ndarray:
    """Each document's generator seed, (documents, 9) uint32: [seed mod 2^32, the 8 words of
    sha256(seed, doc id)]. SeedSequence reads a row as it reads the list of ints
    [seed & 0xFFFFFFFF, *words] (the same state), at half the cost; `generator_kernels` seeds
    from the same rows."""
    digests = b"".join(hashlib.sha256(f"{seed}\x00{doc_id}".encode("utf-8")).digest() for doc_id in doc_ids)
    words = np.empty((len(doc_ids), 9), dtype=np.uint32)
    words[:, 0] = seed & 0xFFFFFFFF
    words[:, 1:] = np.frombuffer(digests, dtype=np.uint32).reshape(len(doc_ids), 8)
    return words


def doc_rng(seed: int, doc_id: str) -> np.random.Generator:
    """The document's generator (what the builders' draws reproduce; the tests' reference)."""
    return np.random.Generator(doc_bit_generator(seed, doc_id))


def doc_draws(seed: int, doc_id: str) -> Draws:
    """`doc_rng`'s draws (the same values in the same order) without the Generator."""
    return Draws(doc_bit_generator(seed, doc_id))


_MASK32 = 0xFFFFFFFF
_BLOCK = 128  # raw outputs fetched from the bit generator at a time


class Draws:
    """The draws of `np.random.Generator(bit_generator)` that builders make, computed in Python from
    the bit generator's raw 64-bit outputs: the same values in the same order, at a fraction of
    the cost of a Generator call per draw (2-3 us each, which nsp and sop make several times
    per example). What numpy 2.x does and this repeats (tests/pipelines/build/test_objectives.py
    checks it against the Generator over random interleavings of every call):
    - `random()`: the next 64-bit output x, as (x >> 11) * 2**-53;
    - `integers(low, high)` for a range of at most 2**32 values: Lemire's bounded method over
      32-bit draws, each the low half of a fresh 64-bit output or the high half kept from the
      previous one (PCG64's buffered uint32; `random()` does not touch that buffer); a range of
      one value draws nothing.
    A document's generator is only ever drawn through one of the two, never both."""

    __slots__ = ("_bitgen", "_block", "_raw", "_tops", "_pos", "_half")

    def __init__(self, bit_generator: np.random.BitGenerator):
        self._bitgen = bit_generator
        self._block = np.zeros(0, dtype=np.uint64)  # a block of raw outputs, drawn from at _pos
        self._raw: list[int] = []  # the same, as Python ints
        self._tops: bytes | None = None  # the block's top bits, one byte each (made when flips are drawn)
        self._pos = 0
        self._half: int | None = None  # the kept high half of a 64-bit output

    def _refill(self, n: int) -> None:
        self._block = self._bitgen.random_raw(max(_BLOCK, n))
        self._raw, self._tops, self._pos = self._block.tolist(), None, 0

    def _next64(self) -> int:
        if self._pos == len(self._raw):
            self._refill(_BLOCK)
        x = self._raw[self._pos]
        self._pos += 1
        return x

    def _next32(self) -> int:
        half = self._half
        if half is not None:
            self._half = None
            return half
        x = self._next64()
        self._half = x >> 32
        return x & _MASK32

    def random(self) -> float:
        """`Generator.random()`: a double in [0, 1)."""
        return (self._next64() >> 11) * (1.0 / 9007199254740992.0)

    def integers(self, low: int, high: int | None = None) -> int:
        """`Generator.integers(low, high)` (int64, high excluded; `integers(n)`: [0, n))."""
        if high is None:
            low, high = 0, low
        span = high - low - 1  # numpy's rng: the largest offset
        if span == 0:
            return low
        if span == _MASK32:
            return low + self._next32()
        if not 0 < span < _MASK32:
            raise ValueError(f"integers({low}, {high}): an empty range or one over 2**32 values")
        excl = span + 1
        m = self._next32() * excl
        leftover = m & _MASK32
        if leftover < excl:
            threshold = (_MASK32 - span) % excl
            while leftover < threshold:
                m = self._next32() * excl
                leftover = m & _MASK32
        return low + (m >> 32)

    def fronts(self, n: int) -> int:
        """How many of n `random()` draws are < 0.5 (the top bit of the output clear)."""
        count = 0
        while n > 0:
            if self._pos == len(self._raw):
                self._refill(n)
            if self._tops is None:
                self._tops = (self._block >> np.uint64(63)).astype(np.uint8).tobytes()
            take = min(n, len(self._raw) - self._pos)
            count += take - self._tops.count(1, self._pos, self._pos + take)
            self._pos += take
            n -= take
        return count


def target_length(config: Any, draws: Draws) -> int:
    """BERT's target: seq_len - 3, or with probability short_seq_prob a random length in [2, that]."""
    max_num_tokens = config.seq_len - 3  # [CLS] A [SEP] B [SEP]
    if draws.random() < config.short_seq_prob:
        return draws.integers(2, max_num_tokens + 1)
    return max_num_tokens


def truncate_bounds(len_a: int, len_b: int, max_num_tokens: int, draws: Draws) -> tuple[int, int, int, int]:
    """`truncate_seq_pair` of google-research/bert over lengths: while too long, drop a token from
    the front or the back (each with probability 0.5) of the longer side (B on a tie). Returns
    the kept [lo, hi) of A and of B.

    Draws exactly the generator values the one-token-at-a-time loop draws, in runs: while one
    side stays the one to cut, all its draws are taken at once (long sentences at seq 4096)."""
    a_lo, a_hi, b_lo, b_hi = 0, len_a, 0, len_b
    excess = len_a + len_b - max_num_tokens
    while excess > 0:  # fits: nothing drawn
        if len_a > len_b:
            run = min(len_a - len_b, excess)
            front = draws.fronts(run)
            a_lo += front
            a_hi -= run - front
            len_a -= run
        else:
            run = min(len_b - len_a + 1, excess)
            front = draws.fronts(run)
            b_lo += front
            b_hi -= run - front
            len_b -= run
        excess -= run
    return a_lo, a_hi, b_lo, b_hi


GATHER_EXAMPLES = 8192  # examples gathered at a time by PairPlan.arrays (about 1M tokens at seq 128)


class PairPlan:
    """The examples of a shard as token ranges, gathered into arrays at once (`examples`):
    [CLS] A [SEP] (one more [SEP] with `seps=2`: XLM's layout) B [SEP]. A and B are [lo, hi)
    token ranges of a source, one of `sources` (each (ids, word_start)). Word starts are the
    tokens' own: a segment cut inside a word by truncation starts with a continuation."""

    def __init__(self, sources: Sequence[tuple[np.ndarray, np.ndarray]], seps: int = 1):
        self.sources, self.seps = list(sources), seps
        self._blocks: list[np.ndarray] = []  # rows (a_src, a_lo, a_hi, b_src, b_lo, b_hi, value), in order
        self._pending: list[tuple[int, int, int, int, int, int, int]] = []  # rows added one by one, after the blocks
        self.doc_ids: list[str] = []

    def add(self, doc_id: str, a_src: int, a_lo: int, a_hi: int, b_src: int, b_lo: int, b_hi: int,
            value: int = 0) -> None:
        self.doc_ids.append(doc_id)
        self._pending.append((a_src, a_lo, a_hi, b_src, b_lo, b_hi, value))

    def add_rows(self, rows: np.ndarray, doc_ids: Sequence[str]) -> None:
        """Many examples at once: an (n, 7) int64 array of rows as `add` takes them, and their documents."""
        if len(rows) != len(doc_ids):
            raise ValueError(f"{len(rows)} rows but {len(doc_ids)} document ids")
        self._flush()
        self._blocks.append(np.asarray(rows, dtype=np.int64).reshape(-1, 7))
        self.doc_ids.extend(doc_ids)

    def _flush(self) -> None:
        if self._pending:
            self._blocks.append(np.array(self._pending, dtype=np.int64).reshape(-1, 7))
            self._pending = []

    def rows(self) -> np.ndarray:
        """Every example's row, (n, 7) int64."""
        self._flush()
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0] if self._blocks else np.zeros((0, 7), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.doc_ids)

    def arrays(self, cls_id: int, sep_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ids, word_start, example offsets, each example's A length) of every example, end to end."""
        a_src, a_lo, a_hi, b_src, b_lo, b_hi, _ = self.rows().T
        len_a, len_b = a_hi - a_lo, b_hi - b_lo
        offsets = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(len_a + len_b + 2 + self.seps, out=offsets[1:])
        ids = np.empty(int(offsets[-1]), dtype=np.uint32)
        ws = np.ones(int(offsets[-1]), dtype=bool)
        starts = offsets[:-1]
        ids[starts] = cls_id
        for k in range(self.seps):
            ids[starts + 1 + len_a + k] = sep_id
        ids[offsets[1:] - 1] = sep_id
        segments = ((a_src, a_lo, a_hi, starts + 1), (b_src, b_lo, b_hi, starts + 1 + len_a + self.seps))
        # in blocks of examples: index arrays of a whole shard (23M tokens at 64 MB) are fresh
        # memory each time, and faulting it in cost more than the gather itself
        for first in range(0, len(self), GATHER_EXAMPLES):
            block = slice(first, first + GATHER_EXAMPLES)
            for src, lo, hi, at in segments:
                src, lo, hi, at = src[block], lo[block], hi[block], at[block]
                for s, (source_ids, source_ws) in enumerate(self.sources):
                    pick = np.flatnonzero(src == s)
                    if len(pick):
                        take = index_ranges(lo[pick], hi[pick])
                        put = index_ranges(at[pick], at[pick] + (hi[pick] - lo[pick]))
                        ids[put] = source_ids[take]
                        ws[put] = source_ws[take]
        return ids, ws, offsets, len_a

    def examples(self, cls_id: int, sep_id: int, label: str | None = None) -> ExampleColumns:
        """Every example as columns: segment_b_start (the index after A's [SEP]) and, given `label`,
        the rows' values."""
        ids, ws, offsets, len_a = self.arrays(cls_id, sep_id)
        values: dict[str, Sequence] = {"doc_id": self.doc_ids, "segment_b_start": len_a + 2}
        if label is not None:
            values[label] = self.rows()[:, 6]
        return ExampleColumns(offsets, {"input_ids": ids, "word_start": ws}, values)


def joined(docs: Sequence[TokenizedDoc]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The documents' ids and word starts end to end, and where each document starts."""
    if not docs:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=bool), []
    bases = np.cumsum([0] + [d.num_tokens for d in docs[:-1]]).tolist()
    return (np.concatenate([d.ids for d in docs]).astype(np.uint32, copy=False),
            np.concatenate([d.word_start for d in docs]).astype(bool, copy=False), bases)


class ExampleColumns:
    """A shard's examples as columns, what every builder returns and the shard's table is made of.

    `tokens`: the per-token columns (input_ids, word_start; tlm's langs), each flat, every
    example's tokens end to end: example k's are [offsets[k], offsets[k + 1]). `values`: the
    per-example columns (doc_id a list of strings; segment_b_start, the labels and lang integer
    arrays). Iterating yields each example as a dict (the token columns as views), the form
    tests and small callers read; the build converts the columns to Arrow at once (`table`).
    """

    __slots__ = ("offsets", "tokens", "values")

    def __init__(self, offsets: np.ndarray, tokens: dict[str, np.ndarray], values: dict[str, Sequence]):
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.tokens, self.values = tokens, values
        n = len(self.offsets) - 1
        if n < 0 or self.offsets[0] != 0:
            raise ValueError("example offsets must start at 0")
        for name, column in tokens.items():
            if len(column) != self.offsets[-1]:
                raise ValueError(f"token column {name} holds {len(column)} values for {self.offsets[-1]} tokens")
        for name, column in values.items():
            if len(column) != n:
                raise ValueError(f"column {name} holds {len(column)} values for {n} examples")

    @classmethod
    def concat(cls, parts: Sequence[ExampleColumns]) -> ExampleColumns:
        """The parts' examples one after the other (no part: no examples and no columns)."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls(np.zeros(1, dtype=np.int64), {}, {})
        sizes = np.concatenate([np.diff(p.offsets) for p in parts])
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        tokens = {name: np.concatenate([p.tokens[name] for p in parts]) for name in parts[0].tokens}
        values = {}
        for name, first in parts[0].values.items():
            if isinstance(first, np.ndarray):
                values[name] = np.concatenate([p.values[name] for p in parts])
            else:
                values[name] = [v for p in parts for v in p.values[name]]
        return cls(offsets, tokens, values)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __iter__(self) -> Iterator[Example]:
        bounds = self.offsets.tolist()
        values = {name: c.tolist() if isinstance(c, np.ndarray) else c for name, c in self.values.items()}
        for k in range(len(self)):
            lo, hi = bounds[k], bounds[k + 1]
            example = {name: column[lo:hi] for name, column in self.tokens.items()}
            example.update((name, column[k]) for name, column in values.items())
            yield example

    def lengths(self) -> np.ndarray:
        """Each example's number of tokens."""
        return np.diff(self.offsets)

    def table(self, schema: pa.Schema) -> pa.Table:
        """The examples as a table of `schema`, its columns taken from the flat arrays at once.
        Safe casts, as `examples_table` makes: an id over the schema's uint16/uint32 raises."""
        if not len(self):
            return schema.empty_table()
        if self.offsets[-1] >= 2**31:
            raise ValueError(f"{self.offsets[-1]} tokens in one table: over Arrow's int32 list offsets")
        offsets = pa.array(self.offsets.astype(np.int32))
        columns = []
        for f in schema:
            if pa.types.is_list(f.type):
                item = pa.array(self.tokens[f.name]).cast(f.type.value_type)  # safe cast
                columns.append(pa.ListArray.from_arrays(offsets, item, type=f.type))
            else:
                columns.append(pa.array(self.values[f.name], type=f.type))
        return pa.Table.from_arrays(columns, schema=schema)


def examples_table(examples: ExampleColumns | Sequence[Example], schema: pa.Schema) -> pa.Table:
    """Examples as a table of `schema` (ids cast to its uint16/uint32 type): a builder's columns
    at once (`ExampleColumns.table`), or a sequence of example dicts column by column."""
    if isinstance(examples, ExampleColumns):
        return examples.table(schema)
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
