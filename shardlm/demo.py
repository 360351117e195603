"""`shardlm demo`: the whole flow on a generated sample corpus, on embedded defaults.

corpus (shardlm.sample_corpus) -> clean -> tokenizer -> build -> train (a tiny `--model`, default
bert) -> what it learned (held-out [MASK] accuracy beside the unigram baseline, pair accuracy
beside the majority class) and a fill-mask prediction from the exported Hugging Face folder.
Each model gets the tokenizer family and the shards it needs (`PLANS`): nsp for bert, sop for
albert, mlm for roberta, electra, longformer and xlmr, per-language mlm for xlm; distilbert
first trains a tiny bert as its teacher, longformer a tiny roberta to start from (`--init`).
Every stage runs through its package's `main(argv)`, exactly as the console script would run
it; this module only orchestrates and summarizes.
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
STAGE_DIRS = ("corpus", "documents", "tokenizer", "shards", "run", "shards-first", "run-first")


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What one model needs: its tokenizer family, its shards, and a run to train first (a
    distillation teacher, a model to start from) with the flag that hands it over."""

    tokenizer: str
    objective: str
    per_language: bool = False
    first: tuple[str, str, str] | None = None  # (model, shard objective, flag taking its run folder)
    export: str = "hf"  # the folder under the run that fill-mask loads
    steps: int = 400  # training steps of the model's run when `--steps` is not given


PLANS = {
    "bert": Plan(tokenizer="wordpiece", objective="nsp"),
    "roberta": Plan(tokenizer="bytelevel", objective="mlm"),
    "electra": Plan(tokenizer="wordpiece", objective="mlm", export="hf-generator"),
    "albert": Plan(tokenizer="unigram", objective="sop"),
    "xlmr": Plan(tokenizer="unigram", objective="mlm", per_language=True),
    "xlm": Plan(tokenizer="bpe", objective="mlm", per_language=True),
    "distilbert": Plan(tokenizer="wordpiece", objective="mlm", first=("bert", "nsp", "--teacher")),
    # longformer starts from a roberta that trained its own 400 steps: 100 more show it kept what it had
    "longformer": Plan(tokenizer="bytelevel", objective="mlm", first=("roberta", "mlm", "--init"), steps=100),
}


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """The demo's embedded defaults; sized to finish in a few minutes on 2 CPU cores."""

    workdir: Path
    model: str = "bert"
    steps: int | None = None  # None: each run its model's `Plan.steps`
    seed: int = 0
    vocab_size: int = 3000
    seq_len: int = 64
    batch_size: int = 32


def parse_args(argv: list[str] | None) -> DemoConfig:
    parser = argparse.ArgumentParser(prog="shardlm demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="build/demo", help="where everything is written (default build/demo)")
    parser.add_argument("--model", default="bert", choices=sorted(PLANS),
                        help="the model to train (default bert); distilbert and longformer train a bert or "
                             "roberta first")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps of each run (default: the model's own, 400 for most; "
                             "docs/commands.md lists them)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample corpus (default 0)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps <= 0:
        parser.error(f"--steps must be positive, got {args.steps}")
    return DemoConfig(workdir=Path(args.workdir), model=args.model, steps=args.steps, seed=args.seed)


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


def stage_argvs(config: DemoConfig, corpus: dict[str, str]) -> dict[str, tuple[str, list[str]]]:
    """Each stage's name -> (shardlm subcommand, its command line), in the order they run."""
    w, plan = config.workdir, PLANS[config.model]

    def build(objective: str, folder: str) -> list[str]:
        return (["--input", str(w / "documents"), "--tokenizer", str(w / "tokenizer"), "--objective", objective]
                + (["--per-language"] if plan.per_language and objective == "mlm" else [])
                + ["--seq-len", str(config.seq_len), "--output", str(w / folder)])

    def train(model: str, shards: str, run: str) -> list[str]:
        steps = config.steps or PLANS[model].steps
        return ["--model", model, "--size", "tiny", "--data", str(w / shards), "--output", str(w / run),
                "--max-steps", str(steps), "--batch-size", str(config.batch_size)]

    stages = {
        "clean": ("clean", ["--input", corpus["warc"], "--input", corpus["jsonl"], "--output", str(w / "documents")]),
        "tokenizer": ("tokenizer", ["--input", str(w / "documents"), "--kind", plan.tokenizer,
                                    "--vocab-size", str(config.vocab_size), "--output", str(w / "tokenizer")]),
        "build": ("build", build(plan.objective, "shards")),
    }
    handover: list[str] = []
    if plan.first:
        model, objective, flag = plan.first
        shards = "shards"
        if objective != plan.objective:
            shards = "shards-first"
            stages[f"build-{model}"] = ("build", build(objective, shards))
        stages[f"train-{model}"] = ("train", train(model, shards, "run-first"))
        handover = [flag, str(w / "run-first" / "hf") if flag == "--teacher" else str(w / "run-first")]
    stages["train"] = ("train", train(config.model, "shards", "run") + handover)
    return stages


def _run_stage(name: str, command: str, argv: list[str], timings: dict[str, float]) -> Any:
    log.info("demo: shardlm %s %s", command, " ".join(argv))
    start = time.monotonic()
    result = importlib.import_module(SUBCOMMANDS[command].module).main(argv)
    timings[name] = round(time.monotonic() - start, 1)
    return result


def masked_sentence(tokenizer: Any, template: str, answer: str) -> tuple[str, str]:
    """The sentence to fill (`template` with its mask token) and the vocabulary token `answer` takes
    at the mask's place, so that the model sees the mask where its training put one: the sentence
    with the answer in place must tokenize like the masked one up to the mask. The answer's token
    is then the one to score (" town" as "Ġtown" for byte-level BPE, "▁town" for SentencePiece,
    "town</w>" for XLM's BPE; a word split into pieces by its first piece). A mask token that
    does not take the space before it (a byte-level vocabulary leaves a lone "Ġ" there, a token
    training never put before a mask) is written without that space."""
    filled = tokenizer(template.format(mask=answer))["input_ids"]
    for candidate in (template, template.replace(" {mask}", "{mask}")):
        masked = tokenizer(candidate.format(mask=tokenizer.mask_token))["input_ids"]
        at = masked.index(tokenizer.mask_token_id)
        if filled[:at] == masked[:at] and at < len(filled):
            return candidate.format(mask=tokenizer.mask_token), tokenizer.convert_ids_to_tokens(filled[at])
    raise ValueError(f"the tokenizer splits {template!r} differently around {answer!r}; "
                     f"the demo cannot score the answer")


def fill_mask(hf_dir: str, template: str, answer: str, top_k: int = 3) -> dict[str, Any]:
    """Top-k predictions of the exported model for `template` with `{mask}` replaced by its mask
    token, and the score the model gives the word the corpus has there (`answer`, by its token at
    the mask: `masked_sentence`)."""
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the load report lists the NSP head the MLM class does not use
    hf_logging.disable_progress_bar()
    try:
        fill = pipeline("fill-mask", model=hf_dir, tokenizer=hf_dir, device="cpu")
        tokenizer = fill.tokenizer
        sentence, target = masked_sentence(tokenizer, template, answer)
        predictions = fill(sentence, top_k=top_k)
        expected = fill(sentence, targets=[target], top_k=1)[0]
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()

    def shown(p: dict[str, Any]) -> dict[str, Any]:  # a piece that decodes to blank shows as itself ("▁")
        token = p["token_str"].strip() or tokenizer.convert_ids_to_tokens(p["token"])
        return {"token": token, "score": round(float(p["score"]), 4)}

    return {"sentence": sentence, "predictions": [shown(p) for p in predictions], "answer": shown(expected)}


def document_stats(stats: dict[str, int]) -> dict[str, Any]:
    """read / kept / dropped by reason / rejected by reason, from a documents manifest's stats."""
    by = {kind: {k.split("/", 1)[1]: v for k, v in sorted(stats.items()) if k.startswith(kind + "/")}
          for kind in ("dropped", "rejected")}
    return {"read": stats.get("read", 0), "kept": stats.get("kept", 0), **by}


def shard_counts(manifest: dict[str, Any]) -> dict[str, Any]:
    """Shards, examples and examples per split, from a shard-set manifest."""
    counts = manifest["counts"]
    splits = {k.split("/", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("examples/")}
    found = {"shards": len(manifest["shards"]), "examples": counts["examples"],
             "splits": {k: v for k, v in splits.items() if "/" not in k},
             "objective": manifest["objective"], "seq_len": manifest["seq_len"]}
    languages = {k.split("/", 1)[1]: v for k, v in splits.items() if k.startswith("lang/")}
    return {**found, "languages": languages} if languages else found


# held-out metric -> (what it measures, the baseline metric, what the baseline does)
MEASURES = {
    "mlm_accuracy": ("[MASK] accuracy", "mlm_unigram_accuracy", "always the most frequent token"),
    "nsp_accuracy": ("next-sentence (NSP) accuracy", "nsp_majority_accuracy", "always the majority class"),
    "sop_accuracy": ("sentence-order (SOP) accuracy", "sop_majority_accuracy", "always the majority class"),
    "rtd_accuracy": ("replaced-token detection accuracy", "rtd_original_accuracy", 'always "original"'),
}


def learned(evaluation: dict[str, Any]) -> dict[str, list[float]]:
    """Held-out metric -> [the model's, its baseline's], for each metric the evaluation has (the
    baselines of `MEASURES`; ELECTRA's "always original" is 1 - the share of replaced tokens)."""
    found = dict(evaluation)
    if "eval_rtd_replaced_share" in found:
        found["eval_rtd_original_accuracy"] = 1.0 - found["eval_rtd_replaced_share"]
    return {name: [round(found[f"eval_{name}"], 4), round(found[f"eval_{base}"], 4)]
            for name, (_, base, _) in MEASURES.items() if f"eval_{name}" in found and f"eval_{base}" in found}


def learned_lines(pairs: dict[str, list[float]]) -> list[str]:
    """One line per held-out metric: the model's figure beside what its baseline scores, and their
    ratio (the held-out set is small: a ratio within a few percent of 1.00x is noise)."""
    lines = []
    for name, (value, base) in pairs.items():
        what, _, baseline = MEASURES[name]
        ratio = f"{value / base:.2f}x" if base else "-"
        lines.append(f"    {what} {value:.4f}, {baseline} {base:.4f}: {ratio}")
    return lines


def format_summary(summary: dict[str, Any]) -> str:
    """The lines the demo prints at the end."""
    docs, shards, fm = summary["documents"], summary["shards"], summary["fill_mask"]
    lines = ["", "shardlm demo: summary",
             f"  documents: read {docs['read']}, kept {docs['kept']}, "
             f"dropped {sum(docs['dropped'].values())}, rejected {sum(docs['rejected'].values())}"]
    lines += [f"    dropped/{k}: {v}" for k, v in docs["dropped"].items()]
    lines += [f"    rejected/{k}: {v}" for k, v in docs["rejected"].items()]
    splits = ", ".join(f"{k} {v}" for k, v in shards["splits"].items())
    languages = "".join(f", {k} {v}" for k, v in shards.get("languages", {}).items())
    lines += [f"  shards: {shards['shards']} with {shards['examples']} {shards['objective']} examples "
              f"({splits}; seq_len {shards['seq_len']}{languages}) in {summary['workdir']}/shards",
              f"  training: {summary['model']}-tiny, {summary['steps']} steps, "
              f"loss {summary['first_loss']:.4f} -> {summary['last_loss']:.4f}"]
    lines += ["  what it learned (held-out examples):"] + learned_lines(summary["learned"])
    lines += [f"  export: {summary['hf_dir']}", f"  fill-mask: {fm['sentence']}"]
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
    results = {name: _run_stage(name, command, argv, timings)
               for name, (command, argv) in stage_argvs(config, corpus).items()}
    documents, shards, trained = results["clean"], results["build"], results["train"]
    template, answer = sample_corpus.fill_mask_example(corpus_config)
    start = time.monotonic()
    hf_dir = str(trained["hf_dir"])
    prediction = fill_mask(str(Path(hf_dir).parent / PLANS[config.model].export), template, answer)
    timings["fill-mask"] = round(time.monotonic() - start, 1)
    return {
        "workdir": str(config.workdir),
        "corpus": corpus,
        "documents": document_stats(documents["stats"]),
        "shards": shard_counts(shards),
        "model": config.model,
        "steps": trained["steps"], "first_loss": trained["first_loss"], "last_loss": trained["last_loss"],
        "learned": learned(trained.get("eval") or {}),
        "hf_dir": hf_dir,
        "fill_mask": prediction,
        "seconds": timings,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """`shardlm demo [--workdir DIR] [--model NAME] [--steps N] [--seed N]`; prints and returns the summary."""
    summary = run(parse_args(argv))
    sys.stdout.write(format_summary(summary))
    return summary
