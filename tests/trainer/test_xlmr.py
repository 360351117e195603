"""XLM-R: RoBERTa's architecture as XLMRobertaForMaskedLM without language embeddings, refusing a
vocabulary that is not unigram; trains on tiny shards, resumes exactly, exports for AutoModelForMaskedLM."""

from __future__ import annotations

import shutil

import pytest
import torch

from trainer.config import TrainConfig, VocabInfo
from trainer.models import get_model_spec, xlmr
from tests.trainer.conftest import run_records, aligned

VOCAB = VocabInfo(vocab_size=120, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def test_xlmr_has_no_language_embeddings_and_roberta_positions(make_task):
    network = make_task("xlmr", VOCAB).network
    assert type(network).__name__ == "XLMRobertaForMaskedLM"
    assert network.config.type_vocab_size == 1
    assert not any("lang" in name for name, _ in network.named_parameters())
    assert network.config.max_position_embeddings == 512 + VOCAB.pad_id + 1
    spec = get_model_spec("xlmr")
    assert spec.recipe.betas == (0.9, 0.98) and spec.recipe.max_grad_norm is None
    assert (spec.sizes["base"].hidden_size, spec.sizes["base"].num_layers) == (768, 12)
    assert (spec.sizes["large"].hidden_size, spec.sizes["large"].num_layers) == (1024, 24)


def test_xlmr_refuses_a_wordpiece_vocabulary(tokenizer_dir):
    _, wordpiece = tokenizer_dir
    with pytest.raises(ValueError, match=r"^xlmr needs a unigram \(SentencePiece\) vocabulary but the shard set's "
                                         r"tokenizer is WordPiece; build one with `shardlm tokenizer --kind unigram`"):
        xlmr.check_vocabulary(wordpiece)


@pytest.mark.slow
def test_xlmr_trains_resumes_and_exports(unigram_mlm_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from trainer.run import train

    def config(out, **extra):
        return TrainConfig(model="xlmr", size="tiny", data=str(unigram_mlm_shards), output=str(out), max_steps=4,
                           batch_size=8, log_every=1, checkpoint_every=2, eval_every=2, eval_batches=2,
                           device="cpu", **extra)

    out = tmp_path / "xlmr"
    result = train(config(out))
    lines = run_records(out)
    last_eval = [r for r in lines if "eval_loss" in r][-1]
    assert {"eval_mlm_loss", "eval_mlm_accuracy", "eval_mlm_unigram_accuracy"} <= set(last_eval)

    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-4")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines

    model = AutoModelForMaskedLM.from_pretrained(out / "hf")
    aligned(model)
    model.eval()
    assert type(model).__name__ == "XLMRobertaForMaskedLM"
    tokenizer = AutoTokenizer.from_pretrained(out / "hf")
    encoded = tokenizer(["the cat runs over the tree .", "a big dog [MASK] . the sun ."], padding=True,
                        return_tensors="pt")
    with torch.no_grad():
        ours = result.model(**encoded).logits
        theirs = model(**encoded).logits
    assert torch.equal(ours, theirs)
