"""shards.shuffle: the seeded shard order and the example shuffle buffer."""

from __future__ import annotations

import numpy as np
import pytest

from shards.shuffle import buffer_shuffle, example_rng, shard_order


def test_shard_order_is_a_permutation_seeded_by_seed_and_epoch():
    # golden values: a change here changes every run's data order
    assert shard_order(5, seed=0, epoch=0) == [2, 4, 3, 0, 1]
    assert shard_order(5, seed=0, epoch=1) == [1, 4, 3, 0, 2]
    assert shard_order(5, seed=1, epoch=0) == [4, 0, 1, 2, 3]
    assert shard_order(5, seed=0, epoch=0, shuffle=False) == [0, 1, 2, 3, 4]
    assert sorted(shard_order(100, seed=7, epoch=3)) == list(range(100))
    assert shard_order(0, seed=0, epoch=0) == []


def test_example_rng_differs_per_worker_rank_and_epoch():
    draws = {(s, e, r, w): example_rng(seed=s, epoch=e, rank=r, worker=w).integers(1 << 30, size=4).tolist()
             for s, e, r, w in [(0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0), (0, 1, 0, 0), (1, 0, 0, 0)]}
    assert len({tuple(v) for v in draws.values()}) == 5
    assert example_rng(seed=0, epoch=0, rank=0, worker=1).integers(1 << 30, size=4).tolist() == draws[(0, 0, 0, 1)]


def test_buffer_shuffle_is_a_seeded_permutation():
    def shuffled(size, worker=0):
        return list(buffer_shuffle(range(50), size, example_rng(seed=0, epoch=0, rank=0, worker=worker)))

    assert list(buffer_shuffle(range(10), 4, example_rng(seed=0, epoch=0, rank=0, worker=0))) == [
        3, 2, 5, 1, 7, 0, 9, 4, 6, 8]
    assert sorted(shuffled(8)) == list(range(50))
    assert shuffled(8) == shuffled(8) and shuffled(8) != shuffled(8, worker=1)
    assert shuffled(0) == shuffled(1) == list(range(50))
    assert sorted(shuffled(1000)) == list(range(50))  # a buffer larger than the stream
    with pytest.raises(ValueError, match="shuffle buffer size must be >= 0"):
        list(buffer_shuffle(range(3), -1, np.random.default_rng(0)))


def test_buffer_shuffle_holds_only_size_items():
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield i

    out = buffer_shuffle(source(), 10, np.random.default_rng(0))
    next(out)
    assert len(pulled) == 11
    next(out)
    assert len(pulled) == 12
