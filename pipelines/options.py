"""Splitting a job's command line into its own flags and Beam's PipelineOptions.

A flag the job does not know goes to Beam only if Beam's own parser knows it (every
PipelineOptions class, including the chosen runner's); anything else stops the job before any
work, naming the flag, with exit status 2. Beam itself would log "Discarding unparseable args"
and run with the default, so `--sed 7` for `--seed 7` would silently build with seed 0.
"""

from __future__ import annotations

import argparse
import difflib

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from schemas.errors import one_line
from shards.storage import parse_storage_options


def add_storage_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage-options", default=None, metavar="JSON",
                        help="fsspec storage options as JSON (default: the standard environment)")


def parse_job_args(parser: argparse.ArgumentParser, argv: list[str] | None
                   ) -> tuple[argparse.Namespace, PipelineOptions]:
    """Parse the job's flags; the flags Beam knows go to its PipelineOptions, others are an error.

    Without `--runner` the DirectRunner runs in-process; `--direct_num_workers N
    --direct_running_mode multi_processing` and DataflowRunner flags pass through.
    """
    args, beam_args = parser.parse_known_args(argv)
    options = PipelineOptions(beam_args)
    import_runner(options)
    unknown, beam_flags = beam_parse(options, beam_args)
    if unknown:
        parser.error(unknown_message(unknown, option_strings(parser) + beam_flags))
    if hasattr(args, "storage_options"):
        args.storage_options = parse_storage_options(args.storage_options)
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = "DirectRunner"
    # Functions defined at module level are pickled by reference; main-session state is not needed.
    options.view_as(SetupOptions).save_main_session = False
    return args, options


def import_runner(options: PipelineOptions) -> None:
    """Import the `--runner`'s module, so that the options classes it defines are known too."""
    from apache_beam.runners.runner import create_runner

    runner = options.view_as(StandardOptions).runner
    if isinstance(runner, str):
        try:
            create_runner(runner)
        except (ValueError, ImportError) as err:
            raise ValueError(f"--runner {runner}: {one_line(err)}") from err


def beam_parse(options: PipelineOptions, args: list[str]) -> tuple[list[str], list[str]]:
    """(the args Beam's parser does not know, every flag it knows), from the parser Beam builds
    over all its PipelineOptions classes."""
    found: dict[str, list[str]] = {}

    def parse(parser: argparse.ArgumentParser) -> None:
        found["unknown"] = parser.parse_known_args(args)[1]
        found["flags"] = option_strings(parser)

    # retain_unknown_options: no "Discarding unparseable args" warning; the caller decides
    options.get_all_options(add_extra_args_fn=parse, retain_unknown_options=True)
    return found["unknown"], found["flags"]


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [flag for action in parser._actions for flag in action.option_strings]  # noqa: SLF001


def unknown_message(unknown: list[str], known: list[str]) -> str:
    """`unrecognized arguments: --sed 7; did you mean --seed? (...)`, with argparse's words."""
    flags = [arg.split("=", 1)[0] for arg in unknown if arg.startswith("--")]
    hints = []
    for flag in flags:
        close = difflib.get_close_matches(flag, known, n=1)
        hints += [f"{close[0]} (for {flag})" if len(flags) > 1 else close[0]] if close else []
    hint = f"; did you mean {', '.join(hints)}?" if hints else ""
    return (f"unrecognized arguments: {' '.join(unknown)}{hint} (a flag the job does not know must be one "
            f"of Beam's pipeline options)")


def is_direct_runner(options: PipelineOptions) -> bool:
    """Whether the job runs on one machine (Beam's DirectRunner, in-process or multi-processing)."""
    runner = options.view_as(StandardOptions).runner
    name = runner if isinstance(runner, str) else type(runner).__name__
    return name.lower().endswith(("directrunner", "direct"))
