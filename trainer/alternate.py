"""Several shard sets, one batch from each in turn (XLM's trainer runs its `--clm_steps` and
`--mlm_steps` one after the other, each an update of its own; facebookresearch/XLM train.py).

`AlternatingStream` yields `batch_size` examples of shard set 0, then `batch_size` of set 1, ...,
round and round, so every batch comes from one set and carries its index as `_source` (the
objective `trainer.models.for_shard_sets` builds dispatches on it). Each set's stream runs its own
epochs (a set that ends starts its next one). Items carry `_worker` 0 and `_position` = their
index in the alternation; `observe` hands each set's own coordinates back to that set's stream.
State for an exact resume: examples consumed and each set's stream state. Runs in the training
process (`--num-workers 0`).
"""

from __future__ import annotations

from typing import Any, Iterator

from torch.utils.data import IterableDataset

from shards.stream import POSITION_KEY, WORKER_KEY

SOURCE_KEY = "_source"


class AlternatingStream(IterableDataset):
    def __init__(self, streams: list[Any], batch_size: int):
        super().__init__()
        self.streams, self.batch_size = streams, batch_size
        self.consumed = 0
        self.epoch = 0
        self._pending: dict[int, tuple[int, int, int]] = {}

    def source_of(self, index: int) -> int:
        return (index // self.batch_size) % len(self.streams)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @staticmethod
    def _forever(stream) -> Iterator[dict[str, Any]]:
        while True:
            found = False
            for example in stream:
                found = True
                yield example
            if not found and not stream.state_dict()["next_position"]:
                raise ValueError("a shard set given as --data yielded no examples; use fewer ranks or more shards")
            stream.set_epoch(stream.epoch + 1)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._pending = {}
        sources = [self._forever(s) for s in self.streams]
        index = self.consumed
        while True:
            source = self.source_of(index)
            example = dict(next(sources[source]))
            self._pending[index] = (source, int(example[WORKER_KEY]), int(example[POSITION_KEY]))
            example[WORKER_KEY], example[POSITION_KEY], example[SOURCE_KEY] = 0, index, source
            yield example
            index += 1

    def observe(self, workers, positions) -> None:
        indices = sorted(int(p) for p in positions)
        for index in indices:
            source, worker, position = self._pending.pop(index)
            self.streams[source].observe([worker], [position])
        if indices:
            self.consumed = max(self.consumed, indices[-1] + 1)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "consumed": self.consumed, "next_position": {"0": self.consumed},
                "sources": [s.state_dict() for s in self.streams]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state.get("sources", [])) != len(self.streams):
            raise ValueError("the checkpoint's stream alternated another number of shard sets; resume with the "
                             "--data the run was started with")
        self.epoch, self.consumed = int(state["epoch"]), int(state["consumed"])
        for stream, saved in zip(self.streams, state["sources"]):
            stream.load_state_dict(saved)


__all__ = ["AlternatingStream", "SOURCE_KEY"]
