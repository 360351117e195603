"""Model registry, configs per size, shard validation, data resolution, collate, CLI choices."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from schemas import read_manifest
from trainer.cli import build_parser, config_from_args, main
from trainer.config import SIZES, TrainConfig, VocabInfo
from trainer.data import collate, resolve_data
from trainer.models import MODELS, build_model, check_shards, get_model_spec
from trainer.schedule import param_groups

VOCAB = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def test_registry_names_and_objectives():
    assert sorted(MODELS) == ["bert", "roberta"]
    assert (MODELS["bert"].shard_objective, MODELS["bert"].objective) == ("nsp", "mlm+nsp")
    assert (MODELS["roberta"].shard_objective, MODELS["roberta"].objective) == ("mlm", "mlm")
    assert MODELS["bert"].model_class.__name__ == "BertForPreTraining"
    assert MODELS["roberta"].model_class.__name__ == "RobertaForMaskedLM"


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match=r"unknown model 'xlm'; choose one of bert, roberta"):
        get_model_spec("xlm")


def test_cli_refuses_unregistered_model(capsys):
    with pytest.raises(SystemExit):
        main(["--model", "electra", "--data", "x", "--output", "y", "--max-steps", "1"])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--model: invalid choice: 'electra'" in line  # argparse quotes choices differently per Python
    assert "bert" in line and "roberta" in line


@pytest.mark.parametrize("size, dims", [("tiny", (64, 2, 2, 256)), ("small", (256, 4, 4, 1024)),
                                        ("base", (768, 12, 12, 3072))])
def test_configs_per_size(size, dims):
    bert = MODELS["bert"].build_config(SIZES[size], VOCAB, 128)
    assert (bert.hidden_size, bert.num_hidden_layers, bert.num_attention_heads, bert.intermediate_size) == dims
    assert (bert.vocab_size, bert.max_position_embeddings, bert.pad_token_id, bert.type_vocab_size) == (162, 128, 0, 2)
    roberta = MODELS["roberta"].build_config(SIZES[size], VOCAB, 128)
    assert (roberta.hidden_size, roberta.num_hidden_layers) == dims[:2]
    assert (roberta.max_position_embeddings, roberta.pad_token_id, roberta.bos_token_id, roberta.eos_token_id,
            roberta.type_vocab_size) == (129, 0, 2, 3, 1)


def test_roberta_positions_fit_seq_len_with_pad_offset():
    vocab = VocabInfo(vocab_size=300, special_ids={"pad": 1, "cls": 0, "sep": 2, "mask": 3, "unk": 4})
    config = MODELS["roberta"].build_config(SIZES["tiny"], vocab, 64)
    assert config.max_position_embeddings == 64 + 1 + 1
    model = build_model(MODELS["roberta"], "tiny", vocab, 64)
    ids = torch.full((2, 64), 7)
    assert model(input_ids=ids).logits.shape == (2, 64, 300)  # the longest sequence has positions


def test_check_shards_mismatch_and_length():
    manifest = {"objective": "mlm", "seq_len": 128, "tokenizer": {"vocab_size": 10, "special_ids": VOCAB.special_ids}}
    with pytest.raises(ValueError) as err:
        check_shards(MODELS["bert"], "tiny", manifest, "s3://b/shards")
    assert str(err.value) == (
        "bert needs nsp shards (sentence pairs with NSP labels) but s3://b/shards holds mlm shards; build them "
        "with: shardlm build --input DOCS --tokenizer TOK --objective nsp --seq-len 128 --output URL")
    check_shards(MODELS["roberta"], "tiny", manifest, "x")
    with pytest.raises(ValueError, match="roberta needs mlm shards .* holds nsp shards"):
        check_shards(MODELS["roberta"], "tiny", {**manifest, "objective": "nsp"}, "x")
    with pytest.raises(ValueError, match="at most 512 tokens but x has seq_len 1024"):
        check_shards(MODELS["roberta"], "base", {**manifest, "seq_len": 1024}, "x")
    with pytest.raises(ValueError, match="lacks special ids mask"):
        check_shards(MODELS["roberta"], "tiny", {**manifest, "tokenizer": {"vocab_size": 10,
                                                                             "special_ids": {"pad": 0}}}, "x")


def test_collate_pads_and_builds_token_types():
    examples = [
        {"input_ids": np.array([2, 10, 11, 3, 12, 3], dtype=np.uint16), "segment_b_start": 4,
         "next_sentence_label": 1, "_worker": 1, "_position": 7},
        {"input_ids": np.array([2, 10, 3, 13, 3], dtype=np.uint16), "segment_b_start": 3,
         "next_sentence_label": 0, "_worker": 1, "_position": 8},
    ]
    batch = collate(examples, pad_id=0)
    assert batch["input_ids"].dtype == torch.long
    assert batch["input_ids"].tolist() == [[2, 10, 11, 3, 12, 3], [2, 10, 3, 13, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]]
    assert batch["next_sentence_label"].tolist() == [1, 0]
    assert (batch["_worker"].tolist(), batch["_position"].tolist()) == ([1, 1], [7, 8])
    mlm = collate([{"input_ids": np.array([2, 5, 3], dtype=np.uint16)}], pad_id=0)
    assert "next_sentence_label" not in mlm and mlm["token_type_ids"].tolist() == [[0, 0, 0]]


def test_no_weight_decay_on_bias_and_layernorm():
    model = build_model(MODELS["bert"], "tiny", VOCAB, 32)
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all("bias" in names[id(p)] or "LayerNorm" in names[id(p)] for p in no_decay["params"])
    assert not any("bias" in names[id(p)] or "LayerNorm" in names[id(p)] for p in decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_resolve_data_folder_pattern_and_missing_manifest(nsp_shards, tmp_path):
    folder = resolve_data(str(nsp_shards), {})
    assert [u.rsplit("/", 1)[1] for u in folder.urls] == ["train-000000.tar", "train-000001.tar"]
    assert folder.manifest["objective"] == "nsp"
    pattern = resolve_data(f"{nsp_shards}/train-{{000000..000001}}.tar", {})
    assert pattern.urls == folder.urls and pattern.manifest == read_manifest(str(nsp_shards))
    globbed = resolve_data(f"{nsp_shards}/train-*.tar", {})
    assert globbed.urls == folder.urls
    shutil.copy(nsp_shards / "train-000000.tar", tmp_path / "train-000000.tar")
    with pytest.raises(FileNotFoundError, match="no manifest.json beside .*train-000000.tar"):
        resolve_data(f"{tmp_path}/train-*.tar", {})


def test_cli_flags_become_config():
    args = build_parser().parse_args(["--model", "roberta", "--size", "small", "--data", "d", "--output", "o",
                                      "--max-steps", "100", "--mask-prob", "0.2", "--storage-options",
                                      '{"anon": true}', "--resume"])
    config = config_from_args(args)
    assert isinstance(config, TrainConfig)
    assert (config.peak_lr, config.num_warmup_steps, config.checkpoint_interval) == (5e-4, 10, 100)
    assert config.masking.mask_prob == 0.2 and config.storage_options == {"anon": True} and config.resume
    with pytest.raises(ValueError, match="--max-steps must be positive"):
        TrainConfig(model="bert", size="tiny", data="d", output="o", max_steps=0)
