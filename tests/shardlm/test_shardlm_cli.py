"""The `shardlm` console script: help, one-line errors, lazy dispatch."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from shardlm import __version__
from schemas.errors import one_line
from shardlm.cli import SUBCOMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["clean", "tokenizer", "build", "train", "report", "schema", "demo"]


def test_subcommands_and_their_modules():
    assert list(SUBCOMMANDS) == NAMES
    assert {n: s.module for n, s in SUBCOMMANDS.items()} == {
        "clean": "pipelines.clean.job", "tokenizer": "pipelines.tokenizer.job", "build": "pipelines.build.job",
        "train": "trainer.cli", "report": "shardlm.report", "schema": "shardlm.schema", "demo": "shardlm.demo"}


def test_help_lists_every_subcommand_with_its_summary(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: shardlm [-h] [--version] <subcommand> ...")
    for name, sub in SUBCOMMANDS.items():
        assert f"    {name:<11} {sub.summary}\n" in out  # one line each


def test_no_subcommand_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "<subcommand>" in capsys.readouterr().err


def test_unknown_subcommand_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"shardlm {__version__}\n"
    assert __version__ == "0.1.0"


@pytest.mark.parametrize("error", [ValueError("bad --seq-len 0;\n  give a positive number"),
                                   FileNotFoundError("gs://b/x does not exist")])
def test_user_error_is_one_line_and_exit_2(monkeypatch, capsys, error):
    def failing_main(argv):
        raise error

    monkeypatch.setitem(sys.modules, "pipelines.build.job", types.SimpleNamespace(main=failing_main))
    assert main(["build", "--seq-len", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"shardlm build: error: {one_line(error)}\n"
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


def test_arguments_reach_the_subcommand_unchanged(monkeypatch):
    seen = []
    monkeypatch.setitem(sys.modules, "trainer.cli", types.SimpleNamespace(main=seen.append))
    assert main(["train", "--model", "bert", "--help-me", "x"]) == 0
    assert seen == [["--model", "bert", "--help-me", "x"]]


def test_other_exceptions_are_not_swallowed(monkeypatch):
    def broken(argv):
        raise KeyError("internal bug")

    monkeypatch.setitem(sys.modules, "pipelines.clean.job", types.SimpleNamespace(main=broken))
    with pytest.raises(KeyError):
        main(["clean"])


def test_schema_dispatch_prints_the_report(tmp_path, capsys):
    from schemas import DOCUMENTS_SCHEMA, SCHEMA_VERSION, encode_schema, write_manifest

    write_manifest(str(tmp_path), {
        "kind": "documents", "schema_version": SCHEMA_VERSION, "arrow_schema": encode_schema(DOCUMENTS_SCHEMA),
        "rows": 0, "files": [], "stats": {"read": 2, "kept": 0, "dropped/too_short": 2}, "created_by": {}})
    assert main(["schema", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"documents dataset at {tmp_path}\nmanifest: {tmp_path}/.manifest.json" in out
    assert "rows: 0 in 0 files (0 bytes)\nstats:\n  read: 2\n  kept: 0\n  dropped/too_short: 2\n" in out


def test_schema_subcommand_help_is_the_sub_parser_help(capsys):
    assert main(["schema", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: shardlm schema [-h] [--rows ROWS] [--storage-options JSON] URL")


def test_schema_error_exits_2_with_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "shardlm", "schema", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr == (f"shardlm schema: error: {tmp_path} has no manifest.json: the job writing it did not "
                          f"finish (or this is not a shardlm dataset); rerun the job to commit it\n")


def test_shardlm_schema_imports_neither_torch_nor_beam(tmp_path):
    check = ("import sys\nfrom shardlm.cli import main\n"
             f"assert main(['schema', {str(tmp_path / 'missing')!r}]) == 2\n"
             "bad = [m for m in ('torch', 'apache_beam', 'transformers') if m in sys.modules]\n"
             "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("name, extra", [("train", "train"), ("demo", "tokenizer,train"), ("tokenizer", "tokenizer")])
def test_a_missing_extra_is_named(monkeypatch, capsys, name, extra):
    def needs_torch(argv):
        raise ModuleNotFoundError("No module named 'transformers'", name="transformers")

    monkeypatch.setitem(sys.modules, SUBCOMMANDS[name].module, types.SimpleNamespace(main=needs_torch))
    assert main([name]) == 2
    assert capsys.readouterr().err.endswith(f"pip install 'shardlm[{extra}]'\n")


def test_train_prints_the_run_summary_at_the_end(monkeypatch, capsys):
    summary = {"steps": 20, "first_loss": 9.5, "last_loss": 6.25,
               "eval": {"step": 20, "eval_loss": 6.5, "eval_mlm_accuracy": 0.125, "eval_mlm_unigram_accuracy": 0.0625,
                        "eval_nsp_accuracy": 0.75, "eval_nsp_majority_accuracy": 0.5},
               "hf_dir": "run/hf", "metrics": "run/metrics.jsonl"}
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setitem(sys.modules, "trainer.cli", types.SimpleNamespace(main=lambda argv: summary))
    assert main(["train", "--model", "bert"]) == 0
    assert capsys.readouterr().out == (
        "trained 20 steps\n"
        "  train loss   6.2500 (first step 9.5000)\n"
        "  eval loss    6.5000\n"
        "  mlm_accuracy 0.1250 (baseline mlm_unigram_accuracy 0.0625)\n"
        "  nsp_accuracy 0.7500 (baseline nsp_majority_accuracy 0.5000)\n"
        "  model        run/hf\n"
        "  metrics      run/metrics.jsonl\n")
    monkeypatch.setenv("RANK", "1")  # the other torchrun ranks print nothing
    assert main(["train", "--model", "bert"]) == 0
    assert capsys.readouterr().out == ""
