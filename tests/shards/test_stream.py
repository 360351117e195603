"""ShardStream: split, shuffle, prefetch and exact resume, on small shard sets built by ShardSetWriter."""

from __future__ import annotations

import json
import pickle
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import shards.stream as stream_module
from shards.stream import ShardFetchError, ShardStream, StreamConfig

from tests.shards.shardsets import PER_SHARD, all_ids, write_set

NO_SHUFFLE = StreamConfig(shuffle_shards=False, shuffle_buffer=0)


@pytest.fixture(scope="module")
def urls(tmp_path_factory) -> list[str]:
    return write_set(str(tmp_path_factory.mktemp("set")))


@pytest.fixture(scope="module")
def three_urls(tmp_path_factory) -> list[str]:
    return write_set(str(tmp_path_factory.mktemp("set3")), num_shards=3)


def ids(examples) -> list[str]:
    return [e["doc_id"] for e in examples]


def as_worker(monkeypatch, worker: int, num_workers: int) -> None:
    monkeypatch.setattr(stream_module, "get_worker_info", lambda: SimpleNamespace(id=worker, num_workers=num_workers))


def collect(dataset, **loader_args) -> list[list[dict]]:
    """Batches (lists of example dicts) in the order a DataLoader delivers them."""
    return list(DataLoader(dataset, collate_fn=list, **loader_args))


def test_examples_keep_stored_dtypes_and_python_scalars(urls):
    examples = list(ShardStream(urls, NO_SHUFFLE))
    assert ids(examples) == all_ids()
    first, seventh = examples[0], examples[7 + 2]
    assert first["input_ids"].dtype == np.uint16 and first["word_start"].dtype == np.bool_
    np.testing.assert_array_equal(first["input_ids"], [0, 1])
    np.testing.assert_array_equal(seventh["input_ids"], [9, 10, 11, 12])
    np.testing.assert_array_equal(seventh["word_start"], [True, False, True, False])
    assert seventh["input_ids"].flags.writeable
    assert {k: seventh[k] for k in ("doc_id", "segment_b_start", "next_sentence_label", "_worker", "_position")} == {
        "doc_id": "d00009", "segment_b_start": 2, "next_sentence_label": 1, "_worker": 0, "_position": 9}
    assert type(seventh["segment_b_start"]) is int and type(seventh["next_sentence_label"]) is int
    assert [e["_position"] for e in examples] == list(range(105))


def test_columns_selects_and_names_missing_columns(urls):
    examples = list(ShardStream(urls, StreamConfig(columns=("input_ids", "doc_id"), shuffle_buffer=0)))
    assert set(examples[0]) == {"input_ids", "doc_id", "_worker", "_position"}
    with pytest.raises(ValueError, match=r"train-0000\d\d-000000\.arrow has no column lang_ids"):
        next(iter(ShardStream(urls, StreamConfig(columns=("input_ids", "lang_ids")))))


@pytest.mark.parametrize("world_size,num_workers", [(1, 1), (2, 2), (1, 5), (3, 2), (2, 4), (8, 2)])
@pytest.mark.parametrize("num_shards", [5, 3])
def test_every_example_exactly_once_across_ranks_and_workers(urls, three_urls, monkeypatch, world_size, num_workers, num_shards):
    chosen = urls if num_shards == 5 else three_urls
    config = StreamConfig(seed=3, shuffle_buffer=4)
    seen: list[str] = []
    for rank in range(world_size):
        for worker in range(num_workers):
            as_worker(monkeypatch, worker, num_workers)
            sub = list(ShardStream(chosen, config, rank=rank, world_size=world_size))
            assert [e["_position"] for e in sub] == list(range(len(sub)))
            assert all(e["_worker"] == worker for e in sub)
            seen += ids(sub)
    assert sorted(seen) == all_ids(num_shards)


def test_split_through_dataloader_two_ranks_two_workers(urls, three_urls):
    for chosen, num_shards in ((urls, 5), (three_urls, 3)):  # 3 shards < 4 slots: split by chunk
        seen = []
        for rank in (0, 1):
            batches = collect(ShardStream(chosen, StreamConfig(seed=1, shuffle_buffer=8), rank=rank, world_size=2),
                              num_workers=2, batch_size=5)
            assert {e["_worker"] for b in batches for e in b} == {0, 1}
            seen += [e["doc_id"] for b in batches for e in b]
        assert sorted(seen) == all_ids(num_shards)


def test_order_is_seeded_by_seed_and_epoch(urls):
    def order(seed=0, epoch=0, shuffle_buffer=10, **kw):
        ds = ShardStream(urls, StreamConfig(seed=seed, shuffle_buffer=shuffle_buffer, **kw))
        ds.set_epoch(epoch)
        return ids(ds)

    assert order() == order()
    assert order() != order(epoch=1) and order() != order(seed=1)
    assert sorted(order()) == all_ids()
    assert order(epoch=1) == order(epoch=1)
    assert order(shuffle_shards=False, shuffle_buffer=1) == all_ids()
    # shards shuffled but not examples: whole shards stay contiguous and in order
    by_shard = order(shuffle_buffer=0)
    assert by_shard != all_ids()
    assert all(int(a[1:]) + 1 == int(b[1:]) for a, b in zip(by_shard, by_shard[1:]) if int(b[1:]) % PER_SHARD)


def run_interrupted(urls, config, stop_after, **loader_args):
    """Consume `stop_after` batches with observe(), then resume a fresh stream from state_dict()."""
    first = ShardStream(urls, config, rank=0, world_size=2)
    first.set_epoch(2)
    consumed = []
    for i, batch in enumerate(DataLoader(first, collate_fn=list, **loader_args)):
        if i == stop_after:
            break
        first.observe(torch.tensor([e["_worker"] for e in batch]), torch.tensor([e["_position"] for e in batch]))
        consumed += batch
    state = json.loads(json.dumps(first.state_dict()))
    resumed = ShardStream(urls, config, rank=0, world_size=2)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # a trainer calling set_epoch(epoch) at the start of the resumed epoch changes nothing
    rest = [e for batch in collect(resumed, **loader_args) for e in batch]
    return consumed, rest


def key(e):
    return e["doc_id"], e["_worker"], e["_position"]


@pytest.mark.parametrize("stop_after", [0, 1, 3, 6, 11, 12, 13, 16, 17])
def test_exact_resume_through_dataloader_workers(urls, stop_after):
    # Rank 0 of 2 has slots 0 and 1 of 4: worker 0 reads two shards (42 examples: 11 batches of
    # 4, the last partial), worker 1 one shard (6 batches). Batches alternate between workers
    # until worker 1 runs out after batch 11, then come from worker 0 alone; 17 in all.
    config = StreamConfig(seed=5, shuffle_buffer=6, prefetch_shards=1)
    loader_args = dict(num_workers=2, batch_size=4)
    ds = ShardStream(urls, config, rank=0, world_size=2)
    ds.set_epoch(2)
    full = collect(ds, **loader_args)
    assert [len(b) for b in full] == [4] * 11 + [1] + [4] * 4 + [2]
    assert [b[0]["_worker"] for b in full] == [0, 1] * 6 + [0] * 5
    consumed, rest = run_interrupted(urls, config, stop_after, **loader_args)
    assert [key(e) for e in consumed] == [key(e) for b in full[:stop_after] for e in b]
    assert [key(e) for e in consumed + rest] == [key(e) for b in full for e in b]


def test_resuming_twice_continues_the_same_sequence(urls):
    config = StreamConfig(seed=8, shuffle_buffer=5)
    loader_args = dict(num_workers=2, batch_size=3)
    full = [key(e) for b in collect(ShardStream(urls, config), **loader_args) for e in b]
    got, state = [], None
    for stop in (3, 2, 5, None):  # odd stops: the resumed loader must start with the other worker
        ds = ShardStream(urls, config)
        if state is not None:
            ds.load_state_dict(state)
        for i, batch in enumerate(DataLoader(ds, collate_fn=list, **loader_args)):
            if i == stop:
                break
            ds.observe([e["_worker"] for e in batch], [e["_position"] for e in batch])
            got += [key(e) for e in batch]
        state = ds.state_dict()
    assert got == full


@pytest.mark.parametrize("shuffle_buffer", [0, 10])
def test_exact_resume_without_workers(urls, shuffle_buffer):
    config = StreamConfig(seed=2, shuffle_buffer=shuffle_buffer)
    full = [key(e) for e in ShardStream(urls, config)]
    for stop in (0, 1, 7, 23, 50, 105):
        ds = ShardStream(urls, config)
        head = list(ds)[:stop]
        ds.observe([e["_worker"] for e in head], [e["_position"] for e in head])
        resumed = ShardStream(urls, config)
        resumed.load_state_dict(ds.state_dict())
        assert [key(e) for e in head] + [key(e) for e in resumed] == full


def test_resume_skips_whole_chunks_without_building_examples(urls, monkeypatch):
    built = []
    original = stream_module._Chunk.example
    monkeypatch.setattr(stream_module._Chunk, "example", lambda self, row: built.append(row) or original(self, row))
    ds = ShardStream(urls, NO_SHUFFLE)
    ds.load_state_dict({"epoch": 0, "next_position": {"0": 100}})
    assert ids(ds) == all_ids()[100:]
    assert len(built) == 5


def test_set_epoch_after_resume_starts_the_next_epoch_at_zero(urls):
    config = StreamConfig(seed=4, shuffle_buffer=5)
    ds = ShardStream(urls, config)
    ds.load_state_dict({"epoch": 3, "next_position": {"0": 40}, "last_worker": 0})
    assert len(list(ds)) == 65
    ds.set_epoch(4)
    assert ds.state_dict()["next_position"] == {}
    fresh = ShardStream(urls, config)
    fresh.set_epoch(4)
    assert [key(e) for e in ds] == [key(e) for e in fresh]


def test_state_dict_is_json_friendly_and_observe_takes_tensors(urls):
    ds = ShardStream(urls, rank=0, world_size=1)
    ds.observe(torch.tensor([0, 0, 1]), torch.tensor([4, 2, 0]))
    ds.observe(np.array([1]), [6])
    state = ds.state_dict()
    assert state == {"epoch": 0, "next_position": {"0": 5, "1": 7}, "last_worker": 1, "rank": 0, "world_size": 1}
    assert json.loads(json.dumps(state)) == state
    with pytest.raises(ValueError, match="2 workers but 1 positions"):
        ds.observe([0, 1], [3])


def test_load_state_dict_refuses_other_world_size_and_worker_count(urls, monkeypatch):
    with pytest.raises(ValueError, match="world_size 4, now 1"):
        ShardStream(urls).load_state_dict({"epoch": 0, "next_position": {}, "world_size": 4})
    ds = ShardStream(urls)
    ds.load_state_dict({"epoch": 0, "next_position": {"0": 3, "2": 5}})
    as_worker(monkeypatch, 0, 2)
    with pytest.raises(ValueError, match="resume with the same num_workers"):
        next(iter(ds))


def test_stream_is_picklable_while_iterating(urls):
    ds = ShardStream(urls, StreamConfig(shuffle_buffer=4))
    it = iter(ds)
    next(it)
    copy = pickle.loads(pickle.dumps(ds))
    assert ids(copy) == ids(ShardStream(urls, StreamConfig(shuffle_buffer=4)))


def test_bad_arguments_fail_fast(urls):
    with pytest.raises(ValueError, match="pipe: URLs run shell commands"):
        ShardStream(["pipe:cat x.tar"])
    with pytest.raises(ValueError, match="expand"):
        ShardStream(urls[0])
    with pytest.raises(ValueError, match="no shard URLs"):
        ShardStream([])
    with pytest.raises(ValueError, match="rank 2 is not in"):
        ShardStream(urls, rank=2, world_size=2)
    with pytest.raises(ValueError, match="shuffle_buffer must be >= 0"):
        StreamConfig(shuffle_buffer=-1)


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "shardlm-prefetch" and t.is_alive()]


def test_local_shards_are_read_in_place(urls):
    it = iter(ShardStream(urls, StreamConfig(prefetch_shards=2)))
    next(it)
    assert prefetch_threads() == []


@pytest.fixture
def memory_urls():
    import fsspec

    folder = f"memory://stream-{time.monotonic_ns()}"
    yield write_set(folder)
    fsspec.filesystem("memory").rm(folder.removeprefix("memory://"), recursive=True)


def test_memory_urls_prefetch_a_bounded_number_of_shards(memory_urls, urls, monkeypatch):
    fetched = []
    original = stream_module.open_url
    monkeypatch.setattr(stream_module, "open_url", lambda url, *a: fetched.append(url) or original(url, *a))
    config = StreamConfig(seed=9, shuffle_buffer=3, prefetch_shards=2)
    it = iter(ShardStream(memory_urls, config))
    first = next(it)
    assert len(prefetch_threads()) == 1
    deadline = time.monotonic() + 10
    while len(fetched) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(fetched) == 3  # the shard being read + prefetch_shards ahead, no more
    rest = [first] + list(it)
    assert len(fetched) == 5
    local = list(ShardStream(urls, config))
    assert [key(e) for e in rest] == [key(e) for e in local]
    deadline = time.monotonic() + 5
    while prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert prefetch_threads() == []


def test_prefetch_errors_surface_in_the_iterating_thread_with_the_url(memory_urls, monkeypatch):
    missing = memory_urls[:2] + [memory_urls[0].replace("train-000000", "train-000099")]
    ds = ShardStream(missing, StreamConfig(shuffle_shards=False, shuffle_buffer=0))
    examples = []
    with pytest.raises(FileNotFoundError, match=r"prefetching shard memory://.*train-000099\.tar failed"):
        for e in ds:
            examples.append(e)
    assert len(examples) == 2 * PER_SHARD  # everything before the broken shard came out

    def broken(url, *args):
        raise OSError("connection reset")

    monkeypatch.setattr(stream_module, "open_url", broken)
    with pytest.raises(ShardFetchError, match=r"train-000003\.tar failed: OSError: connection reset"):
        next(iter(ShardStream(memory_urls[3:], StreamConfig(prefetch_shards=1))))


def test_abandoned_iteration_stops_the_prefetch_thread(memory_urls):
    it = iter(ShardStream(memory_urls, StreamConfig(prefetch_shards=1)))
    next(it)
    it.close()
    deadline = time.monotonic() + 5
    while prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert prefetch_threads() == []


def test_reads_shards_from_s3_with_prefetch(s3_bucket, urls):
    s3_urls = write_set(f"{s3_bucket}/set", objective="nsp")
    assert s3_urls[0] == f"{s3_bucket}/set/train-000000.tar"
    config = StreamConfig(seed=6, shuffle_buffer=10, prefetch_shards=2)
    from_s3 = [key(e) for e in ShardStream(s3_urls, config)]
    assert from_s3 == [key(e) for e in ShardStream(urls, config)]


@pytest.mark.slow
def test_reads_shards_from_s3_in_dataloader_workers(s3_bucket):
    s3_urls = write_set(f"{s3_bucket}/set", num_shards=4, objective="mlm")
    batches = collect(ShardStream(s3_urls, StreamConfig(prefetch_shards=1)), num_workers=2, batch_size=8)
    assert sorted(e["doc_id"] for b in batches for e in b) == all_ids(4)
    assert "segment_b_start" not in batches[0][0]
