"""BERT-base and BERT-large pretraining throughput on one GPU: sequences/s and model FLOPs utilisation.

    PYTHONPATH=. .venv/bin/python benchmarks/gpu.py [--compile] [--peak-tflops T] [--json OUT]
    PYTHONPATH=. .venv/bin/python benchmarks/gpu.py --smoke        # tiny sizes on CPU, seconds

Each configuration (size x seq_len) builds the model as `shardlm train --model bert` does
(`trainer.run.build_networks`: bf16 autocast, TF32, fused AdamW, SDPA attention, optionally
torch.compile; the BERT recipe's clipping and schedule) and times `trainer.loop.train_step`, the
step `shardlm train` runs: MLM + NSP with sparse prediction, the loss parts read back every step.
Batches are synthetic full-length sentence pairs of random ids, masked by the trainer's masking
(BERT's `token` preset, 15%) before timing and fed round-robin, so the loader is not measured.
`--warmup` steps (compilation, cuDNN/cuBLAS autotuning, allocator growth) are excluded; the
clock runs over `--steps` steps between two device synchronisations.

Model FLOPs per step (Kaplan et al. 2020 section 2.1 and PaLM appendix B: 2 FLOPs per weight per
token forward, 4 backward; attention scores and the weighted sum 2 x 2 x T x d per token and
layer forward, so 12 x L x d x T per token with backward), counting the work the sparse model does:

    6 x (N_encoder x tokens + N_head x predicted + N_pair x sequences) + 12 x L x d x T x tokens

N_encoder: the weights of the encoder layers (every token); N_head: the MLM head's transform and
the d x V decoder (only the `predicted` selected tokens, as sparse prediction runs it; NVIDIA's
BERT gathers them too); N_pair: the pooler and the NSP classifier (one row per sequence);
embedding lookups count nothing. MFU = model FLOPs per second / the GPU's peak dense bf16 FLOP/s,
looked up from `torch.cuda.get_device_name()` (`PEAK_TFLOPS`) or given with `--peak-tflops`.

Anchor: NVIDIA's BERT-large pretraining reaches 574 sequences/s per A100 at seq 128 (NVIDIA
DeepLearningExamples, PyTorch/LanguageModeling/BERT, DGX A100 pretraining throughput, the figure
issue 8 quotes); the goal is twice that, 1,148 sequences/s, per H100-class GPU.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

# Run as a script, this file's folder comes first on sys.path, where benchmarks/trainer.py would
# shadow the trainer package: take the folder off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch

from shards.batches import LENGTH_KEY
from shards.stream import POSITION_KEY, WORKER_KEY
from trainer import runtime
from trainer.config import PRECISIONS, TrainConfig, VocabInfo
from trainer.loop import Run, train_step
from trainer.masking import Masker, make_generator, masking_config
from trainer.models import get_model_spec
from trainer.models.spec import BuildContext
from trainer.run import build_networks

ANCHOR_SEQ_PER_S = 574.0  # BERT-large, seq 128, one A100 (NVIDIA DeepLearningExamples)
GOAL_SEQ_PER_S = 2 * ANCHOR_SEQ_PER_S  # per H100-class GPU
# Peak dense bf16 tensor-core FLOP/s (TFLOP/s, no sparsity) from NVIDIA's data sheets; the first
# key contained in the lower-cased device name wins, so the specific names come first.
PEAK_TFLOPS = {"gh200": 989.0, "h200": 989.0, "h100 pcie": 756.0, "h100 nvl": 835.0, "h100": 989.0,
               "h800": 989.0, "b200": 2250.0, "a100": 312.0, "a800": 312.0, "l40s": 362.0, "l4": 121.0,
               "a10g": 70.0, "a10": 125.0}
# BERT's uncased WordPiece vocabulary (google-research/bert) and its special ids.
VOCAB = VocabInfo(vocab_size=30522, special_ids={"pad": 0, "unk": 100, "cls": 101, "sep": 102, "mask": 103})
SMOKE_VOCAB = VocabInfo(vocab_size=1000, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})
# Examples per batch: 32,768 tokens per step at either length by default (NVIDIA runs large
# micro-batches too: 256 x 128 in phase 1 on A100-80GB).
DEFAULT_TOKENS_PER_BATCH = 32768


@dataclass(frozen=True, kw_only=True)
class Case:
    size: str  # a BERT size preset (trainer/models/bert.py)
    label: str  # what the table calls it
    seq_len: int
    batch_size: int


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """The device's peak dense bf16 TFLOP/s: --peak-tflops, else the table, else None (no MFU)."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device).lower()
    return next((value for key, value in PEAK_TFLOPS.items() if key in name), None)


def parameter_counts(task) -> dict[str, int]:
    """Weights of the encoder layers, the MLM head (transform + d x V decoder) and the pair head."""
    network = task.network
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    config = network.config
    head = count(network.cls.predictions.transform) + config.hidden_size * config.vocab_size
    return {"encoder": count(network.bert.encoder), "head": head,
            "pair": count(network.bert.pooler) + count(network.cls.seq_relationship)}


def model_flops(counts: dict[str, int], *, num_layers: int, hidden: int, seq_len: int, sequences: int,
                predicted: int) -> float:
    """Training FLOPs of one step (module docstring): 6 N per token and weight, plus attention."""
    tokens = sequences * seq_len
    weights = counts["encoder"] * tokens + counts["head"] * predicted + counts["pair"] * sequences
    return 6.0 * weights + 12.0 * num_layers * hidden * seq_len * tokens


def synthetic_batches(vocab: VocabInfo, spec, case: Case, count: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """`count` prepared batches: [CLS] A [SEP] B [SEP] pairs of random ids filling seq_len, split
    in the middle, masked by the model's objective with the trainer's masker, on CPU."""
    g = torch.Generator().manual_seed(seed)
    b, t = case.batch_size, case.seq_len
    masker = Masker(vocab, masking_config(spec.masking))
    specials = max(vocab.special_ids.values()) + 1
    batches = []
    for index in range(count):
        ids = torch.randint(specials, vocab.vocab_size, (b, t), generator=g)
        middle = t // 2
        ids[:, 0], ids[:, middle - 1], ids[:, -1] = vocab.special_ids["cls"], vocab.special_ids["sep"], \
            vocab.special_ids["sep"]
        raw = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
               "segment_b_start": torch.full((b,), middle), "next_sentence_label": torch.randint(0, 2, (b,), generator=g)}
        inputs = spec.objective.prepare(raw, masker, make_generator(seed + index))
        # Prepared in a worker, as shards.batches.BatchStream hands them over: the step only moves them.
        inputs.update({LENGTH_KEY: torch.full((b,), t), WORKER_KEY: torch.zeros(b, dtype=torch.long),
                       POSITION_KEY: torch.arange(index * b, (index + 1) * b)})
        batches.append(inputs)
    return batches


class SyntheticStream:
    """The stream side of the step: it is told which batch was consumed and keeps nothing."""

    def observe(self, worker, position) -> None:
        pass


def cycle(batches: list[dict[str, torch.Tensor]]) -> Iterator[tuple[int, dict]]:
    while True:
        for batch in batches:
            yield 0, batch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_case(case: Case, args: argparse.Namespace, rt: runtime.Runtime, vocab: VocabInfo) -> dict[str, Any]:
    """Build, warm up, time; one record of the table."""
    spec = get_model_spec("bert")
    config = TrainConfig(model="bert", size=case.size, data="synthetic", output="unused",
                         max_steps=args.warmup + args.steps, batch_size=case.batch_size, device=rt.device.type,
                         precision=args.precision, compile=args.compile, warmup_steps=0)
    ctx = BuildContext(size=spec.sizes[case.size], vocab=vocab, seq_len=case.seq_len, config=config)
    nets = build_networks(config, spec, ctx, rt)
    run = Run(config=config, spec=spec, data=None, vocab=vocab, rt=rt, task=nets.task, model=nets.model,
              masker=None, optimizer=nets.optimizer, scheduler=nets.scheduler, max_grad_norm=nets.max_grad_norm,
              stream=SyntheticStream(), eval_urls=[], tokenizer=None, precision=nets.precision)
    batches = synthetic_batches(vocab, spec, case, args.distinct_batches, seed=args.seed)
    predicted = sum(int((b["labels"] != -100).sum()) for b in batches) / len(batches)
    stream = cycle(batches)
    started = time.perf_counter()
    for _ in range(args.warmup):
        train_step(run, stream)
    synchronize(rt.device)
    warm_s = time.perf_counter() - started
    started = time.perf_counter()
    losses = [train_step(run, stream)["losses"]["loss"] for _ in range(args.steps)]
    synchronize(rt.device)
    seconds = time.perf_counter() - started
    size = spec.sizes[case.size]
    flops = model_flops(parameter_counts(nets.task), num_layers=size.num_layers, hidden=size.hidden_size,
                        seq_len=case.seq_len, sequences=case.batch_size, predicted=round(predicted))
    record = {"model": case.label, "seq_len": case.seq_len, "batch_size": case.batch_size,
              "precision": nets.precision, "compile": args.compile, "steps": args.steps,
              "warmup_s": round(warm_s, 2), "seconds": round(seconds, 3),
              "sequences_per_s": args.steps * case.batch_size / seconds,
              "model_tflops_per_step": flops / 1e12, "achieved_tflops": args.steps * flops / seconds / 1e12,
              "predicted_per_batch": predicted, "last_loss": losses[-1],
              "peak_memory_gb": (torch.cuda.max_memory_allocated(rt.device) / 2**30 if rt.device.type == "cuda"
                                 else None)}
    del run, nets, batches, stream
    gc.collect()
    if args.compile:
        torch._dynamo.reset()
    if rt.device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(rt.device)
    return record


def cases(args: argparse.Namespace) -> list[Case]:
    sizes = [("small", "bert-small"), ("tiny", "bert-tiny")] if args.smoke else [("base", "bert-base"),
                                                                                   ("large", "bert-large")]
    seq_lens = [32, 64] if args.smoke else [128, 512]
    out = []
    for size, label in sizes:
        for seq_len in seq_lens:
            batch = args.batch_size or (4 if args.smoke else DEFAULT_TOKENS_PER_BATCH // seq_len)
            out.append(Case(size=size, label=label, seq_len=seq_len, batch_size=batch))
    return out


def anchor_line(records: list[dict[str, Any]], device_name: str) -> str | None:
    """BERT-large at seq 128 against NVIDIA's A100 figure and the goal for an H100-class GPU."""
    large = [r for r in records if r["model"] == "bert-large" and r["seq_len"] == 128 and "sequences_per_s" in r]
    if not large:
        return None
    seqs = large[0]["sequences_per_s"]
    return (f"BERT-large seq 128 on {device_name}: {seqs:,.0f} sequences/s = {seqs / ANCHOR_SEQ_PER_S:.2f}x NVIDIA's "
            f"{ANCHOR_SEQ_PER_S:.0f}/s per A100, {seqs / GOAL_SEQ_PER_S:.2f}x the goal of {GOAL_SEQ_PER_S:,.0f}/s "
            f"per H100-class GPU")


def table(records: list[dict[str, Any]], peak: float | None) -> str:
    lines = ["| model | seq | batch | precision | compile | sequences/s | model TFLOP/s | MFU | peak memory |",
             "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |"]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['seq_len']} | {r['batch_size']} | | | {r['error']} | | | |")
            continue
        mfu = f"{r['achieved_tflops'] / peak:.1%}" if peak else "n/a"
        memory = f"{r['peak_memory_gb']:.1f} GiB" if r["peak_memory_gb"] is not None else ""
        lines.append(f"| {r['model']} | {r['seq_len']} | {r['batch_size']} | {r['precision']} | "
                     f"{'on' if r['compile'] else 'off'} | {r['sequences_per_s']:,.1f} | "
                     f"{r['achieved_tflops']:,.4g} | {mfu} | {memory} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true",
                   help="BERT small and tiny at seq 32 and 64, batch 4, 2 steps after 1 warm-up: checks the "
                        "script end to end in seconds, on CPU when there is no GPU")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: cuda when available (without one, only --smoke runs)")
    p.add_argument("--precision", choices=list(PRECISIONS), default="auto",
                   help="as `shardlm train --precision` (auto: bf16 on a GPU that has it, fp32 on CPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (compilation is in the warm-up)")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"sequences per step (default {DEFAULT_TOKENS_PER_BATCH:,} tokens: 256 at 128, 64 at 512)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per configuration (default 20; smoke 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5; smoke 1)")
    p.add_argument("--distinct-batches", type=int, default=4, help="synthetic batches fed in turn")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the device's peak dense bf16 TFLOP/s for MFU (default: looked up from the device name)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, metavar="PATH", help="also write the records as JSON")
    return p


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = build_parser().parse_args(argv)
    args.steps = args.steps or (2 if args.smoke else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 5)
    if min(args.steps, args.distinct_batches) <= 0 or args.warmup < 0 or (args.batch_size or 1) <= 0:
        raise SystemExit("gpu.py: --steps, --batch-size and --distinct-batches must be positive, --warmup not negative")
    rt = runtime.start(args.device)
    if rt.device.type != "cuda" and not args.smoke:
        raise SystemExit("gpu.py: no CUDA device; run it on a GPU machine, or pass --smoke for the quick CPU check")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("trainer.run").setLevel(logging.INFO)  # each model's precision, TF32, attention
    device_name = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else "CPU"
    peak = peak_tflops(rt.device, args.peak_tflops)
    print(f"device {device_name}; peak dense bf16 {f'{peak:,.0f} TFLOP/s' if peak else 'unknown (pass --peak-tflops)'}; "
          f"torch {torch.__version__}", flush=True)
    vocab = SMOKE_VOCAB if args.smoke else VOCAB
    records = []
    for case in cases(args):
        try:
            record = run_case(case, args, rt, vocab)
        except torch.cuda.OutOfMemoryError:
            record = {"model": case.label, "seq_len": case.seq_len, "batch_size": case.batch_size,
                      "error": "out of memory: pass a smaller --batch-size"}
        if "error" in record:  # the failed case's tensors are free once the exception is gone
            gc.collect()
            torch.cuda.empty_cache()
            torch._dynamo.reset()
        if peak and "error" not in record:
            record["mfu"] = record["achieved_tflops"] / peak
        records.append(record)
        print(json.dumps(record), flush=True)
    print(table(records, peak))
    line = anchor_line(records, device_name)
    if line:
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device_name, "peak_tflops": peak, "records": records}, indent=1))
    return records


if __name__ == "__main__":
    main(sys.argv[1:])
