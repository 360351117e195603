"""How one chunk of examples is encoded: an Arrow IPC stream holding one record batch, its
buffers compressed with LZ4 (frame format), which Arrow readers undo on their own."""

from __future__ import annotations

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


def decode_chunk(data: bytes, where: str = "chunk") -> pa.Table:
    """Parse a chunk; raises ValueError naming `where` when the bytes are not Arrow IPC."""
    try:
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{where} is not an Arrow IPC stream: {err}") from err
