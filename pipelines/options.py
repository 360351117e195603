"""Splitting a job's command line into its own flags and Beam's PipelineOptions."""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from shards.storage import parse_storage_options


def add_storage_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage-options", default=None, metavar="JSON",
                        help="fsspec storage options as JSON (default: the standard environment)")


def parse_job_args(parser: argparse.ArgumentParser, argv: list[str] | None
                   ) -> tuple[argparse.Namespace, PipelineOptions]:
    """Parse the job's flags; every flag it does not know goes to Beam's PipelineOptions.

    Without `--runner` the DirectRunner runs in-process; `--direct_num_workers N
    --direct_running_mode multi_processing` and DataflowRunner flags pass through.
    """
    args, beam_args = parser.parse_known_args(argv)
    if hasattr(args, "storage_options"):
        args.storage_options = parse_storage_options(args.storage_options)
    options = PipelineOptions(beam_args)
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = "DirectRunner"
    # Functions defined at module level are pickled by reference; main-session state is not needed.
    options.view_as(SetupOptions).save_main_session = False
    return args, options



def is_direct_runner(options: PipelineOptions) -> bool:
    """Whether the job runs on one machine (Beam's DirectRunner, in-process or multi-processing)."""
    runner = options.view_as(StandardOptions).runner
    name = runner if isinstance(runner, str) else type(runner).__name__
    return name.lower().endswith(("directrunner", "direct"))
