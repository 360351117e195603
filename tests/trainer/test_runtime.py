"""Reductions over ranks with the gloo backend in two processes: named sums survive a rank that holds
no value (a rank without evaluation batches)."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from trainer.runtime import Runtime, all_reduce_named


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        rt = Runtime(rank=rank, world_size=2, local_rank=rank, device=torch.device("cpu"))
        mine = ({"loss/mlm": torch.tensor(2.0), "count/hist": torch.tensor([1.0, 0.0, 3.0])} if rank == 0 else
                {} if rank == 1 else None)
        results[rank] = {k: v.tolist() for k, v in all_reduce_named(mine, rt).items()}
        both = all_reduce_named({"a": torch.tensor(float(rank + 1)), "b": torch.ones(2) * rank}, rt)
        results[10 + rank] = {k: v.tolist() for k, v in both.items()}
        results[20 + rank] = all_reduce_named({}, rt)
    finally:
        dist.destroy_process_group()


def test_named_sums_over_two_ranks_when_one_has_nothing():
    results = mp.Manager().dict()
    mp.start_processes(_rank, args=(_free_port(), results), nprocs=2, start_method="fork")
    expected = {"loss/mlm": 2.0, "count/hist": [1.0, 0.0, 3.0]}
    assert results[0] == results[1] == expected
    assert list(results[1]) == ["loss/mlm", "count/hist"]  # rank 0's order on every rank
    assert results[10] == results[11] == {"a": 3.0, "b": [1.0, 1.0]}
    assert results[20] == results[21] == {}
