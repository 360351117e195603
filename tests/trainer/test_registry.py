"""Model registry, configs per size, shard validation, data resolution, collate, CLI choices."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from schemas import read_manifest
from trainer.cli import build_parser, config_from_args, main
from trainer.config import SIZE_NAMES, TrainConfig, VocabInfo
from trainer.data import collate, resolve_data
from trainer.models import MODEL_NAMES, MODELS, check_shards, get_model_spec
from trainer.objectives.base import Task
from trainer.schedule import param_groups

VOCAB = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def test_registry_names_objectives_and_recipes():
    assert MODEL_NAMES == tuple(MODELS) and {"bert", "roberta", "electra"} <= set(MODEL_NAMES)
    bert, roberta = get_model_spec("bert"), get_model_spec("roberta")
    assert (bert.objective.name, bert.objective.shard_objective) == ("mlm+nsp", "nsp")
    assert (roberta.objective.name, roberta.objective.shard_objective) == ("mlm", "mlm")
    assert (bert.recipe.betas, bert.recipe.max_grad_norm) == ((0.9, 0.999), 1.0)
    assert (roberta.recipe.betas, roberta.recipe.max_grad_norm) == ((0.9, 0.98), None)
    assert bert.max_positions == roberta.max_positions == 512


def test_tasks_wrap_their_networks(make_task):
    bert, roberta = make_task("bert", VOCAB), make_task("roberta", VOCAB)
    assert isinstance(bert, Task) and isinstance(roberta, Task)
    assert type(bert.exports()["hf"]).__name__ == "BertForPreTraining"
    assert type(roberta.exports()["hf"]).__name__ == "RobertaForMaskedLM"
    names = [n for n, _ in bert.trainable_parameters()]
    assert names == sorted(names) and len(names) == len(list(bert.parameters()))


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match=f"unknown model 't5'; choose one of {', '.join(sorted(MODELS))}$"):
        get_model_spec("t5")


def test_cli_refuses_unregistered_model(capsys):
    with pytest.raises(SystemExit):
        main(["--model", "t5", "--data", "x", "--output", "y", "--max-steps", "1"])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--model: invalid choice: 't5'" in line  # argparse quotes choices differently per Python
    assert "bert" in line and "roberta" in line


@pytest.mark.parametrize("size, dims", [("tiny", (128, 2, 2, 512)), ("small", (256, 4, 4, 1024)),
                                        ("base", (768, 12, 12, 3072)), ("large", (1024, 24, 16, 4096))])
def test_configs_per_size(size, dims):
    from trainer.models import bert, roberta

    assert set(bert.SIZES) == set(roberta.SIZES) == set(SIZE_NAMES)
    config = bert.build_config(bert.SIZES[size], VOCAB.vocab_size, VOCAB.pad_id)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.intermediate_size) == dims
    # 512 positions whatever the shards' seq_len: an export takes any input up to 512 tokens
    assert (config.vocab_size, config.max_position_embeddings, config.pad_token_id,
            config.type_vocab_size) == (162, 512, 0, 2)
    config = roberta.build_config(roberta.SIZES[size], VOCAB)
    assert (config.hidden_size, config.num_hidden_layers) == dims[:2]
    assert (config.max_position_embeddings, config.pad_token_id, config.bos_token_id, config.eos_token_id,
            config.type_vocab_size) == (513, 0, 2, 3, 1)


def test_small_sizes_take_the_small_budget_recipe_and_base_large_the_papers():
    from dataclasses import replace

    from trainer.models import bert, roberta
    from trainer.masking import mask_prob

    for module, build in ((bert, lambda size: bert.build_config(size, VOCAB.vocab_size, VOCAB.pad_id)),
                          (roberta, lambda size: roberta.build_config(size, VOCAB))):
        for name, (dropout, rate) in {"tiny": (0.0, 0.3), "small": (0.0, 0.3), "base": (0.1, None),
                                      "large": (0.1, None)}.items():
            size = module.SIZES[name]
            assert (size.dropout, size.mask_prob) == (dropout, rate)
            assert size.sinusoidal_positions == (name == "tiny")
            config = build(size)
            assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == dropout
    config = TrainConfig(model="roberta", size="tiny", data="x", output="y", max_steps=1)
    assert mask_prob(config, roberta.SIZES["tiny"]) == 0.3  # the size's rate when --mask-prob is not given
    assert mask_prob(replace(config, mask_prob=0.15), roberta.SIZES["tiny"]) == 0.15  # the flag wins
    assert mask_prob(config, roberta.SIZES["base"]) is None  # the preset's 0.15


def test_roberta_positions_fit_512_tokens_with_pad_offset(make_task):
    vocab = VocabInfo(vocab_size=300, special_ids={"pad": 1, "cls": 0, "sep": 2, "mask": 3, "unk": 4})
    network = make_task("roberta", vocab).network
    assert network.config.max_position_embeddings == 512 + 1 + 1
    ids = torch.full((1, 512), 7)
    assert network(input_ids=ids).logits.shape == (1, 512, 300)  # the longest sequence has positions


def test_check_shards_mismatch_and_length():
    manifest = {"objective": "mlm", "seq_len": 128, "tokenizer": {"vocab_size": 10, "special_ids": VOCAB.special_ids}}
    bert, roberta = get_model_spec("bert"), get_model_spec("roberta")
    with pytest.raises(ValueError) as err:
        check_shards(bert, "tiny", manifest, "s3://b/shards")
    assert str(err.value) == (
        "bert needs nsp shards (sentence pairs with NSP labels) but s3://b/shards holds mlm shards; build them "
        "with: shardlm build --input DOCS --tokenizer TOK --objective nsp --seq-len 128 --output URL")
    check_shards(roberta, "tiny", manifest, "x")
    with pytest.raises(ValueError, match="roberta needs mlm shards .* holds nsp shards"):
        check_shards(roberta, "tiny", {**manifest, "objective": "nsp"}, "x")
    with pytest.raises(ValueError, match="at most 512 tokens but x has seq_len 1024"):
        check_shards(roberta, "base", {**manifest, "seq_len": 1024}, "x")
    with pytest.raises(ValueError, match="lacks special ids mask"):
        check_shards(roberta, "tiny", {**manifest, "tokenizer": {"vocab_size": 10,
                                                                             "special_ids": {"pad": 0}}}, "x")


def test_collate_follows_the_schema():
    examples = [
        {"input_ids": np.array([2, 10, 11, 3, 12, 3], dtype=np.uint16),
         "word_start": np.array([True, True, False, True, True, True]), "segment_b_start": 4,
         "next_sentence_label": 1, "doc_id": "d1", "_worker": 1, "_position": 7},
        {"input_ids": np.array([2, 10, 3, 13, 3], dtype=np.uint16),
         "word_start": np.array([True, False, True, True, True]), "segment_b_start": 3,
         "next_sentence_label": 0, "doc_id": "d2", "_worker": 1, "_position": 8},
    ]
    batch = collate(examples, pad_id=0)
    assert set(batch) == {"input_ids", "word_start", "segment_b_start", "next_sentence_label", "attention_mask",
                          "_worker", "_position"}  # every numeric column; doc_id is text
    assert batch["input_ids"].dtype == torch.long
    assert batch["input_ids"].tolist() == [[2, 10, 11, 3, 12, 3], [2, 10, 3, 13, 3, 0]]
    assert batch["word_start"].dtype == torch.bool
    assert batch["word_start"].tolist() == [[True, True, False, True, True, True],
                                            [True, False, True, True, True, False]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]
    assert batch["segment_b_start"].tolist() == [4, 3] and batch["next_sentence_label"].tolist() == [1, 0]
    assert (batch["_worker"].tolist(), batch["_position"].tolist()) == ([1, 1], [7, 8])
    # columns of objectives to come (a per-token language id, a sentence-order label) come through too
    other = collate([{"input_ids": np.array([2, 5, 3], dtype=np.uint16), "langs": np.array([1, 1, 1], dtype=np.int8),
                      "sentence_order_label": 1}], pad_id=9)
    assert other["langs"].tolist() == [[1, 1, 1]] and other["sentence_order_label"].tolist() == [1]


def test_pair_objective_builds_token_types_and_labels():
    from trainer.masking import Masker, make_generator, masking_config
    from trainer.objectives.pair import NSP, SOP

    batch = collate([{"input_ids": np.array([2, 10, 11, 3, 12, 3]), "segment_b_start": 4, "next_sentence_label": 1,
                      "sentence_order_label": 0},
                     {"input_ids": np.array([2, 10, 3, 13, 3]), "segment_b_start": 3, "next_sentence_label": 0,
                      "sentence_order_label": 1}], pad_id=0)
    masker = Masker(VOCAB, masking_config("token"))
    nsp = NSP.prepare(batch, masker, make_generator(0))
    assert nsp["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0]]
    assert nsp["pair_label"].tolist() == [1, 0] and SOP.prepare(batch, masker, make_generator(0))["pair_label"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="objective mlm\+sop needs the shard column.s. sentence_order_label"):
        SOP.check_batch({k: v for k, v in batch.items() if k != "sentence_order_label"})


def test_no_weight_decay_on_bias_and_layernorm(make_task):
    model = make_task("bert", VOCAB)
    decay, no_decay = param_groups(model.trainable_parameters(), 0.01)
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
    assert (config.lr, config.num_warmup_steps, config.checkpoint_interval) == (None, 10, 100)
    assert (config.mask_prob, config.masking, config.max_grad_norm) == (0.2, None, None)
    assert config.storage_options == {"anon": True} and config.resume
    with pytest.raises(ValueError, match="--max-steps must be positive"):
        TrainConfig(model="bert", size="tiny", data="d", output="o", max_steps=0)


@pytest.mark.parametrize("model, table", [("bert", lambda n: n.bert.embeddings.position_embeddings),
                                          ("roberta", lambda n: n.roberta.embeddings.position_embeddings),
                                          ("longformer", lambda n: n.longformer.embeddings.position_embeddings),
                                          ("albert", lambda n: n.albert.embeddings.position_embeddings),
                                          ("electra", lambda n: n.electra.embeddings.position_embeddings)])
def test_sinusoidal_positions_start_the_table_from_sine_waves(model, table):
    from dataclasses import replace

    from trainer.models.spec import BuildContext

    spec = get_model_spec(model)
    config = TrainConfig(model=model, size="tiny", data="unused", output="unused", max_steps=1)
    size = replace(spec.sizes["tiny"], hidden_size=8, num_heads=2, intermediate_size=16)
    tables = {}
    for sinusoidal in (False, True):
        torch.manual_seed(0)
        task = spec.build_task(BuildContext(size=replace(size, sinusoidal_positions=sinusoidal), vocab=VOCAB,
                                            seq_len=16, config=config))
        tables[sinusoidal] = table(task.exports()["hf"]).weight.detach()  # electra: the shared table
    waves = tables[True]
    assert not torch.allclose(waves, tables[False])
    padded = model in ("roberta", "longformer")  # their tables keep a zero row at the pad id
    rows = torch.tensor([p for p in range(waves.shape[0]) if not padded or p != VOCAB.pad_id])
    assert waves[rows].std().item() == pytest.approx(0.02, rel=0.05)  # initializer_range: same scale as N(0, 0.02)
    position = rows.float()
    # column 0: sin(p), column 1: cos(p), column 2: sin(p / 10000^(2/d)) for the table's width d
    # (the hidden size 8, or albert's and electra's embedding width), one scale for all
    width = waves.shape[1]
    expected = torch.stack([torch.sin(position), torch.cos(position), torch.sin(position / 10000 ** (2 / width))], 1)
    scale = waves[1, 1] / torch.cos(torch.tensor(1.0))
    torch.testing.assert_close(waves[rows][:, :3], expected * scale, rtol=1e-4, atol=1e-6)
    if padded:  # the pad position's row stays zero, as transformers leaves it
        assert torch.count_nonzero(waves[VOCAB.pad_id]) == 0


@pytest.mark.parametrize("model, flag, betas, clip", [
    ("bert", None, (0.9, 0.999), 1.0),  # Devlin et al. appendix A.2, google-research/bert's clipping
    ("roberta", None, (0.9, 0.98), None),  # Liu et al. section 3.1; fairseq's --clip-norm 0.0: no clipping
    ("roberta", 0.5, (0.9, 0.98), 0.5),  # --max-grad-norm clips a model that does not by default
    ("bert", 0.0, (0.9, 0.999), None),  # --max-grad-norm 0 turns BERT's clipping off
])
def test_the_models_recipe_reaches_the_runs_optimizer_and_clipping(model, flag, betas, clip, nsp_shards, mlm_shards,
                                                                   tmp_path):
    from trainer import runtime
    from trainer.run import setup

    shards = nsp_shards if model == "bert" else mlm_shards
    run = setup(TrainConfig(model=model, size="tiny", data=str(shards), output=str(tmp_path / "o"), max_steps=1,
                            device="cpu", max_grad_norm=flag))
    try:
        assert [g["betas"] for g in run.optimizer.param_groups] == [betas, betas]
        assert [g["eps"] for g in run.optimizer.param_groups] == [1e-6, 1e-6]
        assert [g["weight_decay"] for g in run.optimizer.param_groups] == [0.01, 0.0]
        assert run.max_grad_norm == clip  # trainer.loop.train_step clips only when this is set
    finally:
        runtime.stop(run.rt)
