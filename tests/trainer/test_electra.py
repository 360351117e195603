"""ELECTRA: shared embeddings, sampling without gradient, replaced-token labels, loss weight; trains on
tiny shards, resumes exactly, exports the discriminator and the generator for their Auto classes."""

from __future__ import annotations

import shutil

import pytest
import torch

from trainer.config import TrainConfig, VocabInfo
from trainer.masking import IGNORE_INDEX, Masker, make_generator, masking_config
from trainer.models import electra, get_model_spec
from tests.trainer.conftest import run_records, aligned

VOCAB = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def _inputs(seed: int = 0, rows: int = 4, width: int = 24) -> dict[str, torch.Tensor]:
    gen = make_generator(seed)
    ids = torch.randint(5, VOCAB.vocab_size, (rows, width), generator=gen)
    ids[:, 0], ids[:, -1] = 2, 3
    attention = torch.ones_like(ids)
    ids[-1, -5:], attention[-1, -5:] = 0, 0  # one padded row
    return electra.OBJECTIVE.prepare({"input_ids": ids, "attention_mask": attention},
                                     Masker(VOCAB, masking_config("electra")), gen)


def test_generator_and_discriminator_share_one_embedding_module(make_task):
    task = make_task("electra", VOCAB)
    disc, gen = task.discriminator.electra.embeddings, task.generator.electra.embeddings
    assert gen is disc
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm"):
        assert getattr(gen, name).weight is getattr(disc, name).weight
    assert task.generator.generator_lm_head.weight is disc.word_embeddings.weight  # output layer tied to it
    # the optimizer sees the shared tensors once
    ids = [id(p) for _, p in task.trainable_parameters()]
    assert len(ids) == len(set(ids)) == len(list(task.parameters()))


@pytest.mark.parametrize("size, generator_hidden", [("tiny", 64), ("small", 64), ("base", 256), ("large", 256)])
def test_generator_width_per_size(size, generator_hidden):
    spec = get_model_spec("electra")
    disc = electra.discriminator_config(spec.sizes[size], electra.EMBEDDING_SIZES[size], VOCAB)
    gen = electra.generator_config(disc, electra.GENERATOR_FRACTIONS[size])
    assert gen.hidden_size == generator_hidden and gen.num_hidden_layers == disc.num_hidden_layers
    assert gen.intermediate_size == 4 * generator_hidden and gen.num_attention_heads == max(1, generator_hidden // 64)
    assert gen.embedding_size == disc.embedding_size  # so the embeddings can be shared
    dropout = spec.sizes[size].dropout  # tiny: none (the small-budget recipe); the others: the paper's 0.1
    assert gen.hidden_dropout_prob == disc.hidden_dropout_prob == disc.attention_probs_dropout_prob == dropout
    assert dropout == (0.0 if size == "tiny" else 0.1)


def test_large_masks_a_quarter_of_the_tokens_the_others_fifteen_percent():
    """Table 6: ELECTRA-Large's mask percent is 25, Small's and Base's 15; --mask-prob still wins."""
    from dataclasses import replace

    from trainer.masking import masking_config
    from trainer.masking import mask_prob

    spec = get_model_spec("electra")
    config = TrainConfig(model="electra", size="large", data="x", output="y", max_steps=1)
    rates = {name: masking_config(spec.masking, mask_prob=mask_prob(config, size)).mask_prob
             for name, size in spec.sizes.items()}
    assert rates == {"tiny": 0.15, "small": 0.15, "base": 0.15, "large": 0.25}
    assert mask_prob(replace(config, mask_prob=0.15), spec.sizes["large"]) == 0.15


def test_no_gradient_flows_through_sampling(make_task):
    task = make_task("electra", VOCAB)
    out = task(_inputs())
    out.parts["rtd_loss"].backward()  # the discriminator's loss alone
    generator_own = [(n, p) for n, p in task.generator.named_parameters(remove_duplicate=False)
                     if not n.startswith("electra.embeddings.") and n != "generator_lm_head.weight"]
    assert generator_own and all(p.grad is None for _, p in generator_own)
    assert task.discriminator.electra.embeddings.word_embeddings.weight.grad is not None
    assert task.discriminator.discriminator_predictions.dense.weight.grad is not None


def test_sampling_follows_the_softmax_and_its_uniform_numbers():
    logits = torch.tensor([[0.0, 1.0, 2.0, -30.0]]).repeat(20000, 1)
    uniform = torch.rand(20000, generator=make_generator(3), dtype=torch.float64)
    sampled = electra.sample_tokens(logits, uniform)
    shares = torch.bincount(sampled, minlength=4).double() / 20000
    assert torch.allclose(shares, torch.softmax(logits[0].double(), -1), atol=0.01)
    assert torch.equal(sampled, electra.sample_tokens(logits, uniform))  # same numbers, same tokens
    edges = electra.sample_tokens(logits[:2], torch.tensor([0.0, 1.0 - 1e-12], dtype=torch.float64))
    assert edges.tolist() == [0, 2]  # never the token of (near) zero probability
    assert not electra.sample_tokens(logits.requires_grad_(), uniform).requires_grad


def test_a_sampled_token_equal_to_the_original_counts_as_original():
    ids = torch.tensor([[2, 4, 4, 9, 4, 3]])
    labels = torch.tensor([[IGNORE_INDEX, 7, 8, IGNORE_INDEX, 10, IGNORE_INDEX]])
    replaced, is_replaced = electra.replace_tokens(ids, labels, torch.tensor([7, 5, 10]))
    assert replaced.tolist() == [[2, 7, 5, 9, 10, 3]]
    assert is_replaced.tolist() == [[False, False, True, False, False, False]]


def test_a_generator_that_samples_the_originals_replaces_nothing(make_task, monkeypatch):
    task = make_task("electra", VOCAB)
    inputs = _inputs()
    targets = inputs["labels"][inputs["labels"] != IGNORE_INDEX]
    certain = torch.full((targets.numel(), VOCAB.vocab_size), -1e4)
    certain[torch.arange(targets.numel()), targets] = 1e4
    monkeypatch.setattr(task, "generator_logits", lambda inputs, selected: certain)
    metrics = task.summarize(task(inputs, with_counts=True).counts)
    assert metrics["rtd_replaced_share"] == 0.0 and metrics["rtd_majority_accuracy"] == 1.0


def test_loss_is_mlm_plus_fifty_times_detection(make_task):
    task = make_task("electra", VOCAB)
    out = task(_inputs(), with_counts=True)
    assert set(out.parts) == {"mlm_loss", "rtd_loss"}
    assert out.loss.item() == pytest.approx(out.parts["mlm_loss"].item() + 50 * out.parts["rtd_loss"].item())
    metrics = task.summarize(out.counts)
    assert set(metrics) == {"mlm_accuracy", "mlm_unigram_accuracy", "rtd_accuracy", "rtd_majority_accuracy",
                            "rtd_replaced_share", "rtd_precision", "rtd_recall", "rtd_auc"}
    real = float(_inputs()["attention_mask"].sum())
    assert float(out.counts["rtd_tokens"]) == real  # every real token is judged, padding is not
    assert 0.0 < metrics["rtd_replaced_share"] < 0.3 and metrics["rtd_majority_accuracy"] >= 0.7


def test_the_discriminator_starts_at_the_prior_of_replaced_tokens(make_task):
    """From logit 0 (p = 0.5, the reference's zero bias) a tiny discriminator collapses to one answer
    for every token; it starts at log(p / (1 - p)) of the run's masking rate instead."""
    import math
    from dataclasses import replace

    from trainer.models.spec import BuildContext

    task = make_task("electra", VOCAB)
    bias = task.discriminator.discriminator_predictions.dense_prediction.bias
    assert bias.item() == pytest.approx(math.log(0.15 / 0.85))
    inputs = _inputs()
    with torch.no_grad():
        out = task(inputs, with_counts=True)
        logits = task.discriminator(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    assert torch.sigmoid(logits[inputs["attention_mask"].bool()]).mean().item() == pytest.approx(0.15, abs=0.03)
    assert out.parts["rtd_loss"].item() < 0.6  # near the label entropy (0.42 at 15%), not log 2 = 0.69
    spec = get_model_spec("electra")
    config = TrainConfig(model="electra", size="tiny", data="x", output="y", max_steps=1, mask_prob=0.3)
    ctx = BuildContext(size=spec.sizes["tiny"], vocab=VOCAB, seq_len=24, config=config)
    assert electra.prior_logit(ctx) == pytest.approx(math.log(0.3 / 0.7))  # --mask-prob
    ctx = replace(ctx, size=spec.sizes["large"], config=replace(config, mask_prob=None))
    assert electra.prior_logit(ctx) == pytest.approx(math.log(0.25 / 0.75))  # large's own 25%


def test_histogram_auc_is_the_ranking_auc():
    """AUC from the binned logits = the chance a replaced token's logit is above an original one's."""
    gen = make_generator(5)
    replaced = torch.rand(4000, generator=gen) < 0.15
    logits = torch.randn(4000, generator=gen) * 2 + 1.5 * replaced  # replaced tokens score higher
    logits[:3] = torch.tensor([-50.0, 50.0, 0.0])  # beyond the binned range: the end bins
    pos, neg = logits[replaced], logits[~replaced]
    exact = ((pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()).mean().item()
    histogram = electra.logit_histogram(logits, replaced)
    assert histogram.shape == (2, electra.LOGIT_BINS) and histogram.sum().item() == 4000
    assert histogram[1].sum().item() == replaced.sum().item()
    assert electra.histogram_auc(histogram) == pytest.approx(exact, abs=2e-3) and exact > 0.65
    assert electra.histogram_auc(electra.logit_histogram(-logits, replaced)) == pytest.approx(1 - exact, abs=2e-3)
    assert electra.histogram_auc(electra.logit_histogram(logits, torch.zeros_like(replaced))) == 0.5  # no replaced


def test_a_discriminator_that_sees_every_replacement_scores_auc_precision_recall_one(make_task, monkeypatch):
    task = make_task("electra", VOCAB)
    inputs = _inputs()
    labels = inputs["labels"]
    originals = torch.where(labels != IGNORE_INDEX, labels, inputs["input_ids"])
    oracle = lambda input_ids, attention_mask: type("Out", (), {"logits": (input_ids != originals).float() * 10 - 5})
    monkeypatch.setattr(task.discriminator, "forward", oracle)
    metrics = task.summarize(task(inputs, with_counts=True).counts)
    assert 0.0 < metrics["rtd_replaced_share"] < 0.3
    assert metrics["rtd_accuracy"] == metrics["rtd_precision"] == metrics["rtd_recall"] == metrics["rtd_auc"] == 1.0
    # always "original": the majority's accuracy, nothing predicted, nothing caught, chance AUC
    monkeypatch.setattr(task.discriminator, "forward",
                        lambda input_ids, attention_mask: type("Out", (), {"logits": torch.full(input_ids.shape, -3.0)}))
    metrics = task.summarize(task(inputs, with_counts=True).counts)
    assert metrics["rtd_accuracy"] == metrics["rtd_majority_accuracy"]
    assert metrics["rtd_precision"] == metrics["rtd_recall"] == 0.0 and metrics["rtd_auc"] == 0.5


@pytest.mark.slow
def test_electra_trains_resumes_and_exports_both_networks(mlm_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForMaskedLM, AutoModelForPreTraining, AutoTokenizer

    from trainer.run import train

    def config(out, **extra):
        return TrainConfig(model="electra", size="tiny", data=str(mlm_shards), output=str(out), max_steps=4,
                           batch_size=8, log_every=1, checkpoint_every=2, eval_every=2, eval_batches=2,
                           device="cpu", **extra)

    out = tmp_path / "electra"
    result = train(config(out))
    lines = run_records(out)
    train_lines = [r for r in lines if "loss" in r]
    assert list(train_lines[0])[:5] == ["step", "epoch", "loss", "mlm_loss", "rtd_loss"]
    assert train_lines[0]["loss"] == pytest.approx(train_lines[0]["mlm_loss"] + 50 * train_lines[0]["rtd_loss"])
    evals = [r for r in lines if "eval_loss" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert {"eval_mlm_accuracy", "eval_mlm_unigram_accuracy", "eval_rtd_accuracy", "eval_rtd_majority_accuracy",
            "eval_rtd_loss", "eval_rtd_auc", "eval_rtd_precision", "eval_rtd_recall"} <= set(evals[-1])
    names = sorted(p.name for p in out.iterdir())
    events = [n for n in names if n.startswith("events.out.tfevents.")]  # TensorBoard, beside metrics.jsonl
    assert [n for n in names if n not in events] == ["checkpoints", "hf", "hf-generator", "metrics.jsonl"] and len(events) == 1

    # resume from step 2: exactly the uninterrupted run (masks and sampled replacements included)
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-4")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines

    task = result.task
    tokenizer = AutoTokenizer.from_pretrained(out / "hf")
    batch = tokenizer(["the cat runs over the tree .", "a big dog [MASK] ."], padding=True, return_tensors="pt")
    batch = {k: batch[k] for k in ("input_ids", "attention_mask")}
    discriminator = aligned(AutoModelForPreTraining.from_pretrained(out / "hf"))
    generator = aligned(AutoModelForMaskedLM.from_pretrained(out / "hf-generator"))
    assert type(discriminator).__name__ == "ElectraForPreTraining" and type(generator).__name__ == "ElectraForMaskedLM"
    assert AutoTokenizer.from_pretrained(out / "hf-generator").get_vocab() == tokenizer.get_vocab()
    with torch.no_grad():
        assert torch.equal(discriminator(**batch).logits, task.discriminator(**batch).logits)
        assert torch.equal(generator(**batch).logits, task.generator(**batch).logits)
    assert result.model is task.discriminator
