"""Masked language modelling (BERT's MLM, RoBERTa's only objective) on `mlm` shards.

`prepare` masks the batch with the run's `Masker` (strategy chosen by the model or `--masking`);
`MaskedLMTask` scores the selected tokens. Held-out counts: accuracy at the positions that were
replaced by [MASK] (the 10% left unchanged are copied by the model, so counting them flatters
it), beside the unigram baseline that always predicts the most frequent of those labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from trainer.config import VocabInfo
from trainer.masking import IGNORE_INDEX, masked_lm_loss
from trainer.randomness import Randomness
from trainer.objectives.base import Objective, StepOutput, Task, sum_parts


@dataclass(frozen=True, kw_only=True)
class EncoderHeads:
    """How an objective reaches into a model file's `transformers` network.

    encode(network, inputs) -> (hidden states B x T x H, pooled B x H or None)
    predict_tokens(network, hidden [..., H]) -> vocabulary logits [..., V]
    classify_pair(network, pooled) -> 2 logits per example (NSP / SOP heads)
    """

    encode: Callable[[nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, torch.Tensor | None]]
    predict_tokens: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    classify_pair: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None


def mask_batch(batch: dict[str, torch.Tensor], masker, generator: Randomness) -> dict[str, torch.Tensor]:
    """input_ids masked, labels (original id where selected, else -100), attention_mask."""
    masked, labels = masker(batch["input_ids"], batch["attention_mask"], generator, word_start=batch.get("word_start"))
    return {"input_ids": masked, "attention_mask": batch["attention_mask"], "labels": labels}


OBJECTIVE = Objective(name="mlm", shard_objective="mlm", shard_help="packed token sequences",
                      columns=("input_ids",), prepare=mask_batch)


def mlm_counts(logits: torch.Tensor, labels: torch.Tensor, input_ids: torch.Tensor, mask_id: int,
               vocab_size: int) -> dict[str, torch.Tensor]:
    """Counts at [MASK]-replaced positions: correct argmax, how many, and a histogram of their labels.
    `logits` [..., V] belong to the positions of `labels` and `input_ids` (all, or the selected only)."""
    at_mask = (labels != IGNORE_INDEX) & (input_ids == mask_id)
    targets = labels[at_mask]
    predicted = logits[at_mask].argmax(dim=-1)
    return {"mlm_correct": (predicted == targets).sum().double().cpu(),
            "mlm_at_mask": at_mask.sum().double().cpu(),
            "mlm_label_histogram": torch.bincount(targets.cpu(), minlength=vocab_size).double()}


def mlm_metrics(counts: dict[str, torch.Tensor]) -> dict[str, float]:
    n = max(float(counts["mlm_at_mask"]), 1.0)
    return {"mlm_accuracy": float(counts["mlm_correct"]) / n,
            "mlm_unigram_accuracy": float(counts["mlm_label_histogram"].max()) / n}


class MaskedLMTask(Task):
    """One network with an MLM head; loss = mean cross-entropy over the selected tokens.

    Sparse prediction (default): the hidden states of the selected positions are gathered before
    the head, so the vocabulary projection runs on about 15% of the tokens (Cramming, Geiping and
    Goldstein 2023; MosaicBERT). The loss is the same mean over the same tokens, and the head's
    weights are the exported ones, so `DIR/hf` is unchanged. `sparse=False` runs the head on
    every position, as the `transformers` heads do.
    """

    def __init__(self, network: nn.Module, heads: EncoderHeads, vocab: VocabInfo, *, sparse: bool = True):
        super().__init__()
        self.network, self.heads, self.sparse = network, heads, sparse
        self.mask_id, self.vocab_size = vocab.mask_id, vocab.vocab_size

    def mlm_parts(self, inputs: dict[str, torch.Tensor], with_counts: bool):
        hidden, pooled = self.heads.encode(self.network, inputs)
        labels, input_ids = inputs["labels"], inputs["input_ids"]
        if self.sparse:
            selected = labels != IGNORE_INDEX
            hidden, labels, input_ids = hidden[selected], labels[selected], input_ids[selected]
        logits = self.heads.predict_tokens(self.network, hidden)
        parts = {"mlm_loss": masked_lm_loss(logits, labels)}
        counts = mlm_counts(logits.detach(), labels, input_ids, self.mask_id, self.vocab_size) if with_counts else {}
        return pooled, parts, counts

    def forward(self, inputs: dict[str, torch.Tensor], *, with_counts: bool = False) -> StepOutput:
        _, parts, counts = self.mlm_parts(inputs, with_counts)
        return StepOutput(sum_parts(parts), parts, counts)

    def summarize(self, counts: dict[str, torch.Tensor]) -> dict[str, float]:
        return mlm_metrics(counts)

    def exports(self) -> dict[str, nn.Module]:
        return {"hf": self.network}


__all__ = ["EncoderHeads", "MaskedLMTask", "OBJECTIVE", "mask_batch", "mlm_counts", "mlm_metrics"]
