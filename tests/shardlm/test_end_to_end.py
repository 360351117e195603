"""The real commands, end to end, on a small generated corpus.

BERT: inputs, documents, tokenizer and shards all live on a real S3 server (moto_server on
127.0.0.1) and the trainer streams `s3://` shard URLs. RoBERTa: the same flow on local
storage with a byte-level BPE tokenizer and FULL-SENTENCES mlm shards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fsspec
import pytest
import torch

from shardlm import sample_corpus

pytestmark = pytest.mark.slow

SMALL = sample_corpus.CorpusConfig(seed=3, num_warc_pages=60, num_jsonl_docs=30, num_junk=2)


def shardlm(*args: str) -> subprocess.CompletedProcess:
    """Run the installed console script (as a user would), failing loudly on a non-zero exit."""
    exe = Path(sys.executable).with_name("shardlm")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    assert proc.returncode == 0, f"shardlm {' '.join(args)} failed:\n{proc.stderr[-4000:]}"
    return proc


def read_json(url: str) -> dict:
    with fsspec.open(url, "r") as f:
        return json.load(f)


def test_bert_from_warc_on_s3_to_hf_export(tmp_path, s3_bucket):
    local = sample_corpus.write(tmp_path / "corpus", SMALL)
    fs = fsspec.filesystem("s3")
    fs.put(local["warc"], f"{s3_bucket}/raw/sample.warc.gz")
    fs.put(local["jsonl"], f"{s3_bucket}/raw/sample.jsonl")
    docs, tok, shards, run = f"{s3_bucket}/docs", f"{s3_bucket}/tok", f"{s3_bucket}/shards", tmp_path / "run"

    shardlm("clean", "--input", f"{s3_bucket}/raw/*.warc.gz", "--input", f"{s3_bucket}/raw/sample.jsonl",
            "--output", docs)
    stats = read_json(f"{docs}/.manifest.json")["stats"]
    assert stats["read"] == stats["kept"] + sum(v for k, v in stats.items() if k.startswith(("dropped/", "rejected/")))
    planted = sample_corpus.generate(SMALL).planted
    assert stats["dropped/exact_duplicate"] == len(planted["warc_duplicates"]) + len(planted.get("jsonl_duplicates", []))
    assert stats["dropped/warc_type_request"] > 0 and stats["kept"] > 50

    shardlm("tokenizer", "--input", docs, "--kind", "wordpiece", "--vocab-size", "600", "--output", tok)
    shardlm("build", "--input", docs, "--tokenizer", tok, "--objective", "nsp", "--seq-len", "64",
            "--output", shards, "--valid-fraction", "0.1")
    manifest = read_json(f"{shards}/manifest.json")
    assert manifest["objective"] == "nsp" and manifest["counts"]["examples/train"] > 100
    assert manifest["counts"]["examples/valid"] > 0

    described = shardlm("schema", shards).stdout
    assert "next_sentence_label: int8" in described and "[CLS]" in described

    shardlm("train", "--model", "bert", "--size", "tiny", "--data", shards, "--output", str(run),
            "--max-steps", "8", "--batch-size", "8", "--log-every", "2", "--eval-batches", "2")
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [2, 4, 6, 8]
    assert any("eval_mlm_accuracy" in r for r in lines)
    assert_export_matches_checkpoint(run, step=8)


def assert_export_matches_checkpoint(run: Path, step: int) -> None:
    """The exported folder loads offline with the Auto classes and gives the trained weights' logits."""
    from safetensors.torch import load_file
    from transformers import AutoModelForMaskedLM, AutoModelForPreTraining, AutoTokenizer, BertForPreTraining

    hf = run / "hf"
    tokenizer = AutoTokenizer.from_pretrained(hf)
    exported = AutoModelForPreTraining.from_pretrained(hf).eval()
    trained = BertForPreTraining(exported.config).eval()
    # a checkpoint holds the task's weights: BERT's task keeps its network under "network."
    weights = load_file(str(run / "checkpoints" / f"step-{step}" / "model.safetensors"))
    trained.load_state_dict({k.removeprefix("network."): v for k, v in weights.items()})
    batch = tokenizer(["the river flows through the town.", "a market opens"], ["it is old.", "in spring"],
                      return_tensors="pt", padding=True)
    with torch.no_grad():
        got, want = exported(**batch), trained(**batch)
    assert torch.equal(got.prediction_logits, want.prediction_logits)
    assert torch.equal(got.seq_relationship_logits, want.seq_relationship_logits)
    assert AutoModelForMaskedLM.from_pretrained(hf) is not None


def test_roberta_mlm_flow_and_bert_refuses_mlm_shards(tmp_path):
    local = sample_corpus.write(tmp_path / "corpus", SMALL)
    docs, tok, shards, run = (str(tmp_path / n) for n in ("docs", "tok", "shards", "run"))
    shardlm("clean", "--input", local["warc"], "--input", local["jsonl"], "--output", docs,
            "--direct_num_workers", "2", "--direct_running_mode", "multi_processing")
    shardlm("tokenizer", "--input", docs, "--kind", "bytelevel", "--vocab-size", "700", "--output", tok)
    shardlm("build", "--input", docs, "--tokenizer", tok, "--objective", "mlm", "--seq-len", "64",
            "--output", shards)

    exe = Path(sys.executable).with_name("shardlm")
    refused = subprocess.run([str(exe), "train", "--model", "bert", "--data", shards, "--output", run,
                              "--max-steps", "2"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "shardlm build" in refused.stderr and "--objective nsp" in refused.stderr

    shardlm("train", "--model", "roberta", "--size", "tiny", "--data", shards, "--output", run,
            "--max-steps", "4", "--batch-size", "8")
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(Path(run) / "hf")
    tokenizer = AutoTokenizer.from_pretrained(Path(run) / "hf")
    assert type(model).__name__ == "RobertaForMaskedLM"
    assert tokenizer.mask_token == "<mask>" and tokenizer("a town").input_ids[0] == tokenizer.cls_token_id
