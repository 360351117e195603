"""Whole batches from a shard set: columns in, padded tensors out, no per-example Python.

`BatchStream` is a `torch.utils.data.IterableDataset` whose items are batches; use it with
`DataLoader(stream, batch_size=None)` (`batch_loader` does). Each (rank, DataLoader worker)
reads its sub-stream as `ShardStream` does (same split, shard order and seeds), and:

1. decodes each Arrow chunk into a `shards.columns.ColumnStore` (one numpy write per column);
2. shuffles slot ids through `shards.shuffle.IndexShuffle`, a buffer of `shuffle_buffer`
   examples seeded by (seed, epoch, rank, worker), one draw of the leaving ids per chunk;
3. cuts batches of `batch_size` consecutive ids of that order (the last one of a sub-stream
   may be shorter) and gathers them, list columns padded only to the longest example of the
   batch (`pad_counts` says how much padding that left). With `BatchConfig.length_groups` G > 1,
   each window of G batches of that order is first sorted by length, then cut, and its batches
   delivered in an order drawn from a generator seeded by (seed, epoch, rank, worker): batches
   of similar lengths, far less padding, the same examples per window;
4. applies the optional `transform(batch, coords)` in the worker, e.g. masking.

A batch is a dict with every column of the chunks (`StreamConfig.columns` selects): list
columns as 2-D tensors padded with `BatchConfig.pad_values` (default 0), numeric scalar
columns as 1-D tensors, string columns as lists; `_length` (examples' lengths), `_worker` and
`_position`: the sub-stream and the position of the batch's first example in it. Batch k of a
sub-stream starts at position k * batch_size, as with `ShardStream` plus a DataLoader of the
same batch size, so masks seeded by (seed, epoch, rank, worker, position) are the same.

Exact resume: hand each consumed batch to `observe(batch)`; `state_dict()` then holds each
sub-stream's next position, and a stream given `load_state_dict(state)` continues with exactly
the batches the uninterrupted stream would have delivered next, in the same order.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, get_worker_info

from shards.columns import ColumnStore
from shards.partition import SlotPlan
from shards.shuffle import IndexShuffle
from shards.stream import POSITION_KEY, WORKER_KEY, StreamConfig, SubStreams

LENGTH_KEY = "_length"
PACKED_KEY, LAYOUT_KEY = "_packed", "_layout"
_NARROW = (torch.int8, torch.int16, torch.int32)


@dataclass(frozen=True, kw_only=True)
class BatchConfig:
    batch_size: int
    # Padding of list columns, by column name (e.g. {"input_ids": pad_id}); others pad with 0 / False.
    pad_values: Mapping[str, int | float | bool] = field(default_factory=dict)
    skip_text: bool = False  # leave text columns (doc_id) out of batches: nothing trains on them
    # Length grouping: windows of this many batches of the shuffled order are sorted by length
    # and cut into batches, whose order within the window is then shuffled (1: no grouping).
    length_groups: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not isinstance(self.length_groups, int) or self.length_groups < 1:
            raise ValueError(f"length_groups must be a positive integer, got {self.length_groups!r}")


@dataclass(frozen=True, kw_only=True)
class BatchCoords:
    """Where a batch sits in the run: what seeds its masks (trainer.randomness.batch_seed)."""

    epoch: int
    rank: int
    worker: int     # the sub-stream (after the resume rotation), not the DataLoader worker id
    position: int   # position of the batch's first example in the sub-stream
    size: int       # examples in the batch


Transform = Callable[[dict[str, Any], BatchCoords], dict[str, Any]]


def pad_counts(batch: Mapping[str, Any]) -> tuple[int, int]:
    """(real tokens, positions) of a batch's list columns: 1 - real / positions is the padded fraction."""
    lengths = batch[LENGTH_KEY]
    if len(lengths) == 0:
        return 0, 0
    return int(lengths.sum()), len(lengths) * int(lengths.max())


class BatchStream(SubStreams):
    """Padded batches of a shard set, split across ranks and DataLoader workers, shuffled, resumable."""

    def __init__(self, urls: list[str], config: StreamConfig = StreamConfig(), *, batch: BatchConfig,
                 transform: Transform | None = None, rank: int | None = None, world_size: int | None = None,
                 storage_options: dict | None = None):
        super().__init__(urls, config, rank=rank, world_size=world_size, storage_options=storage_options)
        self.batch = batch
        self._skip_text = batch.skip_text
        self.transform = transform
        self.pack_in_workers = False  # set by batch_loader: workers then hand batches over packed

    # -- resume state (main process) ----------------------------------------------------------

    def observe(self, batch: Mapping[str, Any]) -> None:
        """Record a consumed batch (as the DataLoader delivered it)."""
        worker, position = int(batch[WORKER_KEY]), int(batch[POSITION_KEY])
        self._consumed(worker, position + len(batch[LENGTH_KEY]))

    def state_dict(self) -> dict[str, Any]:
        """`SubStreams.state_dict()` plus the batch size the positions were counted in (and the
        length grouping, when there is one)."""
        state = {**super().state_dict(), "batch_size": self.batch.batch_size}
        if self.batch.length_groups > 1:
            state["length_groups"] = self.batch.length_groups
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("batch_size", self.batch.batch_size)
        if saved != self.batch.batch_size:
            raise ValueError(f"stream state was saved with batch_size {saved}, now {self.batch.batch_size}; "
                             f"resume with the same batch size for an exact resume")
        groups = state.get("length_groups", 1)
        if groups != self.batch.length_groups:
            raise ValueError(f"stream state was saved with length_groups {groups}, now {self.batch.length_groups}; "
                             f"resume with the same length grouping for an exact resume")
        super().load_state_dict(state)

    # -- iteration (DataLoader worker, or the main process without workers) -------------------

    def __iter__(self) -> Iterator[dict[str, Any]]:
        plan, role, skip = self._start()
        keep_freed_memory()
        return self._batches(plan, role, skip)

    def _batches(self, plan: SlotPlan, role: int, skip: int) -> Iterator[dict[str, Any]]:
        size, groups = self.batch.batch_size, self.batch.length_groups
        window = size * groups  # slots cut into batches together
        order = IndexShuffle(self.config.shuffle_buffer, self._rng(role))
        windows = None if groups == 1 else np.random.default_rng(
            np.random.SeedSequence([self.config.seed, self.epoch, self.rank, role, 1]))
        tables = self._tables(plan)
        store: ColumnStore | None = None
        pending = np.empty(0, dtype=np.int64)  # slots in delivery order, not yet in a batch
        position = 0                           # position of the first pending example
        try:
            for where, table in tables:
                if order.rng is None and windows is None and position < skip:  # unshuffled resume: drop rows first
                    dropped = min(skip - position, table.num_rows)
                    position, table = position + dropped, table.slice(dropped)
                    if table.num_rows == 0:
                        continue
                if store is None:
                    store = ColumnStore(table.schema, self.batch.pad_values,
                                        capacity=order.size + table.num_rows + size)
                pending = np.concatenate([pending, order.add(store.put(table, where))])
                ready = len(pending) - len(pending) % window
                for start in range(0, ready, window):
                    for slots in self._cut(store, pending[start:start + window], windows):
                        yield from self._emit(store, slots, role, position, skip)
                        position += len(slots)
                pending = pending[ready:]
            if store is not None:
                pending = np.concatenate([pending, order.drain()])
                for start in range(0, len(pending), window):
                    for slots in self._cut(store, pending[start:start + window], windows):
                        yield from self._emit(store, slots, role, position, skip)
                        position += len(slots)
        finally:
            tables.close()

    def _cut(self, store: ColumnStore, slots: np.ndarray, windows: np.random.Generator | None) -> list[np.ndarray]:
        """A window's batches: in order without grouping; else sorted by length (stable), cut, and
        the full batches in a random order, a shorter last one (end of the sub-stream) last."""
        size = self.batch.batch_size
        if windows is not None:
            slots = slots[np.argsort(store.length[slots], kind="stable")]
        batches = [slots[start:start + size] for start in range(0, len(slots), size)]
        if windows is None:
            return batches
        full = [b for b in batches if len(b) == size]
        return [full[i] for i in windows.permutation(len(full))] + [b for b in batches if len(b) < size]

    def _emit(self, store: ColumnStore, slots: np.ndarray, role: int, position: int,
              skip: int) -> Iterator[dict[str, Any]]:
        """The batch of `slots` (nothing while resuming before `skip`); frees the slots."""
        if position + len(slots) <= skip:
            store.free(slots)
            return
        if position < skip or position % self.batch.batch_size:
            raise ValueError(f"stream state resumes sub-stream {role} at example {skip}, which is not the start "
                             f"of a batch of {self.batch.batch_size}; resume with the batch size it was saved with")
        columns, lengths = store.gather(slots)
        store.free(slots)
        batch = {name: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
                 for name, value in columns.items()}
        batch[LENGTH_KEY] = torch.from_numpy(lengths)
        if self.transform is not None:
            coords = BatchCoords(epoch=self.epoch, rank=self.rank, worker=role, position=position, size=len(slots))
            batch = self.transform(batch, coords)
            batch[LENGTH_KEY] = torch.from_numpy(lengths)
        batch[WORKER_KEY] = role
        batch[POSITION_KEY] = position
        yield pack(batch) if self.pack_in_workers and get_worker_info() is not None else batch


_MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for its moving mmap threshold
_TRIM_THRESHOLD = 64 << 20  # what that ceiling would make the trim threshold (2x)
_KEPT: bool | None = None


def keep_freed_memory() -> bool:
    """Let the process's heap keep freed batch buffers for the next batches (glibc only; once per
    process, in the process that builds batches): mallopt's mmap threshold at 32 MiB and trim
    threshold at 64 MiB, the values glibc's moving thresholds reach on their own only after a
    32 MiB block was freed.

    Below that, a batch's arrays of 1 MiB and more (1,024 rows of 128 int64) can come from fresh
    mmaps or from heap top that was just trimmed, every page faulted in again (about 4 us each on
    the development VM): 480 faults per `Masker` call on 1,024 x 128 alone, 26 per batch of 1,024
    in benchmarks/loader.py's `BatchStream` row (1.7 at batch 256); none with these thresholds.
    Returns whether the thresholds were set.
    """
    global _KEPT
    if _KEPT is None:
        try:
            mallopt = ctypes.CDLL(None).mallopt  # M_MMAP_THRESHOLD = -3, M_TRIM_THRESHOLD = -1 (malloc.h)
        except (OSError, AttributeError):
            _KEPT = False
        else:
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            _KEPT = mallopt(-3, _MMAP_THRESHOLD) == 1 and mallopt(-1, _TRIM_THRESHOLD) == 1
    return _KEPT


def _narrow_dtype(tensor: torch.Tensor) -> torch.dtype:
    """The smallest signed integer dtype holding every value of an integer tensor (others: unchanged)."""
    if tensor.dtype not in (torch.int16, torch.int32, torch.int64) or tensor.numel() == 0:
        return tensor.dtype
    low, high = (int(v) for v in torch.aminmax(tensor))
    for dtype in _NARROW:
        info = torch.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return dtype if info.bits < torch.iinfo(tensor.dtype).bits else tensor.dtype
    return tensor.dtype


def pack(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch's tensors as one byte buffer, integers narrowed to the smallest dtype that holds them.

    A DataLoader worker hands each tensor to the main process through its own shared-memory
    segment, at a cost that grows with the bytes (about 2 ms per 256 KiB on the development
    machine); one narrowed numpy buffer, pickled through the worker's pipe, costs a fraction of
    the batch's int64 tensors (uint16-range token ids travel as int16). `unpack` restores it.
    """
    layout, parts, offset = [], [], 0
    out: dict[str, Any] = {}
    for name, value in batch.items():
        if not isinstance(value, torch.Tensor):
            out[name] = value
            continue
        narrow = _narrow_dtype(value)
        data = value.to(narrow).contiguous().reshape(-1).view(torch.uint8)
        pad = -offset % 8  # keep every part aligned for its view
        if pad:
            parts.append(torch.zeros(pad, dtype=torch.uint8))
            offset += pad
        layout.append((name, value.dtype, narrow, tuple(value.shape), offset, data.numel()))
        parts.append(data)
        offset += data.numel()
    out[PACKED_KEY] = (torch.cat(parts) if parts else torch.zeros(0, dtype=torch.uint8)).numpy()
    out[LAYOUT_KEY] = layout
    return out


def unpack(batch: dict[str, Any], device: torch.device | str | None = None) -> dict[str, Any]:
    """A packed batch's tensors back in their dtypes and shapes (on `device`, where the cast then runs);
    an unpacked batch is returned as it is (moved to `device` when given)."""
    if PACKED_KEY not in batch:
        if device is None:
            return batch
        return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    out = {k: v for k, v in batch.items() if k not in (PACKED_KEY, LAYOUT_KEY)}
    buffer = torch.from_numpy(batch[PACKED_KEY])
    if device is not None:
        buffer = buffer.to(device, non_blocking=True)
    for name, dtype, narrow, shape, offset, size in batch[LAYOUT_KEY]:
        out[name] = buffer[offset:offset + size].view(narrow).reshape(shape).to(dtype)
    return out


class BatchLoader:
    """Iterates a DataLoader over a BatchStream; batches from worker processes arrive packed and are
    unpacked here (see `pack`), on `device` when given. Without a DataLoader (`loader` None: no
    workers, no pinning) it iterates the stream itself, the same batches without the DataLoader's
    per-batch bookkeeping (about a tenth of a batch's CPU at batch 256)."""

    def __init__(self, stream: BatchStream, loader: DataLoader | None, device: torch.device | str | None = None):
        self.stream, self.loader, self.device = stream, loader, device

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in (self.stream if self.loader is None else self.loader):
            yield unpack(batch, self.device)


def batch_loader(stream: BatchStream, *, num_workers: int = 0, pin_memory: bool = False,
                 generator: torch.Generator | None = None, prefetch_factor: int | None = None,
                 device: torch.device | str | None = None) -> BatchLoader:
    """Iterate the stream's batches through a DataLoader (batch_size=None), unpacked on `device`.

    With workers, batches travel packed (`pack`). Its explicit generator (default: seeded by
    the stream's seed) keeps global RNG untouched, so creating a loader does not change what a
    resumed run draws. Workers are not persistent, so each iteration sees the stream's current
    epoch and resume state. Without workers or pinning no DataLoader is made: the stream is
    iterated as it is (the DataLoader would hand its batches over unchanged).
    """
    stream.pack_in_workers = num_workers > 0
    if num_workers == 0 and not pin_memory:
        return BatchLoader(stream, None, device)
    if generator is None:
        generator = torch.Generator()
        generator.manual_seed(stream.config.seed)
    extra = {} if num_workers == 0 or prefetch_factor is None else {"prefetch_factor": prefetch_factor}
    loader = DataLoader(stream, batch_size=None, collate_fn=_as_is, num_workers=num_workers, pin_memory=pin_memory,
                        generator=generator, persistent_workers=False, **extra)
    return BatchLoader(stream, loader, device)


def _as_is(batch: dict[str, Any]) -> dict[str, Any]:
    """The stream's batches are final: no default_convert pass over them."""
    return batch


__all__ = ["LENGTH_KEY", "POSITION_KEY", "WORKER_KEY", "BatchConfig", "BatchCoords", "BatchLoader", "BatchStream",
           "Transform", "batch_loader", "keep_freed_memory", "pack", "pad_counts", "unpack"]
