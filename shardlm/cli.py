"""The `shardlm` console script: one subcommand per package entry point.

Each subcommand hands the rest of its command line to a package's `main(argv)`,
imported only when that subcommand runs, so `shardlm schema` never imports torch
or Beam. `shardlm SUB --help` is the package parser's own help.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from dataclasses import dataclass

from shardlm import __version__


@dataclass(frozen=True, kw_only=True)
class Subcommand:
    """Where a subcommand's `main(argv)` lives, and its one-line summary for `--help`."""

    module: str
    summary: str


SUBCOMMANDS: dict[str, Subcommand] = {
    "clean": Subcommand(module="pipelines.clean.job",
                        summary="WARC/WET/JSONL/text -> cleaned, deduplicated documents (Beam)"),
    "tokenizer": Subcommand(module="pipelines.tokenizer.job", summary="train a tokenizer on a documents dataset"),
    "build": Subcommand(module="pipelines.build.job", summary="documents -> WebDataset shards for an objective (Beam)"),
    "train": Subcommand(module="trainer.cli", summary="pretrain a BERT-family model, streaming from shards"),
    "schema": Subcommand(module="schemas.cli", summary="show a dataset's schema, counts and a few rows"),
    "demo": Subcommand(module="shardlm.demo", summary="the whole flow on a generated sample corpus"),
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


def one_line(message: object) -> str:
    """An error message folded onto one line."""
    return " ".join(str(message).split())


def _exit_code(code: object) -> int:
    """The int an argparse SystemExit stands for (None is success; a string has been printed)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def configure_logging() -> None:
    """INFO to stderr for our loggers; Beam's own chatter only from WARNING up."""
    # force: importing Beam may already have configured the root logger at WARNING
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("apache_beam").setLevel(logging.WARNING)


def _is_credentials_error(err: Exception) -> bool:
    """botocore's and google-auth's missing/invalid-credentials errors (not OSErrors)."""
    names = {cls.__name__ for cls in type(err).__mro__}
    return bool(names & {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError",
                         "RefreshError"})


def run_subcommand(name: str, argv: list[str]) -> int:
    """Import the subcommand's module, run its `main(argv)`; user errors become one line and exit 2."""
    try:
        module = importlib.import_module(SUBCOMMANDS[name].module)
        module.main(argv)
    except (ValueError, OSError) as err:  # FileNotFoundError and PermissionError are OSErrors
        print(f"shardlm {name}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - only storage credential errors are turned into one line
        if not _is_credentials_error(err):
            raise
        print(f"shardlm {name}: error: {one_line(err)}; set the storage credentials (e.g. AWS_ACCESS_KEY_ID, "
              f"GOOGLE_APPLICATION_CREDENTIALS) or pass --storage-options", file=sys.stderr)
        return 2
    except SystemExit as exit_:
        return _exit_code(exit_.code)
    return 0


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
        return _exit_code(exit_.code)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0  # unreachable: known subcommands are dispatched above


if __name__ == "__main__":
    sys.exit(main())
