"""What a person reads of a run: the summary `shardlm train` prints at the end, and
`shardlm report RUN_DIR` (RUN_DIR/report.png and RUN_DIR/report.md from RUN_DIR/metrics.jsonl)."""

from __future__ import annotations

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
    lines.append(f"  model        {summary['hf_dir']}")
    lines.append(f"  metrics      {summary['metrics']}")
    return "\n".join(lines)


__all__ = ["accuracy_rows", "format_train_summary"]
