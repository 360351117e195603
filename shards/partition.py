"""Which examples a (rank, DataLoader worker) reads: the split of an epoch's shards into slots.

There are `world_size * num_workers` slots; slot = rank * num_workers + worker. With at least
as many shards as slots, the epoch's shard order is dealt round-robin to the slots. With fewer,
every slot reads every shard and keeps the chunks whose global chunk counter (counted over the
epoch's shard order) is congruent to its slot. Either way each chunk goes to exactly one slot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SlotPlan:
    """What one slot reads in one epoch."""

    slot: int
    num_slots: int
    shards: tuple[int, ...]   # shard indices, in reading order
    by_chunk: bool            # True: keep only chunks whose global counter % num_slots == slot

    def keeps(self, chunk_counter: int) -> bool:
        """Whether the chunk with this global counter belongs to the slot."""
        return not self.by_chunk or chunk_counter % self.num_slots == self.slot


def slot_of(*, rank: int, world_size: int, worker: int, num_workers: int) -> tuple[int, int]:
    """(slot, num_slots) of a DataLoader worker on a rank; raises ValueError on impossible ids."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size}); "
                         f"pass rank/world_size that match torch.distributed")
    if num_workers < 1 or not 0 <= worker < num_workers:
        raise ValueError(f"worker {worker} is not in [0, num_workers={num_workers})")
    return rank * num_workers + worker, world_size * num_workers


def plan_slot(order: list[int], *, slot: int, num_slots: int) -> SlotPlan:
    """The shards (and chunk filter) of `slot` given the epoch's shard order."""
    if num_slots < 1 or not 0 <= slot < num_slots:
        raise ValueError(f"slot {slot} is not in [0, num_slots={num_slots})")
    if len(order) >= num_slots:
        return SlotPlan(slot=slot, num_slots=num_slots, shards=tuple(order[slot::num_slots]), by_chunk=False)
    return SlotPlan(slot=slot, num_slots=num_slots, shards=tuple(order), by_chunk=True)
