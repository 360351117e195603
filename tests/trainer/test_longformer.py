"""Longformer: the RoBERTa conversion (weights, global projections, repeated positions), one-line
refusals, and runs: from scratch with exact resume and export, and from a RoBERTa run on 4,096-token
shards."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pytest
import torch

from tests.trainer.conftest import sentences, tokenizer_entry, run_records, aligned
from trainer.config import TrainConfig, VocabInfo
from trainer.models import check_shards, get_model_spec, longformer

VOCAB = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def test_long_positions_keep_the_offset_rows_and_repeat_the_learned_ones():
    short = torch.arange(2 + 5, dtype=torch.float32)[:, None].repeat(1, 3)  # offset 2, 5 learned positions
    long = longformer.long_positions(short, 2 + 12, offset=2)
    assert long[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 6, 2, 3, 4, 5, 6, 2, 3]


def _roberta_export(make_task, folder):
    roberta = make_task("roberta", VOCAB, seed=3).network
    roberta.save_pretrained(folder)
    return roberta


def test_init_from_roberta_copies_every_weight_and_matches_it_within_the_window(make_task, tmp_path):
    roberta = _roberta_export(make_task, tmp_path / "hf").eval()
    task = make_task("longformer", VOCAB)
    longformer.load_from_roberta(task, str(tmp_path))
    net = task.network.eval()
    layer = net.longformer.encoder.layer[1].attention.self
    assert torch.equal(layer.query_global.weight, layer.query.weight)
    assert torch.equal(layer.value.weight, roberta.roberta.encoder.layer[1].attention.self.value.weight)
    table = net.longformer.embeddings.position_embeddings.weight
    assert table.shape[0] == 4096 + 1 and torch.equal(table[1:513], table[513:1025])
    assert torch.equal(table[:513], roberta.roberta.embeddings.position_embeddings.weight)
    # a sequence shorter than the one-sided window (8 tokens for tiny) sees everything: RoBERTa's output
    ids = torch.tensor([[2, 50, 60, 70, 4, 3]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        ours, theirs = net(input_ids=ids, attention_mask=mask).logits, roberta(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_init_refuses_a_folder_that_is_not_a_roberta(make_task, tmp_path):
    make_task("bert", VOCAB).network.save_pretrained(tmp_path / "hf")
    with pytest.raises(ValueError, match=r"holds a bert model, not a RoBERTa; longformer starts from a `shardlm train "
                                         r"--model roberta` run"):
        longformer.load_from_roberta(make_task("longformer", VOCAB), str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        longformer.load_from_roberta(make_task("longformer", VOCAB), str(tmp_path / "nothing"))


def test_init_refuses_a_roberta_of_another_size(make_task, tmp_path):
    make_task("roberta", VOCAB, size="small").network.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="does not fit longformer-2x128 .* same --size"):
        longformer.load_from_roberta(make_task("longformer", VOCAB), str(tmp_path))


def test_positions_and_windows_per_size():
    spec = get_model_spec("longformer")
    assert spec.max_positions == 4096
    manifest = {"objective": "mlm", "seq_len": 4096, "tokenizer": {"vocab_size": 100,
                                                                   "special_ids": {"pad": 0, "mask": 4}}}
    assert check_shards(spec, "tiny", manifest, "x").vocab_size == 100
    with pytest.raises(ValueError, match="at most 4096 tokens"):
        check_shards(spec, "tiny", {**manifest, "seq_len": 8192}, "x")
    config = longformer.build_config(spec.sizes["base"], VOCAB)
    assert config.attention_window == [512] * 12 and config.max_position_embeddings == 4096 + 1
    windows = {name: longformer.build_config(spec.sizes[name], VOCAB).attention_window for name in spec.sizes}
    assert windows == {"tiny": [16] * 2, "small": [128] * 4, "base": [512] * 12, "large": [512] * 24}
    # tiny takes RoBERTa's small-budget recipe, dropout included; base keeps the paper's 0.1
    tiny = longformer.build_config(spec.sizes["tiny"], VOCAB)
    assert tiny.hidden_dropout_prob == tiny.attention_probs_dropout_prob == spec.sizes["tiny"].dropout == 0.0
    assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.1


def _long_shards(folder, tokenizer_dir, seq_len=4096, per_split=(6, 2)):
    """mlm shards of seq_len-token sequences (sentences packed until full) in the trainer tests' tokenizer."""
    from schemas import examples_schema, write_manifest
    from shards.writer import rechunk, shard_set_manifest, write_shard

    tok_folder, fast = tokenizer_dir
    entry = tokenizer_entry(tok_folder, fast)
    schema = examples_schema("mlm", entry["vocab_size"])
    infos = []
    for index, (split, n) in enumerate(zip(("train", "valid"), per_split)):
        rows = {"input_ids": [], "word_start": [], "doc_id": []}
        for i in range(n):
            body = []
            for sent in sentences(1000, seed=100 * index + i):
                body += fast.encode(sent, add_special_tokens=False)
            ids = [fast.cls_token_id] + body[: seq_len - 2] + [fast.sep_token_id]
            rows["input_ids"].append(ids)
            rows["word_start"].append([not t.startswith("##") for t in fast.convert_ids_to_tokens(ids)])
            rows["doc_id"].append(f"long-{split}-{i}")
        infos.append(write_shard(str(folder), split, 0, rechunk(pa.table(rows, schema=schema), 4)))
    write_manifest(str(folder), shard_set_manifest(objective="mlm", seq_len=seq_len, tokenizer=entry, schema=schema,
                                                   shards=infos, created_by={"tool": "tests/trainer"}))
    return folder


@pytest.mark.slow
def test_longformer_from_scratch_trains_resumes_and_exports(mlm_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from trainer.run import train

    def config(out, **extra):
        return TrainConfig(model="longformer", size="tiny", data=str(mlm_shards), output=str(out), max_steps=4,
                           batch_size=8, log_every=1, checkpoint_every=2, eval_every=2, eval_batches=2,
                           device="cpu", **extra)

    out = tmp_path / "longformer"
    result = train(config(out))
    lines = run_records(out)
    assert {"eval_mlm_accuracy", "eval_mlm_unigram_accuracy"} <= set(lines[-1])
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-4")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines

    model = AutoModelForMaskedLM.from_pretrained(out / "hf")
    aligned(model)
    assert type(model).__name__ == "LongformerForMaskedLM"
    tokenizer = AutoTokenizer.from_pretrained(out / "hf")
    batch = tokenizer(["the cat runs over the tree .", "a big dog [MASK] ."], padding=True, return_tensors="pt")
    batch = {k: batch[k] for k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        assert torch.equal(model.eval()(**batch).logits, result.model(**batch).logits)


@pytest.mark.slow
def test_longformer_from_a_roberta_run_trains_on_4096_token_shards(mlm_shards, tokenizer_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from trainer.run import train

    roberta_run = tmp_path / "roberta"
    train(TrainConfig(model="roberta", size="tiny", data=str(mlm_shards), output=str(roberta_run), max_steps=2,
                      batch_size=8, eval_batches=1, device="cpu"))
    long = _long_shards(tmp_path / "long", tokenizer_dir)
    out = tmp_path / "longformer"
    result = train(TrainConfig(model="longformer", size="tiny", data=str(long), output=str(out), max_steps=2,
                               batch_size=2, log_every=1, eval_batches=1, device="cpu", init=str(roberta_run)))
    lines = run_records(out)
    assert [r["tokens"] for r in lines if "loss" in r] == [2 * 4096, 4 * 4096]  # every position of the long rows
    assert result.summary["eval"]["eval_examples"] == 2
    exported = json.loads((out / "hf" / "config.json").read_text())
    assert exported["model_type"] == "longformer" and exported["max_position_embeddings"] == 4096 + 1
