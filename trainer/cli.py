"""`shardlm train` / `python -m trainer` / `torchrun -m trainer`: flags → TrainConfig → run."""

from __future__ import annotations

import argparse
import functools
import logging
import os

from schemas.flags import config_flag
from shards.storage import parse_storage_options
from trainer.config import PRECISIONS, SIZE_NAMES, TrainConfig
from trainer.models import MODEL_NAMES

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The flags of `shardlm train`; every default is TrainConfig's (schemas.flags.config_flag)."""
    p = argparse.ArgumentParser(prog="shardlm train", description="Pretrain a BERT-family encoder on a shard set.")
    p.add_argument("--model", required=True, choices=sorted(MODEL_NAMES),
                   help="the model to pretrain; its shards must come from the `shardlm build --objective` it needs")
    p.add_argument("--size", default="tiny", choices=list(SIZE_NAMES), help="size preset of the model (default tiny)")
    p.add_argument("--data", required=True, action="append",
                   help="shard-set folder, manifest URL, or brace/glob pattern of shards; xlm takes it several "
                        "times (e.g. --data TLM --data MLM): one batch from each set in turn, each with its objective")
    p.add_argument("--output", required=True, help="local run folder: checkpoints/, metrics.jsonl, hf/")
    p.add_argument("--max-steps", type=int, required=True, help="optimizer steps to train for")
    flag = functools.partial(config_flag, p, cls=TrainConfig)
    flag("--batch-size", type=int, help="examples per rank per micro-batch")
    flag("--lr", type=float, help="peak learning rate (default: the model's, per size)")
    flag("--warmup-steps", type=int, help="linear warmup steps (default: 10%% of --max-steps)")
    flag("--grad-accum", type=int, help="micro-batches per optimizer step")
    flag("--seed", type=int, help="seeds the weights, the shuffle and the masks")
    flag("--weight-decay", type=float, help="decoupled weight decay (default: the model's recipe, 0.01)")
    flag("--max-grad-norm", type=float,
         help="clip gradients to this global norm; 0: no clipping (default: the model's recipe)")
    flag("--masking", help="masking preset (default: the model's; the presets are listed in docs/training.md)")
    flag("--mask-prob", type=float, help="fraction of tokens selected for masking (default: the model size's, e.g. 0.3 for "
                               "bert and roberta tiny/small; else the preset's, 0.15)")
    flag("--max-predictions", type=int, help="at most this many selected tokens per sequence (default: no cap)")
    flag("--teacher", metavar="DIR",
         help="distilbert: the BERT masked-LM folder to distil, with its tokenizer, e.g. DIR/hf of a bert run "
              "(default: none; the other models take none)")
    flag("--init", metavar="DIR",
         help="start from the weights a finished run exported (its --output), e.g. to continue at a longer "
              "--seq-len; optimizer and schedule start fresh (default: random weights)")
    flag("--lang-alpha", type=float,
         help="xlm, xlmr: draw each example's language with q ∝ p^alpha on shards whose examples carry a "
              "language (mlm --per-language, clm); 1 keeps the shares, 0 makes them equal "
              "(default: the model's, 0.5 for xlm and 0.3 for xlmr; the other models take none)")
    flag("--log-every", type=int, help="steps between metrics.jsonl lines")
    flag("--checkpoint-every", type=int, help="steps between checkpoints (default: only at --max-steps)")
    flag("--eval-every", type=int, help="steps between evaluations (default: only at the end)")
    flag("--eval-data", help="evaluation shards (default: the valid split of --data, a folder or manifest)")
    flag("--eval-batches", type=int, help="batches per evaluation")
    flag("--num-workers", type=int, help="DataLoader worker processes per rank (0: read in the training process)")
    flag("--shuffle-buffer", type=int, help="examples in the shuffle buffer")
    flag("--length-groups", type=int,
         help="sort each window of this many batches of the shuffled order by length before cutting it into "
              "batches (less padding; the window's batches come in a seeded random order); 1: no grouping")
    flag("--device", choices=["auto", "cpu", "cuda"], help="auto: cuda when available, else cpu")
    flag("--precision", choices=list(PRECISIONS),
         help="auto: bf16 autocast on a CUDA device that supports it, else fp32; bf16 also runs on CPU")
    flag("--compile", action="store_true",
         help="torch.compile the model for training (the first steps pay for compiling; evaluation runs uncompiled)")
    flag("--resume", action="store_true", help="continue from the latest complete checkpoint")
    p.add_argument("--storage-options", default=None, metavar="JSON",
                   help="fsspec options as JSON, e.g. '{\"anon\": true}' (default: the standard environment)")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        model=args.model, size=args.size, data=args.data[0], more_data=args.data[1:] or None, output=args.output, max_steps=args.max_steps,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, grad_accum=args.grad_accum,
        seed=args.seed, weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, masking=args.masking,
        mask_prob=args.mask_prob, max_predictions=args.max_predictions, teacher=args.teacher, init=args.init,
        lang_alpha=args.lang_alpha,
        log_every=args.log_every, checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
        eval_data=args.eval_data, eval_batches=args.eval_batches, num_workers=args.num_workers,
        shuffle_buffer=args.shuffle_buffer, length_groups=args.length_groups, device=args.device,
        precision=args.precision, compile=args.compile, resume=args.resume,
        storage_options=parse_storage_options(args.storage_options),
    )


def main(argv: list[str] | None = None) -> dict:
    """Parse flags, train, and return the run summary."""
    args = build_parser().parse_args(argv)
    if not logging.getLogger().handlers:  # INFO on rank 0 only: other ranks would repeat every line
        level = logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING
        logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from trainer.run import train  # heavy imports (torch, transformers models) only when training

    return train(config_from_args(args)).summary


__all__ = ["build_parser", "config_from_args", "main"]
