"""`shardlm demo`: its orchestration pieces, and (slow) the whole flow on the sample corpus."""

from pathlib import Path

import pytest

from shardlm import demo


def test_stage_argvs_use_each_commands_flags(tmp_path):
    config = demo.DemoConfig(workdir=tmp_path, steps=7)
    argvs = demo.stage_argvs(config, {"warc": "c/sample.warc.gz", "jsonl": "c/sample.jsonl"})
    assert list(argvs) == ["clean", "tokenizer", "build", "train"]
    assert argvs["clean"] == ["--input", "c/sample.warc.gz", "--input", "c/sample.jsonl",
                              "--output", f"{tmp_path}/documents"]
    assert argvs["tokenizer"] == ["--input", f"{tmp_path}/documents", "--kind", "wordpiece", "--vocab-size", "3000",
                                  "--output", f"{tmp_path}/tokenizer"]
    assert argvs["build"] == ["--input", f"{tmp_path}/documents", "--tokenizer", f"{tmp_path}/tokenizer",
                              "--objective", "nsp", "--seq-len", "64", "--output", f"{tmp_path}/shards"]
    assert argvs["train"] == ["--model", "bert", "--size", "tiny", "--data", f"{tmp_path}/shards",
                              "--output", f"{tmp_path}/run", "--max-steps", "7", "--batch-size", "32"]


def test_parse_args_defaults():
    assert demo.parse_args([]) == demo.DemoConfig(workdir=Path("build/demo"), steps=100, seed=0)
    with pytest.raises(SystemExit):
        demo.parse_args(["--steps", "0"])


def test_document_stats_groups_reasons():
    stats = {"read": 10, "kept": 6, "dropped/too_short": 2, "dropped/duplicate": 1, "rejected/not_html": 1}
    assert demo.document_stats(stats) == {"read": 10, "kept": 6, "dropped": {"duplicate": 1, "too_short": 2},
                                          "rejected": {"not_html": 1}}


def test_prepare_workdir_refuses_a_foreign_folder_and_clears_its_own(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not empty and was not made by `shardlm demo`"):
        demo.prepare_workdir(tmp_path)
    assert (tmp_path / "precious.txt").exists()
    own = tmp_path / "demo"
    demo.prepare_workdir(own)
    (own / "shards").mkdir()
    (own / "shards" / "stale.tar").write_bytes(b"x")
    (own / "notes.txt").write_text("mine")
    demo.prepare_workdir(own)
    assert not (own / "shards").exists()
    assert (own / "notes.txt").exists() and (own / demo.MARKER).exists()


def test_shard_counts():
    manifest = {"shards": [{}, {}], "objective": "nsp", "seq_len": 64,
                "counts": {"examples": 10, "examples/valid": 1, "examples/train": 9, "tokens": 500, "shards": 2}}
    assert demo.shard_counts(manifest) == {"shards": 2, "examples": 10, "splits": {"train": 9, "valid": 1},
                                           "objective": "nsp", "seq_len": 64}


def test_format_summary():
    summary = {
        "workdir": "w", "documents": {"read": 10, "kept": 6, "dropped": {"duplicate": 3}, "rejected": {"not_html": 1}},
        "shards": {"shards": 2, "examples": 900, "splits": {"train": 880, "valid": 20}, "objective": "nsp",
                   "seq_len": 64},
        "steps": 5, "first_loss": 8.5, "last_loss": 7.25, "hf_dir": "w/run/hf",
        "fill_mask": {"sentence": "the [MASK] of x.", "predictions": [{"token": "town", "score": 0.5}],
                      "answer": {"token": "town", "score": 0.5}},
        "seconds": {"clean": 1.0, "train": 2.5},
    }
    assert demo.format_summary(summary) == (
        "\nshardlm demo: summary\n"
        "  documents: read 10, kept 6, dropped 3, rejected 1\n"
        "    dropped/duplicate: 3\n"
        "    rejected/not_html: 1\n"
        "  shards: 2 with 900 nsp examples (train 880, valid 20; seq_len 64) in w/shards\n"
        "  training: 5 steps, loss 8.5000 -> 7.2500\n"
        "  export: w/run/hf\n"
        "  fill-mask: the [MASK] of x.\n"
        "    'town': 0.5000\n"
        "    (the corpus has 'town' there: 0.5000)\n"
        "  seconds: clean 1.0, train 2.5\n")


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    summary = demo.main(["--workdir", str(tmp_path / "demo"), "--steps", "5"])
    out = capsys.readouterr().out
    docs = summary["documents"]
    assert docs["read"] == docs["kept"] + sum(docs["dropped"].values()) + sum(docs["rejected"].values())
    assert docs["read"] >= 900  # 600 pages + 300 JSONL documents, plus planted records
    assert 0 < docs["kept"] < docs["read"]
    assert sum(docs["dropped"].values()) >= 3  # at least the planted exact duplicates
    assert summary["shards"]["objective"] == "nsp" and summary["shards"]["examples"] > 1000
    assert summary["steps"] == 5
    assert summary["first_loss"] > 0 and summary["last_loss"] > 0
    assert Path(summary["hf_dir"], "config.json").exists()
    assert len(summary["fill_mask"]["predictions"]) == 3
    assert summary["fill_mask"]["answer"]["token"] == "town"
    assert 0 < summary["fill_mask"]["answer"]["score"] < 1
    assert "[MASK]" in summary["fill_mask"]["sentence"]
    assert "shardlm demo: summary" in out and f"export: {summary['hf_dir']}" in out
