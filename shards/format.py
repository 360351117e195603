"""How one chunk of examples is encoded: an Arrow IPC stream holding one record batch, its
buffers compressed with LZ4 (frame format), which Arrow readers undo on their own."""

from __future__ import annotations

from typing import Sequence

import pyarrow as pa

CHUNK_EXTENSION = "arrow"
DEFAULT_CHUNK_SIZE = 1024
# Arrow IPC buffer compression: 2.39 -> 1.91 bytes per token at seq 128 (goal of issue 6 item 10:
# at most 2.06), decoding at millions of examples/s per core; zstd would give 1.51 at less than
# half lz4's decode speed (docs/benchmarks.md, "`shardlm build` throughput and shard size").
COMPRESSION = "lz4"


def encode_chunk(batch: pa.RecordBatch | pa.Table) -> bytes:
    """Serialize examples as one Arrow IPC stream (schema + one record batch)."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([], schema=batch.schema)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=COMPRESSION)
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


_READ = pa.ipc.IpcReadOptions(use_threads=False)  # Arrow's thread pool costs more CPU than it saves on one chunk


def decode_chunk(data: bytes, where: str = "chunk", columns: Sequence[str] | None = None,
                 skip_text: bool = False) -> pa.Table:
    """Parse a chunk; raises ValueError naming `where` when the bytes are not Arrow IPC.

    `columns` (in that order) and `skip_text` (leave string and binary columns out) select
    columns before their buffers are decompressed: a column left out costs nothing. A column
    of `columns` that the chunk lacks is a ValueError naming the chunk's columns.
    """
    buffer = pa.py_buffer(data)
    try:
        if columns is None and not skip_text:
            return pa.ipc.open_stream(buffer, options=_READ).read_all()
        key = (_schema_message(data), None if columns is None else tuple(columns), skip_text)
        selection = _SELECTIONS.get(key) if key[0] is not None else None
        if selection is None:
            selection = _selection(pa.ipc.open_stream(buffer).schema, where, columns, skip_text)
            if key[0] is not None:
                if len(_SELECTIONS) >= 64:
                    _SELECTIONS.clear()
                _SELECTIONS[key] = selection
        names, options = selection
        table = pa.ipc.open_stream(buffer, options=options).read_all()
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{where} is not an Arrow IPC stream: {err}") from err
    return table if table.column_names == names else table.select(names)


def _selection(schema: pa.Schema, where: str, columns: Sequence[str] | None,
               skip_text: bool) -> tuple[list[str], pa.ipc.IpcReadOptions]:
    """(column names in order, read options decoding only those) of a chunk schema."""
    names = list(schema.names if columns is None else columns)
    missing = [c for c in names if schema.get_field_index(c) < 0]
    if missing:
        raise ValueError(f"{where} has no column {', '.join(missing)}; it has {', '.join(schema.names)} "
                         f"(fix StreamConfig.columns)")
    if skip_text:
        names = [n for n in names if not is_text(schema.field(n).type)]
    fields = sorted(schema.get_field_index(n) for n in names)
    return names, pa.ipc.IpcReadOptions(use_threads=False, included_fields=fields)


def _schema_message(data: bytes) -> bytes | None:
    """The bytes of the stream's leading schema message (continuation marker, length, flatbuffer),
    or None when the stream does not start that way: the key of `_SELECTIONS`."""
    if len(data) < 8 or data[:4] != b"\xff\xff\xff\xff":
        return None
    return data[:8 + int.from_bytes(data[4:8], "little")]


# Column selections by (schema message, columns, skip_text): every chunk of a shard set shares its
# schema, so the schema is parsed once, not once per chunk (a tenth of a chunk's decoding CPU).
_SELECTIONS: dict[tuple[bytes | None, tuple[str, ...] | None, bool], tuple[list[str], pa.ipc.IpcReadOptions]] = {}


def is_text(kind: pa.DataType) -> bool:
    """String and binary columns (doc_id): nothing trains on them."""
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind))
