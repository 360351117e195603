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
from shards.stream import ShardStream, StreamConfig
from trainer.config import MODEL_OPTIONS, TrainConfig, VocabInfo
from trainer.data import DataSource, PrepareInWorker, batch_stream, default_eval_urls, resolve_data
from trainer.export import export_task, load_tokenizer
from trainer.hardware import compile_model, enable_tf32, resolve_precision, use_sdpa
from trainer.initialize import load_exports
from trainer.loop import Counters, Run, evaluate, iterate_batches, restore_checkpoint, save_checkpoint, train_step
from trainer.masking import Masker, batch_seed, masking_config, run_masking
from trainer.alternate import AlternatingStream
from trainer.models import check_shards, for_shard_sets, for_shards, get_model_spec
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.base import Task
from trainer.progress import Progress
from trainer.sampling import LanguageSampler, language_counts, sampling_probabilities
from trainer.schedule import build_optimizer, build_scheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    summary: dict[str, Any]
    task: Task  # everything trained, in eval mode
    model: torch.nn.Module  # the task's main network, exported to DIR/hf


class MetricsLog:
    """`DIR/metrics.jsonl`, one JSON object per line; only rank 0 writes.

    A fresh run starts the file empty; a resumed run keeps the lines up to the checkpoint's
    step and drops later ones (written by the interrupted run after its last checkpoint).
    Where the `tensorboard` package is installed (the train extra), every number of a record is
    also a TensorBoard scalar (tag = its key) in event files beside metrics.jsonl; a resumed run
    purges the events after the checkpoint's step, as it drops those lines.
    """

    def __init__(self, path: Path, *, enabled: bool, keep_until: int | None):
        self.path, self.enabled, self.events = path, enabled, None
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if keep_until is not None and path.exists():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line)["step"] <= keep_until]
        path.write_text("".join(line + "\n" for line in kept))
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch's module needs the tensorboard package
            log.info("tensorboard is not installed: no event files beside %s", path)
        else:
            self.events = SummaryWriter(log_dir=str(path.parent),
                                        purge_step=None if keep_until is None else keep_until + 1)

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(record, sort_keys=False) + "\n")
        if self.events is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.events.add_scalar(key, value, record["step"])
            self.events.flush()  # a person watching sees each record as it is written

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
            self.events = None


def eval_urls_for(config: TrainConfig, data: DataSource) -> list[str]:
    """--eval-data (its valid split if it has one, else all its shards), or --data's valid split."""
    if config.eval_data is None:
        return default_eval_urls(data)
    held_out = resolve_data(config.eval_data, config.storage_options, split=None)
    if held_out.manifest["objective"] != data.manifest["objective"]:
        raise ValueError(f"--eval-data {config.eval_data} holds {held_out.manifest['objective']} shards but "
                         f"--data holds {data.manifest['objective']}; evaluate on shards of the same objective")
    return default_eval_urls(held_out) or held_out.urls


def language_alpha(config: TrainConfig, spec: ModelSpec, manifest: dict[str, Any], *,
                   strict: bool = True) -> float | None:
    """The run's language sampling exponent, or None to read the shards in their own proportions:
    the model's default (or --lang-alpha) when the shard set's examples each carry a language."""
    alpha = spec.lang_alpha if config.lang_alpha is None else config.lang_alpha
    per_example = manifest.get("languages") and manifest.get("objective") in ("mlm", "clm")
    if strict and config.lang_alpha is not None and not per_example:
        raise ValueError(f"--lang-alpha needs shards whose examples carry a language but {config.data} holds "
                         f"{manifest.get('objective')} shards without one; build them with shardlm build "
                         f"--objective mlm --per-language (or clm), or drop --lang-alpha")
    if alpha is not None and per_example and config.num_workers:
        raise ValueError(f"language sampling (--lang-alpha {alpha}) reads in the training process; "
                         f"use --num-workers 0")
    return alpha if per_example else None


def make_stream(config: TrainConfig, spec: ModelSpec, data: DataSource, rt, more: list[DataSource] = (),
                masker: Masker | None = None) -> Any:
    """The training stream: the shard set's examples shuffled, or languages drawn with q ∝ p^alpha;
    with several shard sets, one batch of each in turn (trainer.alternate). Given the masker, a
    plain shard set is read as whole batches masked in the DataLoader workers (BatchStream)."""
    if more:
        return AlternatingStream([make_stream(config, spec, d, rt) for d in [data, *more]], config.batch_size)
    stream_config = StreamConfig(seed=config.seed, shuffle_buffer=config.shuffle_buffer)
    alpha = language_alpha(config, spec, data.manifest, strict=not config.more_data)
    if alpha is None and masker is not None:
        prepare = PrepareInWorker(objective=spec.objective, masker=masker, seed=config.seed, purpose="train")
        return batch_stream(data.urls, stream_config, batch_size=config.batch_size, pad_id=masker.vocab.pad_id,
                            transform=prepare, rank=rt.rank, world_size=rt.world_size,
                            storage_options=config.storage_options, length_groups=config.length_groups)
    assert config.length_groups == 1, "setup refuses --length-groups without a BatchStream"
    if alpha is None:
        return ShardStream(data.urls, stream_config, rank=rt.rank, world_size=rt.world_size,
                           storage_options=config.storage_options)
    q = sampling_probabilities(language_counts(data.manifest), alpha)
    log.info("language sampling alpha %g: %s", alpha, " ".join(f"{code} {p:.3f}" for code, p in q.items()))
    return LanguageSampler(data.urls, stream_config, languages=data.manifest["languages"], q=q, rank=rt.rank,
                           world_size=rt.world_size, storage_options=config.storage_options)


@dataclass(frozen=True, kw_only=True)
class Networks:
    """What a step trains and how: the task on the device, the module the step calls (DDP, then
    torch.compile), the precision, and the optimizer, schedule and clipping of the model's recipe."""

    task: Task
    model: torch.nn.Module
    precision: str
    optimizer: torch.optim.Optimizer
    scheduler: Any
    max_grad_norm: float | None


def build_networks(config: TrainConfig, spec: ModelSpec, ctx: BuildContext, rt: runtime.Runtime) -> Networks:
    """The task with weights from torch's seeded RNG (the same on every rank), on the hardware
    path of trainer.hardware, with its optimizer; also what benchmarks/gpu.py trains."""
    precision = resolve_precision(config.precision, rt.device)  # bf16 on a GPU without it fails before the build
    torch.manual_seed(config.seed)  # initial weights: the same on every rank
    task = spec.build_task(ctx).to(rt.device)
    log.info("precision %s, TF32 matmuls %s, attention %s%s", precision, "on" if enable_tf32(rt.device) else "off",
             " ".join(f"{name or 'task'}:{impl}" for name, impl in use_sdpa(task).items()),
             ", torch.compile" if config.compile else "")
    torch.manual_seed(batch_seed(config.seed, 0, rt.rank, 0, 0, "dropout"))  # dropout: per rank
    model = task
    if rt.world_size > 1:
        model = DistributedDataParallel(task, device_ids=[rt.local_rank] if rt.device.type == "cuda" else None)
    if config.compile:  # checkpoints and exports read `task`, never the compiled wrapper
        model = compile_model(model)
    recipe = spec.recipe
    lr = ctx.size.lr if config.lr is None else config.lr
    optimizer = build_optimizer(task.trainable_parameters(), recipe=recipe, lr=lr,
                                weight_decay=recipe.weight_decay if config.weight_decay is None else config.weight_decay)
    scheduler = build_scheduler(optimizer, warmup_steps=config.num_warmup_steps, max_steps=config.max_steps)
    clip = recipe.max_grad_norm if config.max_grad_norm is None else config.max_grad_norm
    return Networks(task=task, model=model, precision=precision, optimizer=optimizer, scheduler=scheduler,
                    max_grad_norm=clip or None)


def build_run(config: TrainConfig, spec: ModelSpec, data: DataSource, vocab: VocabInfo, *, eval_urls: list[str],
              tokenizer: Any, more: list[DataSource] = ()) -> Run:
    """Task (networks, DDP), masker, optimizer, schedule and stream for a validated configuration."""
    rt = runtime.start(config.device)
    ctx = BuildContext(size=spec.sizes[config.size], vocab=vocab, seq_len=int(data.manifest["seq_len"]), config=config,
                       tokenizer=tokenizer, manifest=data.manifest)
    nets = build_networks(config, spec, ctx, rt)
    masker = Masker(vocab, run_masking(config, spec.masking, ctx.size))
    stream = make_stream(config, spec, data, rt, more, masker=masker)
    return Run(config=config, spec=spec, data=data, vocab=vocab, rt=rt, task=nets.task, model=nets.model,
               masker=masker, optimizer=nets.optimizer, scheduler=nets.scheduler, max_grad_norm=nets.max_grad_norm,
               stream=stream, eval_urls=eval_urls, tokenizer=tokenizer, precision=nets.precision)


def setup(config: TrainConfig) -> Run:
    """Validate the data against the model (before any work), then build task, optimizer, stream."""
    spec = get_model_spec(config.model)
    for option in MODEL_OPTIONS:
        if getattr(config, option) is not None and option not in spec.options:
            raise ValueError(f"{spec.name} takes no --{option.replace('_', '-')}; drop it (docs/models.md lists each model's flags)")
    data = resolve_data(config.data, config.storage_options)
    more = [resolve_data(d, config.storage_options) for d in config.more_data or []]
    if more:  # several shard sets: each checked with its own objective, batches alternate
        sets = [data, *more]
        combined = for_shard_sets(spec, [d.manifest for d in sets], [d.spec for d in sets])
        vocab = [check_shards(for_shards(spec, d.manifest, d.spec), config.size, d.manifest, d.spec) for d in sets][0]
        spec = combined
        if all(language_alpha(config, spec, d.manifest, strict=False) is None for d in sets):
            language_alpha(config, spec, data.manifest)  # an explicit --lang-alpha no set can take fails
    else:
        spec = for_shards(spec, data.manifest, config.data)
        vocab = check_shards(spec, config.size, data.manifest, config.data)
    # Checked now, so a bad preset or a missing or changed tokenizer fails before training.
    masking_config(config.masking or spec.masking, mask_prob=config.mask_prob, max_predictions=config.max_predictions)
    tokenizer = load_tokenizer(data.manifest["tokenizer"], data.folder, config.storage_options)
    if config.init is not None and not config.resume and not Path(config.init).is_dir():
        raise FileNotFoundError(f"--init {config.init} is not a folder; pass the --output of a finished run")
    # A --lang-alpha the shards cannot take fails here, and --length-groups where make_stream
    # would not read the shards as batches (BatchStream), before the networks are built.
    alpha = None if more else language_alpha(config, spec, data.manifest)
    if config.length_groups > 1 and (more or alpha is not None):
        raise ValueError("--length-groups applies to one shard set read without language sampling; "
                         "leave it at 1 with --lang-alpha, per-language shards or several --data")
    eval_urls = eval_urls_for(config, data)
    if not eval_urls:
        log.warning("no held-out shards (--data has no valid split and no --eval-data): skipping evaluation")
    return build_run(config, spec, data, vocab, eval_urls=eval_urls, tokenizer=tokenizer, more=more)


def start_counters(run: Run) -> tuple[Counters, bool]:
    """Counters of a fresh run (its weights from --init when given), or of the latest complete
    checkpoint under --resume."""
    found = ckpt.latest_checkpoint(run.config.output)
    if run.config.resume and found is not None:
        return restore_checkpoint(run, found), True
    if found is not None:
        raise ValueError(f"{run.config.output} already holds checkpoints ({found.name}); pass --resume "
                         f"to continue that run or choose a new --output")
    if run.config.resume:
        log.warning("--resume but %s holds no complete checkpoint: starting from step 0", run.config.output)
    if run.config.init is not None:  # every rank loads the same files: the weights stay identical
        (run.spec.load_init or load_exports)(run.task, run.config.init, run.tokenizer)
    return Counters(), False


def padded_fraction(counters: Counters) -> float:
    """The fraction of the batches' positions (so far) that were padding, not tokens."""
    return round(1.0 - counters.tokens / max(counters.positions, 1), 4)


def log_line(counters: Counters, values: dict[str, Any]) -> dict[str, Any]:
    """The log record: every loss part averaged over the steps since the previous line."""
    record: dict[str, Any] = {"step": counters.step, "epoch": values["epoch"]}
    record.update({name: total / max(steps, 1.0) for name, (total, steps) in counters.window.items()})
    record.update(lr=values["lr"], examples=counters.examples, tokens=counters.tokens,
                  padded=padded_fraction(counters),
                  elapsed_s=round(counters.elapsed_s, 3))
    counters.window = {}
    return record


def account(counters: Counters, values: dict[str, Any]) -> None:
    counters.step += 1
    counters.examples += values["examples"]
    counters.tokens += values["tokens"]
    counters.positions += values["positions"]
    for name, value in values["losses"].items():  # each part counts the steps that had it
        total, steps = counters.window.get(name, (0.0, 0.0))
        counters.window[name] = [total + value, steps + 1.0]


def train_steps(run: Run, counters: Counters, metrics: MetricsLog) -> dict[str, Any]:
    """Step until max_steps: log, evaluate and checkpoint on their intervals."""
    cfg = run.config
    started, base_elapsed = time.monotonic(), counters.elapsed_s
    losses: list[float] = []
    last_eval, eval_step = None, None
    batches = iterate_batches(run)
    progress = Progress(cfg.max_steps, start_step=counters.step, start_tokens=counters.tokens,
                        enabled=run.rt.is_main)
    try:
        while counters.step < cfg.max_steps:
            values = train_step(run, batches)
            account(counters, values)
            losses.append(values["losses"]["loss"])
            counters.elapsed_s = base_elapsed + time.monotonic() - started
            progress.step(counters.step, values["losses"]["loss"], counters.tokens)
            if counters.step % cfg.log_every == 0 or counters.step == cfg.max_steps:
                record = log_line(counters, values)
                metrics.write(record)
                progress.clear()
                log.info("%s lr %.2e", progress.plain(record["step"], record["loss"], counters.tokens), record["lr"])
            if run.eval_urls and cfg.eval_every and counters.step % cfg.eval_every == 0:
                progress.clear()
                last_eval, eval_step = run_eval(run, counters, metrics), counters.step
            if counters.step % cfg.checkpoint_interval == 0 or counters.step == cfg.max_steps:
                save_checkpoint(run, counters)
    finally:
        progress.close()
        batches.close()
    if run.eval_urls and eval_step != counters.step:
        last_eval = run_eval(run, counters, metrics)
    return {"first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "eval": last_eval}


def run_eval(run: Run, counters: Counters, metrics: MetricsLog) -> dict[str, Any]:
    record = {"step": counters.step, **evaluate(run)}
    metrics.write(record)
    log.info("step %d %s", counters.step, " ".join(f"{k} {v:.4g}" for k, v in record.items()
                                                   if k.startswith("eval_") and isinstance(v, float)))
    return record


def train(config: TrainConfig) -> TrainResult:
    """Run (or resume) training to --max-steps and export `DIR/hf`; returns the summary and model."""
    run = setup(config)
    try:
        counters, resumed = start_counters(run)
        metrics = MetricsLog(Path(config.output) / "metrics.jsonl", enabled=run.rt.is_main,
                             keep_until=counters.step if resumed else None)
        try:
            outcome = train_steps(run, counters, metrics)
        finally:
            metrics.close()
        hf_dir = Path(config.output) / "hf"
        if run.rt.is_main:
            export_task(run.task, run.tokenizer, config.output, max_length=run.spec.max_positions)
        runtime.barrier(run.rt)
    finally:
        # The DDP wrapper's reducer works through the process group: free it while the group
        # exists. Freed later (when this frame ends), it blocked a rank forever at exit, seen
        # as a torchrun run that finished but never returned (faulthandler stack in cli.main).
        run.model = run.task
        gc.collect()
        runtime.stop(run.rt)
    run.task.eval()
    summary = {"steps": counters.step, **outcome, "padded": padded_fraction(counters),
               "hf_dir": str(hf_dir), "metrics": str(metrics.path)}
    return TrainResult(summary=summary, task=run.task, model=run.task.exports()["hf"])


__all__ = ["MetricsLog", "Networks", "TrainResult", "build_networks", "build_run", "setup", "train"]
