"""Reading a shard set with plain `webdataset`: a decoder for the `.arrow` chunks and a stage
that turns each decoded chunk into its examples.

    import webdataset as wds
    from shards import chunk_examples, expand_urls, webdataset_decoder

    examples = (wds.WebDataset(expand_urls("s3://bucket/set"), shardshuffle=False)
                .decode(webdataset_decoder)   # sample["arrow"]: the chunk's examples, a list of dicts
                .map(chunk_examples)          # -> that list, each example keyed `<chunk key>/<row>`
                .unlisted())                  # -> one example dict per item

An example dict holds the chunk's columns: token lists as numpy arrays of the stored dtype
(`uint16`/`uint32` ids, `bool` word starts), scalars as Python values, as `shards.stream` gives
them, plus webdataset's `__key__` and `__url__`. This module imports neither torch nor webdataset.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from shards.format import CHUNK_EXTENSION, decode_chunk


def chunk_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of a decoded chunk as example dicts (numeric lists as numpy arrays)."""
    columns: dict[str, Any] = {}
    for name in table.column_names:
        array = table.column(name).combine_chunks()
        kind = array.type
        if (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and (
                pa.types.is_integer(kind.value_type) or pa.types.is_floating(kind.value_type)
                or pa.types.is_boolean(kind.value_type)):
            offsets = array.offsets.to_numpy()
            values = array.values.to_numpy(zero_copy_only=False)
            columns[name] = [values[offsets[i]:offsets[i + 1]].copy() for i in range(len(array))]
        else:
            columns[name] = array.to_pylist()
    return [{name: column[i] for name, column in columns.items()} for i in range(table.num_rows)]


def webdataset_decoder(key: str, data: bytes) -> list[dict[str, Any]] | None:
    """A `webdataset` decode handler: an `.arrow` member becomes its examples (a list of dicts);
    any other member is left to the next handler (None)."""
    if key.rsplit(".", 1)[-1].lower() != CHUNK_EXTENSION:
        return None
    return chunk_rows(decode_chunk(data, f"{key} member"))


def chunk_examples(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """A decoded webdataset sample (one chunk) -> its examples, each with `__key__` (the chunk's
    key and the row) and `__url__`; follow it with `.unlisted()` for one example per item."""
    rows = sample.get(CHUNK_EXTENSION)
    if not isinstance(rows, list):
        raise ValueError(f"sample {sample.get('__key__')!r} of {sample.get('__url__')} has no decoded "
                         f".{CHUNK_EXTENSION} member; add .decode(shards.webdataset_decoder) before this step")
    key, url = sample.get("__key__"), sample.get("__url__")
    return [{**row, "__key__": f"{key}/{i}", "__url__": url} for i, row in enumerate(rows)]


__all__ = ["chunk_examples", "chunk_rows", "webdataset_decoder"]
