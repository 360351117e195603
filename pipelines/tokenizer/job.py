"""`shardlm tokenizer`: train a tokenizer on a documents dataset and save a `transformers` folder.

    python -m pipelines.tokenizer --input DOCS_URL --kind wordpiece --vocab-size 30522 --output URL

The training logic lives in pipelines/tokenizer/train.py; this module only wires it.
"""

from __future__ import annotations

import argparse
import logging

from pipelines.docs_input import document_files, iter_texts
from pipelines.options import add_storage_flag
from pipelines.tokenizer.load import save_tokenizer
from pipelines.tokenizer.train import KINDS, TokenizerConfig, train_tokenizer
from shards.storage import parse_storage_options

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shardlm tokenizer", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="documents dataset folder (output of `shardlm clean`)")
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--vocab-size", required=True, type=int)
    parser.add_argument("--output", required=True, help="folder URL to write tokenizer.json and friends into")
    parser.add_argument("--min-frequency", type=int, default=2)
    parser.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=None,
                        help="lowercase the text (default: only for wordpiece)")
    parser.add_argument("--strip-accents", action=argparse.BooleanOptionalAction, default=None,
                        help="strip accents, wordpiece and bpe (default: as --lowercase; XLM's lowercase_and_remove_accent)")
    parser.add_argument("--seed", type=int, default=0, help="seed of sentencepiece's sentence sampling (unigram)")
    parser.add_argument("--max-documents", type=int, default=None, help="train on the first N documents only")
    add_storage_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> str:
    """Run the job; returns the output folder URL."""
    args = build_parser().parse_args(argv)
    storage_options = parse_storage_options(args.storage_options)
    config = TokenizerConfig(kind=args.kind, vocab_size=args.vocab_size,
                             min_frequency=args.min_frequency, lowercase=args.lowercase,
                             strip_accents=args.strip_accents, seed=args.seed)
    if args.max_documents is not None and args.max_documents < 1:
        raise ValueError(f"--max-documents must be >= 1, got {args.max_documents}")
    files = document_files(args.input, storage_options)  # fails fast on a missing or unfinished dataset
    tok = train_tokenizer(iter_texts(files, storage_options, args.max_documents), config)
    names = save_tokenizer(tok, args.output, storage_options, {
        "kind": config.kind, "lowercase": config.do_lowercase, "strip_accents": config.do_strip_accents})
    log.info("wrote %s tokenizer (vocab %d) to %s: %s", config.kind,
             tok.get_vocab_size(with_added_tokens=True), args.output, ", ".join(names))
    return args.output
