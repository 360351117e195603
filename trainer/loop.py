"""The training loop: stream → collate → objective.prepare (mask) → task → optimizer step.

One process per rank (`torchrun` sets RANK/WORLD_SIZE); without it, one process. A step is
one optimizer update over `grad_accum` micro-batches of `batch_size` examples per rank. The
loop knows no model and no objective: it logs every named part of the task's loss and every
metric its `summarize` returns, whatever they are called.

Resume restores weights, optimizer, scheduler, counters, every rank's RNG states and stream
state, so the losses after a resume equal those of the uninterrupted run (masks are keyed by
stream position, see trainer.masking; DataLoaders get explicit generators so creating one
does not consume global RNG).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader

from shards.batches import LENGTH_KEY, BatchStream, batch_loader
from shards.stream import POSITION_KEY, WORKER_KEY, ShardStream, StreamConfig
from trainer import checkpoint as ckpt
from trainer.config import TrainConfig, VocabInfo
from trainer.data import DataSource, collate
from trainer.hardware import autocast
from trainer.masking import BatchRandom, Masker, batch_seed, make_generator
from trainer.models.spec import ModelSpec
from trainer.objectives.base import Task
from trainer.runtime import Runtime, all_reduce_named, all_reduce_sum, barrier

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Counters:
    """Progress saved in every checkpoint (identical on every rank)."""

    step: int = 0
    examples: int = 0
    tokens: int = 0
    # padded positions included: 1 - tokens / positions is the padded fraction (a checkpoint from
    # before this count resumes with positions = tokens: its padding is unknown, counted as none)
    positions: int = 0
    elapsed_s: float = 0.0
    window: dict[str, list[float]] = field(default_factory=dict)  # name -> [sum, steps] since the last log line

    def to_state(self) -> dict[str, Any]:
        return {"step": self.step, "examples": self.examples, "tokens": self.tokens, "positions": self.positions,
                "elapsed_s": self.elapsed_s,
                "window": {k: list(v) for k, v in self.window.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Counters":
        return cls(step=int(state["step"]), examples=int(state["examples"]), tokens=int(state["tokens"]),
                   positions=int(state.get("positions", state["tokens"])), elapsed_s=float(state["elapsed_s"]),
                   window={k: [float(v[0]), float(v[1])] for k, v in state["window"].items()})


@dataclass(kw_only=True)
class Run:
    """Everything a training run holds while it runs."""

    config: TrainConfig
    spec: ModelSpec
    data: DataSource
    vocab: VocabInfo
    rt: Runtime
    task: Task  # owns the networks
    model: torch.nn.Module  # the task as trained (DDP-wrapped on several ranks)
    masker: Masker
    optimizer: torch.optim.Optimizer
    scheduler: Any
    max_grad_norm: float | None
    stream: ShardStream  # or shards.batches.BatchStream, trainer.sampling.LanguageSampler, trainer.alternate.AlternatingStream
    eval_urls: list[str]
    tokenizer: Any  # the shard set's tokenizer (transformers), exported with the model
    precision: str = "fp32"  # fp32 or bf16 (autocast around every forward pass): trainer.hardware


def make_loader(stream: ShardStream | BatchStream, *, batch_size: int, pad_id: int, num_workers: int, seed: int):
    """A DataLoader whose explicit generator keeps global RNG untouched (for exact resume); a
    BatchStream's batches come through as the stream built them (`shards.batches.batch_loader`)."""
    if isinstance(stream, BatchStream):
        return batch_loader(stream, num_workers=num_workers, generator=make_generator(seed))
    return DataLoader(stream, batch_size=batch_size, num_workers=num_workers,
                      collate_fn=partial(collate, pad_id=pad_id), generator=make_generator(seed),
                      persistent_workers=False)


def iterate_batches(run: Run) -> Iterator[tuple[int, dict]]:
    """(epoch, batch) forever, epoch after epoch, starting where the stream's state says."""
    cfg = run.config
    epoch = run.stream.epoch
    while True:
        run.stream.set_epoch(epoch)
        loader = make_loader(run.stream, batch_size=cfg.batch_size, pad_id=run.vocab.pad_id,
                             num_workers=cfg.num_workers,
                             seed=batch_seed(cfg.seed, epoch, run.rt.rank, 0, 0, "loader"))
        count = 0
        for batch in loader:
            count += 1
            yield epoch, batch
        if count == 0 and not run.stream.state_dict()["next_position"]:
            raise ValueError(f"rank {run.rt.rank} got no examples from {run.config.data} in epoch {epoch}; "
                             f"use fewer ranks or workers, or more shards")
        epoch += 1


STREAM_KEYS = (LENGTH_KEY, WORKER_KEY, POSITION_KEY)


def observe(stream: Any, batch: dict[str, Any]) -> None:
    """Hand a consumed batch's stream coordinates back to its stream."""
    if isinstance(stream, BatchStream):
        stream.observe(batch)
    else:
        stream.observe(batch[WORKER_KEY], batch[POSITION_KEY])


def prepare_batch(run: Run, batch: dict[str, torch.Tensor], *, epoch: int, purpose: str) -> dict[str, torch.Tensor]:
    """The objective's inputs for a collated batch, masked with its position-keyed generator, on the device.
    A BatchStream batch (it carries `_length`) was prepared in the DataLoader worker and only moves."""
    if LENGTH_KEY in batch:
        return {k: v.to(run.rt.device, non_blocking=True) for k, v in batch.items() if k not in STREAM_KEYS}
    run.spec.objective.check_batch(batch)
    seed = batch_seed(run.config.seed, epoch, run.rt.rank, int(batch["_worker"][0]),
                      int(batch["_position"][0]), purpose)
    inputs = run.spec.objective.prepare(batch, run.masker, BatchRandom(seed))
    return {k: v.to(run.rt.device, non_blocking=True) for k, v in inputs.items()}


def _reduce(values: dict[str, float], rt: Runtime) -> dict[str, float]:
    """Sum named values over ranks (every rank holds the same names)."""
    names = sorted(values)
    summed = all_reduce_sum(torch.tensor([values[n] for n in names], dtype=torch.float64), rt)
    return {n: float(v) for n, v in zip(names, summed)}


def train_step(run: Run, batches: Iterator[tuple[int, dict]]) -> dict[str, Any]:
    """One optimizer update over grad_accum micro-batches; returns rank-averaged loss parts and counts."""
    cfg = run.config
    run.model.train()
    run.optimizer.zero_grad(set_to_none=True)
    losses: dict[str, float] = {}
    examples = tokens = positions = 0
    epoch = 0
    for micro in range(cfg.grad_accum):
        epoch, batch = next(batches)
        observe(run.stream, batch)
        inputs = prepare_batch(run, batch, epoch=epoch, purpose="train")
        sync = micro == cfg.grad_accum - 1 or run.rt.world_size == 1
        with contextlib.nullcontext() if sync else run.model.no_sync():
            with autocast(run.precision, run.rt.device):
                out = run.model(inputs)
            (out.loss / cfg.grad_accum).backward()
        for name, value in {"loss": out.loss, **out.parts}.items():
            losses[name] = losses.get(name, 0.0) + float(value.detach()) / cfg.grad_accum
        examples += batch["input_ids"].shape[0]
        tokens += int(batch["attention_mask"].sum())
        positions += batch["attention_mask"].numel()
    if run.max_grad_norm:
        torch.nn.utils.clip_grad_norm_([p for _, p in run.task.trainable_parameters()], run.max_grad_norm)
    lr = run.scheduler.get_last_lr()[0]
    run.optimizer.step()
    run.scheduler.step()
    summed = _reduce({**losses, "\0examples": examples, "\0tokens": tokens, "\0positions": positions}, run.rt)
    values: dict[str, Any] = {name: summed[name] / run.rt.world_size for name in losses}  # "loss" first
    return {"losses": values, "lr": lr, "epoch": epoch, "examples": int(summed["\0examples"]),
            "tokens": int(summed["\0tokens"]), "positions": int(summed["\0positions"])}


@torch.no_grad()
def evaluate(run: Run) -> dict[str, Any]:
    """Every loss part and every metric of the task on the first eval_batches batches of the held-out shards.

    Same examples (no shuffling) and same masks (seed fixed by --seed, epoch 0) every time, so
    evaluations of one run are comparable. Loss parts are means over batches; metrics come from
    counts summed over batches and ranks.
    """
    cfg = run.config
    stream = ShardStream(run.eval_urls, StreamConfig(seed=cfg.seed, shuffle_shards=False, shuffle_buffer=0),
                         rank=run.rt.rank, world_size=run.rt.world_size, storage_options=cfg.storage_options)
    loader = make_loader(stream, batch_size=cfg.batch_size, pad_id=run.vocab.pad_id, num_workers=0,
                         seed=batch_seed(cfg.seed, 0, run.rt.rank, 0, 0, "eval-loader"))
    run.task.eval()
    sums: dict[str, torch.Tensor] = {}  # "loss/<part>", "count/<name>", "n/batches", "n/examples"

    def add(name: str, value: torch.Tensor) -> None:
        value = value.detach().double().cpu()
        sums[name] = sums[name] + value if name in sums else value.clone()

    for _, batch in zip(range(cfg.eval_batches), loader):
        inputs = prepare_batch(run, batch, epoch=0, purpose="eval")
        with autocast(run.precision, run.rt.device):
            out = run.task(inputs, with_counts=True)
        for name, value in {"loss": out.loss, **out.parts}.items():
            add(f"loss/{name}", value)
        for name, value in out.counts.items():
            add(f"count/{name}", value)
        add("n/batches", torch.tensor(1.0))
        add("n/examples", torch.tensor(float(batch["input_ids"].shape[0])))
    run.task.train()
    sums = all_reduce_named(sums, run.rt)  # a rank without eval batches still takes part
    batches = float(sums.get("n/batches", 0.0))
    result = {f"eval_{name[5:]}": float(v) / max(batches, 1.0) for name, v in sums.items() if name.startswith("loss/")}
    counts = {name[6:]: v for name, v in sums.items() if name.startswith("count/")}
    if counts:
        result.update({f"eval_{name}": value for name, value in run.task.summarize(counts).items()})
    result["eval_examples"] = int(sums.get("n/examples", 0.0))
    return result


def rng_state(rt: Runtime) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if rt.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(rt.device)
    return state


def set_rng_state(state: dict[str, Any], rt: Runtime) -> None:
    torch.set_rng_state(state["torch"])
    if rt.device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], rt.device)


def save_checkpoint(run: Run, counters: Counters) -> None:
    """All ranks write their RNG and stream state; rank 0 the shared state, then commits."""
    output = run.config.output
    if run.rt.is_main:
        ckpt.begin(output, counters.step)
    barrier(run.rt)
    tmp = ckpt.temp_dir(output, counters.step)
    ckpt.write_rank_state(tmp, run.rt.rank, {"rng": rng_state(run.rt), "stream": run.stream.state_dict()})
    barrier(run.rt)
    if run.rt.is_main:
        networks = {name: net.config.to_dict() for name, net in run.task.exports().items()}
        ckpt.write_shared_state(tmp, weights=run.task.checkpoint_state(), optimizer_state=run.optimizer.state_dict(),
                                scheduler_state=run.scheduler.state_dict(), trainer_state=counters.to_state(),
                                config={"train": run.config.to_json(), "model": networks, "spec": run.spec.name})
        ckpt.commit(output, counters.step)
    barrier(run.rt)


# What decides the stream, the batches and their masks: a resume must not change it.
RESUME_KEYS = ("model", "size", "data", "seed", "batch_size", "grad_accum", "shuffle_buffer", "num_workers",
               "masking", "mask_prob", "max_predictions", "teacher", "lang_alpha",
               "more_data")


def restore_checkpoint(run: Run, folder) -> Counters:
    """Load a checkpoint into the run (weights, optimizer, scheduler, RNG, stream)."""
    state = ckpt.load_checkpoint(folder, run.rt.rank)
    saved = state["config"]["train"]
    for key in RESUME_KEYS:
        if saved.get(key) != getattr(run.config, key):
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"{folder} was trained with {flag} {saved.get(key)} but this run asks for "
                             f"{getattr(run.config, key)}; use the same {flag} or a new --output")
    if saved["max_steps"] != run.config.max_steps:
        log.warning("resuming a %d-step run with --max-steps %d: the lr schedule changes from here",
                    saved["max_steps"], run.config.max_steps)
    run.task.load_checkpoint_state(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.stream.load_state_dict(state["rank"]["stream"])
    set_rng_state(state["rank"]["rng"], run.rt)
    log.info("resumed from %s", folder)
    return Counters.from_state(state["trainer"])


__all__ = ["Counters", "RESUME_KEYS", "Run", "evaluate", "iterate_batches", "make_loader", "prepare_batch",
           "restore_checkpoint", "save_checkpoint", "train_step"]
