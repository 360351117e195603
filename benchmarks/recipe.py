"""The small-size recipe's learning curve: held-out [MASK] accuracy against the unigram baseline
(and NSP accuracy against the majority class for BERT) every `--eval-every` steps.

    python benchmarks/recipe_text.py --output /tmp/recipe/text.jsonl
    shardlm clean --input /tmp/recipe/text.jsonl --output /tmp/recipe/documents
    shardlm tokenizer --input /tmp/recipe/documents --kind wordpiece --vocab-size 8192 --output /tmp/recipe/tok
    shardlm build --input /tmp/recipe/documents --tokenizer /tmp/recipe/tok --objective mlm --seq-len 128 \
        --valid-fraction 0.05 --output /tmp/recipe/mlm          # (and --objective nsp for bert)
    python benchmarks/recipe.py --model roberta --size tiny --data /tmp/recipe/mlm --output /tmp/recipe/runs/roberta

runs `shardlm train` with the size's defaults (or the overrides given: --lr, --mask-prob,
--dropout, --positions, --warmup-steps, which let one compare against the papers' base values) and prints one
row per evaluation: step, accuracy, unigram baseline, their ratio (and NSP accuracy, majority);
`--result FILE` also records the run's wall seconds (training) and the process's CPU seconds (setup included).
`--metrics LABEL=RUN_DIR` (repeatable) tabulates runs instead of training, `--plot FILE.png`
draws the curves (accuracy / baseline). Results and commands go to docs/models.md ("Small-budget recipe").
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where benchmarks/trainer.py would
# shadow the trainer package: take the folder off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def curve(metrics: Path) -> list[dict]:
    """The evaluation rows of a run's metrics.jsonl."""
    rows = []
    for line in metrics.read_text().splitlines():
        record = json.loads(line)
        if "eval_mlm_accuracy" not in record:
            continue
        row = {"step": record["step"], "accuracy": record["eval_mlm_accuracy"],
               "unigram": record["eval_mlm_unigram_accuracy"], "loss": record.get("eval_mlm_loss")}
        row["ratio"] = row["accuracy"] / max(row["unigram"], 1e-9)
        for kind in ("nsp", "sop"):
            if f"eval_{kind}_accuracy" in record:
                row[kind] = record[f"eval_{kind}_accuracy"]
                row[f"{kind}_majority"] = record[f"eval_{kind}_majority_accuracy"]
        rows.append(row)
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["| step | [MASK] accuracy | unigram baseline | ratio | pair accuracy | majority |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        pair = next((k for k in ("nsp", "sop") if k in r), None)
        extra = f"{r[pair]:.3f} | {r[pair + '_majority']:.3f}" if pair else " | "
        lines.append(f"| {r['step']} | {r['accuracy']:.3f} | {r['unigram']:.3f} | {r['ratio']:.2f}x | {extra} |")
    return "\n".join(lines)


def plot(results: list[dict], path: str) -> None:
    """Each result's held-out [MASK] accuracy as a multiple of its unigram baseline (the runs'
    baselines differ a little with their masks), against the plateau (1.0) and the goal (1.5)
    (matplotlib: `pip install shardlm[report]`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for result in results:
        ax.plot([r["step"] for r in result["rows"]], [r["ratio"] for r in result["rows"]], marker="o",
                markersize=3, label=result["label"])
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="unigram baseline (always the most frequent)")
    ax.axhline(1.5, color="grey", linestyle=":", linewidth=1, label="1.5 x baseline (issue 7's goal)")
    ax.set_xlabel("step (batch 32 x 128 tokens)")
    ax.set_ylabel("held-out [MASK] accuracy / unigram baseline")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="roberta")
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--data", help="shard set (mlm for roberta, nsp for bert)")
    parser.add_argument("--output", help="run folder (must be new)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--lr", type=float, help="override the size's peak lr")
    parser.add_argument("--mask-prob", type=float, help="override the size's masking rate")
    parser.add_argument("--dropout", type=float, help="override the size's dropout")
    parser.add_argument("--positions", choices=("random", "sinusoidal"),
                        help="override the size's initial position table")
    parser.add_argument("--warmup-steps", type=int, help="override the 10%% warmup")
    parser.add_argument("--label", help="curve label (default: the settings)")
    parser.add_argument("--result", help="write the rows as JSON here")
    parser.add_argument("--metrics", action="append", default=[],
                        help="LABEL=RUN_DIR: tabulate (and plot) finished or running runs instead of training")
    parser.add_argument("--plot", help="PNG of the curves (needs matplotlib)")
    args = parser.parse_args(argv)

    if args.metrics:
        results = []
        for item in args.metrics:
            label, _, folder = item.partition("=")
            results.append({"label": label, "rows": curve(Path(folder) / "metrics.jsonl")})
            print(label)
            print(format_rows(results[-1]["rows"]))
        if args.plot:
            plot(results, args.plot)
        return {"results": results}

    if not (args.data and args.output):
        parser.error("--data and --output are needed to train (or give --metrics)")
    from trainer.config import TrainConfig
    from trainer.models import MODELS
    from trainer.run import train

    module = importlib.import_module(MODELS[args.model])
    size = module.SPEC.sizes[args.size]
    if args.dropout is not None:  # the size table is the only place dropout is set: override it for this run
        module.SPEC.sizes[args.size] = dataclasses.replace(size, dropout=args.dropout)
        size = module.SPEC.sizes[args.size]
    if args.positions is not None:  # likewise the initial position table
        module.SPEC.sizes[args.size] = dataclasses.replace(size, sinusoidal_positions=args.positions == "sinusoidal")
        size = module.SPEC.sizes[args.size]
    config = TrainConfig(model=args.model, size=args.size, data=args.data, output=args.output, max_steps=args.steps,
                         batch_size=args.batch_size, lr=args.lr, mask_prob=args.mask_prob,
                         warmup_steps=args.warmup_steps, eval_every=args.eval_every, log_every=50, device="cpu")
    summary = train(config).summary
    settings = {"lr": args.lr or size.lr, "mask_prob": args.mask_prob or size.mask_prob or 0.15,
                "dropout": size.dropout, "positions": "sinusoidal" if size.sinusoidal_positions else "random",
                "warmup_steps": config.num_warmup_steps}
    rows = curve(Path(summary["metrics"]))
    label = args.label or f"{args.model}-{args.size} " + ", ".join(f"{k} {v}" for k, v in settings.items())
    records = [json.loads(line) for line in Path(summary["metrics"]).read_text().splitlines()]
    result = {"label": label, "command": "python benchmarks/recipe.py " + " ".join(argv or sys.argv[1:]),
              "settings": settings, "seconds": max((r.get("elapsed_s", 0.0) for r in records), default=None),
              "cpu_seconds": time.process_time(), "rows": rows}
    print(label)
    print(format_rows(rows))
    if args.result:
        Path(args.result).write_text(json.dumps(result, indent=1) + "\n")
    if args.plot:
        plot([result], args.plot)
    return result


if __name__ == "__main__":
    main()
