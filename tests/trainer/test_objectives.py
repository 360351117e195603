"""Objectives on a fixed batch: sparse prediction gives the dense head's loss and gradients (MLM and
pair tasks, XLM's TLM and CLM, ELECTRA's generator); counts and metrics of the MLM and pair tasks."""

from __future__ import annotations

import pytest
import torch

from trainer.config import VocabInfo
from trainer.data import collate
from trainer.masking import IGNORE_INDEX, Masker, make_generator, masking_config
from trainer.objectives.mlm import mlm_counts, mlm_metrics

VOCAB = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def fixed_batch(rows: int = 6, width: int = 24):
    """A collated batch of pairs of different lengths (the shorter rows padded)."""
    gen = torch.Generator().manual_seed(0)
    examples = []
    for i in range(rows):
        n = width - i
        ids = torch.randint(5, VOCAB.vocab_size, (n,), generator=gen)
        ids[0], ids[n // 2], ids[-1] = 2, 3, 3
        examples.append({"input_ids": ids.numpy(), "segment_b_start": n // 2 + 1, "next_sentence_label": i % 2,
                         "sentence_order_label": (i // 2) % 2})
    return collate(examples, pad_id=0)


def fixed_inputs(model: str, rows: int = 6, width: int = 24):
    batch = fixed_batch(rows, width)
    from trainer.models import get_model_spec

    objective = get_model_spec(model).objective
    inputs = objective.prepare(batch, Masker(VOCAB, masking_config("token", mask_prob=0.3)), make_generator(1))
    assert int((inputs["labels"] != IGNORE_INDEX).sum()) > 10
    return inputs


# the first weight of each MaskedLMTask model's MLM head (it must get a gradient)
HEADS = {"bert": "network.cls.predictions.transform.dense.weight", "roberta": "network.lm_head.dense.weight",
         "albert": "network.predictions.dense.weight", "xlmr": "network.lm_head.dense.weight",
         "longformer": "network.lm_head.dense.weight"}


@pytest.mark.parametrize("model", list(HEADS))
def test_sparse_and_dense_heads_give_the_same_loss_and_gradients(model, make_task):
    inputs = fixed_inputs(model)
    sparse, dense = make_task(model, VOCAB, seed=3), make_task(model, VOCAB, seed=3)
    dense.sparse = False
    assert sparse.sparse
    sparse.eval(), dense.eval()  # no dropout: the two passes see the same network function
    out_s, out_d = sparse(inputs, with_counts=True), dense(inputs, with_counts=True)
    assert out_s.parts.keys() == out_d.parts.keys()
    for name in out_s.parts:
        assert torch.allclose(out_s.parts[name], out_d.parts[name], atol=1e-6), name
    assert {k: v.tolist() for k, v in out_s.counts.items()} == {k: v.tolist() for k, v in out_d.counts.items()}
    out_s.loss.backward()
    out_d.loss.backward()
    grads_s = dict(sparse.named_parameters())
    for name, param in dense.named_parameters():
        if param.grad is None:
            assert grads_s[name].grad is None, name
            continue
        assert torch.allclose(grads_s[name].grad, param.grad, atol=1e-6, rtol=1e-4), name
    assert grads_s[HEADS[model]].grad.abs().sum() > 0


def test_mlm_counts_score_mask_positions_only():
    mask = VOCAB.mask_id
    input_ids = torch.tensor([[2, mask, 7, mask, 9, 3]])
    labels = torch.tensor([[IGNORE_INDEX, 11, 7, 12, 13, IGNORE_INDEX]])  # 7 left unchanged, 13 randomly replaced by 9
    logits = torch.full((1, 6, VOCAB.vocab_size), -1.0)
    for position, predicted in ((1, 11), (2, 7), (3, 40), (4, 13)):
        logits[0, position, predicted] = 1.0
    counts = mlm_counts(logits, labels, input_ids, mask, VOCAB.vocab_size)
    # positions 1 and 3 were [MASK]: one right (11), one wrong (40 for 12); the unchanged 7 and the
    # replaced 13 are predicted right but do not count
    assert (float(counts["mlm_correct"]), float(counts["mlm_at_mask"])) == (1.0, 2.0)
    assert counts["mlm_label_histogram"][[11, 12]].tolist() == [1.0, 1.0]
    counts["mlm_label_histogram"][11] += 2  # two more [MASK]ed 11s elsewhere, both missed
    counts["mlm_at_mask"] += 2
    assert mlm_metrics(counts) == {"mlm_accuracy": 0.25, "mlm_unigram_accuracy": 0.75}


def test_pair_task_metrics_beside_the_majority_class(make_task):
    task = make_task("bert", VOCAB)
    counts = {"mlm_correct": torch.tensor(3.0), "mlm_at_mask": torch.tensor(10.0),
              "mlm_label_histogram": torch.zeros(162).index_fill_(0, torch.tensor([5]), 4.0),
              "nsp_correct": torch.tensor(6.0), "nsp_examples": torch.tensor(8.0), "nsp_label_1": torch.tensor(2.0)}
    assert task.summarize(counts) == {"mlm_accuracy": 0.3, "mlm_unigram_accuracy": 0.4, "nsp_accuracy": 0.75,
                                      "nsp_majority_accuracy": 0.75}


def test_every_trainer_objective_reads_the_data_sides_objective_table():
    """A trainer objective names a row of schemas.OBJECTIVES and needs only the columns it writes."""
    from schemas import OBJECTIVES, objective_columns
    from trainer.models import MODEL_NAMES, get_model_spec
    from trainer.objectives import xlm
    from trainer.objectives.base import Objective

    objectives = [get_model_spec(name).objective for name in MODEL_NAMES] + list(xlm.OBJECTIVES.values())
    for objective in objectives:
        assert objective.shard_objective in OBJECTIVES
        assert set(objective.columns) <= set(objective_columns(objective.shard_objective, True))
    assert {o.shard_objective for o in objectives} == set(OBJECTIVES)  # every row has a trainer objective
    keep = dict(name="x", shard_help="h", prepare=lambda batch, masker, generator: batch)
    assert Objective(shard_objective="nsp", columns=("input_ids", "next_sentence_label"), **keep).columns
    with pytest.raises(ValueError, match=r"shard objective 'wat' is not in schemas.OBJECTIVES \(mlm, nsp, sop"):
        Objective(shard_objective="wat", columns=("input_ids",), **keep)
    with pytest.raises(ValueError, match=r"needs column\(s\) sentence_order_label that nsp shards never hold"):
        Objective(shard_objective="nsp", columns=("input_ids", "sentence_order_label"), **keep)


def _dense_matches_sparse(sparse_loss, dense_loss, sparse_net, dense_net):
    """Loss within float rounding and every parameter's gradient too (the head's included)."""
    assert torch.allclose(sparse_loss, dense_loss, atol=1e-6)
    sparse_loss.backward()
    dense_loss.backward()
    theirs = dict(dense_net.named_parameters())
    checked = 0
    for name, param in sparse_net.named_parameters():
        if param.grad is None:
            assert theirs[name].grad is None, name
            continue
        assert torch.allclose(param.grad, theirs[name].grad, atol=1e-6, rtol=1e-4), name
        checked += 1
    return checked


@pytest.mark.parametrize("objective", ["tlm", "clm"])
def test_xlm_sparse_prediction_gives_the_dense_heads_loss_and_gradients(objective):
    """XLMTask scores only the labelled positions; `XLMWithLMHeadModel(..., labels=)` projects every
    position to the vocabulary: same loss, same gradients."""
    from trainer.models import xlm
    from trainer.objectives.xlm import XLMTask, prepare_clm, prepare_tlm

    batch = fixed_batch()
    attention, b_start = batch["attention_mask"], batch["segment_b_start"]
    batch["langs"] = (torch.arange(attention.shape[1])[None, :] >= b_start[:, None]).long() * attention
    batch["lang"] = torch.ones(attention.shape[0], dtype=torch.long)
    masker = Masker(VOCAB, masking_config("token", mask_prob=0.3))
    prepared = (prepare_tlm if objective == "tlm" else prepare_clm)(batch, masker, make_generator(1))
    tasks = []
    for _ in range(2):
        torch.manual_seed(3)
        config = xlm.build_config(xlm.SIZES["tiny"], VOCAB, {"de": 0, "en": 1})
        tasks.append(XLMTask(xlm.XLMWithLMHeadModel(config), VOCAB).eval())
    sparse, dense = tasks
    out = sparse(prepared)
    dense.network.transformer.causal = objective == "clm"
    full = dense.network(input_ids=prepared["input_ids"], attention_mask=prepared["attention_mask"].bool(),
                         langs=prepared["langs"], position_ids=prepared.get("position_ids"),
                         lengths=prepared["attention_mask"].sum(dim=1), labels=prepared["labels"])
    assert full.logits.shape[:2] == prepared["input_ids"].shape  # the dense head scored every position
    assert _dense_matches_sparse(out.parts[f"{objective}_loss"], full.loss, sparse, dense) > 10


def test_electra_generator_sparse_prediction_gives_the_dense_heads_loss_and_gradients(make_task):
    """The generator's head runs on the selected positions only; `ElectraForMaskedLM(..., labels=)`
    on every position: same MLM loss, same gradients."""
    from trainer.models import electra
    from trainer.masking import masked_lm_loss

    prepared = electra.OBJECTIVE.prepare(fixed_batch(), Masker(VOCAB, masking_config("electra", mask_prob=0.3)),
                                         make_generator(1))
    sparse, dense = make_task("electra", VOCAB, seed=3).eval(), make_task("electra", VOCAB, seed=3).eval()
    selected = prepared["labels"] != IGNORE_INDEX
    logits = sparse.generator_logits(prepared, selected)
    assert logits.shape == (int(selected.sum()), VOCAB.vocab_size)
    loss = masked_lm_loss(logits, prepared["labels"][selected])
    full = dense.generator(input_ids=prepared["input_ids"], attention_mask=prepared["attention_mask"],
                           labels=prepared["labels"])
    assert _dense_matches_sparse(loss, full.loss, sparse.generator, dense.generator) > 10
