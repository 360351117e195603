"""Small shard sets for the stream tests: num_shards shards x 3 chunks x 7 examples, example i has doc_id d{i:05d}."""

from __future__ import annotations

import pyarrow as pa

from schemas import examples_schema
from shards.storage import expand_urls
from shards.writer import ShardSetWriter, rechunk

CHUNK = 7
CHUNKS_PER_SHARD = 3
PER_SHARD = CHUNK * CHUNKS_PER_SHARD


def _length(i: int) -> int:
    return 2 + (i % CHUNK) % 3  # 2..4 tokens; every chunk holds the same lengths, so the same bytes


def example_table(start: int, n: int, objective: str = "nsp") -> pa.Table:
    ids = range(start, start + n)
    columns = {
        "input_ids": [[(i + k) % 30_000 for k in range(_length(i))] for i in ids],
        "word_start": [[k % 2 == 0 for k in range(_length(i))] for i in ids],
        "doc_id": [f"d{i:05d}" for i in ids],
    }
    if objective == "nsp":
        columns["segment_b_start"] = [1 + i % 2 for i in ids]
        columns["next_sentence_label"] = [i % 2 for i in ids]
    return pa.table(columns).cast(examples_schema(objective, 30_000))


def write_set(folder: str, num_shards: int = 5, objective: str = "nsp", storage_options: dict | None = None) -> list[str]:
    """num_shards shards x 3 chunks x 7 examples; example i has doc_id d{i:05d}. Returns the shard URLs."""
    per_shard_bytes = sum(b.nbytes for b in rechunk(example_table(0, PER_SHARD, objective), CHUNK))
    with ShardSetWriter(folder, objective=objective, seq_len=8, tokenizer={}, schema=examples_schema(objective, 30_000),
                        chunk_size=CHUNK, max_shard_bytes=per_shard_bytes, storage_options=storage_options) as writer:
        for s in range(num_shards):
            writer.write(example_table(s * PER_SHARD, PER_SHARD, objective))
    assert [s.examples for s in writer.shards] == [PER_SHARD] * num_shards
    return expand_urls(folder, storage_options)


def all_ids(num_shards: int = 5) -> list[str]:
    return [f"d{i:05d}" for i in range(num_shards * PER_SHARD)]
