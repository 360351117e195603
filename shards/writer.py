"""Writing shards: tar files of Arrow chunks, then the manifest last (STYLE.md #9)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import asdict, dataclass
from typing import Any, Iterable

import fsspec
import pyarrow as pa

from schemas import SCHEMA_VERSION, encode_schema, write_manifest
from shards.format import CHUNK_EXTENSION, DEFAULT_CHUNK_SIZE, encode_chunk
from shards.storage import check_url, join


@dataclass(frozen=True, kw_only=True)
class ShardInfo:
    """One manifest entry. `url` is relative to the shard-set folder."""

    url: str
    split: str
    examples: int
    bytes: int
    sha256: str


def shard_name(split: str, index: int) -> str:
    return f"{split}-{index:06d}.tar"


def tar_bytes(stem: str, batches: Iterable[pa.RecordBatch]) -> tuple[bytes, int]:
    """A reproducible USTAR tar (mtime 0, mode 0444, owner `shardlm`) of one chunk per batch;
    returns (bytes, examples).

    Written with the standard library rather than webdataset's TarWriter (which gives the same
    bytes) because importing webdataset imports torch, which Beam workers building shards do not
    need. `webdataset.WebDataset(url)` reads the result (tests/shards/test_writer_reader.py).
    """
    buffer = io.BytesIO()
    examples = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for i, batch in enumerate(batches):
            if batch.num_rows == 0:
                continue
            data = encode_chunk(batch)
            info = tarfile.TarInfo(f"{stem}-{i:06d}.{CHUNK_EXTENSION}")
            info.size, info.mtime, info.mode = len(data), 0, 0o444
            info.uname = info.gname = "shardlm"
            tar.addfile(info, io.BytesIO(data))
            examples += batch.num_rows
    return buffer.getvalue(), examples


def write_shard(folder: str, split: str, index: int, batches: Iterable[pa.RecordBatch],
                storage_options: dict | None = None) -> ShardInfo:
    """Write `{split}-{index:06d}.tar` into `folder` in one put; each batch becomes one chunk."""
    name = shard_name(split, index)
    data, examples = tar_bytes(name[: -len(".tar")], batches)
    with fsspec.open(check_url(join(folder, name)), "wb", **(storage_options or {})) as f:
        f.write(data)
    return ShardInfo(url=name, split=split, examples=examples, bytes=len(data),
                     sha256=hashlib.sha256(data).hexdigest())


def rechunk(table: pa.Table, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[pa.RecordBatch]:
    """Split a table into record batches of at most `chunk_size` rows."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return table.combine_chunks().to_batches(max_chunksize=chunk_size)


def shard_set_manifest(*, objective: str, seq_len: int, tokenizer: dict[str, Any], schema: pa.Schema,
                       shards: list[ShardInfo], created_by: dict[str, Any],
                       counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a shard set (DESIGN.md "Shard set"); shards sorted by URL."""
    ordered = sorted(shards, key=lambda s: s.url)
    totals: dict[str, Any] = {"examples": sum(s.examples for s in ordered), "shards": len(ordered)}
    for s in ordered:
        totals[f"examples/{s.split}"] = totals.get(f"examples/{s.split}", 0) + s.examples
    totals.update(counts or {})
    return {
        "kind": "examples",
        "schema_version": SCHEMA_VERSION,
        "objective": objective,
        "seq_len": seq_len,
        "tokenizer": tokenizer,
        "arrow_schema": encode_schema(schema),
        "shards": [asdict(s) for s in ordered],
        "counts": totals,
        "created_by": created_by,
    }


class ShardSetWriter:
    """Sequential writer for one process: `with ShardSetWriter(...) as w: w.write(batch)`.

    Rolls to a new shard once `max_shard_bytes` of chunks are buffered; a shard never
    holds a partial chunk. The manifest is written by `close()`, and only when the
    block exits without an exception, so an interrupted write leaves no manifest.
    """

    def __init__(self, folder: str, *, objective: str, seq_len: int, tokenizer: dict[str, Any],
                 schema: pa.Schema, split: str = "train", chunk_size: int = DEFAULT_CHUNK_SIZE,
                 max_shard_bytes: int = 128 << 20, created_by: dict[str, Any] | None = None,
                 storage_options: dict | None = None):
        self.folder = folder.rstrip("/")
        self._meta = dict(objective=objective, seq_len=seq_len, tokenizer=tokenizer, schema=schema,
                          created_by=created_by or {"tool": "shardlm"})
        self.schema = schema
        self.split = split
        self.chunk_size = chunk_size
        self.max_shard_bytes = max_shard_bytes
        self.storage_options = storage_options or {}
        self.shards: list[ShardInfo] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        table = table.cast(self.schema)
        for chunk in rechunk(table, self.chunk_size):
            self._pending.append(chunk)
            self._pending_bytes += chunk.nbytes
            if self._pending_bytes >= self.max_shard_bytes:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.shards.append(write_shard(self.folder, self.split, len(self.shards), self._pending,
                                           self.storage_options))
        self._pending, self._pending_bytes = [], 0

    def close(self) -> dict[str, Any]:
        self._flush()
        manifest = shard_set_manifest(shards=self.shards, **self._meta)
        write_manifest(self.folder, manifest, self.storage_options)
        return manifest

    def __enter__(self) -> "ShardSetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


__all__ = ["ShardInfo", "ShardSetWriter", "rechunk", "shard_name", "shard_set_manifest", "tar_bytes",
           "write_shard"]
