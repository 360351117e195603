"""The build job's first steps: read an input and tokenize it (Beam), per kind of input.

- documents (mlm, nsp, sop, clm): a documents dataset's Parquet files -> sentences -> tokens;
- parallel (tlm): TSV / JSONL files of sentence pairs (`parallel.py`) -> two-sentence documents.

Each yields tokenized documents and count dicts: every input record counts once, as kept,
rejected or skipped, under the input's unit (`documents/...` or `pairs/...`).
"""

from __future__ import annotations

from collections import Counter
from itertools import islice
from typing import Any, Iterable, Iterator

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from pipelines import progress
from pipelines.build.parallel import PairFields, ParallelFile, iter_pairs, tokenize_pair_batch
from pipelines.build.tokenize_docs import SentenceEncoder, tokenize_batch
from pipelines.docs_input import iter_documents
from shards.tokenizer import load_shard_set_tokenizer

TOKENIZE_BATCH = 64  # documents per encode_batch call
PAIR_BATCH = 512  # sentence pairs per encode_batch call (about the tokens of 32 documents)
UNITS = {"documents": "documents", "parallel": "pairs"}  # Builder.reads -> the unit counts are kept in


class TokenizeFn(beam.DoFn):
    """Batches of (doc_id, text, lang) or of pairs -> a DocBatch of their tokenized documents (none
    when all were skipped); counts of skipped records to the 'skipped' output."""

    def __init__(self, shard_set: str, tokenizer: dict, storage_options: dict, reads: str):
        self._shard_set, self._spec, self._options, self._reads = shard_set, tokenizer, storage_options, reads
        self._encoder = None

    def setup(self) -> None:
        # the copy in the shard set that the manifest names, checked against its sha256
        # (a SentenceEncoder: the word-start rule and the joined-encoding copy, built once)
        self._encoder = SentenceEncoder(load_shard_set_tokenizer(self._shard_set, self._spec, self._options))

    def process(self, batch: list[tuple]) -> Iterator[Any]:
        if self._reads == "parallel":
            docs, skipped = tokenize_pair_batch(self._encoder, batch)
        else:
            docs, skipped = tokenize_batch(self._encoder, batch)  # lang: the splitter's rules
        if len(docs):
            yield docs
        if skipped:
            unit = UNITS[self._reads]
            for reason, n in skipped.items():
                beam.metrics.Metrics.counter("build", f"{unit}_skipped_{reason}").inc(n)
            counts = {f"{unit}/skipped/{r}": n for r, n in skipped.items()}
            if unit == "documents":  # pairs are counted as read by the reader, every line
                counts["documents/read"] = sum(skipped.values())
            yield TaggedOutput("skipped", counts)


def in_batches(records: Iterable, size: int = TOKENIZE_BATCH) -> Iterator[list]:
    """Consecutive records in lists of `size` (the last one shorter)."""
    records = iter(records)
    while batch := list(islice(records, size)):
        yield batch


def read_documents(file_url: str, storage_options: dict) -> Iterator[list[tuple]]:
    """A documents file's (id, text, lang) rows, in batches to tokenize."""
    yield from in_batches(iter_documents(file_url, storage_options, ("id", "text", "lang")))


def read_pairs(file: ParallelFile, fields: PairFields, storage_options: dict) -> Iterator[Any]:
    """A parallel file's pairs, in batches to tokenize; its line counts (read, rejected by reason)
    to the 'counts' output."""
    counter: Counter = Counter()
    yield from in_batches(progress.counted(iter_pairs(file, fields, counter, storage_options), "pairs"), PAIR_BATCH)
    for key, n in counter.items():
        beam.metrics.Metrics.counter("build", key.replace("/", "_")).inc(n)
    yield TaggedOutput("counts", dict(counter))


class ReadAndTokenize(beam.PTransform):
    """Input files -> (DocBatch of tokenized documents, count dicts)."""

    def __init__(self, reads: str, shard_set: str, tokenizer: dict, storage_options: dict, fields: PairFields):
        super().__init__()
        self._reads, self._shard_set, self._tokenizer = reads, shard_set, tokenizer
        self._options, self._fields = storage_options, fields

    def expand(self, files):
        # records travel in batches from the reader on: Beam's per-element work (tens of
        # microseconds a step) is paid per batch, not per document or pair
        spread = files | "SpreadFiles" >> beam.Reshuffle()
        if self._reads == "parallel":
            read = spread | "Read" >> beam.FlatMap(read_pairs, self._fields, self._options).with_outputs(
                "counts", main="records")
            batches, read_counts = read.records, [read.counts]
        else:
            batches = spread | "Read" >> beam.FlatMap(read_documents, self._options)
            read_counts = []
        tokenized = batches | "Tokenize" >> beam.ParDo(
            TokenizeFn(self._shard_set, self._tokenizer, self._options, self._reads)).with_outputs("skipped", main="docs")
        counts = (*read_counts, tokenized.skipped) | "InputCounts" >> beam.Flatten()
        return tokenized.docs, counts
