"""--init DIR: a second phase starts from a finished run's export (BERT's 128-then-512 schedule), at a
longer seq_len, with a fresh optimizer; weights that do not fit fail before training."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from transformers import AutoModelForMaskedLM

from trainer import runtime
from trainer.config import TrainConfig
from trainer.run import setup, start_counters, train


def config(shards, out, **extra):
    values = {"model": "roberta", "size": "tiny", "data": str(shards), "output": str(out), "max_steps": 2,
              "batch_size": 8, "eval_batches": 1, "device": "cpu"}
    return TrainConfig(**{**values, **extra})


@pytest.mark.slow
def test_second_phase_starts_from_the_first_at_a_longer_seq_len(mlm_shards, long_mlm_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    first = tmp_path / "phase1"
    train(config(mlm_shards, first))
    exported = AutoModelForMaskedLM.from_pretrained(first / "hf").state_dict()

    run = setup(config(long_mlm_shards, tmp_path / "check", init=str(first), seed=7))
    try:
        counters, resumed = start_counters(run)
    finally:
        runtime.stop(run.rt)
    assert (counters.step, resumed) == (0, False)
    weights = run.task.network.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in exported.items())  # not the seed-7 random weights
    assert all(not s for s in run.optimizer.state.values())  # a fresh optimizer

    second = tmp_path / "phase2"
    result = train(config(long_mlm_shards, second, init=str(first), log_every=1))
    lines = [json.loads(line) for line in (second / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [1, 2]
    assert lines[0]["tokens"] > 8 * 40  # sequences longer than the first phase's 32 tokens
    ids = torch.randint(5, 150, (1, 64))
    with torch.no_grad():  # the export takes the longer inputs
        assert result.model(input_ids=ids).logits.shape == (1, 64, result.model.config.vocab_size)


def test_init_that_does_not_fit_fails_before_training(mlm_shards, nsp_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    first = tmp_path / "tiny"
    train(config(mlm_shards, first, max_steps=1))
    for extra, message in (
            ({"size": "small"}, r"--init .*hf does not fit this model \(roberta.embeddings.word_embeddings.weight is "
                                r"\(162, 128\) there but \(162, 256\) here\); continue with the --model and --size it "
                                r"was trained with"),
            ({"model": "bert", "data": str(nsp_shards)}, r"--init .*hf holds a roberta model but this run trains bert; "
                                                         r"continue with the --model it was trained with"),
    ):
        out = tmp_path / f"never-{extra.get('size', extra.get('model'))}"
        with pytest.raises(ValueError, match=message):
            train(config(mlm_shards, out, init=str(first), **extra))
        assert not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text()
    other = tmp_path / "other-vocabulary"
    shutil.copytree(first, other)
    tok = json.loads((other / "hf" / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    a, b = sorted(vocab)[-2:]
    vocab[a], vocab[b] = vocab[b], vocab[a]  # two tokens trade ids: same size, another vocabulary
    (other / "hf" / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(ValueError, match="--init .*other-vocabulary was trained with another vocabulary than the "
                                         "shards' tokenizer"):
        train(config(mlm_shards, tmp_path / "z", init=str(other)))
    with pytest.raises(FileNotFoundError, match="--init .*nowhere is not a folder"):
        train(config(mlm_shards, tmp_path / "x", init=str(tmp_path / "nowhere")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="--init .*empty has no hf/config.json"):
        train(config(mlm_shards, tmp_path / "y", init=str(tmp_path / "empty")))


@pytest.mark.parametrize("model", ["bert", "albert", "electra", "xlmr"])
def test_every_network_a_model_exports_loads_back_with_init(model, make_task, tmp_path):
    """`--init DIR` through `load_exports` for the models whose tasks are not RoBERTa's (BERT's
    128-then-512 schedule above all): every exported folder (ELECTRA: hf and hf-generator) fills a
    freshly built task of another seed, tied and shared weights included; BERT's export then takes
    135 tokens although its first phase ran at 32."""
    from trainer.config import VocabInfo
    from trainer.initialize import load_exports

    vocab = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})
    first = make_task(model, vocab, seed=1, seq_len=32)
    for name, network in first.exports().items():
        network.save_pretrained(tmp_path / name)
    second = make_task(model, vocab, seed=2, seq_len=128)
    before = second.state_dict()
    saved = first.state_dict()
    assert not all(torch.equal(before[k], v) for k, v in saved.items())  # other random weights until loaded
    load_exports(second, str(tmp_path))
    loaded = second.state_dict()
    assert loaded.keys() == saved.keys() and all(torch.equal(loaded[k], v) for k, v in saved.items())
    if model == "bert":
        ids = torch.randint(5, vocab.vocab_size, (1, 135))
        with torch.no_grad():
            assert second.network(input_ids=ids).prediction_logits.shape == (1, 135, vocab.vocab_size)
