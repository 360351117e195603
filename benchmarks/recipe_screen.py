"""Screening runs for the small-budget recipe: a RoBERTa of a chosen shape on `mlm` shards, in a
lean loop (data in memory, one thread), so variants can be compared on a shared 2-core machine
before the winner is confirmed with benchmarks/recipe.py (docs/models.md, "Screens").

    PYTHONPATH=. python benchmarks/recipe_screen.py --data /tmp/recipe/mlm --steps 2000 --eval-every 250 \
        [--hidden 128] [--lr 5e-3] [--mask-prob 0.4] [--positions sinusoidal] [--tag LABEL]

Same parts as the trainer: the `transformers` RobertaForMaskedLM built by trainer.models.roberta,
trainer.masking's token masking (80/10/10), the recipe's AdamW with its no-decay groups, linear
warmup (10%) and decay, sparse prediction. Differences: the shards are read into memory once and
shuffled per epoch with torch.randperm (the trainer streams them through a buffer), one thread,
and the held-out split is always masked at 15% with one fixed seed (so runs with different
--mask-prob are scored on the same positions). Prints, per evaluation: the step, training and
held-out loss, held-out accuracy at [MASK], the unigram baseline (the most frequent label's
share) and their ratio, and the CPU seconds so far.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where benchmarks/trainer.py would
# shadow the trainer package: take the folder off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch
from transformers import RobertaForMaskedLM

import trainer.models.roberta as roberta
from shards.reader import read_shard
from trainer.config import VocabInfo
from trainer.masking import IGNORE_INDEX, Masker, make_generator, masking_config
from trainer.models.positions import sinusoidal_
from trainer.objectives.mlm import mlm_counts, mlm_metrics
from trainer.schedule import build_optimizer, build_scheduler

BATCH, SEQ_LEN = 32, 128


def load_split(data: str, split: str, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input ids, attention mask) of every example of one split, padded to SEQ_LEN."""
    rows = [row for url in sorted(glob.glob(f"{data}/{split}-*.tar"))
            for row in read_shard(url).column("input_ids").to_pylist()]
    ids = torch.full((len(rows), SEQ_LEN), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    return ids, mask


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="an mlm shard set with a valid split")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=roberta.SIZES["tiny"].lr)
    parser.add_argument("--mask-prob", type=float, default=roberta.SIZES["tiny"].mask_prob)
    parser.add_argument("--dropout", type=float, default=roberta.SIZES["tiny"].dropout)
    parser.add_argument("--hidden", type=int, default=64, help="hidden size (intermediate: 4x)")
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--weight-decay", type=float, default=roberta.RECIPE.weight_decay)
    parser.add_argument("--positions", choices=("random", "sinusoidal"), default="random",
                        help="initial position table: N(0, 0.02) as transformers does, or sine waves of that std")
    parser.add_argument("--tag", default="", help="label printed on every row")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    manifest = json.loads(open(f"{args.data}/manifest.json").read())
    vocab = VocabInfo.from_manifest(manifest)
    train_ids, train_mask = load_split(args.data, "train", vocab.pad_id)
    valid_ids, valid_mask = load_split(args.data, "valid", vocab.pad_id)
    size = dataclasses.replace(roberta.SIZES["tiny"], hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                               num_heads=args.heads, num_layers=args.layers, dropout=args.dropout)
    torch.manual_seed(0)
    config = roberta.build_config(size, vocab)
    network = RobertaForMaskedLM(config)
    if args.positions == "sinusoidal":
        sinusoidal_(network.roberta.embeddings.position_embeddings, config.initializer_range)
    optimizer = build_optimizer(list(network.named_parameters()), recipe=roberta.RECIPE, lr=args.lr,
                                weight_decay=args.weight_decay)
    scheduler = build_scheduler(optimizer, warmup_steps=args.steps // 10, max_steps=args.steps)
    masker = Masker(vocab, masking_config("token", mask_prob=args.mask_prob))
    eval_masker = Masker(vocab, masking_config("token", mask_prob=0.15))

    def forward(ids, mask, labels, with_counts=False):
        hidden = network.roberta(input_ids=ids, attention_mask=mask).last_hidden_state
        selected = labels != IGNORE_INDEX
        logits = network.lm_head(hidden[selected])
        loss = torch.nn.functional.cross_entropy(logits, labels[selected])
        counts = (mlm_counts(logits.detach(), labels[selected], ids[selected], vocab.mask_id, vocab.vocab_size)
                  if with_counts else None)
        return loss, counts

    def evaluate() -> dict:
        network.eval()
        total, losses, generator = None, [], make_generator(12345)
        with torch.no_grad():
            for start in range(0, len(valid_ids), BATCH):
                ids, labels = eval_masker(valid_ids[start:start + BATCH], valid_mask[start:start + BATCH], generator)
                loss, counts = forward(ids, valid_mask[start:start + BATCH], labels, True)
                losses.append(loss.item())
                total = counts if total is None else {k: total[k] + counts[k] for k in counts}
        network.train()
        return {**mlm_metrics(total), "loss": sum(losses) / len(losses)}

    generator = make_generator(0)
    order, cursor, rows, start = torch.randperm(len(train_ids), generator=generator), 0, [], time.process_time()
    for step in range(1, args.steps + 1):
        if cursor + BATCH > len(order):  # next epoch: a fresh permutation
            order, cursor = torch.randperm(len(train_ids), generator=generator), 0
        index = order[cursor:cursor + BATCH]
        cursor += BATCH
        ids, labels = masker(train_ids[index], train_mask[index], generator)
        loss, _ = forward(ids, train_mask[index], labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if step % args.eval_every == 0:
            m = evaluate()
            row = {"step": step, "train_loss": loss.item(), "eval_loss": m["loss"], "accuracy": m["mlm_accuracy"],
                   "unigram": m["mlm_unigram_accuracy"], "cpu_s": time.process_time() - start}
            row["ratio"] = row["accuracy"] / row["unigram"]
            rows.append(row)
            print(f"{args.tag} step {step} train_loss {row['train_loss']:.3f} eval_loss {row['eval_loss']:.3f} "
                  f"acc {row['accuracy']:.4f} unigram {row['unigram']:.4f} ratio {row['ratio']:.2f}x "
                  f"cpu {row['cpu_s']:.0f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
