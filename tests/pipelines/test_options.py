"""pipelines.options: a job's flags, Beam's pipeline options, and nothing else."""

import argparse

import pytest
from apache_beam.options.pipeline_options import (DirectOptions, FlinkRunnerOptions, GoogleCloudOptions,
                                                  SetupOptions, StandardOptions, WorkerOptions)

from pipelines.options import add_storage_flag, parse_job_args


def job_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shardlm job")
    parser.add_argument("--input", required=True)
    parser.add_argument("--seed", type=int, default=0)
    add_storage_flag(parser)
    return parser


@pytest.mark.parametrize("argv, named", [
    (["--sed", "7"], "--sed 7; did you mean --seed?"),
    (["--sed=7"], "--sed=7; did you mean --seed?"),
    (["stray"], "unrecognized arguments: stray ("),
    (["--direct_num_worker", "2", "--sed", "1"],
     "did you mean --direct_num_workers (for --direct_num_worker), --seed (for --sed)?"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag ("),
])
def test_an_unknown_flag_exits_2_naming_it(capsys, argv, named):
    with pytest.raises(SystemExit) as exit_:
        parse_job_args(job_parser(), ["--input", "x", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: shardlm job")
    assert named in err.splitlines()[-1]
    assert err.splitlines()[-1].startswith("shardlm job: error: unrecognized arguments: ")


def test_local_beam_flags_pass():
    args, options = parse_job_args(job_parser(), [
        "--direct_num_workers", "2", "--input", "x", "--direct_running_mode", "multi_processing", "--seed", "3"])
    assert (args.input, args.seed, args.storage_options) == ("x", 3, {})
    direct = options.view_as(DirectOptions)
    assert (direct.direct_num_workers, direct.direct_running_mode) == (2, "multi_processing")
    assert options.view_as(StandardOptions).runner == "DirectRunner"  # the default when none is given
    assert options.view_as(SetupOptions).save_main_session is False


def test_dataflow_flags_pass():
    _, options = parse_job_args(job_parser(), [
        "--input", "gs://bucket/docs", "--runner", "DataflowRunner", "--project", "my-project",
        "--region", "us-central1", "--temp_location", "gs://bucket/tmp", "--setup_file", "./setup.py",
        "--machine_type=n2-standard-4", "--max_num_workers", "50", "--experiments", "a", "--experiments", "b"])
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("my-project", "us-central1", "gs://bucket/tmp")
    assert options.view_as(SetupOptions).setup_file == "./setup.py"
    workers = options.view_as(WorkerOptions)
    assert (workers.machine_type, workers.max_num_workers) == ("n2-standard-4", 50)
    assert options.view_as(StandardOptions).runner == "DataflowRunner"


def test_flink_flags_pass():
    _, options = parse_job_args(job_parser(), [
        "--input", "x", "--runner", "FlinkRunner", "--flink_master", "flink:8081", "--parallelism", "64",
        "--environment_type", "DOCKER", "--environment_config", "registry/shardlm-worker:0.1.0"])
    assert options.view_as(FlinkRunnerOptions).flink_master == "flink:8081"
    assert options.view_as(FlinkRunnerOptions).parallelism == 64


def test_an_unknown_runner_is_a_configuration_error():
    with pytest.raises(ValueError, match="--runner Dataflow-Runner: Unexpected pipeline runner"):
        parse_job_args(job_parser(), ["--input", "x", "--runner", "Dataflow-Runner"])


def test_bad_storage_options_are_a_configuration_error():
    with pytest.raises(ValueError, match="--storage-options"):
        parse_job_args(job_parser(), ["--input", "x", "--storage-options", "{not json"])
