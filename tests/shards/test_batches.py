"""BatchStream: padded batches, the rank x worker split, seeded order, exact resume, the transform hook."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch.utils.data import DataLoader

import shards.stream as stream_module
from shards.batches import (BatchConfig, BatchCoords, BatchStream, batch_loader, keep_freed_memory, pack, pad_counts,
                            unpack)
from shards.columns import ColumnStore, _numpy, real_positions
from shards.shuffle import IndexShuffle
from shards.stream import ShardStream, StreamConfig

from tests.shards.shardsets import PER_SHARD, all_ids, example_table, write_set

ROOT = Path(__file__).resolve().parents[2]
NO_SHUFFLE = StreamConfig(shuffle_shards=False, shuffle_buffer=0)


@pytest.fixture(scope="module")
def urls(tmp_path_factory) -> list[str]:
    return write_set(str(tmp_path_factory.mktemp("set")))


@pytest.fixture(scope="module")
def three_urls(tmp_path_factory) -> list[str]:
    return write_set(str(tmp_path_factory.mktemp("set3")), num_shards=3)


def stream(urls, config=NO_SHUFFLE, batch_size=4, **kw) -> BatchStream:
    return BatchStream(urls, config, batch=BatchConfig(batch_size=batch_size, pad_values={"input_ids": 99}), **kw)


def keys(batches) -> list[tuple]:
    """(worker, position, doc ids) per batch."""
    return [(b["_worker"], b["_position"], tuple(b["doc_id"])) for b in batches]


def doc_ids(batches) -> list[str]:
    return [d for b in batches for d in b["doc_id"]]


def as_worker(monkeypatch, worker: int, num_workers: int) -> None:
    monkeypatch.setattr(stream_module, "get_worker_info", lambda: SimpleNamespace(id=worker, num_workers=num_workers))


def test_batches_hold_every_column_padded_to_the_longest_example(urls):
    batches = list(stream(urls))
    assert doc_ids(batches) == all_ids() and [len(b["doc_id"]) for b in batches] == [4] * 26 + [1]
    first = batches[0]  # examples 0..3: lengths 2, 3, 4, 2
    assert set(first) == {"input_ids", "word_start", "doc_id", "segment_b_start", "next_sentence_label",
                          "_length", "_worker", "_position"}
    assert first["input_ids"].dtype == torch.int64 and first["word_start"].dtype == torch.bool
    assert first["input_ids"].tolist() == [[0, 1, 99, 99], [1, 2, 3, 99], [2, 3, 4, 5], [3, 4, 99, 99]]
    assert first["word_start"].tolist() == [[True, False, False, False], [True, False, True, False],
                                            [True, False, True, False], [True, False, False, False]]
    assert first["segment_b_start"].tolist() == [1, 2, 1, 2] and first["next_sentence_label"].tolist() == [0, 1, 0, 1]
    assert first["_length"].tolist() == [2, 3, 4, 2] and (first["_worker"], first["_position"]) == (0, 0)
    assert pad_counts(first) == (11, 16)
    # every batch of 4 holds a 4-token example; the last one holds example 104 alone (2 tokens)
    assert [b["input_ids"].shape[1] for b in batches] == [4] * 26 + [2]
    assert batches[-1]["input_ids"].tolist() == [[104, 105]]
    assert [b["_position"] for b in batches] == list(range(0, 105, 4))


def test_unshuffled_batches_equal_today_stream_batched_by_a_dataloader(urls):
    """Same batches, same (worker, position) keys: masks seeded by them are the ones of ShardStream."""
    for workers in (0, 2):
        old = DataLoader(ShardStream(urls, NO_SHUFFLE, rank=1, world_size=2), batch_size=4, num_workers=workers,
                         collate_fn=list)
        expected = [(b[0]["_worker"], b[0]["_position"], tuple(e["doc_id"] for e in b)) for b in old]
        new = batch_loader(stream(urls, rank=1, world_size=2), num_workers=workers)
        assert keys(new) == expected


def test_columns_select_and_string_columns_can_be_left_out(urls):
    config = StreamConfig(columns=("input_ids", "next_sentence_label"), shuffle_buffer=0)
    batch = next(iter(stream(urls, config)))
    assert set(batch) == {"input_ids", "next_sentence_label", "_length", "_worker", "_position"}
    assert batch["next_sentence_label"].dtype == torch.int64
    numeric = BatchStream(urls, NO_SHUFFLE, batch=BatchConfig(batch_size=4, skip_text=True))
    assert set(next(iter(numeric))) == {"input_ids", "word_start", "segment_b_start", "next_sentence_label",
                                        "_length", "_worker", "_position"}


@pytest.mark.parametrize("world_size,num_workers", [(1, 1), (2, 2), (1, 5), (3, 2), (8, 2)])
@pytest.mark.parametrize("num_shards", [5, 3])
def test_every_example_exactly_once_across_ranks_and_workers(urls, three_urls, monkeypatch, world_size, num_workers,
                                                             num_shards):
    chosen = urls if num_shards == 5 else three_urls
    seen: list[str] = []
    for rank in range(world_size):
        for worker in range(num_workers):
            as_worker(monkeypatch, worker, num_workers)
            sub = list(stream(chosen, StreamConfig(seed=3, shuffle_buffer=4), batch_size=3, rank=rank,
                              world_size=world_size))
            assert [b["_position"] for b in sub] == list(range(0, 3 * len(sub), 3))
            assert all(b["_worker"] == worker for b in sub)
            seen += doc_ids(sub)
    assert sorted(seen) == all_ids(num_shards)


def test_two_ranks_two_dataloader_workers_see_every_example_once(urls, three_urls):
    for chosen, num_shards in ((urls, 5), (three_urls, 3)):  # 3 shards < 4 slots: split by chunk
        seen = []
        for rank in (0, 1):
            batches = list(batch_loader(stream(chosen, StreamConfig(seed=1, shuffle_buffer=8), batch_size=5,
                                               rank=rank, world_size=2), num_workers=2))
            assert {b["_worker"] for b in batches} == {0, 1}
            seen += doc_ids(batches)
        assert sorted(seen) == all_ids(num_shards) and len(seen) == len(set(seen))


def test_order_is_seeded_by_seed_and_epoch(urls):
    def order(seed=0, epoch=0, shuffle_buffer=10, **kw):
        ds = stream(urls, StreamConfig(seed=seed, shuffle_buffer=shuffle_buffer, **kw))
        ds.set_epoch(epoch)
        return doc_ids(ds)

    assert order() == order() and order(epoch=1) == order(epoch=1)
    assert order() != order(epoch=1) and order() != order(seed=1)
    assert sorted(order()) == all_ids()
    assert order(shuffle_shards=False, shuffle_buffer=1) == all_ids()
    shuffled = order(shuffle_shards=False, shuffle_buffer=30)
    moved = [abs(int(d[1:]) - i) for i, d in enumerate(shuffled)]
    assert max(moved) > 2 * 7, "the buffer must mix examples of different chunks"
    batches = list(stream(urls, StreamConfig(seed=0, shuffle_buffer=30)))
    assert any(len({int(d[1:]) // 7 for d in b["doc_id"]}) > 1 for b in batches)


def interrupted(urls, config, stop_after, batch_size=4, num_workers=2, epoch=2, transform=None):
    """(consumed, rest): batches before `stop_after`, then those of a fresh stream resumed from state_dict()."""
    first = stream(urls, config, batch_size, rank=0, world_size=2, transform=transform)
    first.set_epoch(epoch)
    consumed = []
    for i, batch in enumerate(batch_loader(first, num_workers=num_workers)):
        if i == stop_after:
            break
        first.observe(batch)
        consumed.append(batch)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = stream(urls, config, batch_size, rank=0, world_size=2, transform=transform)
    resumed.load_state_dict(state)
    resumed.set_epoch(epoch)  # a trainer calling set_epoch(epoch) at the start of the resumed epoch changes nothing
    return consumed, list(batch_loader(resumed, num_workers=num_workers))


def same_batches(a: list[dict], b: list[dict]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if set(x) != set(y):
            return False
        for k in x:
            if isinstance(x[k], torch.Tensor):
                if not torch.equal(x[k], y[k]):
                    return False
            elif x[k] != y[k]:
                return False
    return True


@pytest.mark.parametrize("stop_after", [0, 1, 3, 6, 11, 12, 13, 16, 17])
def test_exact_resume_through_dataloader_workers(urls, stop_after):
    # Rank 0 of 2 has slots 0 and 1 of 4: worker 0 reads two shards (42 examples: 11 batches of
    # 4, the last partial), worker 1 one shard (6 batches). Batches alternate between workers
    # until worker 1 runs out after batch 11, then come from worker 0 alone; 17 in all.
    config = StreamConfig(seed=5, shuffle_buffer=6, prefetch_shards=1)
    ds = stream(urls, config, rank=0, world_size=2)
    ds.set_epoch(2)
    full = list(batch_loader(ds, num_workers=2))
    assert [len(b["doc_id"]) for b in full] == [4] * 11 + [1] + [4] * 4 + [2]
    assert [b["_worker"] for b in full] == [0, 1] * 6 + [0] * 5
    consumed, rest = interrupted(urls, config, stop_after)
    assert same_batches(consumed, full[:stop_after])
    assert same_batches(rest, full[stop_after:])


@pytest.mark.parametrize("config", [NO_SHUFFLE, StreamConfig(seed=2, shuffle_buffer=10)])
def test_exact_resume_without_workers(urls, config):
    full = list(stream(urls, config, batch_size=5))
    for stop in (0, 1, 7, 20, 21):
        ds = stream(urls, config, batch_size=5)
        head = list(ds)[:stop]
        for batch in head:
            ds.observe(batch)
        resumed = stream(urls, config, batch_size=5)
        resumed.load_state_dict(ds.state_dict())
        assert same_batches(head + list(resumed), full)


def test_resuming_twice_continues_the_same_sequence(urls):
    config = StreamConfig(seed=8, shuffle_buffer=5)
    full = keys(batch_loader(stream(urls, config, batch_size=3), num_workers=2))
    got, state = [], None
    for stop in (3, 2, 5, None):  # odd stops: the resumed loader must start with the other worker
        ds = stream(urls, config, batch_size=3)
        if state is not None:
            ds.load_state_dict(state)
        for i, batch in enumerate(batch_loader(ds, num_workers=2)):
            if i == stop:
                break
            ds.observe(batch)
            got += keys([batch])
        state = ds.state_dict()
    assert got == full


def seeded_noise(batch: dict, coords: BatchCoords) -> dict:
    """A stand-in for masking: draws from a generator seeded by the batch's coordinates."""
    gen = torch.Generator().manual_seed(hash((coords.epoch, coords.rank, coords.worker, coords.position)) % 2**62)
    batch["noise"] = torch.rand(batch["input_ids"].shape, generator=gen)
    batch["coords"] = (coords.epoch, coords.rank, coords.worker, coords.position, coords.size)
    del batch["doc_id"]  # a transform may drop columns; the stream keeps its own keys
    return batch


def test_transform_runs_in_the_workers_with_the_batch_coordinates_and_resumes_exactly(urls):
    config = StreamConfig(seed=4, shuffle_buffer=6)
    ds = stream(urls, config, transform=seeded_noise, rank=0, world_size=2)
    ds.set_epoch(2)
    full = list(batch_loader(ds, num_workers=2))
    assert all(tuple(b["coords"]) == (2, 0, b["_worker"], b["_position"], len(b["_length"])) for b in full)
    assert all("doc_id" not in b and b["noise"].shape == b["input_ids"].shape for b in full)
    consumed, rest = interrupted(urls, config, 5, transform=seeded_noise)
    assert same_batches(consumed + rest, full)


def test_state_records_batch_size_and_refuses_another(urls):
    ds = stream(urls, batch_size=4)
    batch = next(iter(ds))
    ds.observe(batch)
    assert ds.state_dict() == {"epoch": 0, "next_position": {"0": 4}, "last_worker": 0, "rank": 0, "world_size": 1,
                               "batch_size": 4}
    with pytest.raises(ValueError, match="saved with batch_size 4, now 5"):
        stream(urls, batch_size=5).load_state_dict(ds.state_dict())
    misaligned = stream(urls, StreamConfig(seed=1, shuffle_buffer=5), batch_size=4)
    misaligned.load_state_dict({"epoch": 0, "next_position": {"0": 6}, "batch_size": 4})
    with pytest.raises(ValueError, match="example 6, which is not the start of a batch of 4"):
        list(misaligned)


def test_bad_configuration_fails_with_a_clear_message(urls):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        BatchConfig(batch_size=0)
    with pytest.raises(ValueError, match="pipe: URLs run shell commands"):
        stream(["pipe:cat x.tar"])
    bad_pad = BatchStream(urls, batch=BatchConfig(batch_size=2, pad_values={"doc_id": 0}))
    with pytest.raises(ValueError, match="pad values given for doc_id, which are not list columns"):
        next(iter(bad_pad))


def test_stream_with_a_transform_is_picklable(urls):
    ds = stream(urls, StreamConfig(shuffle_buffer=4), transform=seeded_noise)
    next(iter(ds))
    copy = pickle.loads(pickle.dumps(ds))
    assert same_batches(list(copy), list(stream(urls, StreamConfig(shuffle_buffer=4), transform=seeded_noise)))


def test_memory_urls_are_prefetched_and_give_the_local_batches(urls):
    import fsspec

    folder = f"memory://batches-{time.monotonic_ns()}"
    remote = write_set(folder)
    try:
        config = StreamConfig(seed=9, shuffle_buffer=3, prefetch_shards=2)
        assert same_batches(list(stream(remote, config)), list(stream(urls, config)))
    finally:
        fsspec.filesystem("memory").rm(folder.removeprefix("memory://"), recursive=True)


def test_batches_from_a_worker_process_equal_those_built_in_process(urls):
    config = StreamConfig(seed=7, shuffle_buffer=9)
    in_process = list(batch_loader(stream(urls, config, transform=seeded_noise), num_workers=0))
    from_worker = list(batch_loader(stream(urls, config, transform=seeded_noise), num_workers=1))
    assert same_batches(from_worker, in_process)
    assert {b["input_ids"].dtype for b in from_worker} == {torch.int64}


def test_pack_narrows_integers_and_unpack_restores_dtypes_and_values():
    batch = {"ids": torch.tensor([[101, 30521], [0, 7]]), "labels": torch.tensor([[-100, 5], [70_000, -100]]),
             "big": torch.tensor([2**40, -1]), "flags": torch.tensor([True, False, True]),
             "score": torch.tensor([0.5, 1.5], dtype=torch.float32), "empty": torch.zeros(0, 3, dtype=torch.long),
             "_worker": 1, "names": ["a", "b"]}
    packed = pack(batch)
    assert {k for k in packed if not k.startswith("_")} == {"names"} and packed["_worker"] == 1
    narrow = {name: n for name, _, n, *_ in packed["_layout"]}
    assert narrow == {"ids": torch.int16, "labels": torch.int32, "big": torch.int64, "flags": torch.bool,
                      "score": torch.float32, "empty": torch.int64}
    # ids 8 + labels 16 + big 16 + flags 3 (+5 to align) + score 8 bytes; the tensors as given hold 91
    assert packed["_packed"].nbytes == 56
    restored = unpack(packed)
    assert set(restored) == set(batch)
    for name, value in batch.items():
        if isinstance(value, torch.Tensor):
            assert restored[name].dtype == value.dtype and torch.equal(restored[name], value), name
        else:
            assert restored[name] == value
    assert unpack(batch) is batch


# -- the pieces: IndexShuffle and ColumnStore ----------------------------------------------------

def test_index_shuffle_holds_size_ids_and_emits_each_once():
    rng = np.random.default_rng(0)
    shuffle = IndexShuffle(10, rng)
    out = [shuffle.add(np.arange(k * 7, k * 7 + 7)) for k in range(5)]
    assert [len(o) for o in out] == [0, 4, 7, 7, 7] and len(shuffle) == 10
    everything = np.concatenate(out + [shuffle.drain()])
    assert sorted(everything.tolist()) == list(range(35)) and everything.tolist() != list(range(35))
    again = IndexShuffle(10, np.random.default_rng(0))
    shifted = np.concatenate([again.add(np.arange(k * 7, k * 7 + 7) + 100) for k in range(5)] + [again.drain()])
    assert (shifted - 100).tolist() == everything.tolist(), "the order depends on block sizes, not id values"
    fifo = IndexShuffle(1, rng)
    assert fifo.add(np.array([3, 1, 2])).tolist() == [3, 1, 2] and fifo.drain().tolist() == []


@pytest.mark.parametrize("pad", [7, -1])  # -1 does not fit uint16: that column is stored as int64
def test_compiled_put_writes_the_bytes_of_the_numpy_put(pad):
    """shards.column_kernels.put_rows (numba) and numpy's padded block give the same slots, through
    growth in width and capacity, reused slots, bool lists and empty rows."""
    pytest.importorskip("numba")
    from shards.columns import kernels

    assert kernels() is not None
    rng = np.random.default_rng(5)
    tables = []
    for width in (4, 9, 3):
        lengths = rng.integers(0, width + 1, 40)
        tables.append(pa.table({"input_ids": pa.array([rng.integers(0, 30_000, k).tolist() for k in lengths],
                                                       pa.list_(pa.uint16())),
                                "word_start": pa.array([(rng.random(k) < 0.5).tolist() for k in lengths],
                                                       pa.list_(pa.bool_())),
                                "label": pa.array(rng.integers(0, 2, 40), pa.int64())}))
    stores = [ColumnStore(tables[0].schema, {"input_ids": pad}, capacity=8, compiled=c) for c in (True, False)]
    for table in tables:
        slots = [store.put(table) for store in stores]
        assert np.array_equal(*slots)
        for name in stores[0].data:
            assert stores[0].data[name].dtype == stores[1].data[name].dtype
            assert np.array_equal(stores[0].data[name], stores[1].data[name]), name
        for store, taken in zip(stores, slots):
            store.free(taken[::2])
    assert stores[0].width == 9 and stores[0].capacity > 40 and stores[0].data["input_ids"][:, :9].any()


def test_column_store_grows_reuses_slots_and_refuses_ragged_rows():
    table = example_table(0, 7)
    assert ColumnStore(table.schema, {"input_ids": 7}).data["input_ids"].dtype == np.uint16  # ids stay 2 bytes
    store = ColumnStore(table.schema, {"input_ids": -1}, capacity=2)  # -1 does not fit uint16: stored as int64
    assert store.data["input_ids"].dtype == np.int64
    first = store.put(table)
    assert store.capacity >= 7 and store.width == 4
    cols, lengths = store.gather(first[[6, 1]])
    assert cols["input_ids"].tolist() == [[6, 7, -1], [1, 2, 3]] and lengths.tolist() == [2, 3]
    assert cols["doc_id"] == ["d00006", "d00001"]
    store.free(first)
    long = pa.table({"input_ids": [[5] * 9], "word_start": [[True] * 9], "doc_id": ["x"], "segment_b_start": [1],
                     "next_sentence_label": [0]}).cast(table.schema)
    slot = store.put(long)
    assert store.width == 9 and store.num_free == store.capacity - 1
    assert store.gather(slot)[0]["input_ids"].tolist() == [[5] * 9]
    ragged = pa.table({"input_ids": [[5, 6]], "word_start": [[True]], "doc_id": ["x"], "segment_b_start": [1],
                       "next_sentence_label": [0]}).cast(table.schema)
    with pytest.raises(ValueError, match="row 0 has 1 word_start values but 2 input_ids"):
        store.put(ragged, "s.tar:k.arrow")
    with pytest.raises(ValueError, match="has columns input_ids, doc_id but the stream started with"):
        store.put(table.select(["input_ids", "doc_id"]))


@pytest.mark.parametrize("width", [1, 7, 128, 1500])  # 1500: past the tables, a comparison
def test_real_positions_marks_the_first_length_positions(width):
    lengths = np.array([0, width, width // 2, 1, width])
    expected = np.arange(width)[None, :] < lengths[:, None]
    assert np.array_equal(real_positions(lengths, width), expected)
    as_ints = real_positions(lengths, width, np.int64)
    assert as_ints.dtype == np.int64 and np.array_equal(as_ints, expected)


def test_without_workers_batch_loader_iterates_the_stream_itself(urls):
    assert batch_loader(stream(urls), num_workers=0).loader is None
    direct = list(batch_loader(stream(urls, StreamConfig(seed=2, shuffle_buffer=6)), num_workers=0))
    through = list(batch_loader(stream(urls, StreamConfig(seed=2, shuffle_buffer=6)), num_workers=0, pin_memory=True))
    assert same_batches(direct, through) and len(direct) > 2


def test_batches_never_import_pandas(urls):
    """Arrow's to_numpy imports pandas, 0.63 CPU s in each DataLoader worker of each epoch:
    the store reads numbers and bools from the buffers (sliced arrays included) instead."""
    for array in (pa.array([True, False, True, True, False, False, True, False, True, True]).slice(3),
                  pa.array(range(20), pa.uint16()).slice(5, 7), pa.array([1.5, 2.5], pa.float32())):
        assert _numpy(array).tolist() == array.to_pylist()
    code = ("import sys; from shards.batches import BatchConfig, BatchStream; "
            f"batches = list(BatchStream({urls!r}, batch=BatchConfig(batch_size=4))); "
            "assert batches and 'doc_id' in batches[0] and batches[0]['word_start'].dtype.is_floating_point is False; "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_batch_buffers_are_reused_not_faulted_in_again():
    """After keep_freed_memory (BatchStream calls it), a batch's freed 1 MiB arrays come back from
    the heap: no page faults per batch (about 256 per MiB before, on glibc)."""
    import resource

    if not keep_freed_memory():
        pytest.skip("not glibc: mallopt is unavailable")
    for _ in range(3):  # the heap grows once
        np.full((1024, 128), -100, np.int64).copy()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        labels = np.full((1024, 128), -100, np.int64)
        masked = labels.copy()
        del labels, masked
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 20 * 16


def grouped(urls, config, groups, **kw) -> BatchStream:
    return BatchStream(urls, config, batch=BatchConfig(batch_size=4, pad_values={"input_ids": 99},
                                                       length_groups=groups), **kw)


def test_length_groups_cut_sorted_windows_keep_every_example_and_resume_exactly(urls, three_urls):
    config = StreamConfig(seed=3, shuffle_buffer=10)
    plain, by_length = list(grouped(urls, config, 1)), list(grouped(urls, config, 4))
    assert sorted(doc_ids(by_length)) == sorted(doc_ids(plain)) == sorted(all_ids())
    # each window of 4 batches holds the examples of the same 4 batches of the plain order
    for w in range(0, 24, 4):
        assert sorted(doc_ids(by_length[w:w + 4])) == sorted(doc_ids(plain[w:w + 4]))
    assert [b["_position"] for b in by_length] == list(range(0, 105, 4))
    padding = lambda batches: 1 - sum(pad_counts(b)[0] for b in batches) / sum(pad_counts(b)[1] for b in batches)
    assert padding(by_length) < 0.5 * padding(plain)
    for w in range(0, 24, 4):  # sorted windows: in length order, each batch ends where the next one starts
        spans = sorted((min(lengths), max(lengths)) for lengths in (b["_length"].tolist() for b in by_length[w:w + 4]))
        assert all(high <= low for (_, high), (low, _) in zip(spans, spans[1:]))
    assert sum(len(set(b["_length"].tolist())) == 1 for b in by_length[:24]) >= 12  # like lengths together
    # the order of a window's batches is drawn, seeded: same seed same batches, other seed other order
    assert keys(grouped(urls, config, 4)) == keys(by_length)
    assert keys(grouped(urls, StreamConfig(seed=4, shuffle_buffer=10), 4)) != keys(by_length)
    # across ranks and workers, every example exactly once
    seen = []
    for rank in range(2):
        ds = grouped(three_urls, config, 3, rank=rank, world_size=2)
        seen += doc_ids(batch_loader(ds, num_workers=2))
    assert sorted(seen) == sorted(all_ids(3))
    # exact resume, through workers, and a state of another grouping is refused
    full = list(batch_loader(grouped(urls, config, 4), num_workers=2))
    for stop in (1, 6, 13):
        first = grouped(urls, config, 4)
        for i, batch in enumerate(batch_loader(first, num_workers=2)):
            if i == stop:
                break
            first.observe(batch)
        state = json.loads(json.dumps(first.state_dict()))
        assert state["length_groups"] == 4
        resumed = grouped(urls, config, 4)
        resumed.load_state_dict(state)
        assert same_batches(list(batch_loader(resumed, num_workers=2)), full[stop:])
    with pytest.raises(ValueError, match="saved with length_groups 4, now 1"):
        grouped(urls, config, 1).load_state_dict(state)
    with pytest.raises(ValueError, match="length_groups must be a positive integer"):
        BatchConfig(batch_size=4, length_groups=0)
