"""`shardlm tokenizer`: train a tokenizer on documents datasets and parallel corpora, or convert an
existing vocabulary, and save a `transformers` folder.

    python -m pipelines.tokenizer --input DOCS_URL [--input PARALLEL_URL ...] --kind wordpiece \
        --vocab-size 30522 --output URL [--lang-alpha 0.5]
    python -m pipelines.tokenizer --from VOCAB_URL --output URL

The text comes from pipelines/tokenizer/corpus.py, training from train.py, reading and saving
from load.py; this module only wires them.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging

from pipelines import progress
from pipelines.options import add_storage_flag
from pipelines.tokenizer.corpus import CorpusConfig, CorpusStats, progress_plan, training_texts
from pipelines.tokenizer.load import load_tokenizer, save_tokenizer
from pipelines.tokenizer.train import KINDS, TokenizerConfig, train_tokenizer
from schemas.flags import config_flag
from shards.storage import parse_storage_options

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shardlm tokenizer", description=__doc__.splitlines()[0])
    parser.add_argument("--input", action="append", default=[], metavar="URL",
                        help="a documents dataset folder (output of `shardlm clean`) or a parallel corpus "
                             "(TSV src<TAB>tgt or JSONL files named *.<l1>-<l2>.tsv, a file, folder or glob); "
                             "repeat for several")
    parser.add_argument("--from", dest="source", default=None, metavar="VOCAB_URL",
                        help="convert an existing vocabulary instead of training: a tokenizer folder or "
                             "tokenizer.json, BERT vocab.txt, GPT-2 vocab.json (+ merges.txt) or SentencePiece .model")
    parser.add_argument("--kind", choices=KINDS, help="the tokenizer family to train")
    parser.add_argument("--vocab-size", type=int, help="pieces in the vocabulary, special tokens included")
    parser.add_argument("--output", required=True, help="folder URL to write tokenizer.json and friends into")
    config_flag(parser, "--min-frequency", TokenizerConfig, type=int,
                help="a merge needs at least this many occurrences (wordpiece, bpe, bytelevel)")
    config_flag(parser, "--lowercase", TokenizerConfig, action=argparse.BooleanOptionalAction,
                help="lowercase the text (default: only for wordpiece)")
    config_flag(parser, "--strip-accents", TokenizerConfig, action=argparse.BooleanOptionalAction,
                help="strip accents, wordpiece and bpe (default: as --lowercase; XLM's lowercase_and_remove_accent)")
    config_flag(parser, "--lang-alpha", CorpusConfig, type=float,
                help="draw languages with q ∝ p^alpha (XLM 0.5, XLM-R 0.3; default: none, every text once)")
    parser.add_argument("--langs", default=None, metavar="L1,L2",
                        help="languages of parallel files whose names do not say them (default: from the names)")
    config_flag(parser, "--seed", TokenizerConfig, type=int,
                help="seed of the language draws and of sentencepiece's sentence sampling")
    config_flag(parser, "--max-documents", CorpusConfig, field="max_texts", type=int,
                help="learn from the first N texts of the inputs only (documents, or sides of pairs; default: all)")
    add_storage_flag(parser)
    progress.add_progress_flag(parser)
    return parser


def require_saving_library() -> None:
    """Fail before any work when transformers, which writes the folder at the end, is missing (it
    comes with the `tokenizer` extra; the core install for the Beam jobs lacks it)."""
    if importlib.util.find_spec("transformers") is None:
        raise ModuleNotFoundError("No module named 'transformers'", name="transformers")


def main(argv: list[str] | None = None) -> str:
    """Run the job; returns the output folder URL."""
    parser = build_parser()
    args = parser.parse_args(argv)
    storage_options = parse_storage_options(args.storage_options)
    require_saving_library()
    if args.source is not None:
        return convert(args, storage_options)
    missing = [flag for flag, value in (("--input", args.input), ("--kind", args.kind),
                                        ("--vocab-size", args.vocab_size)) if not value]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)} (or --from VOCAB_URL)")
    from pipelines.build.parallel import parse_langs

    config = TokenizerConfig(kind=args.kind, vocab_size=args.vocab_size,
                             min_frequency=args.min_frequency, lowercase=args.lowercase,
                             strip_accents=args.strip_accents, seed=args.seed)
    corpus = CorpusConfig(inputs=tuple(args.input), langs=parse_langs(args.langs), lang_alpha=args.lang_alpha,
                          max_texts=args.max_documents, seed=args.seed, storage_options=storage_options)
    stats = CorpusStats()
    with progress.Watch(progress_plan(corpus) if args.progress else None):
        tok = train_tokenizer(training_texts(corpus, stats), config)
    names = save_tokenizer(tok, args.output, storage_options, {
        "kind": config.kind, "lowercase": config.do_lowercase, "strip_accents": config.do_strip_accents,
        "inputs": list(corpus.inputs), "lang_alpha": corpus.lang_alpha, "corpus": stats.as_dict()})
    log.info("wrote %s tokenizer (vocab %d) from %d texts to %s: %s", config.kind,
             tok.get_vocab_size(with_added_tokens=True), sum(stats.read.values()), args.output, ", ".join(names))
    return args.output


def convert(args: argparse.Namespace, storage_options: dict) -> str:
    """`--from`: an existing vocabulary, with the family's special tokens, as a tokenizer folder."""
    ignored = [flag for flag, value in (("--input", args.input), ("--kind", args.kind),
                                        ("--vocab-size", args.vocab_size)) if value]
    if ignored:
        raise ValueError(f"--from converts a vocabulary; {', '.join(ignored)} would train one: give one or the other")
    tok, info = load_tokenizer(args.source, storage_options)
    names = save_tokenizer(tok, args.output, storage_options, {"source": info["url"]})
    log.info("wrote the tokenizer of %s (vocab %d) to %s: %s", info["url"], info["vocab_size"], args.output,
             ", ".join(names))
    return args.output
