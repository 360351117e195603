"""How one chunk of examples is encoded: an Arrow IPC stream holding one record batch."""

from __future__ import annotations

import pyarrow as pa

CHUNK_EXTENSION = "arrow"
DEFAULT_CHUNK_SIZE = 1024


def encode_chunk(batch: pa.RecordBatch | pa.Table) -> bytes:
    """Serialize examples as one Arrow IPC stream (schema + one record batch)."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([], schema=batch.schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def decode_chunk(data: bytes, where: str = "chunk") -> pa.Table:
    """Parse a chunk; raises ValueError naming `where` when the bytes are not Arrow IPC."""
    try:
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{where} is not an Arrow IPC stream: {err}") from err
