"""The training loop: stream → collate → mask → model → AdamW step; checkpoints, eval, export.

One process per rank (`torchrun` sets RANK/WORLD_SIZE); without it, one process. A step is
one optimizer update over `grad_accum` micro-batches of `batch_size` examples per rank.
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

from shards.stream import ShardStream, StreamConfig
from trainer import checkpoint as ckpt
from trainer.config import ModelSpec, TrainConfig, VocabInfo
from trainer.data import DataSource, collate
from trainer.masking import batch_seed, make_generator, mask_tokens
from trainer.runtime import Runtime, all_reduce_sum, barrier
from trainer.schedule import build_optimizer, build_scheduler

log = logging.getLogger(__name__)

# Clip the global gradient norm at 1.0 (BERT's optimization.py: clip_by_global_norm(grads, 1.0)).
MAX_GRAD_NORM = 1.0
LOSS_KEYS = ("loss", "mlm_loss", "nsp_loss")


@dataclass(kw_only=True)
class Counters:
    """Progress saved in every checkpoint (identical on every rank)."""

    step: int = 0
    examples: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    window: dict[str, float] = field(default_factory=dict)  # loss sums since the last log line
    window_steps: int = 0

    def to_state(self) -> dict[str, Any]:
        return {"step": self.step, "examples": self.examples, "tokens": self.tokens,
                "elapsed_s": self.elapsed_s, "window": dict(self.window), "window_steps": self.window_steps}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Counters":
        return cls(step=int(state["step"]), examples=int(state["examples"]), tokens=int(state["tokens"]),
                   elapsed_s=float(state["elapsed_s"]), window={k: float(v) for k, v in state["window"].items()},
                   window_steps=int(state["window_steps"]))


@dataclass(kw_only=True)
class Run:
    """Everything a training run holds while it runs."""

    config: TrainConfig
    spec: ModelSpec
    data: DataSource
    vocab: VocabInfo
    rt: Runtime
    model: torch.nn.Module  # the model as trained (DDP-wrapped on several ranks)
    raw_model: torch.nn.Module  # the transformers model itself
    optimizer: torch.optim.Optimizer
    scheduler: Any
    stream: ShardStream
    eval_urls: list[str]
    tokenizer: Any  # the shard set's tokenizer (transformers), exported with the model


def build_training(run_args: dict[str, Any]) -> Run:
    """Optimizer, scheduler and training stream around a built model."""
    config: TrainConfig = run_args["config"]
    raw = run_args["raw_model"]
    optimizer = build_optimizer(raw, lr=config.peak_lr, weight_decay=config.weight_decay)
    scheduler = build_scheduler(optimizer, warmup_steps=config.num_warmup_steps, max_steps=config.max_steps)
    rt: Runtime = run_args["rt"]
    stream = ShardStream(run_args["data"].urls,
                         StreamConfig(seed=config.seed, shuffle_buffer=config.shuffle_buffer),
                         rank=rt.rank, world_size=rt.world_size, storage_options=config.storage_options)
    return Run(optimizer=optimizer, scheduler=scheduler, stream=stream, **run_args)


def make_loader(stream: ShardStream, *, batch_size: int, pad_id: int, num_workers: int, seed: int) -> DataLoader:
    """A DataLoader whose explicit generator keeps global RNG untouched (for exact resume)."""
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


def prepare_batch(run: Run, batch: dict[str, torch.Tensor], *, epoch: int, purpose: str) -> dict[str, torch.Tensor]:
    """Mask a collated batch with its position-keyed generator and move it to the device."""
    seed = batch_seed(run.config.seed, epoch, run.rt.rank, int(batch["_worker"][0]),
                      int(batch["_position"][0]), purpose)
    masked, labels = mask_tokens(batch["input_ids"], batch["attention_mask"],
                                 special_ids=run.vocab.special_ids.values(), vocab_size=run.vocab.vocab_size,
                                 mask_id=run.vocab.mask_id, config=run.config.masking,
                                 generator=make_generator(seed))
    out = {"input_ids": masked, "attention_mask": batch["attention_mask"], "labels": labels}
    if run.spec.uses_token_types:
        out["token_type_ids"] = batch["token_type_ids"]
    if "next_sentence_label" in batch:
        out["next_sentence_label"] = batch["next_sentence_label"]
    return {k: v.to(run.rt.device, non_blocking=True) for k, v in out.items()}


def forward(model: torch.nn.Module, spec: ModelSpec, inputs: dict[str, torch.Tensor]):
    model_inputs = {k: inputs[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in inputs}
    outputs = model(**model_inputs)
    return outputs, spec.losses(outputs, inputs)


def train_step(run: Run, batches: Iterator[tuple[int, dict]]) -> dict[str, float]:
    """One optimizer update over grad_accum micro-batches; returns rank-averaged step values."""
    cfg = run.config
    run.model.train()
    run.optimizer.zero_grad(set_to_none=True)
    sums = torch.zeros(len(LOSS_KEYS) + 2, dtype=torch.float64)  # losses..., examples, tokens
    epoch, present = 0, set()
    for micro in range(cfg.grad_accum):
        epoch, batch = next(batches)
        run.stream.observe(batch["_worker"], batch["_position"])
        inputs = prepare_batch(run, batch, epoch=epoch, purpose="train")
        sync = micro == cfg.grad_accum - 1 or run.rt.world_size == 1
        with contextlib.nullcontext() if sync else run.model.no_sync():
            _, losses = forward(run.model, run.spec, inputs)
            (losses["loss"] / cfg.grad_accum).backward()
        present.update(losses)
        for i, key in enumerate(LOSS_KEYS):
            if key in losses:
                sums[i] += float(losses[key].detach()) / cfg.grad_accum
        sums[-2] += batch["input_ids"].shape[0]
        sums[-1] += int(batch["attention_mask"].sum())
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), MAX_GRAD_NORM)
    lr = run.scheduler.get_last_lr()[0]
    run.optimizer.step()
    run.scheduler.step()
    sums = all_reduce_sum(sums, run.rt)
    values: dict[str, Any] = {key: float(sums[i]) / run.rt.world_size
                              for i, key in enumerate(LOSS_KEYS) if key in present}
    values.update(lr=lr, epoch=epoch, examples=int(sums[-2]), tokens=int(sums[-1]))
    return values


@torch.no_grad()
def evaluate(run: Run) -> dict[str, Any]:
    """Loss and MLM accuracy on the first eval_batches batches of the held-out shards.

    Same examples (no shuffling) and same masks (seed fixed by --seed, epoch 0) every time, so
    evaluations of one run are comparable.
    """
    cfg = run.config
    stream = ShardStream(run.eval_urls, StreamConfig(seed=cfg.seed, shuffle_shards=False, shuffle_buffer=0),
                         rank=run.rt.rank, world_size=run.rt.world_size, storage_options=cfg.storage_options)
    loader = make_loader(stream, batch_size=cfg.batch_size, pad_id=run.vocab.pad_id, num_workers=0,
                         seed=batch_seed(cfg.seed, 0, run.rt.rank, 0, 0, "eval-loader"))
    run.raw_model.eval()
    sums = torch.zeros(len(LOSS_KEYS) + 4, dtype=torch.float64)  # losses..., batches, correct, masked, examples
    present = set()
    for _, batch in zip(range(cfg.eval_batches), loader):
        inputs = prepare_batch(run, batch, epoch=0, purpose="eval")
        outputs, losses = forward(run.raw_model, run.spec, inputs)
        present.update(losses)
        for i, key in enumerate(LOSS_KEYS):
            if key in losses:
                sums[i] += float(losses[key])
        selected = inputs["labels"] != -100
        predicted = run.spec.mlm_logits(outputs).argmax(dim=-1)
        sums[-4] += 1
        sums[-3] += int((predicted[selected] == inputs["labels"][selected]).sum())
        sums[-2] += int(selected.sum())
        sums[-1] += batch["input_ids"].shape[0]
    run.raw_model.train()
    sums = all_reduce_sum(sums, run.rt)
    batches = max(float(sums[-4]), 1.0)
    result: dict[str, Any] = {"eval_loss": float(sums[0]) / batches}
    if "nsp_loss" in present:
        result.update(eval_mlm_loss=float(sums[1]) / batches, eval_nsp_loss=float(sums[2]) / batches)
    result.update(eval_mlm_accuracy=float(sums[-3]) / max(float(sums[-2]), 1.0), eval_examples=int(sums[-1]))
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
        ckpt.write_shared_state(tmp, model=run.raw_model, optimizer_state=run.optimizer.state_dict(),
                                scheduler_state=run.scheduler.state_dict(), trainer_state=counters.to_state(),
                                config={"train": run.config.to_json(), "model": run.raw_model.config.to_dict(),
                                        "spec": run.spec.name})
        ckpt.commit(output, counters.step)
    barrier(run.rt)


def restore_checkpoint(run: Run, folder) -> Counters:
    """Load a checkpoint into the run (weights, optimizer, scheduler, RNG, stream)."""
    state = ckpt.load_checkpoint(folder, run.rt.rank)
    saved = state["config"]["train"]
    # What decides the stream and the batches must match, or the resumed run is not exact.
    for key in ("model", "size", "data", "seed", "batch_size", "grad_accum", "shuffle_buffer", "num_workers"):
        if saved.get(key) != getattr(run.config, key):
            raise ValueError(f"{folder} was trained with --{key} {saved[key]} but this run asks for "
                             f"{getattr(run.config, key)}; use the same --{key} or a new --output")
    if saved["max_steps"] != run.config.max_steps:
        log.warning("resuming a %d-step run with --max-steps %d: the lr schedule changes from here",
                    saved["max_steps"], run.config.max_steps)
    run.raw_model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.stream.load_state_dict(state["rank"]["stream"])
    set_rng_state(state["rank"]["rng"], run.rt)
    log.info("resumed from %s", folder)
    return Counters.from_state(state["trainer"])


__all__ = ["Counters", "Run", "build_training", "evaluate", "iterate_batches", "make_loader", "prepare_batch",
           "restore_checkpoint", "save_checkpoint", "train_step"]
