"""DistilBERT: the student takes the teacher's embeddings and layers 0, 2, 4, ...; the loss weights; the
frozen teacher; a teacher it cannot use fails in one line; end to end with a teacher trained by a tiny
BERT run: trains, resumes exactly, exports for AutoModelForMaskedLM."""

from __future__ import annotations

import shutil

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, RobertaConfig, RobertaForMaskedLM

from trainer.cli import main
from trainer.config import TrainConfig, VocabInfo
from trainer.masking import Masker, make_generator, masking_config
from trainer.models import distilbert
from trainer.objectives.mlm import OBJECTIVE
from tests.trainer.conftest import run_records, aligned

VOCAB = VocabInfo(vocab_size=162, special_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4})


def _teacher(layers: int, vocab_size: int = VOCAB.vocab_size, seed: int = 0) -> BertForMaskedLM:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=0, initializer_range=0.2)
    teacher = BertForMaskedLM(config)
    with torch.no_grad():  # distinct, non-trivial token-type and LayerNorm weights, so copies can be told apart
        for name, param in teacher.named_parameters():
            if "LayerNorm" in name or "bias" in name or "token_type" in name:
                param.normal_(0.0, 0.5)
    return teacher.eval()


def _inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = make_generator(seed)
    ids = torch.randint(5, VOCAB.vocab_size, (4, 20), generator=gen)
    ids[:, 0], ids[:, -1] = 2, 3
    attention = torch.ones_like(ids)
    ids[0, -6:], attention[0, -6:] = 0, 0
    return OBJECTIVE.prepare({"input_ids": ids, "attention_mask": attention}, Masker(VOCAB, masking_config("token")),
                             gen)


def test_every_other_teacher_layer_from_the_first():
    assert distilbert.teacher_layers(12) == [0, 2, 4, 6, 8, 10]
    assert distilbert.teacher_layers(5) == [0, 2, 4] and distilbert.teacher_layers(2) == [0]


def test_the_student_takes_the_teachers_embeddings_layers_0_2_4_and_head():
    teacher = _teacher(layers=6)
    student = distilbert.student_from_teacher(teacher, pad_id=0).eval()
    assert (student.config.n_layers, student.config.dim, student.config.n_heads, student.config.hidden_dim) == \
        (3, 32, 2, 64)
    for s_index, t_index in enumerate([0, 2, 4]):
        s_layer, t_layer = student.distilbert.transformer.layer[s_index], teacher.bert.encoder.layer[t_index]
        for s_name, t_name in distilbert._LAYER_MAP.items():
            for kind in ("weight", "bias"):
                source = getattr(t_layer.get_submodule(t_name), kind)
                assert torch.equal(getattr(s_layer.get_submodule(s_name), kind), source), (s_index, s_name)
                # ... and not the skipped layer after it
                skipped = getattr(teacher.bert.encoder.layer[t_index + 1].get_submodule(t_name), kind)
                assert not torch.equal(getattr(s_layer.get_submodule(s_name), kind), skipped)
    assert torch.equal(student.distilbert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight)
    assert student.vocab_projector.weight is student.distilbert.embeddings.word_embeddings.weight
    assert torch.equal(student.vocab_projector.bias, teacher.cls.predictions.decoder.bias)
    assert torch.equal(student.vocab_transform.weight, teacher.cls.predictions.transform.dense.weight)
    ids = _inputs()["input_ids"]
    with torch.no_grad():  # same embedding output: the token-type-0 vector went into the position table
        assert torch.allclose(student.distilbert.embeddings(ids), teacher.bert.embeddings(ids), atol=1e-6)


def test_loss_weights_and_a_student_equal_to_its_teacher():
    inputs = _inputs()
    one_layer = _teacher(layers=1)  # the student is a copy of it: nothing to distil
    task = distilbert.DistillationTask(distilbert.student_from_teacher(one_layer, 0), one_layer, VOCAB).eval()
    out = task(inputs, with_counts=True)
    assert out.parts["kd_loss"].item() < 1e-6 and out.parts["cos_loss"].item() < 1e-6
    metrics = task.summarize(out.counts)
    assert metrics["mlm_accuracy"] == metrics["teacher_mlm_accuracy"]

    teacher = _teacher(layers=4)
    task = distilbert.DistillationTask(distilbert.student_from_teacher(teacher, 0), teacher, VOCAB).eval()
    out = task(inputs, with_counts=True)
    parts = {k: v.item() for k, v in out.parts.items()}
    assert list(parts) == ["kd_loss", "mlm_loss", "cos_loss"] and parts["kd_loss"] > 1e-2 and parts["cos_loss"] > 1e-2
    assert out.loss.item() == pytest.approx(5 * parts["kd_loss"] + 2 * parts["mlm_loss"] + parts["cos_loss"])
    # kd_loss is KL(teacher || student) at T = 2 over the real tokens, times T^2
    real = inputs["attention_mask"].bool()
    with torch.no_grad():
        t = torch.log_softmax(teacher(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
                              .logits[real] / 2, -1)
        s = torch.log_softmax(task.student(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
                              .logits[real] / 2, -1)
    t, s = t.double(), s.double()
    assert parts["kd_loss"] == pytest.approx(float((t.exp() * (t - s)).sum(-1).mean() * 4), rel=1e-4)
    assert set(task.summarize(out.counts)) == {"mlm_accuracy", "mlm_unigram_accuracy", "teacher_mlm_accuracy"}


def test_the_teacher_is_frozen_and_left_out():
    teacher = _teacher(layers=2)
    task = distilbert.DistillationTask(distilbert.student_from_teacher(teacher, 0), teacher, VOCAB)
    task.train()
    assert task.student.training and not task.teacher.training
    assert all(not p.requires_grad for p in task.teacher.parameters())
    assert not any(n.startswith("teacher.") for n, _ in task.trainable_parameters())
    assert not any(k.startswith("teacher.") for k in task.checkpoint_state())
    assert list(task.exports()) == ["hf"] and task.exports()["hf"] is task.student
    task(_inputs()).loss.backward()
    assert all(p.grad is None for p in task.teacher.parameters())


def _save_teacher(folder, tokenizer, model=None):
    model = model or _teacher(layers=2, vocab_size=len(tokenizer))
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def _swapped(fast):
    """A tokenizer of the same size whose vocabulary numbers two words the other way round."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = dict(fast.get_vocab())
    vocab["cat"], vocab["dog"] = vocab["dog"], vocab["cat"]
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", mask_token="[MASK]")


def _fails(argv, match, out):
    with pytest.raises(ValueError, match=match) as err:
        main(argv)
    assert "\n" not in str(err.value)
    assert not out.exists()  # before training: nothing written


def test_a_teacher_it_cannot_use_fails_in_one_line(mlm_shards, tokenizer_dir, tmp_path):
    _, fast = tokenizer_dir
    out = tmp_path / "never"
    base = ["--model", "distilbert", "--data", str(mlm_shards), "--output", str(out), "--max-steps", "1",
            "--device", "cpu"]
    other_vocab = _save_teacher(tmp_path / "other-vocab", _swapped(fast), _teacher(2, vocab_size=len(fast)))
    _fails(base + ["--teacher", str(other_vocab)],
           r"^--teacher .*other-vocab has another vocabulary than the shards' tokenizer \(\d+ against \d+ tokens, "
           r"2 differ\); build the shards with the teacher's tokenizer \(shardlm build --tokenizer .*tokenizer.json", out)
    _fails(base, r"^distilbert needs --teacher DIR", out)
    _fails(base + ["--teacher", str(tmp_path / "nowhere")], r"^--teacher .*nowhere is not a model folder", out)
    roberta = tmp_path / "roberta"
    RobertaForMaskedLM(RobertaConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64)).save_pretrained(str(roberta))
    _fails(base + ["--teacher", str(roberta)], r"^--teacher .*roberta holds a roberta model; distilbert distils a BERT",
           out)
    no_tokenizer = tmp_path / "bare"
    _teacher(2, vocab_size=len(fast)).save_pretrained(str(no_tokenizer))
    _fails(base + ["--teacher", str(no_tokenizer)], r"^--teacher .*bare holds no loadable tokenizer", out)
    same = _save_teacher(tmp_path / "same", fast)
    _fails(["--model", "roberta"] + base[2:] + ["--teacher", str(same)], r"^roberta takes no --teacher; drop it", out)


@pytest.mark.slow
def test_distilbert_distils_a_bert_run_resumes_and_exports(nsp_shards, mlm_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from trainer.run import train

    bert = tmp_path / "bert"
    train(TrainConfig(model="bert", size="tiny", data=str(nsp_shards), output=str(bert), max_steps=4, batch_size=8,
                      eval_batches=1, device="cpu"))
    teacher = BertForMaskedLM.from_pretrained(bert / "hf")

    def config(out, **extra):
        return TrainConfig(model="distilbert", size="tiny", data=str(mlm_shards), output=str(out), max_steps=4,
                           batch_size=8, log_every=1, checkpoint_every=2, eval_every=2, eval_batches=2,
                           device="cpu", teacher=str(bert / "hf"), **extra)

    out = tmp_path / "distil"
    result = train(config(out))
    task = result.task
    assert task.student.config.n_layers == 1 and task.student.config.dim == 128
    lines = run_records(out)
    first = [r for r in lines if "loss" in r][0]
    assert list(first)[:6] == ["step", "epoch", "loss", "kd_loss", "mlm_loss", "cos_loss"]
    assert first["loss"] == pytest.approx(5 * first["kd_loss"] + 2 * first["mlm_loss"] + first["cos_loss"])
    evals = [r for r in lines if "eval_loss" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert {"eval_mlm_accuracy", "eval_mlm_unigram_accuracy", "eval_teacher_mlm_accuracy"} <= set(evals[-1])
    # the teacher: never trained, never checkpointed or exported
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in task.teacher.state_dict().items())
    from safetensors import safe_open

    with safe_open(str(out / "checkpoints" / "step-4" / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("student.") for k in keys)
    names = sorted(p.name for p in out.iterdir())
    events = [n for n in names if n.startswith("events.out.tfevents.")]  # TensorBoard, beside metrics.jsonl
    assert [n for n in names if n not in events] == ["checkpoints", "hf", "metrics.jsonl"] and len(events) == 1

    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-4")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines

    tokenizer = AutoTokenizer.from_pretrained(out / "hf")
    batch = tokenizer(["the cat runs over the tree .", "a big dog [MASK] ."], padding=True, return_tensors="pt")
    batch = {k: batch[k] for k in ("input_ids", "attention_mask")}
    exported = AutoModelForMaskedLM.from_pretrained(out / "hf")
    aligned(exported)
    exported.eval()
    assert type(exported).__name__ == "DistilBertForMaskedLM"
    with torch.no_grad():
        assert torch.equal(exported(**batch).logits, task.student(**batch).logits)
