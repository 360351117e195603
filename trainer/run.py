"""One training run end to end: validate, build, (resume,) train, evaluate, checkpoint, export."""

from __future__ import annotations

import gc
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from trainer import checkpoint as ckpt
from trainer import runtime
from trainer.config import TrainConfig
from trainer.data import DataSource, default_eval_urls, resolve_data
from trainer.export import export_hf, load_tokenizer
from trainer.loop import Counters, Run, build_training, evaluate, iterate_batches, restore_checkpoint, \
    save_checkpoint, train_step
from trainer.masking import batch_seed
from trainer.models import build_model, check_shards, get_model_spec

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    summary: dict[str, Any]
    model: torch.nn.Module  # the trained transformers model (unwrapped), in eval mode


class MetricsLog:
    """`DIR/metrics.jsonl`, one JSON object per line; only rank 0 writes.

    A fresh run starts the file empty; a resumed run keeps the lines up to the checkpoint's
    step and drops later ones (written by the interrupted run after its last checkpoint).
    """

    def __init__(self, path: Path, *, enabled: bool, keep_until: int | None):
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if keep_until is not None and path.exists():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= keep_until]
        path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(record, sort_keys=False) + "\n")


def eval_urls_for(config: TrainConfig, data: DataSource) -> list[str]:
    """--eval-data (its valid split if it has one, else all its shards), or --data's valid split."""
    if config.eval_data is None:
        return default_eval_urls(data)
    held_out = resolve_data(config.eval_data, config.storage_options, split=None)
    if held_out.manifest["objective"] != data.manifest["objective"]:
        raise ValueError(f"--eval-data {config.eval_data} holds {held_out.manifest['objective']} shards but "
                         f"--data holds {data.manifest['objective']}; evaluate on shards of the same objective")
    return default_eval_urls(held_out) or held_out.urls


def setup(config: TrainConfig) -> Run:
    """Validate the data against the model (before any work), then build model, optimizer, stream."""
    spec = get_model_spec(config.model)
    data = resolve_data(config.data, config.storage_options)
    vocab = check_shards(spec, config.size, data.manifest, config.data)
    # Loaded (and its sha256 checked) now, so a missing or changed tokenizer fails before training.
    tokenizer = load_tokenizer(data.manifest["tokenizer"], data.folder, config.storage_options)
    eval_urls = eval_urls_for(config, data)
    if not eval_urls:
        log.warning("no held-out shards (--data has no valid split and no --eval-data): skipping evaluation")
    rt = runtime.start(config.device)
    torch.manual_seed(config.seed)  # initial weights: the same on every rank
    raw = build_model(spec, config.size, vocab, int(data.manifest["seq_len"])).to(rt.device)
    torch.manual_seed(batch_seed(config.seed, 0, rt.rank, 0, 0, "dropout"))  # dropout: per rank
    model = raw
    if rt.world_size > 1:
        model = DistributedDataParallel(raw, device_ids=[rt.local_rank] if rt.device.type == "cuda" else None)
    return build_training(dict(config=config, spec=spec, data=data, vocab=vocab, rt=rt, model=model,
                               raw_model=raw, eval_urls=eval_urls, tokenizer=tokenizer))


def start_counters(run: Run) -> tuple[Counters, bool]:
    """Counters of a fresh run, or of the latest complete checkpoint under --resume."""
    found = ckpt.latest_checkpoint(run.config.output)
    if not run.config.resume:
        if found is not None:
            raise ValueError(f"{run.config.output} already holds checkpoints ({found.name}); pass --resume "
                             f"to continue that run or choose a new --output")
        return Counters(), False
    if found is None:
        log.warning("--resume but %s holds no complete checkpoint: starting from step 0", run.config.output)
        return Counters(), False
    return restore_checkpoint(run, found), True


def log_line(counters: Counters, values: dict[str, Any]) -> dict[str, Any]:
    steps = max(counters.window_steps, 1)
    record: dict[str, Any] = {"step": counters.step, "epoch": values["epoch"]}
    record.update({k: v / steps for k, v in counters.window.items()})
    record.update(lr=values["lr"], examples=counters.examples, tokens=counters.tokens,
                  elapsed_s=round(counters.elapsed_s, 3))
    counters.window, counters.window_steps = {}, 0
    return record


def account(counters: Counters, values: dict[str, Any]) -> None:
    counters.step += 1
    counters.examples += values["examples"]
    counters.tokens += values["tokens"]
    for key in ("loss", "mlm_loss", "nsp_loss"):
        if key in values:
            counters.window[key] = counters.window.get(key, 0.0) + values[key]
    counters.window_steps += 1


def train_steps(run: Run, counters: Counters, metrics: MetricsLog) -> dict[str, Any]:
    """Step until max_steps: log, evaluate and checkpoint on their intervals."""
    cfg = run.config
    started, base_elapsed = time.monotonic(), counters.elapsed_s
    losses: list[float] = []
    last_eval, eval_step = None, None
    batches = iterate_batches(run)
    try:
        while counters.step < cfg.max_steps:
            values = train_step(run, batches)
            account(counters, values)
            losses.append(values["loss"])
            counters.elapsed_s = base_elapsed + time.monotonic() - started
            if counters.step % cfg.log_every == 0 or counters.step == cfg.max_steps:
                record = log_line(counters, values)
                metrics.write(record)
                log.info("step %d loss %.4f lr %.2e", record["step"], record["loss"], record["lr"])
            if run.eval_urls and cfg.eval_every and counters.step % cfg.eval_every == 0:
                last_eval, eval_step = run_eval(run, counters, metrics), counters.step
            if counters.step % cfg.checkpoint_interval == 0 or counters.step == cfg.max_steps:
                save_checkpoint(run, counters)
    finally:
        batches.close()
    if run.eval_urls and eval_step != counters.step:
        last_eval = run_eval(run, counters, metrics)
    return {"first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "eval": last_eval}


def run_eval(run: Run, counters: Counters, metrics: MetricsLog) -> dict[str, Any]:
    record = {"step": counters.step, **evaluate(run)}
    metrics.write(record)
    log.info("step %d eval_loss %.4f eval_mlm_accuracy %.4f", counters.step, record["eval_loss"],
             record["eval_mlm_accuracy"])
    return record


def train(config: TrainConfig) -> TrainResult:
    """Run (or resume) training to --max-steps and export `DIR/hf`; returns the summary and model."""
    run = setup(config)
    try:
        counters, resumed = start_counters(run)
        metrics = MetricsLog(Path(config.output) / "metrics.jsonl", enabled=run.rt.is_main,
                             keep_until=counters.step if resumed else None)
        outcome = train_steps(run, counters, metrics)
        hf_dir = Path(config.output) / "hf"
        if run.rt.is_main:
            export_hf(run.raw_model, run.tokenizer, hf_dir, seq_len=int(run.data.manifest["seq_len"]))
        runtime.barrier(run.rt)
    finally:
        # The DDP wrapper's reducer works through the process group: free it while the group
        # exists. Freed later (when this frame ends), it blocked a rank forever at exit, seen
        # as a torchrun run that finished but never returned (faulthandler stack in cli.main).
        run.model = run.raw_model
        gc.collect()
        runtime.stop(run.rt)
    run.raw_model.eval()
    summary = {"steps": counters.step, **outcome, "hf_dir": str(hf_dir), "metrics": str(metrics.path)}
    return TrainResult(summary=summary, model=run.raw_model)


__all__ = ["MetricsLog", "TrainResult", "setup", "train"]
