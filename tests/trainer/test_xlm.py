"""XLM: TLM on tlm shards (per-token languages, positions restarting at B), MLM on per-language
mlm shards, CLM on clm shards (causal attention, perplexity); refuses mlm shards without languages
in one line; trains on tiny shards, resumes exactly, exports for AutoModelForMaskedLM."""

from __future__ import annotations

import shutil

import pytest
import torch

from trainer.config import TrainConfig, VocabInfo
from trainer.masking import PRESETS, Masker, make_generator
from trainer.models import xlm
from trainer.objectives.xlm import XLMTask, prepare_clm, prepare_tlm
from tests.trainer.conftest import run_records, aligned

VOCAB = VocabInfo(vocab_size=60, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def _tlm_batch():
    ids = torch.tensor([[2, 10, 11, 3, 3, 20, 21, 22, 3], [2, 12, 3, 3, 23, 3, 0, 0, 0]])
    return {"input_ids": ids, "attention_mask": (ids != 0).long(), "segment_b_start": torch.tensor([4, 3]),
            "langs": torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0, 0], [2, 2, 2, 0, 0, 0, 0, 0, 0]])}


def test_tlm_positions_restart_at_b_and_languages_follow_the_tokens():
    inputs = prepare_tlm(_tlm_batch(), Masker(VOCAB, PRESETS["token"]), make_generator(0))
    assert inputs["position_ids"][0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4]
    assert inputs["position_ids"][1, :6].tolist() == [0, 1, 2, 0, 1, 2]
    assert inputs["langs"][0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0]


def test_tlm_step_uses_the_language_embeddings_and_positions():
    torch.manual_seed(0)
    lang2id = {"de": 0, "en": 1, "fr": 2}
    task = XLMTask(xlm.XLMWithLMHeadModel(xlm.build_config(xlm.SIZES["tiny"], VOCAB, lang2id)), VOCAB).eval()
    assert task.network.transformer.lang_embeddings.num_embeddings == 3
    inputs = prepare_tlm(_tlm_batch(), Masker(VOCAB, PRESETS["token"]), make_generator(0))
    inputs["labels"][:, 1] = inputs["input_ids"][:, 1]  # at least one prediction per row
    base = task(inputs).loss
    other_langs = {**inputs, "langs": (inputs["langs"] + 1) % 3}
    plain_positions = {**inputs, "position_ids": torch.arange(9).expand(2, 9)}
    assert not torch.equal(task(other_langs).loss, base)
    assert not torch.equal(task(plain_positions).loss, base)


def test_clm_is_causal_and_labels_the_next_token():
    torch.manual_seed(0)
    task = XLMTask(xlm.XLMWithLMHeadModel(xlm.build_config(xlm.SIZES["tiny"], VOCAB, {"en": 0, "fr": 1})),
                   VOCAB).eval()
    ids = torch.tensor([[10, 11, 12, 13, 14, 15]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "lang": torch.tensor([1])}
    inputs = prepare_clm(batch, None, make_generator(0))
    assert inputs["labels"][0].tolist() == [11, 12, 13, 14, 15, -100]
    assert inputs["langs"][0].tolist() == [1] * 6
    changed = {**inputs, "input_ids": torch.tensor([[10, 11, 12, 13, 40, 41]])}
    with torch.no_grad():
        first, second = task.encode(inputs, causal=True), task.encode(changed, causal=True)
        bidirectional = task.encode(changed, causal=False), task.encode(inputs, causal=False)
    assert torch.allclose(first[:, :4], second[:, :4])  # earlier positions do not see later tokens
    assert not torch.allclose(bidirectional[0][:, :4], bidirectional[1][:, :4])
    assert task.network.transformer.causal is False  # the step's causal flag does not stick


def test_xlm_on_mlm_shards_without_languages_fails_naming_the_tlm_build(mlm_shards, tmp_path):
    from trainer.run import setup

    config = TrainConfig(model="xlm", size="tiny", data=str(mlm_shards), output=str(tmp_path / "o"), max_steps=1,
                         device="cpu")
    with pytest.raises(ValueError) as err:
        setup(config)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"xlm needs examples with language ids but {mlm_shards} holds mlm shards without "
                              f"languages; build TLM shards with: shardlm build --input PARALLEL --tokenizer TOK "
                              f"--objective tlm --seq-len 32")
    assert "--per-language" in message


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["tlm", "clm", "mlm"])
def test_xlm_trains_resumes_and_exports(objective, request, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForMaskedLM

    from trainer.run import train

    shards = request.getfixturevalue({"tlm": "tlm_shards", "clm": "clm_shards", "mlm": "language_mlm_shards"}[objective])

    def config(out, **extra):
        return TrainConfig(model="xlm", size="tiny", data=str(shards), output=str(out), max_steps=4, batch_size=8,
                           log_every=1, checkpoint_every=2, eval_every=2, eval_batches=2, device="cpu", **extra)

    out = tmp_path / "xlm"
    result = train(config(out))
    lines = run_records(out)
    assert f"{objective}_loss" in lines[0]
    last_eval = [r for r in lines if "eval_loss" in r][-1]
    expected = {"clm_perplexity"} if objective == "clm" else {f"{objective}_accuracy", f"{objective}_unigram_accuracy"}
    assert {"eval_" + name for name in expected} <= set(last_eval)
    if objective == "clm":
        assert last_eval["eval_clm_perplexity"] == pytest.approx(torch.tensor(last_eval["eval_clm_loss"]).exp().item(),
                                                                 rel=0.05)

    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-4")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines

    model = AutoModelForMaskedLM.from_pretrained(out / "hf")
    aligned(model)
    model.eval()
    assert type(model).__name__ == "XLMWithLMHeadModel"
    assert model.config.causal == (objective == "clm") and model.config.n_langs == 3
    ids = torch.tensor([[2, 10, 11, 12, 3, 3, 20, 21, 3], [2, 13, 14, 3, 3, 22, 3, 0, 0]])
    batch = {"input_ids": ids, "attention_mask": (ids != 0).long(),
             "langs": torch.tensor([[0] * 5 + [1] * 4, [2] * 4 + [0] * 5]),
             "position_ids": torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2, 3, 4]])}
    with torch.no_grad():
        ours, theirs = result.model(**batch).logits, model(**batch).logits
    assert torch.equal(ours, theirs)


def test_several_data_flags_reach_the_config():
    from trainer.cli import build_parser, config_from_args

    args = build_parser().parse_args(["--model", "xlm", "--data", "A", "--data", "B", "--output", "o",
                                      "--max-steps", "1"])
    config = config_from_args(args)
    assert (config.data, config.more_data) == ("A", ["B"])
    single = config_from_args(build_parser().parse_args(["--model", "xlm", "--data", "A", "--output", "o",
                                                         "--max-steps", "1"]))
    assert single.more_data is None


def test_only_xlm_alternates_shard_sets(mlm_shards, tmp_path):
    from trainer.run import setup

    with pytest.raises(ValueError, match=r"^roberta trains on one shard set; pass --data once"):
        setup(TrainConfig(model="roberta", size="tiny", data=str(mlm_shards), more_data=[str(mlm_shards)],
                          output=str(tmp_path / "o"), max_steps=1, device="cpu"))


@pytest.mark.slow
def test_xlm_alternates_tlm_and_clm_step_by_step_and_resumes(tlm_shards, clm_shards, tmp_path):
    from trainer.run import train

    def config(out, **extra):
        return TrainConfig(model="xlm", size="tiny", data=str(tlm_shards), more_data=[str(clm_shards)],
                           output=str(out), max_steps=6, batch_size=8, log_every=1, checkpoint_every=3,
                           eval_every=3, eval_batches=2, device="cpu", **extra)

    out = tmp_path / "xlm"
    train(config(out))
    lines = run_records(out)
    steps = [r for r in lines if "loss" in r]
    assert [("tlm_loss" in r, "clm_loss" in r) for r in steps] == [(True, False), (False, True)] * 3
    assert all(r["loss"] == pytest.approx(r.get("tlm_loss", r.get("clm_loss"))) for r in steps)
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-6")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines
