"""The `shardlm` console script: one subcommand per package entry point.

Each subcommand hands the rest of its command line to a package's `main(argv)`,
imported only when that subcommand runs, so `shardlm schema` never imports torch
or Beam. `shardlm SUB --help` is the package parser's own help.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

from schemas.errors import configure_logging, exit_code, run_main
from shardlm import __version__


@dataclass(frozen=True, kw_only=True)
class Subcommand:
    """Where a subcommand's `main(argv)` lives, and its one-line summary for `--help`."""

    module: str
    summary: str
    extra: str | None = None  # the package extra its optional imports come with (pyproject.toml)
    show: str | None = None  # a shardlm.report function: main's return value -> the text printed at the end


SUBCOMMANDS: dict[str, Subcommand] = {
    "clean": Subcommand(module="pipelines.clean.job",
                        summary="WARC/WET/JSONL/text -> cleaned, deduplicated documents (Beam)"),
    "tokenizer": Subcommand(module="pipelines.tokenizer.job", summary="train a tokenizer on a documents dataset",
                            extra="tokenizer"),
    "build": Subcommand(module="pipelines.build.job", summary="documents -> WebDataset shards for an objective (Beam)",
                        extra="tokenizer"),  # only to convert a vocab.txt/vocab.json/.model into a folder
    "train": Subcommand(module="trainer.cli", summary="pretrain a BERT-family model, streaming from shards",
                        extra="train", show="format_train_summary"),
    "report": Subcommand(module="shardlm.report", summary="plot and summarize a run from its metrics.jsonl",
                         extra="report"),
    "schema": Subcommand(module="shardlm.schema", summary="show a dataset's schema, counts and a few rows"),
    "demo": Subcommand(module="shardlm.demo", summary="the whole flow on a generated sample corpus",
                       extra="tokenizer,train"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; it only lists the subcommands (each parses its own flags)."""
    parser = argparse.ArgumentParser(
        prog="shardlm",
        description="From raw web crawls to pretrained BERT-family encoders.",
        epilog="Run `shardlm <subcommand> --help` for a subcommand's flags.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=24, width=100),
    )
    parser.add_argument("--version", action="version", version=f"shardlm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<subcommand>", title="subcommands")
    for name, sub in SUBCOMMANDS.items():
        subparsers.add_parser(name, help=sub.summary, add_help=False)
    return parser


def run_subcommand(name: str, argv: list[str]) -> int:
    """Import the subcommand's module and run its `main(argv)` through `schemas.errors.run_main`
    (user errors become one line and exit 2), as `python -m pipelines.<job>` and `python -m
    trainer` do."""

    sub = SUBCOMMANDS[name]

    def subcommand_main(args: list[str]) -> object:
        result = importlib.import_module(sub.module).main(args)
        if sub.show is not None and result is not None and os.environ.get("RANK", "0") == "0":
            from shardlm import report  # only rank 0 prints: torchrun ranks would repeat it

            print(getattr(report, sub.show)(result), flush=True)
        return result

    return run_main(f"shardlm {name}", subcommand_main, argv, extra=SUBCOMMANDS[name].extra)


def main(argv: list[str] | None = None) -> int:
    """`shardlm <subcommand> [flags]`; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        configure_logging()
        return run_subcommand(argv[0], argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_code(exit_.code)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0  # unreachable: known subcommands are dispatched above


if __name__ == "__main__":
    sys.exit(main())
