"""DistilBERT: a BERT teacher distilled into a student of half its depth, on packed `mlm` shards
(Sanh et al. 2019, "DistilBERT, a distilled version of BERT: smaller, faster, cheaper and
lighter"; reference code: the Hugging Face distillation example,
`examples/research_projects/distillation` in huggingface/transformers: `distiller.py`,
`train.py`, `scripts/extract_distilbert.py`).

`--teacher DIR` is a BERT masked-LM folder (`BertForMaskedLM` or `BertForPreTraining`, e.g. the
`DIR/hf` of `shardlm train --model bert`) with its tokenizer, whose vocabulary must be the shard
set's. The student (`DistilBertForMaskedLM`, no token types, no pooler) has the teacher's width
and every other layer of it: it starts from the teacher's embeddings, layers 0, 2, 4, ... and
masked-LM head. Loss, with the example's weights (its README's command: `--alpha_ce 5.0
--alpha_mlm 2.0 --alpha_cos 1.0`):

    5 x KL(teacher || student) at temperature 2, times 2^2   (`kd_loss`, over every real token)
  + 2 x masked-LM cross-entropy on the selected tokens      (`mlm_loss`)
  + 1 x (1 - cosine) of the last hidden states             (`cos_loss`, over every real token)

The teacher is frozen (the task's `frozen`): eval mode, no gradients, not in the optimizer,
checkpoints or exports; a resumed run loads it again from `--teacher`. `DIR/hf` holds the student,
which `AutoModelForMaskedLM` loads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoTokenizer, BertForMaskedLM, DistilBertConfig, DistilBertForMaskedLM

from trainer.config import ModelSize, Recipe, VocabInfo
from trainer.masking import masked_lm_loss
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.base import StepOutput, Task, sum_parts
from trainer.objectives.mlm import OBJECTIVE, mlm_counts, mlm_metrics

log = logging.getLogger(__name__)

# The student always has the teacher's width and every other layer of it; `--size` sets the
# learning rate. The table shows the student that a `shardlm train --model bert --size S` teacher
# gives (base: the paper's 6-layer DistilBERT of a 12-layer BERT-base). 5e-4 is the example's
# learning rate (train.py); tiny takes the project's 1e-3 for CPU-sized runs.
SIZES = {
    "tiny": ModelSize(name="tiny", hidden_size=128, num_layers=1, num_heads=2, intermediate_size=512, lr=1e-3),
    "small": ModelSize(name="small", hidden_size=256, num_layers=2, num_heads=4, intermediate_size=1024, lr=5e-4),
    "base": ModelSize(name="base", hidden_size=768, num_layers=6, num_heads=12, intermediate_size=3072, lr=5e-4),
    "large": ModelSize(name="large", hidden_size=1024, num_layers=12, num_heads=16, intermediate_size=4096, lr=5e-4),
}
MAX_POSITIONS = 512  # the teacher's (BERT's) position table; a teacher with fewer is refused
TEMPERATURE = 2.0  # train.py --temperature
LOSS_WEIGHTS = {"kd_loss": 5.0, "mlm_loss": 2.0, "cos_loss": 1.0}  # alpha_ce, alpha_mlm, alpha_cos
# AdamW β (0.9, 0.98) and ε 1e-6 (distiller.py), no weight decay and clipping at norm 5.0 (train.py).
RECIPE = Recipe(betas=(0.9, 0.98), eps=1e-6, weight_decay=0.0, max_grad_norm=5.0)


def _fail(message: str) -> None:
    raise ValueError(message)


def check_teacher(path: str, vocab: VocabInfo, tokenizer: Any, seq_len: int) -> None:
    """One-line errors for a --teacher the student cannot learn from on these shards."""
    folder = Path(path)
    if not (folder / "config.json").is_file():
        _fail(f"--teacher {path} is not a model folder (no config.json); pass a BERT masked-LM folder such as "
              f"the DIR/hf of `shardlm train --model bert`")
    config = AutoConfig.from_pretrained(str(folder))
    if config.model_type != "bert":
        _fail(f"--teacher {path} holds a {config.model_type} model; distilbert distils a BERT masked LM "
              f"(e.g. the DIR/hf of `shardlm train --model bert`)")
    # a BERT folder's tokenizer: tokenizer.json (fast) or vocab.txt (WordPiece vocabulary)
    theirs = None
    if any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt")):
        try:
            theirs = AutoTokenizer.from_pretrained(str(folder)).get_vocab()
        except (OSError, ValueError, TypeError):
            pass
    if theirs is None:
        _fail(f"--teacher {path} holds no loadable tokenizer (tokenizer.json or vocab.txt), so its vocabulary "
              f"cannot be checked against the shards'; save the teacher's tokenizer into it")
    if tokenizer is not None:
        ours = tokenizer.get_vocab()
        if theirs != ours:
            differ = sum(ours.get(token) != index for token, index in theirs.items()) + len(set(ours) - set(theirs))
            _fail(f"--teacher {path} has another vocabulary than the shards' tokenizer ({len(theirs)} against "
                  f"{len(ours)} tokens, {differ} differ); build the shards with the teacher's tokenizer "
                  f"(shardlm build --tokenizer {folder / 'tokenizer.json'} ...)")
    if config.vocab_size != vocab.vocab_size:
        _fail(f"--teacher {path} has {config.vocab_size} embedding rows but the shard set's tokenizer "
              f"{vocab.vocab_size} ids; build the shards with the teacher's tokenizer")
    if config.max_position_embeddings < seq_len:
        _fail(f"--teacher {path} has {config.max_position_embeddings} positions but the shards have seq_len "
              f"{seq_len}; rebuild the shards with --seq-len {config.max_position_embeddings} or less")


def student_config(teacher: BertForMaskedLM, pad_id: int) -> DistilBertConfig:
    t = teacher.config
    return DistilBertConfig(vocab_size=t.vocab_size, max_position_embeddings=t.max_position_embeddings,
                            sinusoidal_pos_embds=False, n_layers=len(teacher_layers(t.num_hidden_layers)),
                            n_heads=t.num_attention_heads, dim=t.hidden_size, hidden_dim=t.intermediate_size,
                            dropout=t.hidden_dropout_prob, attention_dropout=t.attention_probs_dropout_prob,
                            activation=t.hidden_act, initializer_range=t.initializer_range, pad_token_id=pad_id)


def teacher_layers(num_layers: int) -> list[int]:
    """The teacher layers the student starts from: every other one, from the first."""
    return list(range(0, num_layers, 2))


# student layer module -> teacher layer module (extract_distilbert.py's mapping)
_LAYER_MAP = {"attention.q_lin": "attention.self.query", "attention.k_lin": "attention.self.key",
              "attention.v_lin": "attention.self.value", "attention.out_lin": "attention.output.dense",
              "sa_layer_norm": "attention.output.LayerNorm", "ffn.lin1": "intermediate.dense",
              "ffn.lin2": "output.dense", "output_layer_norm": "output.LayerNorm"}


@torch.no_grad()
def student_from_teacher(teacher: BertForMaskedLM, pad_id: int) -> DistilBertForMaskedLM:
    """A DistilBERT with the teacher's embeddings, layers 0, 2, 4, ... and masked-LM head.

    DistilBERT has no token types: the teacher's token-type-0 vector, which BERT adds to every
    token of a single-segment input, is added into the position table, so the student's embedding
    output equals the teacher's at the start (the example drops it).
    """
    student = DistilBertForMaskedLM(student_config(teacher, pad_id))

    def copy(target: nn.Module, source: nn.Module) -> None:
        target.weight.copy_(source.weight)
        target.bias.copy_(source.bias)

    t_emb, s_emb = teacher.bert.embeddings, student.distilbert.embeddings
    s_emb.word_embeddings.weight.copy_(t_emb.word_embeddings.weight)
    s_emb.position_embeddings.weight.copy_(t_emb.position_embeddings.weight + t_emb.token_type_embeddings.weight[0])
    copy(s_emb.LayerNorm, t_emb.LayerNorm)
    for s_index, t_index in enumerate(teacher_layers(teacher.config.num_hidden_layers)):
        s_layer, t_layer = student.distilbert.transformer.layer[s_index], teacher.bert.encoder.layer[t_index]
        for s_name, t_name in _LAYER_MAP.items():
            copy(s_layer.get_submodule(s_name), t_layer.get_submodule(t_name))
    head = teacher.cls.predictions
    copy(student.vocab_transform, head.transform.dense)
    copy(student.vocab_layer_norm, head.transform.LayerNorm)
    student.vocab_projector.bias.copy_(head.decoder.bias)  # the weight is the (copied) token table
    return student


class DistillationTask(Task):
    """A trained student following a frozen teacher; parts kd_loss, mlm_loss, cos_loss."""

    frozen = ("teacher",)

    def __init__(self, student: DistilBertForMaskedLM, teacher: BertForMaskedLM, vocab: VocabInfo):
        super().__init__()
        self.student, self.teacher = student, teacher
        self.teacher.requires_grad_(False).eval()
        self.mask_id, self.vocab_size = vocab.mask_id, vocab.vocab_size

    def forward(self, inputs: dict[str, torch.Tensor], *, with_counts: bool = False) -> StepOutput:
        model_inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        student = self.student(**model_inputs, output_hidden_states=True)
        with torch.no_grad():
            teacher = self.teacher(**model_inputs, output_hidden_states=True)
        real = inputs["attention_mask"].bool()
        s_logits, t_logits = student.logits[real].float(), teacher.logits[real].float()
        kd = F.kl_div(F.log_softmax(s_logits / TEMPERATURE, dim=-1), F.softmax(t_logits / TEMPERATURE, dim=-1),
                      reduction="batchmean") * TEMPERATURE ** 2
        s_hidden, t_hidden = student.hidden_states[-1][real], teacher.hidden_states[-1][real]
        cos = F.cosine_embedding_loss(s_hidden, t_hidden, torch.ones(s_hidden.shape[0], device=s_hidden.device))
        parts = {"kd_loss": kd, "mlm_loss": masked_lm_loss(student.logits, inputs["labels"]), "cos_loss": cos}
        counts = {}
        if with_counts:
            labels, ids = inputs["labels"], inputs["input_ids"]
            counts = mlm_counts(student.logits.detach(), labels, ids, self.mask_id, self.vocab_size)
            teacher_counts = mlm_counts(teacher.logits, labels, ids, self.mask_id, self.vocab_size)
            counts["teacher_mlm_correct"] = teacher_counts["mlm_correct"]
        return StepOutput(sum_parts(parts, LOSS_WEIGHTS), parts, counts)

    def summarize(self, counts: dict[str, torch.Tensor]) -> dict[str, float]:
        """The student's accuracy at [MASK] beside the unigram baseline and the teacher's."""
        metrics = mlm_metrics(counts)
        metrics["teacher_mlm_accuracy"] = float(counts["teacher_mlm_correct"]) / max(float(counts["mlm_at_mask"]), 1.0)
        return metrics

    def exports(self) -> dict[str, nn.Module]:
        return {"hf": self.student}


def build_task(ctx: BuildContext) -> DistillationTask:
    path = ctx.config.teacher
    if not path:
        _fail("distilbert needs --teacher DIR: a BERT masked-LM folder with its tokenizer (e.g. the DIR/hf of "
              "`shardlm train --model bert` on shards of the same tokenizer)")
    check_teacher(path, ctx.vocab, ctx.tokenizer, ctx.seq_len)
    teacher = BertForMaskedLM.from_pretrained(path)
    student = student_from_teacher(teacher, ctx.vocab.pad_id)
    log.info("distilbert: student of width %d with %d layers (teacher layers %s of %d)", student.config.dim,
             student.config.n_layers, teacher_layers(teacher.config.num_hidden_layers),
             teacher.config.num_hidden_layers)
    return DistillationTask(student, teacher, ctx.vocab)


SPEC = ModelSpec(name="distilbert", paper="Sanh et al. 2019, arXiv:1910.01108", objective=OBJECTIVE, masking="token",
                 sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE, auto_class="AutoModelForMaskedLM",
                 build_task=build_task, options=("teacher",))

__all__ = ["DistillationTask", "SPEC", "check_teacher", "student_from_teacher", "teacher_layers"]
