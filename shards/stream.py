"""The streaming datasets' common part, and the per-example stream: one example dict per item, resumable exactly.

`SubStreams` holds what every stream shares; `ShardStream` yields examples, and
`shards.batches.BatchStream` whole padded batches. Each (rank, DataLoader worker) reads a
deterministic sub-stream of the epoch: its slot's shards or chunks (`shards.partition`), shuffled through a buffer seeded by (seed, epoch, rank, worker)
(`shards.shuffle`). Every example carries `_worker` and `_position`, its index in that
sub-stream; the trainer hands them back through `observe()`, and a resumed stream skips the
first `next_position[worker]` examples of each sub-stream, so it continues at the exact next
example. This module and `shards.batches` are the only modules of `shards` that import torch.
"""

from __future__ import annotations

import io
import itertools
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import fsspec
import pyarrow as pa
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from shards.format import CHUNK_EXTENSION, decode_chunk
from shards.partition import SlotPlan, plan_slot, slot_of
from shards.reader import iter_members
from shards.shuffle import buffer_shuffle, example_rng, shard_order
from shards.storage import StoreUnavailableError, check_url, open_url

log = logging.getLogger(__name__)

WORKER_KEY = "_worker"
POSITION_KEY = "_position"


@dataclass(frozen=True, kw_only=True)
class StreamConfig:
    seed: int = 0
    shuffle_shards: bool = True
    shuffle_buffer: int = 10_000     # 0 or 1: no example shuffle
    prefetch_shards: int = 2         # remote shards downloaded ahead in a background thread
    columns: tuple[str, ...] | None = None   # None: all columns

    def __post_init__(self) -> None:
        if self.shuffle_buffer < 0:
            raise ValueError(f"shuffle_buffer must be >= 0 (0 or 1: no shuffle), got {self.shuffle_buffer}")
        if self.prefetch_shards < 0:
            raise ValueError(f"prefetch_shards must be >= 0 (0: no background download), got {self.prefetch_shards}")
        if self.columns is not None and isinstance(self.columns, str):
            raise ValueError(f"columns must be a tuple of names, e.g. ({self.columns!r},), not a string")


class ShardFetchError(OSError):
    """Downloading a shard in the prefetch thread failed; the message names the URL."""


def is_local(url: str) -> bool:
    """Whether a URL is a local file (read in place); anything else is downloaded ahead."""
    protocol, _ = fsspec.core.split_protocol(url)
    return protocol in (None, "file", "local")


def _fetch_error(url: str, err: Exception) -> Exception:
    message = f"prefetching shard {url} failed: {type(err).__name__}: {err}"
    if isinstance(err, StoreUnavailableError):  # retried already (open_url): exit status 3, not 2
        return StoreUnavailableError(f"prefetching shard {url} failed: {err}")
    return FileNotFoundError(message) if isinstance(err, FileNotFoundError) else ShardFetchError(message)


class _Prefetcher:
    """Downloads `urls` in order in a daemon thread, holding at most `depth` not yet taken."""

    def __init__(self, urls: list[str], depth: int, storage_options: dict):
        self._results: queue.Queue = queue.Queue()
        self._room = threading.Semaphore(depth)
        self._stop = threading.Event()
        self._options = storage_options
        self._thread = threading.Thread(target=self._run, args=(urls,), name="shardlm-prefetch", daemon=True)
        self._thread.start()

    def _run(self, urls: list[str]) -> None:
        for url in urls:
            self._room.acquire()
            if self._stop.is_set():
                return
            try:
                with open_url(url, "rb", self._options) as f:
                    data = f.read()
            except Exception as err:  # handed to the iterating thread, which raises it with the URL
                self._results.put((url, None, err))
                return
            self._results.put((url, data, None))

    def take(self, url: str) -> bytes:
        """The bytes of `url`, the next URL in order; raises the download's error naming the URL."""
        got, data, err = self._results.get()
        self._room.release()
        assert got == url, f"prefetch order broken: expected {url}, got {got}"
        if err is not None:
            raise _fetch_error(url, err) from err
        return data

    def close(self) -> None:
        self._stop.set()
        self._room.release()


def _column_reader(column: pa.ChunkedArray) -> Callable[[int], Any]:
    """Row accessor for one column of a chunk: lists as numpy arrays of the stored dtype, scalars as Python."""
    array = column.combine_chunks()
    kind = array.type
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and (
            pa.types.is_integer(kind.value_type) or pa.types.is_floating(kind.value_type)
            or pa.types.is_boolean(kind.value_type)):
        offsets = array.offsets.to_numpy()
        values = array.values.to_numpy(zero_copy_only=False)
        return lambda i: values[offsets[i]:offsets[i + 1]].copy()
    rows = array.to_pylist()
    return rows.__getitem__


class _Chunk:
    """One decoded chunk; column accessors are built on first use, so skipped rows cost nothing."""

    def __init__(self, table: pa.Table):
        self.table = table
        self.num_rows = table.num_rows
        self._readers: dict[str, Callable[[int], Any]] | None = None

    def example(self, row: int) -> dict[str, Any]:
        if self._readers is None:
            self._readers = {name: _column_reader(self.table.column(name)) for name in self.table.column_names}
        return {name: read(row) for name, read in self._readers.items()}


def _decode(where: str, data: bytes, columns: tuple[str, ...] | None, skip_text: bool = False) -> pa.Table:
    """The chunk's `columns` (all when None), text columns left out with `skip_text`, undecoded
    columns never decompressed."""
    return decode_chunk(data, where, columns, skip_text)


def _rows(chunks: Iterable[_Chunk], skip: int) -> Iterator[tuple[_Chunk, int]]:
    """(chunk, row) references in order, skipping the first `skip` rows a whole chunk at a time."""
    for chunk in chunks:
        if skip >= chunk.num_rows:
            skip -= chunk.num_rows
            continue
        for row in range(skip, chunk.num_rows):
            yield chunk, row
        skip = 0


def _ints(values: Any) -> list[int]:
    """A batch of ids as ints: a tensor, numpy array, list or a single int."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, int):
        return [values]
    return [int(v) for v in values]


def _default_rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class SubStreams(IterableDataset):
    """What every stream of a shard set shares: the rank x worker split, the epoch, resume state, reading.

    Each (rank, DataLoader worker) reads its sub-stream: the chunks of its slot of the epoch
    (`shards.partition`), decoded as Arrow tables. A sub-stream's items are numbered by
    position (examples from 0); `next_position[worker]` is where a resumed iteration starts.
    Subclasses turn the tables into items (`ShardStream`: examples; `shards.batches.BatchStream`:
    batches) and record what the caller consumed.

    Holds only plain values (no threads or open files), so DataLoader workers can pickle it.
    `set_epoch` and `load_state_dict` reach the workers when the DataLoader starts an iteration:
    use `persistent_workers=False` (the default) so each epoch's workers see them.
    """

    def __init__(self, urls: list[str], config: StreamConfig = StreamConfig(), *,
                 rank: int | None = None, world_size: int | None = None,
                 storage_options: dict | None = None):
        super().__init__()
        if isinstance(urls, str):
            raise ValueError(f"urls must be a list of shard URLs; expand {urls!r} with shards.expand_urls first")
        if not urls:
            raise ValueError(f"{type(self).__name__} got no shard URLs; check the --data pattern or manifest")
        self.urls = [check_url(u) for u in urls]
        self.config = config
        self._skip_text = False  # BatchStream with skip_text: text columns are never decoded
        default_rank, default_world = _default_rank()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_world if world_size is None else world_size
        slot_of(rank=self.rank, world_size=self.world_size, worker=0, num_workers=1)
        self.storage_options = dict(storage_options or {})
        self.epoch = 0
        self._next_position: dict[int, int] = {}
        self._last_worker: int | None = None
        self._resume: dict[str, Any] | None = None

    # -- epoch and resume state (main process) ------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch the next iteration streams; a new epoch starts every sub-stream at 0."""
        if epoch == self.epoch:
            return
        self.epoch = epoch
        self._next_position, self._last_worker, self._resume = {}, None, None

    def _consumed(self, worker: int, next_position: int) -> None:
        """Record that `worker`'s sub-stream was consumed up to (not including) `next_position`."""
        self._next_position[worker] = next_position
        self._last_worker = worker

    def state_dict(self) -> dict[str, Any]:
        """JSON-friendly state: {"epoch", "next_position": {"worker": n}, "last_worker", "rank", "world_size"}."""
        return {
            "epoch": self.epoch,
            "next_position": {str(w): n for w, n in sorted(self._next_position.items())},
            "last_worker": self._last_worker,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: the next iteration of `state["epoch"]` continues each sub-stream where it stopped."""
        saved_world = state.get("world_size", self.world_size)
        if saved_world != self.world_size:
            raise ValueError(f"stream state was saved with world_size {saved_world}, now {self.world_size}; "
                             f"resume with the same number of ranks for an exact resume")
        if state.get("rank", self.rank) != self.rank:
            log.warning("loading the stream state of rank %s into rank %s", state["rank"], self.rank)
        self.epoch = int(state["epoch"])
        self._next_position = {int(w): int(n) for w, n in state.get("next_position", {}).items()}
        last = state.get("last_worker")
        self._last_worker = None if last is None else int(last)
        self._resume = {"epoch": self.epoch, "next_position": dict(self._next_position),
                        "last_worker": self._last_worker}

    # -- iteration (DataLoader worker, or the main process without workers) -------------------

    def _role(self, worker: int, num_workers: int) -> tuple[int, int]:
        """(sub-stream id, examples to skip) of a DataLoader worker in this iteration.

        On resume, worker ids rotate so that DataLoader worker 0, which delivers the first
        batch, plays the sub-stream after the last one observed: the resumed run then
        delivers batches in the order the uninterrupted run would have.
        """
        resume = self._resume
        if resume is None or resume["epoch"] != self.epoch:
            return worker, 0
        known = [w for w in resume["next_position"] if w >= num_workers]
        last = resume["last_worker"]
        if known or (last is not None and last >= num_workers):
            raise ValueError(f"stream state holds DataLoader worker ids up to {max(known + [last or 0])} "
                             f"but there are {num_workers} workers; resume with the same num_workers")
        offset = 0 if last is None else (last + 1) % num_workers
        role = (worker + offset) % num_workers
        return role, resume["next_position"].get(role, 0)

    def _start(self) -> tuple[SlotPlan, int, int]:
        """(plan, sub-stream id, examples to skip) of the calling DataLoader worker."""
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        role, skip = self._role(worker, num_workers)
        slot, num_slots = slot_of(rank=self.rank, world_size=self.world_size, worker=role, num_workers=num_workers)
        cfg = self.config
        order = shard_order(len(self.urls), seed=cfg.seed, epoch=self.epoch, shuffle=cfg.shuffle_shards)
        plan = plan_slot(order, slot=slot, num_slots=num_slots)
        log.debug("rank %d worker %d (sub-stream %d): %d shards, skipping %d examples",
                  self.rank, worker, role, len(plan.shards), skip)
        return plan, role, skip

    def _rng(self, role: int):
        """The sub-stream's example-shuffle generator, or None when examples are not shuffled."""
        if self.config.shuffle_buffer <= 1:
            return None
        return example_rng(seed=self.config.seed, epoch=self.epoch, rank=self.rank, worker=role)

    def _tables(self, plan: SlotPlan) -> Iterator[tuple[str, pa.Table]]:
        """(where, table) of the slot's chunks in order, decoded; chunks of other slots are skipped undecoded.

        `where` names the chunk (`URL:key.arrow`) for error messages.
        """
        urls = [self.urls[i] for i in plan.shards]
        remote = [u for u in urls if not is_local(u)]
        prefetcher = None
        if remote and self.config.prefetch_shards > 0:
            prefetcher = _Prefetcher(remote, self.config.prefetch_shards, self.storage_options)
        counter = 0
        try:
            for url in urls:
                if prefetcher is not None and not is_local(url):
                    source = io.BytesIO(prefetcher.take(url))
                else:
                    source = open_url(url, "rb", self.storage_options)
                with source:
                    for key, data in iter_members(source, url):
                        if plan.keeps(counter):
                            where = f"{url}:{key}.{CHUNK_EXTENSION}"
                            yield where, _decode(where, data, self.config.columns, self._skip_text)
                        counter += 1
        finally:
            if prefetcher is not None:
                prefetcher.close()


class ShardStream(SubStreams):
    """Examples of a shard set, one dict per example, split across ranks and DataLoader workers,
    shuffled through a buffer, resumable at the exact next example.

    Every example carries `_worker` and `_position`; the caller hands them back through
    `observe()`. For whole padded batches without per-example Python, use `shards.batches.BatchStream`.
    """

    def observe(self, workers, positions) -> None:
        """Record consumed examples: their `_worker` and `_position` values (tensors, arrays or lists)."""
        workers, positions = _ints(workers), _ints(positions)
        if len(workers) != len(positions):
            raise ValueError(f"observe got {len(workers)} workers but {len(positions)} positions")
        latest: dict[int, int] = {}
        for worker, position in zip(workers, positions):
            latest[worker] = max(latest.get(worker, -1), position)
        for worker, position in latest.items():
            self._next_position[worker] = position + 1
        if workers:
            self._last_worker = workers[-1]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        plan, role, skip = self._start()
        return self._examples(plan, role, skip)

    def _examples(self, plan: SlotPlan, role: int, skip: int) -> Iterator[dict[str, Any]]:
        tables = self._tables(plan)
        chunks = (_Chunk(table) for _, table in tables)
        rng = self._rng(role)
        if rng is None:
            refs: Iterator[tuple[_Chunk, int]] = _rows(chunks, skip)
        else:
            refs = itertools.islice(buffer_shuffle(_rows(chunks, 0), self.config.shuffle_buffer, rng), skip, None)
        try:
            for position, (chunk, row) in enumerate(refs, start=skip):
                example = chunk.example(row)
                example[WORKER_KEY] = role
                example[POSITION_KEY] = position
                yield example
        finally:
            tables.close()


__all__ = ["POSITION_KEY", "WORKER_KEY", "ShardFetchError", "ShardStream", "StreamConfig", "SubStreams", "is_local"]
