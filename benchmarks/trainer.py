"""`shardlm train` against the `transformers` Trainer on the same model, data and batch, on CPU.

    python benchmarks/recipe_text.py --output /tmp/trainbench/text.jsonl
    shardlm clean --input /tmp/trainbench/text.jsonl --output /tmp/trainbench/documents
    shardlm build --input /tmp/trainbench/documents --objective nsp --seq-len 128 --output /tmp/trainbench/nsp \
        --tokenizer ../shared/data/tokenizers/bert-base-uncased-wordpiece/tokenizer.json
    python benchmarks/trainer.py --data /tmp/trainbench/nsp --work /tmp/trainbench/runs [--rounds 2] [--threads 1]

The model is BERT-Tiny (Turc et al. 2019: hidden 128, 2 layers, 2 heads, FFN 512, dropout 0.1,
the 30,522-token `bert-base-uncased` vocabulary) with BERT's MLM + NSP heads
(`BertForPreTraining`), batch 32, sequences of up to 128 tokens from the shard set's `train` split.

- **shardlm**: `shardlm train --model bert` (trainer.cli.main in the child process), its `tiny`
  size replaced by the size above in that process only, `--mask-prob 0.15` (token masking
  80/10/10), `--num-workers 0`, AdamW (BERT's recipe: eps 1e-6, weight decay 0.01, clipping 1.0).
- **transformers**: `Trainer` over a `datasets.Dataset` holding the same examples (the same
  shards, read with `shards.reader.read_shard`: input_ids, token_type_ids from segment_b_start,
  next_sentence_label), `DataCollatorForLanguageModeling(mlm_probability=0.15)` with the shard
  set's tokenizer, the same `BertConfig` (trainer.models.bert.build_config), the same optimizer
  values, `dataloader_num_workers=0`, logging every 10 steps as shardlm does.

Both pad each batch to its longest example. `--length-groups G` lets each side cut padding its
own way: `shardlm train --length-groups G` (windows of G shuffled batches sorted by length, then
cut) and the Trainer's `train_sampling_strategy="group_by_length"` (its LengthGroupedSampler:
mega-batches of 50 batches sorted by length). Each run is a fresh child process holding
`torch.set_num_threads(--threads)`; runs alternate (shardlm, transformers, shardlm, ...) so the
load from other work on the machine falls on both; the ratio reported is the median over the
pairs. Each child first times a 2048 x 2048 fp32 `torch.matmul` on the same threads (best of 5:
the peak matmul FLOP/s, per wall second and per CPU second), then trains `--warmup + --steps`
steps; only the last `--steps` count (wall time from the end of step `--warmup` to the end of
the last step, and the process's CPU time over the same interval).

Model FLOPs per step (Kaplan et al. 2020 / PaLM appendix B: 6 per parameter per token for the
forward and backward passes, plus attention's 12 * layers * hidden * T per sequence):

    encoder:  6 * N_layers_matmul * B*T + 12 * L * H * T^2 * B        (T: the batch's padded length)
    pooler + NSP head: 6 * (H*H + 2*H) * B
    MLM head: 6 * (H*H + H*V) * P     P = B*T positions (transformers: every position)
                                      P = selected positions (shardlm's sparse prediction, ~15%)

"MFU" counts what each side computes; "dense-equivalent MFU" counts the MLM head at every
position for both (the work the transformers side does for the same loss; above 100% it says
the same loss costs less than the dense work would at peak). Each is given per wall second
(model FLOP/s over the peak matmul FLOP/s) and per CPU second (model FLOPs per CPU second over
the matmul's FLOPs per CPU second), the second unaffected by other work taking the cores. Results: a markdown
table on stdout and `WORK/results.json`.

`--ablation` measures instead what this benchmark's profile led to: CPU ms per `shardlm train`
step with `torch.nn.functional.cross_entropy` and the loop AdamW, with trainer.losses, and with
fused AdamW too (three runs in one process taking turns).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIDES = ("shardlm", "transformers")
BATCH_SIZE = 32
MASK_PROB = 0.15
LR = 1e-4
LOG_EVERY = 10
MATMUL_N = 2048


def bench_size():
    """BERT-Tiny of Turc et al. 2019 (google/bert_uncased_L-2_H-128_A-2)."""
    from trainer.config import ModelSize

    return ModelSize(name="tiny", hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512, lr=LR,
                     dropout=0.1, mask_prob=MASK_PROB)


# ----------------------------------------------------------------------------- child: one side


def peak_matmul_flops(n: int = MATMUL_N, repeats: int = 5) -> tuple[float, float]:
    """Best fp32 matmul FLOP/s on the current threads (2 n^3 per product): per wall second, and
    per CPU second of the process (all its threads: the per-core peak, which the load from other
    work on the machine does not lower)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up
    wall = cpu = float("inf")
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        torch.matmul(a, b)
        wall, cpu = min(wall, time.perf_counter() - w), min(cpu, time.process_time() - c)
    return 2 * n ** 3 / wall, 2 * n ** 3 / cpu


class StepClock:
    """Wall and CPU time at the end of each step, and the batch shapes the steps consumed."""

    def __init__(self):
        self.marks: list[tuple[float, float]] = [(time.perf_counter(), time.process_time())]
        self.batches: list[dict[str, int]] = []

    def step_done(self) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))

    def batch(self, input_ids, attention_mask, labels) -> None:
        self.batches.append({"rows": int(input_ids.shape[0]), "padded_len": int(input_ids.shape[1]),
                             "tokens": int(attention_mask.sum()), "selected": int((labels != -100).sum())})


def run_shardlm(args: argparse.Namespace, clock: StepClock) -> None:
    import trainer.loop as loop
    import trainer.models.bert as bert
    import trainer.run as run
    from trainer import cli

    bert.SIZES["tiny"] = bench_size()  # this process only
    prepare, step = loop.prepare_batch, run.train_step

    def timed_prepare(*a, **kw):
        inputs = prepare(*a, **kw)
        if kw.get("purpose") == "train":
            clock.batch(inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
        return inputs

    def timed_step(*a, **kw):
        values = step(*a, **kw)
        clock.step_done()
        return values

    loop.prepare_batch, run.train_step = timed_prepare, timed_step
    cli.main(["--model", "bert", "--size", "tiny", "--data", args.data, "--output", str(args.output),
              "--max-steps", str(args.warmup + args.steps), "--batch-size", str(BATCH_SIZE),
              "--mask-prob", str(MASK_PROB), "--lr", str(LR), "--log-every", str(LOG_EVERY),
              "--num-workers", "0", "--eval-batches", "1", "--device", "cpu",
              "--length-groups", str(args.length_groups or 1)])


def hf_dataset(data: str):
    """The shard set's train examples as a datasets.Dataset: input_ids, token_type_ids, next_sentence_label."""
    import datasets
    import numpy as np
    import pyarrow as pa

    from shards.reader import read_shard
    from trainer.data import resolve_data

    source = resolve_data(data, {})
    table = pa.concat_tables([read_shard(url) for url in source.urls])
    ids = table.column("input_ids").to_pylist()
    starts = table.column("segment_b_start").to_numpy()
    types = [[0] * int(s) + [1] * (len(row) - int(s)) for row, s in zip(ids, starts)]
    labels = np.asarray(table.column("next_sentence_label").to_numpy(), dtype=np.int64)
    return datasets.Dataset.from_dict({"input_ids": ids, "token_type_ids": types,
                                       "next_sentence_label": labels.tolist()}), source


def run_transformers(args: argparse.Namespace, clock: StepClock) -> None:
    import torch
    from transformers import (BertForPreTraining, DataCollatorForLanguageModeling, Trainer, TrainerCallback,
                              TrainingArguments)

    from trainer.config import VocabInfo
    from trainer.export import load_tokenizer
    from trainer.models.bert import RECIPE, build_config

    dataset, source = hf_dataset(args.data)
    vocab = VocabInfo.from_manifest(source.manifest)
    tokenizer = load_tokenizer(source.manifest["tokenizer"], source.folder)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=MASK_PROB)

    def timed_collate(features):
        batch = collator(features)
        clock.batch(batch["input_ids"], batch["attention_mask"], batch["labels"])
        return batch

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **kw):
            clock.step_done()

    torch.manual_seed(0)
    model = BertForPreTraining(build_config(bench_size(), vocab.vocab_size, vocab.pad_id))
    steps = args.warmup + args.steps
    targs = TrainingArguments(output_dir=str(args.output), per_device_train_batch_size=BATCH_SIZE, max_steps=steps,
                              learning_rate=LR, warmup_steps=steps // 10, weight_decay=RECIPE.weight_decay,
                              adam_beta1=RECIPE.betas[0], adam_beta2=RECIPE.betas[1], adam_epsilon=RECIPE.eps,
                              max_grad_norm=RECIPE.max_grad_norm, logging_steps=LOG_EVERY, save_strategy="no",
                              report_to="none", use_cpu=True, dataloader_num_workers=0, seed=0,
                              disable_tqdm=True,
                              train_sampling_strategy="group_by_length" if args.length_groups else "random")
    Trainer(model=model, args=targs, train_dataset=dataset, data_collator=timed_collate,
            callbacks=[Clock()]).train()


def param_counts(vocab_size: int) -> dict[str, int]:
    """Matmul parameters (weights only) of the encoder layers, the pooler and the MLM head's projections."""
    s = bench_size()
    h, i = s.hidden_size, s.intermediate_size
    return {"layers": s.num_layers * (4 * h * h + 2 * h * i), "pooler_nsp": h * h + 2 * h,
            "mlm_transform": h * h, "mlm_decoder": h * vocab_size, "num_layers": s.num_layers, "hidden": h}


def step_flops(batch: dict[str, int], p: dict[str, int], *, head_positions: int) -> float:
    """Training FLOPs of one step (forward + backward) with the MLM head run on `head_positions`."""
    rows, t = batch["rows"], batch["padded_len"]
    encoder = 6 * p["layers"] * rows * t + 12 * p["num_layers"] * p["hidden"] * t * t * rows
    return encoder + 6 * p["pooler_nsp"] * rows + 6 * (p["mlm_transform"] + p["mlm_decoder"]) * head_positions


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    peak, peak_cpu = peak_matmul_flops()
    clock = StepClock()
    (run_shardlm if args.side == "shardlm" else run_transformers)(args, clock)
    from trainer.data import resolve_data

    vocab_size = int(resolve_data(args.data, {}).manifest["tokenizer"]["vocab_size"])
    p = param_counts(vocab_size)
    first = args.warmup
    if len(clock.marks) < first + args.steps + 1 or len(clock.batches) < first + args.steps:
        raise SystemExit(f"{args.side}: {len(clock.marks) - 1} steps / {len(clock.batches)} batches recorded, "
                         f"expected {first + args.steps}")
    (w0, c0), (w1, c1) = clock.marks[first], clock.marks[first + args.steps]
    batches = clock.batches[first:first + args.steps]
    sparse = args.side == "shardlm"
    flops = sum(step_flops(b, p, head_positions=b["selected"] if sparse else b["rows"] * b["padded_len"])
                for b in batches)
    dense = sum(step_flops(b, p, head_positions=b["rows"] * b["padded_len"]) for b in batches)
    tokens = sum(b["tokens"] for b in batches)
    positions = sum(b["rows"] * b["padded_len"] for b in batches)
    result = {"side": args.side, "threads": torch.get_num_threads(), "steps": args.steps, "wall_s": w1 - w0,
              "cpu_s": c1 - c0, "tokens": tokens, "pad_fraction": 1 - tokens / positions,
              "selected_fraction": sum(b["selected"] for b in batches) / tokens,
              "peak_flops": peak, "peak_flops_per_cpu_s": peak_cpu, "flops": flops, "dense_flops": dense,
              "tokens_per_s": tokens / (w1 - w0), "tokens_per_cpu_s": tokens / (c1 - c0),
              "mfu": flops / (w1 - w0) / peak, "dense_mfu": dense / (w1 - w0) / peak,
              "mfu_cpu": flops / (c1 - c0) / peak_cpu, "dense_mfu_cpu": dense / (c1 - c0) / peak_cpu}
    Path(args.result).write_text(json.dumps(result, indent=1))


# ----------------------------------------------------------------------------- ablation


def ablation(args: argparse.Namespace) -> dict[str, float]:
    """CPU ms per shardlm train step with torch's F.cross_entropy and the loop AdamW (the step
    before trainer.losses and fused AdamW on CPU), with the new loss only, and as it is; the three
    runs of one process take turns, `--steps` steps each, four times; medians."""
    import torch
    import torch.nn.functional as F

    import trainer.loop as loop
    import trainer.masking as masking
    import trainer.models.bert as bert
    from trainer.config import TrainConfig
    from trainer.losses import cross_entropy
    from trainer.run import setup

    torch.set_num_threads(args.threads)
    bert.SIZES["tiny"] = bench_size()

    def torch_loss(logits, targets):
        return F.cross_entropy(logits, targets, ignore_index=-100)

    variants = {"F.cross_entropy, loop AdamW": (torch_loss, False),
                "trainer.losses, loop AdamW": (cross_entropy, False),
                "trainer.losses, fused AdamW": (cross_entropy, True)}
    runs = {}
    for n, (name, (_, fused)) in enumerate(variants.items()):
        output = str(Path(args.work) / f"ablation-{n}")
        run = setup(TrainConfig(model="bert", size="tiny", data=args.data, output=output, max_steps=10_000,
                                batch_size=BATCH_SIZE, mask_prob=MASK_PROB, lr=LR, device="cpu"))
        for group in run.optimizer.param_groups:
            group["fused"] = fused or None
        runs[name] = (run, loop.iterate_batches(run))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(4):
        for name, (loss, _) in variants.items():
            masking.cross_entropy = loss
            run, batches = runs[name]
            loop.train_step(run, batches)  # not timed: the first after a switch
            start = time.process_time()
            for _ in range(args.steps):
                loop.train_step(run, batches)
            times[name].append((time.process_time() - start) / args.steps * 1000)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, ms in medians.items():
        print(f"| {name} | {ms:.0f} | {' / '.join(f'{t:.0f}' for t in times[name])} |")
    return medians


# ----------------------------------------------------------------------------- parent: alternate


def run_side(side: str, args: argparse.Namespace, n: int) -> dict[str, Any]:
    out = Path(args.work) / f"{n:02d}-{side}"
    result = out / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, __file__, "--side", side, "--data", args.data, "--output", str(out / "run"),
           "--length-groups", str(args.length_groups),
           "--result", str(result), "--threads", str(args.threads), "--warmup", str(args.warmup),
           "--steps", str(args.steps)]
    with open(out / "log.txt", "w") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return json.loads(result.read_text())


def table(results: list[dict[str, Any]]) -> str:
    rows = ["| run | side | non-pad tokens/s | tokens per CPU s | s/step | pad | selected | peak GFLOP/s (per CPU s) "
            "| MFU (per CPU s) | dense-equiv. MFU (per CPU s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n, r in enumerate(results):
        rows.append(f"| {n} | {r['side']} | {r['tokens_per_s']:,.0f} | {r['tokens_per_cpu_s']:,.0f} | "
                    f"{r['wall_s'] / r['steps']:.2f} | {r['pad_fraction']:.1%} | {r['selected_fraction']:.1%} | "
                    f"{r['peak_flops'] / 1e9:.1f} ({r['peak_flops_per_cpu_s'] / 1e9:.1f}) | "
                    f"{r['mfu']:.1%} ({r['mfu_cpu']:.1%}) | {r['dense_mfu']:.1%} ({r['dense_mfu_cpu']:.1%}) |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="an nsp shard-set folder (see the commands above)")
    parser.add_argument("--work", default="/tmp/trainbench/runs", help="run folders and results.json")
    parser.add_argument("--rounds", type=int, default=2, help="shardlm/transformers pairs, alternating")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads on both sides")
    parser.add_argument("--warmup", type=int, default=3, help="steps not timed")
    parser.add_argument("--steps", type=int, default=15, help="steps timed")
    parser.add_argument("--length-groups", type=int, default=0,
                        help="cut padding: shardlm --length-groups G, the Trainer's group_by_length sampling "
                             "(default: off)")
    parser.add_argument("--ablation", action="store_true",
                        help="instead: CPU ms per shardlm step before/after trainer.losses and fused AdamW")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # child process
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        child(args)
        return {}
    if args.ablation:
        return ablation(args)
    results = [run_side(side, args, 2 * r + k) for r in range(args.rounds) for k, side in enumerate(SIDES)]
    pairs = [(a, b) for a, b in zip(results[0::2], results[1::2])]
    summary = {"wall_ratio": statistics.median(a["tokens_per_s"] / b["tokens_per_s"] for a, b in pairs),
               "cpu_ratio": statistics.median(a["tokens_per_cpu_s"] / b["tokens_per_cpu_s"] for a, b in pairs),
               "threads": args.threads, "length_groups": args.length_groups, "steps": args.steps,
               "warmup": args.warmup, "runs": results}
    Path(args.work, "results.json").write_text(json.dumps(summary, indent=1))
    print(table(results))
    print(f"\nshardlm / transformers non-pad tokens/s, median of {len(pairs)} pairs: {summary['wall_ratio']:.2f}x "
          f"(per CPU second {summary['cpu_ratio']:.2f}x)")
    return summary


if __name__ == "__main__":
    main()
