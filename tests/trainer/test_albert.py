"""ALBERT: LAMB against the update rule of You et al., factorised and shared parameters, SOP on
`sop` shards; trains on tiny shards, resumes exactly, exports for AutoModelForPreTraining."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from trainer.config import TrainConfig, VocabInfo
from trainer.lamb import Lamb
from trainer.models import albert, check_shards, get_model_spec
from trainer.schedule import build_optimizer
from tests.trainer.conftest import run_records, aligned

VOCAB = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def lamb_reference(w, grads, *, lr, beta1, beta2, eps, wd, adapt):
    """You et al. 2020, Algorithm 2 as google-research/albert lamb_optimizer.py applies it (NumPy, float64)."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        update = m / (np.sqrt(v) + eps) + wd * w
        ratio = 1.0
        if adapt:
            w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(update)
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
        w = w - lr * ratio * update
    return w


def test_lamb_follows_the_update_rule_of_you_et_al():
    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(4, 3)), rng.normal(size=3)
    grads = [(rng.normal(size=(4, 3)), rng.normal(size=3)) for _ in range(5)]
    weight = torch.nn.Parameter(torch.tensor(w0))
    bias = torch.nn.Parameter(torch.tensor(b0))
    opt = Lamb([{"params": [weight], "weight_decay": 0.01},
                {"params": [bias], "weight_decay": 0.0, "layer_adaptation": False}],
               lr=0.05, betas=(0.9, 0.999), eps=1e-6)
    for gw, gb in grads:
        weight.grad, bias.grad = torch.tensor(gw), torch.tensor(gb)
        opt.step()
    kw = dict(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-6)
    expected_w = lamb_reference(w0, [g for g, _ in grads], wd=0.01, adapt=True, **kw)
    expected_b = lamb_reference(b0, [g for _, g in grads], wd=0.0, adapt=False, **kw)
    np.testing.assert_allclose(weight.detach().numpy(), expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias.detach().numpy(), expected_b, rtol=1e-5, atol=1e-6)
    # the trust ratio matters: with it, a step moves the weight by lr x its own norm
    moved = np.linalg.norm(lamb_reference(w0, grads[0][:1], wd=0.01, adapt=True, **kw) - w0)
    assert moved == pytest.approx(0.05 * np.linalg.norm(w0))


def test_lamb_skips_the_trust_ratio_for_a_zero_weight():
    weight = torch.nn.Parameter(torch.zeros(3))
    opt = Lamb([weight], lr=0.1, eps=1e-6)
    weight.grad = torch.tensor([1.0, -2.0, 0.5])
    opt.step()  # ratio 1: the plain Adam direction m / (sqrt(v) + eps), without bias correction
    expected = -0.1 * (0.1 * np.array([1.0, -2.0, 0.5])) / (np.sqrt(0.001 * np.array([1.0, 4.0, 0.25])) + 1e-6)
    np.testing.assert_allclose(weight.detach().numpy(), expected, rtol=1e-6)


def test_albert_recipe_uses_lamb_without_decay_or_adaptation_on_bias_and_layernorm(make_task):
    task = make_task("albert", VOCAB)
    opt = build_optimizer(task.trainable_parameters(), recipe=albert.RECIPE, lr=albert.LR, weight_decay=0.01)
    assert isinstance(opt, Lamb)
    decayed, exempt = opt.param_groups
    assert (decayed["weight_decay"], decayed["layer_adaptation"]) == (0.01, True)
    assert (exempt["weight_decay"], exempt["layer_adaptation"]) == (0.0, False)
    assert all(p.ndim >= 2 for p in decayed["params"]) and all(p.ndim == 1 for p in exempt["params"])


@pytest.mark.parametrize("size", ["tiny", "base"])
def test_factorised_embeddings_and_one_shared_layer(size, make_task):
    config = albert.build_config(albert.SIZES[size], 30000, 0)
    assert config.embedding_size == albert.EMBEDDING_SIZES[size] < config.hidden_size
    assert config.embedding_size == {"tiny": 64, "base": 128}[size]  # Table 1: E = 128; tiny's hidden is 128
    assert (config.num_hidden_groups, config.inner_group_num) == (1, 1)
    assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.0
    if size == "tiny":
        network = make_task("albert", VOCAB).network
        layers = network.albert.encoder.albert_layer_groups
        assert len(layers) == 1 and len(layers[0].albert_layers) == 1  # every layer runs these weights
        assert network.albert.embeddings.word_embeddings.weight.shape == (VOCAB.vocab_size, 64)
        assert network.albert.encoder.embedding_hidden_mapping_in.weight.shape == (128, 64)


def test_albert_on_nsp_shards_fails_naming_the_sop_build():
    manifest = {"objective": "nsp", "seq_len": 128, "tokenizer": {"vocab_size": 100, "special_ids": {}}}
    with pytest.raises(ValueError) as err:
        check_shards(get_model_spec("albert"), "tiny", manifest, "gs://b/nsp")
    assert str(err.value).startswith("albert needs sop shards (consecutive segment pairs with sentence-order "
                                     "labels) but gs://b/nsp holds nsp shards")
    assert "shardlm build --input DOCS --tokenizer TOK --objective sop --seq-len 128" in str(err.value)


@pytest.mark.slow
def test_albert_trains_resumes_and_exports(sop_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForPreTraining, AutoTokenizer

    from trainer.run import train

    def config(out, **extra):
        return TrainConfig(model="albert", size="tiny", data=str(sop_shards), output=str(out), max_steps=4,
                           batch_size=8, log_every=1, checkpoint_every=2, eval_every=2, eval_batches=2,
                           device="cpu", **extra)

    out = tmp_path / "albert"
    result = train(config(out))
    lines = run_records(out)
    first = next(r for r in lines if "loss" in r)
    assert first["loss"] == pytest.approx(first["mlm_loss"] + first["sop_loss"])
    last_eval = [r for r in lines if "eval_loss" in r][-1]
    assert {"eval_mlm_accuracy", "eval_mlm_unigram_accuracy", "eval_sop_accuracy",
            "eval_sop_majority_accuracy"} <= set(last_eval)

    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-4")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines

    model = AutoModelForPreTraining.from_pretrained(out / "hf")
    aligned(model)
    model.eval()
    assert type(model).__name__ == "AlbertForPreTraining"
    tokenizer = AutoTokenizer.from_pretrained(out / "hf")
    encoded = tokenizer(["the cat runs over the tree .", "a big dog [MASK] . the sun ."], padding=True,
                        return_tensors="pt")
    token_types = torch.zeros_like(encoded["input_ids"])
    token_types[:, 5:] = encoded["attention_mask"][:, 5:]  # a segment B from the sixth token on
    batch = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
             "token_type_ids": token_types}
    trained = result.model
    with torch.no_grad():
        ours, theirs = trained(**batch), model(**batch)
    assert torch.equal(ours.prediction_logits, theirs.prediction_logits)
    assert torch.equal(ours.sop_logits, theirs.sop_logits)
