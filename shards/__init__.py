"""The shard format: WebDataset tar files whose members are Arrow IPC chunks.

Three axes kept apart (STYLE.md #8): `format` encodes a chunk, `storage` finds and
opens bytes through fsspec, `stream` decides which examples come out in what order.
"""

from shards.format import CHUNK_EXTENSION, decode_chunk, encode_chunk
from shards.reader import iter_chunks, read_shard
from shards.storage import expand_urls, open_url, parse_storage_options
from shards.webdataset import chunk_examples, webdataset_decoder
from shards.writer import ShardInfo, ShardSetWriter, write_shard

__all__ = [
    "CHUNK_EXTENSION",
    "ShardInfo",
    "ShardSetWriter",
    "chunk_examples",
    "decode_chunk",
    "encode_chunk",
    "expand_urls",
    "iter_chunks",
    "open_url",
    "parse_storage_options",
    "read_shard",
    "webdataset_decoder",
    "write_shard",
]
