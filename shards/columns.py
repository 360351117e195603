"""Examples held as columns in memory: Arrow chunks written into slots, gathered into padded batches.

A `ColumnStore` keeps one array per column with one row per slot: per-token (list) columns as
a 2-D array padded to the longest example seen so far, scalar columns as a 1-D array, other
columns (strings) as a 1-D object array. `put(table)` writes a chunk's rows into free slots and
returns their slot ids; `gather(slots)` copies those rows out, list columns cut to the longest
example among them; `free(slots)` hands slots back. Every step is a handful of numpy calls per
chunk or per batch, whatever the number of examples; where numba is installed, `put` writes
list columns with one compiled pass (`shards.column_kernels.put_rows`, the same bytes).

Slots keep the stored dtypes (uint16 token ids stay 2 bytes); batches come out in the dtypes
torch computes with: integers as int64 (token ids index embeddings, labels feed the loss),
booleans as bool, floats as stored. The list columns of an
example must all have its `input_ids`' length (schemas.examples: "Per-token columns have the
length of `input_ids`"); a chunk where they differ is refused.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any, Mapping

import numpy as np
import pyarrow as pa

LIST, SCALAR, OBJECT = "list", "scalar", "object"


def _kind_and_dtype(field: pa.Field) -> tuple[str, np.dtype]:
    """(kind, stored numpy dtype) of a column; slots keep the chunk's dtype (uint16 ids stay 2 bytes)."""
    kind = field.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        value = kind.value_type
        if not (pa.types.is_integer(value) or pa.types.is_floating(value) or pa.types.is_boolean(value)):
            raise ValueError(f"column {field.name!r} is a list of {value}; only lists of numbers or booleans "
                             f"can be padded into a batch (drop it with StreamConfig.columns)")
        return LIST, _numpy_dtype(value)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return SCALAR, _numpy_dtype(kind)
    return OBJECT, np.dtype(object)


def _numpy_dtype(kind: pa.DataType) -> np.dtype:
    """The numpy dtype of an Arrow number or bool type, without `to_pandas_dtype` (which imports
    pandas: 0.63 CPU s measured, in every DataLoader worker of every epoch)."""
    return np.dtype(_FLOATS.get(str(kind), str(kind)))


_FLOATS = {"halffloat": "float16", "float": "float32", "double": "float64"}


def _fits(value: Any, dtype: np.dtype) -> bool:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(value) == int(value) and info.min <= int(value) <= info.max
    if dtype.kind == "b":
        return value in (0, 1)
    return True


def _batch_dtype(stored: np.dtype) -> np.dtype:
    """The dtype a batch holds: integers as int64, the rest as stored."""
    return np.dtype(np.int64) if stored.kind in "iu" else stored


class ColumnStore:
    """Slots of examples, one array per column (see the module docstring)."""

    def __init__(self, schema: pa.Schema, pad_values: Mapping[str, Any] | None = None, *, capacity: int = 0,
                 compiled: bool = True):
        self.compiled = compiled  # list columns put by shards.column_kernels where numba is installed
        self.kinds = {f.name: _kind_and_dtype(f) for f in schema}
        pad_values = dict(pad_values or {})
        for name, value in pad_values.items():
            kind, dtype = self.kinds.get(name, (None, None))
            if kind == LIST and not _fits(value, dtype):  # e.g. -100 beside uint16 ids: keep that column as int64
                self.kinds[name] = (kind, _batch_dtype(dtype))
        unknown = [name for name in pad_values if self.kinds.get(name, (None,))[0] != LIST]
        if unknown:
            lists = [n for n, (k, _) in self.kinds.items() if k == LIST]
            raise ValueError(f"pad values given for {', '.join(unknown)}, which are not list columns of the "
                             f"shards; list columns: {', '.join(lists) or 'none'}")
        self.pad = {name: pad_values.get(name, 0) for name, (kind, _) in self.kinds.items() if kind == LIST}
        self.lists = list(self.pad)
        self.capacity, self.width = 0, 0
        self.data: dict[str, np.ndarray] = {}
        self.length = np.zeros(0, dtype=np.int64)
        self._free = np.zeros(0, dtype=np.int64)
        self._freed: list[np.ndarray] = []
        self._allocate(capacity, 0)

    def _allocate(self, capacity: int, width: int) -> None:
        """Grow to at least `capacity` slots and `width` positions, keeping what is stored."""
        capacity, width = max(capacity, self.capacity), max(width, self.width)
        if (capacity, width) == (self.capacity, self.width) and self.data:
            return
        data = {}
        for name, (kind, dtype) in self.kinds.items():
            if kind == LIST:
                array = np.full((capacity, width), self.pad[name], dtype=dtype)
                array[: self.capacity, : self.width] = self.data.get(name, array[:0, :0])
            else:
                array = np.zeros(capacity, dtype=dtype) if kind == SCALAR else np.empty(capacity, dtype=object)
                array[: self.capacity] = self.data.get(name, array[:0])
            data[name] = array
        self.data = data
        self.length = np.concatenate([self.length, np.zeros(capacity - self.capacity, dtype=np.int64)])
        self._free = np.concatenate([np.arange(capacity - 1, self.capacity - 1, -1, dtype=np.int64), self._free])
        self.capacity, self.width = capacity, width

    def _take_slots(self, n: int, width: int) -> np.ndarray:
        if self._freed:
            self._free = np.concatenate([self._free, *self._freed])
            self._freed.clear()
        missing = n - len(self._free)
        self._allocate(self.capacity if missing <= 0 else max(2 * self.capacity, self.capacity + missing), width)
        slots = self._free[len(self._free) - n:]
        self._free = self._free[: len(self._free) - n]
        return slots

    def put(self, table: pa.Table | pa.RecordBatch, where: str = "chunk") -> np.ndarray:
        """Write the rows of a chunk into free slots; returns their slot ids in row order."""
        names = list(table.schema.names)
        if names != list(self.kinds):
            raise ValueError(f"{where} has columns {', '.join(names)} but the stream started with "
                             f"{', '.join(self.kinds)}; all shards of a set share one schema")
        n = table.num_rows
        lists = {name: _list_parts(table.column(name), f"{where} column {name!r}") for name in self.lists}
        lengths = _common_lengths(lists, n, where)
        slots = self._take_slots(n, int(lengths.max(initial=0)))
        self.length[slots] = lengths
        compiled = kernels() if self.compiled else None
        if lists and compiled is None:
            filled = real_positions(lengths, self.width)
        for name, (kind, dtype) in self.kinds.items():
            column = _array(table.column(name))
            if kind == LIST and compiled is not None:  # each row copied and padded in its slot
                compiled.put_rows(self.data[name], slots, lengths, lists[name][1], dtype.type(self.pad[name]))
            elif kind == LIST:
                block = np.full((n, self.width), self.pad[name], dtype=dtype)
                block[filled] = lists[name][1]
                self.data[name][slots] = block
            else:
                if column.null_count:
                    raise ValueError(f"{where} column {name!r} holds {column.null_count} nulls; shards never store nulls")
                self.data[name][slots] = _numpy(column) if kind == SCALAR else column.to_pylist()
        return slots

    def gather(self, slots: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
        """(columns, lengths) of the rows in `slots`, in that order; list columns padded to the longest row.

        Arrays are fresh copies (the slots can be freed and reused at once); object columns
        come out as Python lists.
        """
        lengths = self.length[slots]
        width = int(lengths.max(initial=0))
        out: dict[str, Any] = {}
        for name, (kind, dtype) in self.kinds.items():
            if kind == LIST:  # `take` rows, then cut: about half the time of fancy indexing
                out[name] = self.data[name].take(slots, axis=0)[:, :width].astype(_batch_dtype(dtype))
            elif kind == SCALAR:
                out[name] = self.data[name].take(slots).astype(_batch_dtype(dtype))
            else:
                out[name] = self.data[name][slots].tolist()
        return out, lengths

    def free(self, slots: np.ndarray) -> None:
        """Hand slots back for reuse (their content stays until overwritten)."""
        self._freed.append(np.asarray(slots, dtype=np.int64))

    @property
    def num_free(self) -> int:
        return len(self._free) + sum(len(s) for s in self._freed)


@functools.cache
def optional_kernels(module: str) -> ModuleType | None:
    """The compiled-kernel module `module` (numba, the `train` extra), imported on first use; None
    where numba is not installed, and then its caller takes the numpy path (the same results)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name not in ("numba", "llvmlite"):
            raise
        return None


def kernels() -> ModuleType | None:
    """`shards.column_kernels`, or None without numba: `ColumnStore.put` then pads with numpy."""
    return optional_kernels("shards.column_kernels")


def real_positions(lengths: np.ndarray, width: int, dtype: np.dtype | type = np.bool_) -> np.ndarray:
    """(rows, width) of `dtype`, 1 (True) at the first lengths[r] positions of row r, else 0
    (lengths <= width): e.g. an attention mask, `real_positions(lengths, width, np.int64)`.

    Rows of a table (row k: 1 at the first k positions) taken by length, while the table takes
    at most 2 MiB (int64 up to width 511, bools up to 1,447): about 20x the speed of
    `arange(width) < lengths[:, None]`, which numpy broadcasts slowly.
    """
    if (width + 1) * width * np.dtype(dtype).itemsize > _TABLE_BYTES:
        return (np.arange(width) < lengths[:, None]).astype(dtype, copy=False)
    table = _BELOW.get((width, dtype))
    if table is None:
        table = _BELOW[width, dtype] = (np.arange(width) < np.arange(width + 1)[:, None]).astype(dtype)
    return table.take(lengths, axis=0)


_TABLE_BYTES = 2 << 20
_BELOW: dict[tuple[int, Any], np.ndarray] = {}  # real_positions' tables by width and dtype (a few per process)


def _array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def _list_parts(column: pa.ChunkedArray | pa.Array, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, flat values) of a list column."""
    array = _array(column)
    if array.null_count or array.values.null_count:
        raise ValueError(f"{where} holds nulls; shards never store nulls")
    offsets = _numpy(array.offsets)
    values = _numpy(array.values)[offsets[0]: offsets[-1]]
    return np.diff(offsets).astype(np.int64), values


def _numpy(array: pa.Array) -> np.ndarray:
    """A null-free Arrow array of numbers or bools as numpy, read from its buffers: `to_numpy`
    would import pandas (0.63 CPU s measured, in every DataLoader worker of every epoch)."""
    kind = array.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        return array.to_numpy(zero_copy_only=False)
    data, start, count = array.buffers()[1], array.offset, len(array)
    if pa.types.is_boolean(kind):  # one bit per value, least significant first
        bits = np.frombuffer(data, dtype=np.uint8)
        return np.unpackbits(bits, count=start + count, bitorder="little")[start:].view(np.bool_)
    return np.frombuffer(data, dtype=_numpy_dtype(kind), count=start + count)[start:]


def _common_lengths(lists: dict[str, tuple[np.ndarray, np.ndarray]], n: int, where: str) -> np.ndarray:
    """The per-example lengths all list columns share; raises ValueError naming a column that differs."""
    if not lists:
        return np.zeros(n, dtype=np.int64)
    (first, (lengths, _)), *rest = lists.items()
    for name, (other, _) in rest:
        if not np.array_equal(lengths, other):
            row = int(np.flatnonzero(lengths != other)[0])
            raise ValueError(f"{where}: row {row} has {int(other[row])} {name} values but {int(lengths[row])} "
                             f"{first}; per-token columns must have the same length")
    return lengths


__all__ = ["ColumnStore", "kernels", "real_positions"]
