"""What a person reads of a run: the summary `shardlm train` prints at the end, and
`shardlm report RUN_DIR` (RUN_DIR/report.png and RUN_DIR/report.md from RUN_DIR/metrics.jsonl)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

BASELINES = ("unigram", "majority")  # an accuracy any model reaches by always answering the commonest label


def accuracy_rows(record: dict[str, Any]) -> list[tuple[str, float, str | None, float | None]]:
    """(name, accuracy, baseline name, baseline) for each accuracy of an eval record; the baseline of
    `eval_mlm_accuracy` is `eval_mlm_unigram_accuracy`, that of `eval_nsp_accuracy` is
    `eval_nsp_majority_accuracy`."""
    rows = []
    for key, value in record.items():
        if not key.endswith("_accuracy") or any(key.endswith(f"_{b}_accuracy") for b in BASELINES):
            continue
        stem = key[: -len("_accuracy")]
        base = next((f"{stem}_{b}_accuracy" for b in BASELINES if f"{stem}_{b}_accuracy" in record), None)
        rows.append((key, float(value), base, None if base is None else float(record[base])))
    return rows


def perplexity_rows(record: dict[str, Any]) -> list[tuple[str, float]]:
    """(name, value) of each perplexity of an eval record (XLM's CLM: `eval_clm_perplexity`)."""
    return [(key, float(value)) for key, value in record.items() if key.endswith("_perplexity")]


CHANCE_AUC = 0.5  # the AUC of a scorer that ranks at random (or gives every token one score)


def detection_rows(record: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    """(name, value, chance or None) of each AUC, precision and recall of an eval record (ELECTRA's
    replaced-token detection: `eval_rtd_auc` ...): an accuracy can sit at its baseline while these
    move. An AUC stands beside chance (CHANCE_AUC)."""
    return [(key, float(value), CHANCE_AUC if key.endswith("_auc") else None) for key, value in record.items()
            if key.endswith(("_auc", "_precision", "_recall"))]


def format_train_summary(summary: dict[str, Any]) -> str:
    """The block `shardlm train` prints at the end, from trainer.run.train's summary."""
    lines = [f"trained {summary['steps']} steps"]
    if summary.get("last_loss") is not None:
        first = summary.get("first_loss")
        lines.append(f"  train loss   {summary['last_loss']:.4f}" + (f" (first step {first:.4f})" if first is not None else ""))
    record = summary.get("eval") or {}
    if "eval_loss" in record:
        lines.append(f"  eval loss    {record['eval_loss']:.4f}")
    for name, value, base, base_value in accuracy_rows(record):
        label = name.removeprefix("eval_")
        beside = f" (baseline {base.removeprefix('eval_')} {base_value:.4f})" if base is not None else ""
        lines.append(f"  {label} {value:.4f}{beside}")
    for name, value in perplexity_rows(record):
        lines.append(f"  {name.removeprefix('eval_')} {value:.4f}")
    for name, value, chance in detection_rows(record):
        beside = f" (chance {chance:.4f})" if chance is not None else ""
        lines.append(f"  {name.removeprefix('eval_')} {value:.4f}{beside}")
    if summary.get("padded") is not None:
        lines.append(f"  padded       {summary['padded']:.1%} of the batches' positions")
    lines.append(f"  model        {summary['hf_dir']}")
    lines.append(f"  metrics      {summary['metrics']}")
    return "\n".join(lines)


def read_metrics(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train records, eval records) of RUN_DIR/metrics.jsonl, in step order; a missing, empty or
    unreadable file is a ValueError/FileNotFoundError of one line."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: RUN_DIR must be the --output of a `shardlm train` run")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} line {number} is not JSON ({err.msg})") from None
        if not isinstance(record, dict) or "step" not in record:
            raise ValueError(f"{path} line {number} is not a metrics record (no step)")
        records.append(record)
    train = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_loss" in r]
    if not train and not evals:
        raise ValueError(f"{path} holds no metrics records: the run logged nothing yet")
    return train, evals


def throughput(train: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(step, tokens/s) between consecutive log lines, from their cumulative `tokens` and `elapsed_s`;
    the first line counts from 0."""
    points, tokens, elapsed = [], 0, 0.0
    for record in train:
        if record["elapsed_s"] > elapsed:
            points.append((record["step"], (record["tokens"] - tokens) / (record["elapsed_s"] - elapsed)))
        tokens, elapsed = record["tokens"], record["elapsed_s"]
    return points


def run_facts(run_dir: Path) -> dict[str, Any]:
    """What the run trained, from its exported hf/config.json when it has one."""
    config = run_dir / "hf" / "config.json"
    if not config.is_file():
        return {}
    found = json.loads(config.read_text())
    keys = ("model_type", "architectures", "hidden_size", "num_hidden_layers", "vocab_size")
    return {k: found[k] for k in keys if k in found}


def summary_markdown(run_dir: Path, train: list[dict[str, Any]], evals: list[dict[str, Any]]) -> str:
    """The one-page RUN_DIR/report.md."""
    lines = [f"# Run report: {run_dir.name}", ""]
    facts = run_facts(run_dir)
    if facts:
        lines += ["## Model", ""] + [f"- {k}: {v if not isinstance(v, list) else ', '.join(map(str, v))}"
                                      for k, v in facts.items()] + [""]
    lines += ["## Training", ""]
    if train:
        last = train[-1]
        rate = last["tokens"] / last["elapsed_s"] if last.get("elapsed_s") else None
        lines += [f"- steps: {last['step']}", f"- epoch: {last.get('epoch')}",
                  f"- examples: {last['examples']}", f"- tokens: {last['tokens']}",
                  f"- elapsed: {last['elapsed_s']:.1f} s",
                  f"- first logged train loss: {train[0]['loss']:.4f} (step {train[0]['step']})",
                  f"- final train loss: {last['loss']:.4f} (step {last['step']})",
                  f"- final learning rate: {last['lr']:.3g}"]
        if rate is not None:
            lines.append(f"- throughput: {rate:,.0f} tokens/s over the run")
        if last.get("padded") is not None:
            lines.append(f"- padded positions: {last['padded']:.1%} of the batches' positions over the run")
    else:
        lines.append("- no train records")
    lines += ["", "## Evaluation", ""]
    if evals:
        last = evals[-1]
        lines += [f"Held-out, at step {last['step']}:", "", "| metric | value | baseline |", "|---|---|---|",
                  f"| eval_loss | {last['eval_loss']:.4f} | |"]
        for name, value, base, base_value in accuracy_rows(last):
            lines.append(f"| {name} | {value:.4f} | " + (f"{base_value:.4f} ({base})" if base else "") + " |")
        lines += [f"| {name} | {value:.4f} | |" for name, value in perplexity_rows(last)]
        lines += [f"| {name} | {value:.4f} |" + (f" {chance:.4f} (chance) |" if chance is not None else " |")
                  for name, value, chance in detection_rows(last)]
    else:
        lines.append("- no evaluation records")
    lines += ["", "![curves](report.png)", ""]
    return "\n".join(lines)


def plot(path: Path, train: list[dict[str, Any]], evals: list[dict[str, Any]]) -> None:
    """RUN_DIR/report.png: loss curves, learning rate and throughput, one panel each."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, (loss_ax, lr_ax, rate_ax) = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    if train:
        loss_ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss")
    if evals:
        loss_ax.plot([r["step"] for r in evals], [r["eval_loss"] for r in evals], "o-", label="eval loss")
    loss_ax.set_ylabel("loss")
    loss_ax.legend()
    lr_ax.plot([r["step"] for r in train], [r["lr"] for r in train])
    lr_ax.set_ylabel("learning rate")
    rates = throughput(train)
    rate_ax.plot([s for s, _ in rates], [t for _, t in rates])
    rate_ax.set_ylabel("tokens/s")
    rate_ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shardlm report",
                                description="Plot and summarize a training run from its metrics.jsonl.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the --output folder of a `shardlm train` run")
    return p


def main(argv: list[str] | None = None) -> dict[str, str]:
    """Write RUN_DIR/report.md and RUN_DIR/report.png; returns their paths."""
    run_dir = Path(build_parser().parse_args(argv).run_dir)
    train, evals = read_metrics(run_dir)
    png, md = run_dir / "report.png", run_dir / "report.md"
    plot(png, train, evals)
    md.write_text(summary_markdown(run_dir, train, evals))
    print(f"wrote {md} and {png}")
    return {"png": str(png), "md": str(md)}


__all__ = ["CHANCE_AUC", "accuracy_rows", "build_parser", "detection_rows", "format_train_summary", "main", "perplexity_rows", "read_metrics",
           "summary_markdown", "throughput"]
