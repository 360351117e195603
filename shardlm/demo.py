"""`shardlm demo`: the whole flow on a generated sample corpus, on embedded defaults.

corpus (shardlm.sample_corpus) -> clean -> tokenizer (wordpiece) -> build (nsp)
-> train (tiny BERT) -> a fill-mask prediction from the exported Hugging Face folder.
Every stage runs through its package's `main(argv)`, exactly as the console script
would run it; this module only orchestrates and summarizes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shardlm import sample_corpus
from shardlm.cli import SUBCOMMANDS

log = logging.getLogger(__name__)

MARKER = ".shardlm-demo"
STAGE_DIRS = ("corpus", "documents", "tokenizer", "shards", "run")


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """The demo's embedded defaults; sized to finish in a few minutes on 2 CPU cores."""

    workdir: Path
    steps: int = 100
    seed: int = 0
    vocab_size: int = 3000
    seq_len: int = 64
    batch_size: int = 32


def parse_args(argv: list[str] | None) -> DemoConfig:
    parser = argparse.ArgumentParser(prog="shardlm demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="build/demo", help="where everything is written (default build/demo)")
    parser.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample corpus (default 0)")
    args = parser.parse_args(argv)
    if args.steps <= 0:
        parser.error(f"--steps must be positive, got {args.steps}")
    return DemoConfig(workdir=Path(args.workdir), steps=args.steps, seed=args.seed)


def prepare_workdir(workdir: Path) -> None:
    """Create the workdir, or clear the stage folders of an earlier demo run in it.

    A non-empty folder that an earlier demo did not create is refused, so the demo
    never deletes anything it did not write.
    """
    if workdir.exists() and any(workdir.iterdir()) and not (workdir / MARKER).exists():
        raise ValueError(f"{workdir} is not empty and was not made by `shardlm demo`; "
                         f"pass an empty or new --workdir")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("written by `shardlm demo`; its stage folders are replaced on each run\n")
    for name in STAGE_DIRS:
        shutil.rmtree(workdir / name, ignore_errors=True)


def stage_argvs(config: DemoConfig, corpus: dict[str, str]) -> dict[str, list[str]]:
    """The command line of each stage, in the order they run."""
    w = config.workdir
    return {
        "clean": ["--input", corpus["warc"], "--input", corpus["jsonl"], "--output", str(w / "documents")],
        "tokenizer": ["--input", str(w / "documents"), "--kind", "wordpiece",
                      "--vocab-size", str(config.vocab_size), "--output", str(w / "tokenizer")],
        "build": ["--input", str(w / "documents"), "--tokenizer", str(w / "tokenizer"), "--objective", "nsp",
                  "--seq-len", str(config.seq_len), "--output", str(w / "shards")],
        "train": ["--model", "bert", "--size", "tiny", "--data", str(w / "shards"), "--output", str(w / "run"),
                  "--max-steps", str(config.steps), "--batch-size", str(config.batch_size)],
    }


def _run_stage(name: str, argv: list[str], timings: dict[str, float]) -> Any:
    log.info("demo: shardlm %s %s", name, " ".join(argv))
    start = time.monotonic()
    result = importlib.import_module(SUBCOMMANDS[name].module).main(argv)
    timings[name] = round(time.monotonic() - start, 1)
    return result


def fill_mask(hf_dir: str, template: str, answer: str, top_k: int = 3) -> dict[str, Any]:
    """Top-k predictions of the exported model for `template` with `{mask}` replaced by its mask
    token, and the score the model gives the word the corpus has there (`answer`)."""
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the load report lists the NSP head the MLM class does not use
    hf_logging.disable_progress_bar()
    try:
        fill = pipeline("fill-mask", model=hf_dir, tokenizer=hf_dir, device="cpu")
        sentence = template.format(mask=fill.tokenizer.mask_token)
        predictions = fill(sentence, top_k=top_k)
        expected = fill(sentence, targets=[answer], top_k=1)[0]
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return {"sentence": sentence,
            "predictions": [{"token": p["token_str"].strip(), "score": round(float(p["score"]), 4)}
                            for p in predictions],
            "answer": {"token": expected["token_str"].strip(), "score": round(float(expected["score"]), 4)}}


def document_stats(stats: dict[str, int]) -> dict[str, Any]:
    """read / kept / dropped by reason / rejected by reason, from a documents manifest's stats."""
    by = {kind: {k.split("/", 1)[1]: v for k, v in sorted(stats.items()) if k.startswith(kind + "/")}
          for kind in ("dropped", "rejected")}
    return {"read": stats.get("read", 0), "kept": stats.get("kept", 0), **by}


def shard_counts(manifest: dict[str, Any]) -> dict[str, Any]:
    """Shards, examples and examples per split, from a shard-set manifest."""
    counts = manifest["counts"]
    splits = {k.split("/", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("examples/")}
    return {"shards": len(manifest["shards"]), "examples": counts["examples"], "splits": splits,
            "objective": manifest["objective"], "seq_len": manifest["seq_len"]}


def format_summary(summary: dict[str, Any]) -> str:
    """The lines the demo prints at the end."""
    docs, shards, fm = summary["documents"], summary["shards"], summary["fill_mask"]
    lines = ["", "shardlm demo: summary",
             f"  documents: read {docs['read']}, kept {docs['kept']}, "
             f"dropped {sum(docs['dropped'].values())}, rejected {sum(docs['rejected'].values())}"]
    lines += [f"    dropped/{k}: {v}" for k, v in docs["dropped"].items()]
    lines += [f"    rejected/{k}: {v}" for k, v in docs["rejected"].items()]
    splits = ", ".join(f"{k} {v}" for k, v in shards["splits"].items())
    lines += [f"  shards: {shards['shards']} with {shards['examples']} {shards['objective']} examples "
              f"({splits}; seq_len {shards['seq_len']}) in {summary['workdir']}/shards",
              f"  training: {summary['steps']} steps, loss {summary['first_loss']:.4f} -> {summary['last_loss']:.4f}",
              f"  export: {summary['hf_dir']}",
              f"  fill-mask: {fm['sentence']}"]
    lines += [f"    {p['token']!r}: {p['score']:.4f}" for p in fm["predictions"]]
    lines.append(f"    (the corpus has {fm['answer']['token']!r} there: {fm['answer']['score']:.4f})")
    lines.append("  seconds: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    return "\n".join(lines) + "\n"


def run(config: DemoConfig) -> dict[str, Any]:
    """Run every stage; returns the summary (also printed by `main`)."""
    prepare_workdir(config.workdir)
    corpus_config = sample_corpus.CorpusConfig(seed=config.seed)
    timings: dict[str, float] = {}
    start = time.monotonic()
    corpus = sample_corpus.write(config.workdir / "corpus", corpus_config)
    timings["corpus"] = round(time.monotonic() - start, 1)
    argvs = stage_argvs(config, corpus)
    documents = _run_stage("clean", argvs["clean"], timings)
    _run_stage("tokenizer", argvs["tokenizer"], timings)
    shards = _run_stage("build", argvs["build"], timings)
    trained = _run_stage("train", argvs["train"], timings)
    template, answer = sample_corpus.fill_mask_example(corpus_config)
    start = time.monotonic()
    hf_dir = str(trained["hf_dir"])
    prediction = fill_mask(hf_dir, template, answer)
    timings["fill-mask"] = round(time.monotonic() - start, 1)
    return {
        "workdir": str(config.workdir),
        "corpus": corpus,
        "documents": document_stats(documents["stats"]),
        "shards": shard_counts(shards),
        "steps": trained["steps"], "first_loss": trained["first_loss"], "last_loss": trained["last_loss"],
        "hf_dir": hf_dir,
        "fill_mask": prediction,
        "seconds": timings,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """`shardlm demo [--workdir DIR] [--steps N] [--seed N]`; prints and returns the summary."""
    summary = run(parse_args(argv))
    sys.stdout.write(format_summary(summary))
    return summary
