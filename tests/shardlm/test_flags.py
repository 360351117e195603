"""Every command's flags: a mistyped flag exits 2 naming it, Beam's flags pass."""

import pytest

from shardlm.cli import main

REQUIRED = {
    "clean": ["--input", "{tmp}/in.jsonl", "--output", "{tmp}/out"],
    "tokenizer": ["--input", "{tmp}/docs", "--kind", "wordpiece", "--vocab-size", "100", "--output", "{tmp}/out"],
    "build": ["--input", "{tmp}/docs", "--tokenizer", "{tmp}/tok", "--objective", "mlm", "--seq-len", "16",
              "--output", "{tmp}/out"],
    "train": ["--model", "bert", "--data", "{tmp}/shards", "--output", "{tmp}/out", "--max-steps", "1"],
}
MISTYPED = {"clean": ("--presett", "--preset"), "tokenizer": ("--vocab-sise", "--vocab-size"),
            "build": ("--sed", "--seed"), "train": ("--sed", "--seed")}


def command(name, tmp_path, *extra):
    return [name, *(arg.format(tmp=tmp_path) for arg in REQUIRED[name]), *extra]


@pytest.mark.parametrize("name", list(REQUIRED))
def test_a_mistyped_flag_exits_2_naming_it(name, tmp_path, capsys):
    wrong, _ = MISTYPED[name]
    assert main(command(name, tmp_path, wrong, "7")) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"shardlm {name}: error: unrecognized arguments: {wrong} 7")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["clean", "build"])
def test_beam_jobs_suggest_the_flag_meant(name, tmp_path, capsys):
    wrong, meant = MISTYPED[name]
    assert main(command(name, tmp_path, wrong, "7")) == 2
    assert f"did you mean {meant}?" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["clean", "build"])
def test_beam_flags_pass_to_the_job(name, tmp_path, capsys):
    """Past flag parsing, the job fails on its missing input: Beam's flags were accepted."""
    beam = ["--runner", "DirectRunner", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing",
            "--project", "my-project", "--region", "us-central1", "--temp_location", str(tmp_path / "tmp"),
            "--setup_file", "./setup.py"]
    assert main(command(name, tmp_path, *beam)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"shardlm {name}: error: ")
    assert "unrecognized" not in err and str(tmp_path / "in.jsonl" if name == "clean" else tmp_path / "docs") in err


def parser_of(name):
    import importlib

    from shardlm.cli import SUBCOMMANDS

    return importlib.import_module(SUBCOMMANDS[name].module).build_parser()


@pytest.mark.parametrize("name", ["clean", "tokenizer", "build", "train"])
def test_every_flag_has_help(name):
    parser = parser_of(name)
    missing = [a.option_strings[0] for a in parser._actions if a.option_strings and not a.help]
    assert len(parser._actions) > 5 and missing == []


def test_clean_defaults_come_from_its_configs():
    from pipelines.clean.filters import LangConfig
    from pipelines.clean.minhash import NearDedupConfig
    from pipelines.clean.readers import ReaderConfig

    defaults = vars(parser_of("clean").parse_args(["--input", "x", "--output", "y"]))
    reader, near = ReaderConfig(), NearDedupConfig()
    assert (defaults["format"], defaults["text_field"], defaults["url_field"], defaults["id_field"],
            defaults["timestamp_field"]) == \
        (reader.format, reader.text_field, reader.url_field, reader.id_field, reader.timestamp_field)
    assert defaults["lang_min_score"] == LangConfig().min_score
    assert (defaults["minhash_bands"], defaults["minhash_rows"], defaults["minhash_ngram"],
            defaults["near_dedup_verify"], defaults["near_dedup_threshold"]) == \
        (near.num_bands, near.rows_per_band, near.ngram, near.verify, near.min_similarity)


def defaults_differing_from(parser, cls) -> dict:
    """{flag: (parser default, dataclass default)} for every flag that sets a field with a default."""
    from dataclasses import MISSING, fields

    config = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    return {a.option_strings[0]: (a.default, config[a.dest]) for a in parser._actions
            if a.dest in config and a.default != config[a.dest]}


def test_build_defaults_come_from_build_config():
    from pipelines.build.job import BuildConfig

    parser = parser_of("build")
    assert defaults_differing_from(parser, BuildConfig) == {}
    assert {a.dest for a in parser._actions} >= {"seed", "valid_fraction", "negative_pool", "packing"}


def test_train_defaults_come_from_train_config():
    from trainer.config import TrainConfig

    parser = parser_of("train")
    assert defaults_differing_from(parser, TrainConfig) == {}
    assert {a.dest for a in parser._actions} >= {"batch_size", "shuffle_buffer", "device", "resume"}


def test_tokenizer_defaults_come_from_its_configs():
    from pipelines.tokenizer.corpus import CorpusConfig
    from pipelines.tokenizer.train import TokenizerConfig

    parser = parser_of("tokenizer")
    assert defaults_differing_from(parser, TokenizerConfig) == {}
    defaults = vars(parser.parse_args(["--output", "x"]))
    assert (defaults["lang_alpha"], defaults["max_documents"]) == (CorpusConfig.lang_alpha, CorpusConfig.max_texts)
