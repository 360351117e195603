"""The loop knows no model: a task with two trained networks and a frozen teacher, whose loss parts and
metrics have names the loop has never seen, trains, logs, evaluates, checkpoints, resumes and exports."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F
from transformers import RobertaForMaskedLM

from trainer.config import Recipe, TrainConfig
from trainer.masking import IGNORE_INDEX
from trainer.models import roberta
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.base import StepOutput, Task, sum_parts
from trainer.objectives.mlm import OBJECTIVE
from tests.trainer.conftest import run_records


class TwoNetworksAndATeacher(Task):
    """A student and a helper (both trained, both exported) and a frozen teacher the student follows."""

    frozen = ("teacher",)

    def __init__(self, ctx: BuildContext):
        super().__init__()
        config = roberta.build_config(ctx.size, ctx.vocab)
        self.student, self.helper, self.teacher = (RobertaForMaskedLM(config) for _ in range(3))
        self.teacher.requires_grad_(False)

    def forward(self, inputs, *, with_counts=False):
        model_inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        selected = inputs["labels"] != IGNORE_INDEX
        student = self.student(**model_inputs).logits[selected]
        helper = self.helper(**model_inputs).logits[selected]
        with torch.no_grad():
            teacher = self.teacher(**model_inputs).logits[selected]
        parts = {"student_ce": F.cross_entropy(student, inputs["labels"][selected]),
                 "helper_ce": F.cross_entropy(helper, inputs["labels"][selected]),
                 "follow_teacher": F.mse_loss(student, teacher)}
        counts = {}
        if with_counts:
            counts = {"agree": (student.argmax(-1) == teacher.argmax(-1)).sum().double(),
                      "scored": torch.tensor(float(selected.sum()), dtype=torch.float64)}
        return StepOutput(sum_parts(parts, {"follow_teacher": 0.5}), parts, counts)

    def summarize(self, counts):
        return {"teacher_agreement": float(counts["agree"]) / float(counts["scored"])}

    def exports(self):
        return {"hf": self.student, "hf-helper": self.helper}


INITIAL_TEACHER: dict[str, torch.Tensor] = {}


def build_task(ctx: BuildContext) -> TwoNetworksAndATeacher:
    task = TwoNetworksAndATeacher(ctx)
    INITIAL_TEACHER.update({k: v.clone() for k, v in task.teacher.state_dict().items()})
    return task


SPEC = ModelSpec(name="toy", paper="none", objective=OBJECTIVE, masking="token", sizes=roberta.SIZES,
                 max_positions=512, recipe=Recipe(betas=(0.9, 0.98), eps=1e-6, max_grad_norm=1.0),
                 auto_class="AutoModelForMaskedLM", build_task=build_task)


@pytest.mark.slow
def test_a_task_with_two_networks_and_a_frozen_teacher(mlm_shards, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("trainer.run.get_model_spec", lambda name: SPEC)
    from trainer.run import train

    def config(out, **extra):
        return TrainConfig(model="toy", size="tiny", data=str(mlm_shards), output=str(out), max_steps=4,
                           batch_size=8, log_every=1, checkpoint_every=2, eval_every=2, eval_batches=2,
                           device="cpu", **extra)

    out = tmp_path / "toy"
    result = train(config(out))
    task = result.task
    lines = run_records(out)
    train_lines = [r for r in lines if "loss" in r]
    assert list(train_lines[0])[:6] == ["step", "epoch", "loss", "student_ce", "helper_ce", "follow_teacher"]
    first = train_lines[0]
    assert first["loss"] == pytest.approx(first["student_ce"] + first["helper_ce"] + 0.5 * first["follow_teacher"])
    evals = [r for r in lines if "eval_loss" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert {"eval_student_ce", "eval_helper_ce", "eval_follow_teacher", "eval_teacher_agreement"} <= set(evals[0])
    assert 0.0 <= evals[0]["eval_teacher_agreement"] <= 1.0
    # the teacher: never trained (weights as initialised), kept in eval mode, not checkpointed, not exported
    assert INITIAL_TEACHER and all(torch.equal(INITIAL_TEACHER[k], v) for k, v in task.teacher.state_dict().items())
    task.train()
    assert task.student.training and not task.teacher.training
    saved = ckpt_keys(out / "checkpoints" / "step-4")
    assert saved and not any(k.startswith("teacher.") for k in saved)
    assert any(k.startswith("helper.") for k in saved) and any(k.startswith("student.") for k in saved)
    names = sorted(p.name for p in out.iterdir())
    events = [n for n in names if n.startswith("events.out.tfevents.")]  # TensorBoard, beside metrics.jsonl
    assert [n for n in names if n not in events] == ["checkpoints", "hf", "hf-helper", "metrics.jsonl"] and len(events) == 1
    helper = RobertaForMaskedLM.from_pretrained(out / "hf-helper")
    assert torch.equal(helper.lm_head.dense.weight, task.helper.lm_head.dense.weight)
    # resume from step 2 gives exactly the uninterrupted run
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-4")
    train(config(resumed, resume=True))
    assert run_records(resumed) == lines


def ckpt_keys(folder):
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        return list(f.keys())
