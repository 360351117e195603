"""shards.partition: slots, round-robin shards, and the chunk split when shards are fewer than slots."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest

from shards.partition import SlotPlan, plan_slot, slot_of


def test_slot_of_numbers_workers_within_ranks():
    assert slot_of(rank=0, world_size=2, worker=0, num_workers=2) == (0, 4)
    assert slot_of(rank=0, world_size=2, worker=1, num_workers=2) == (1, 4)
    assert slot_of(rank=1, world_size=2, worker=0, num_workers=2) == (2, 4)
    assert slot_of(rank=1, world_size=2, worker=1, num_workers=2) == (3, 4)
    assert slot_of(rank=0, world_size=1, worker=0, num_workers=1) == (0, 1)


@pytest.mark.parametrize("kwargs,message", [
    (dict(rank=2, world_size=2, worker=0, num_workers=1), "rank 2 is not in"),
    (dict(rank=-1, world_size=2, worker=0, num_workers=1), "rank -1 is not in"),
    (dict(rank=0, world_size=0, worker=0, num_workers=1), "world_size=0"),
    (dict(rank=0, world_size=1, worker=3, num_workers=3), "worker 3 is not in"),
])
def test_slot_of_refuses_impossible_ids(kwargs, message):
    with pytest.raises(ValueError, match=message):
        slot_of(**kwargs)


def test_enough_shards_are_dealt_round_robin():
    order = [3, 0, 4, 1, 2]
    assert plan_slot(order, slot=0, num_slots=2) == SlotPlan(slot=0, num_slots=2, shards=(3, 4, 2), by_chunk=False)
    assert plan_slot(order, slot=1, num_slots=2).shards == (0, 1)
    assert plan_slot(order, slot=4, num_slots=5).shards == (2,)
    assert all(plan_slot(order, slot=1, num_slots=2).keeps(c) for c in range(10))


def test_fewer_shards_than_slots_split_by_global_chunk_counter():
    plan = plan_slot([2, 0, 1], slot=1, num_slots=4)
    assert plan == SlotPlan(slot=1, num_slots=4, shards=(2, 0, 1), by_chunk=True)
    assert [c for c in range(12) if plan.keeps(c)] == [1, 5, 9]


def test_plan_slot_refuses_a_slot_outside_the_range():
    with pytest.raises(ValueError, match="slot 4 is not in"):
        plan_slot([0, 1], slot=4, num_slots=4)


def simulate(order: list[int], chunks_per_shard: list[int], num_slots: int) -> list[tuple[int, int]]:
    """Every (shard, chunk) each slot keeps, reading as ShardStream does."""
    kept = []
    for slot in range(num_slots):
        plan = plan_slot(order, slot=slot, num_slots=num_slots)
        counter = 0
        for shard in plan.shards:
            for chunk in range(chunks_per_shard[shard]):
                if plan.keeps(counter):
                    kept.append((shard, chunk))
                counter += 1
    return kept


def test_every_chunk_goes_to_exactly_one_slot():
    modes = set()
    for num_shards, num_slots in itertools.product(range(0, 8), range(1, 10)):
        chunks = [1 + (3 * s) % 4 for s in range(num_shards)]  # uneven shards: 1..4 chunks
        order = list(reversed(range(num_shards)))
        kept = simulate(order, chunks, num_slots)
        assert sorted(kept) == [(s, c) for s in range(num_shards) for c in range(chunks[s])], (num_shards, num_slots)
        modes.add(plan_slot(order, slot=0, num_slots=num_slots).by_chunk)
    assert modes == {True, False}  # both ways of splitting were exercised


def test_shards_works_without_torch(tmp_path):
    # Beam workers use shards (writer, reader, storage, partition, shuffle) where torch is absent;
    # `None` in sys.modules makes `import torch` fail as if it were not installed.
    code = f"""
import sys
sys.modules["torch"] = None
import pyarrow as pa
import shards, shards.partition, shards.shuffle
from schemas import examples_schema
schema = examples_schema("mlm", 10)
with shards.ShardSetWriter({str(tmp_path)!r}, objective="mlm", seq_len=4, tokenizer={{}}, schema=schema) as w:
    w.write(pa.table({{"input_ids": [[1, 2]], "word_start": [[True, True]], "doc_id": ["d"]}}).cast(schema))
assert shards.read_shard(shards.expand_urls({str(tmp_path)!r})[0]).num_rows == 1
try:
    import shards.stream
except ImportError:
    sys.exit(0)
sys.exit(3)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
