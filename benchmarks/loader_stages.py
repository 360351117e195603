"""Where the loader's CPU goes: CPU time per batch by stage for the `BatchStream` row of
benchmarks/loader.py (masking on), at one or more batch sizes.

    .venv/bin/python benchmarks/loader_stages.py --work /tmp/bench-loader [--batch-size 256 ...] [--rounds 3]
        [--masking compiled --masking numpy]

Reads the shard set that `benchmarks/loader.py --work WORK` prepared (run that first), with the
same stream, transform and masking as its `BatchStream` row, every example once per round, and
times each stage with the thread's CPU clock (`time.thread_time_ns`; torch on one thread, no
DataLoader workers). With `--masking compiled --masking numpy` both paths of `Masker`'s token
masking are measured, taking turns in each round. Prints, per batch size and path, microseconds
of CPU per batch for each stage (the round with the least CPU in all), the rest (the loop, the
batch dicts, the benchmark's own consumer) and the total. With several batch sizes it also fits total = fixed + per example x
batch size: the part that a larger batch does not amortise.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

# Run as a script, this file's folder comes first on sys.path, where benchmarks/trainer.py would
# shadow the trainer package: take the folder off, put the checkout first.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402

import shards.batches  # noqa: E402
import shards.stream  # noqa: E402
from shards.columns import ColumnStore  # noqa: E402
from shards.shuffle import IndexShuffle  # noqa: E402
from trainer.config import VocabInfo  # noqa: E402
from trainer.masking import Masker, MaskingConfig  # noqa: E402

STAGES = ("chunks: tar members", "chunks: Arrow decode", "slots: put", "slots: shuffle", "batch: gather",
          "batch: attention, token types", "batch: masking")


def loader_benchmark():
    """benchmarks/loader.py as a module (its folder is not a package)."""
    spec = importlib.util.spec_from_file_location("loader_benchmark", ROOT / "benchmarks" / "loader.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class Clock:
    """CPU nanoseconds by stage, gathered by wrapping the stages' functions."""

    def __init__(self):
        self.ns: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.thread_time_ns()
            try:
                return inner(*args, **kwargs)
            finally:
                self.ns[stage] += time.thread_time_ns() - start
        setattr(owner, name, timed)

    def wrap_generator(self, owner: Any, name: str, stage: str) -> None:
        """Time each step of a generator function (its work happens in next(), not in the call)."""
        inner = getattr(owner, name)

        def timed(*args, **kwargs):
            steps = inner(*args, **kwargs)
            while True:
                start = time.thread_time_ns()
                try:
                    item = next(steps)
                except StopIteration:
                    return
                finally:
                    self.ns[stage] += time.thread_time_ns() - start
                yield item
        setattr(owner, name, timed)


def instrument(clock: Clock, bench) -> None:
    clock.wrap_generator(shards.stream, "iter_members", "chunks: tar members")
    clock.wrap(shards.stream, "_decode", "chunks: Arrow decode")
    clock.wrap(ColumnStore, "put", "slots: put")
    clock.wrap(IndexShuffle, "add", "slots: shuffle")
    clock.wrap(ColumnStore, "gather", "batch: gather")
    clock.wrap(bench.MaskTransform, "__call__", "transform")  # masking and the rest of the transform
    clock.wrap(Masker, "__call__", "batch: masking")


def stages(bench, clock: Clock, prep: dict, batch_size: int, rounds: int, paths: list[str]) -> dict[str, dict]:
    """Microseconds of CPU per batch by stage for each masking path ("compiled", "numpy"), from
    each path's round with the least CPU; the paths take turns within each round."""
    vocab = VocabInfo(vocab_size=prep["vocab_size"], special_ids=prep["special_ids"])
    makes: dict[str, Callable] = {}
    for path in paths:
        masker = Masker(vocab, MaskingConfig(), compiled=path == "compiled")
        makes[path] = bench.loaders(prep, batch_size, 0, masker)["BatchStream"]
        for _ in makes[path]():  # first-use costs out
            pass
    best: dict[str, dict] = {}
    for _ in range(rounds):
        for path, make in makes.items():
            clock.ns.clear()
            start = time.thread_time_ns()
            result = bench.measure(make)
            total = time.thread_time_ns() - start
            if path not in best or total < best[path]["total"]:
                best[path] = {**clock.ns, "total": total, "examples": result["examples"]}
    out: dict[str, dict] = {}
    for path, least in best.items():
        batches = -(-least["examples"] // batch_size)
        row = {stage: least.get(stage, 0) / batches / 1e3 for stage in STAGES}
        row["batch: attention, token types"] = (least.get("transform", 0) - least.get("batch: masking", 0)) / batches / 1e3
        row["total"] = least["total"] / batches / 1e3
        row["rest"] = row["total"] - sum(row[s] for s in STAGES)
        row["examples/s"] = least["examples"] / least["total"] * 1e9
        out[path] = row
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, type=Path, help="the --work folder of benchmarks/loader.py")
    parser.add_argument("--batch-size", type=int, action="append", help="repeat for several (default: 256)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--masking", choices=("compiled", "numpy"), action="append",
                        help="Masker's token path, repeat for both side by side (default: compiled)")
    args = parser.parse_args(argv)
    prepared = args.work / "prepared.json"
    if not prepared.exists():
        raise SystemExit(f"{prepared} is absent: run benchmarks/loader.py --work {args.work} first")
    torch.set_num_threads(1)
    bench = loader_benchmark()
    clock = Clock()
    instrument(clock, bench)
    sizes, paths = args.batch_size or [256], args.masking or ["compiled"]
    columns = [(size, path) for size in sizes for path in paths]
    results = {}
    for size in sizes:
        for path, row in stages(bench, clock, json.loads(prepared.read_text()), size, args.rounds, paths).items():
            results[size, path] = row
    print("| stage (us of CPU per batch) | " + " | ".join(f"batch {s}, {p}" for s, p in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for stage in (*STAGES, "rest", "total", "examples/s"):
        print(f"| {stage} | " + " | ".join(f"{results[c][stage]:,.0f}" for c in columns) + " |")
    if len(sizes) > 1:
        x = np.array(sizes, dtype=float)
        for path in paths:
            per_example, fixed = np.polyfit(x, [results[s, path]["total"] for s in sizes], 1)
            print(f"\n{path} masking, per batch: {fixed:,.0f} us fixed + {per_example * 1e3:,.0f} ns per example")
    return results


if __name__ == "__main__":
    main()
