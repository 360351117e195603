"""`shardlm train` / `python -m trainer` / `torchrun -m trainer`: flags → TrainConfig → run."""

from __future__ import annotations

import argparse
import logging
import os

from shards.storage import parse_storage_options
from trainer.config import SIZE_NAMES, TrainConfig
from trainer.models import MODEL_NAMES

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shardlm train", description="Pretrain a BERT-family encoder on a shard set.")
    p.add_argument("--model", required=True, choices=sorted(MODEL_NAMES))
    p.add_argument("--size", default="tiny", choices=list(SIZE_NAMES), help="size preset of the model (default tiny)")
    p.add_argument("--data", required=True, help="shard-set folder, manifest URL, or brace/glob pattern of shards")
    p.add_argument("--output", required=True, help="local run folder: checkpoints/, metrics.jsonl, hf/")
    p.add_argument("--max-steps", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=32, help="examples per rank per micro-batch")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the model's, per size)")
    p.add_argument("--warmup-steps", type=int, default=None, help="default: 10%% of --max-steps")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weight-decay", type=float, default=None, help="default: the model's recipe (0.01)")
    p.add_argument("--max-grad-norm", type=float, default=None,
                   help="clip gradients to this global norm; 0: no clipping (default: the model's recipe)")
    p.add_argument("--masking", default=None,
                   help="masking preset (default: the model's; the presets are listed in docs/training.md)")
    p.add_argument("--mask-prob", type=float, default=None, help="fraction of tokens selected (default 0.15)")
    p.add_argument("--max-predictions", type=int, default=None,
                   help="at most this many selected tokens per sequence (default: no cap)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--checkpoint-every", type=int, default=None, help="default: only at --max-steps")
    p.add_argument("--eval-every", type=int, default=None, help="default: only at the end")
    p.add_argument("--eval-data", default=None, help="default: the valid split of --data (folder/manifest)")
    p.add_argument("--eval-batches", type=int, default=8)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--shuffle-buffer", type=int, default=10_000)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--resume", action="store_true", help="continue from the latest complete checkpoint")
    p.add_argument("--storage-options", default=None, help="fsspec options as JSON, e.g. '{\"anon\": true}'")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        model=args.model, size=args.size, data=args.data, output=args.output, max_steps=args.max_steps,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, grad_accum=args.grad_accum,
        seed=args.seed, weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, masking=args.masking,
        mask_prob=args.mask_prob, max_predictions=args.max_predictions,
        log_every=args.log_every, checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
        eval_data=args.eval_data, eval_batches=args.eval_batches, num_workers=args.num_workers,
        shuffle_buffer=args.shuffle_buffer, device=args.device, resume=args.resume,
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
