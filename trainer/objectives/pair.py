"""Masked LM plus a sentence-pair classification: BERT's next-sentence prediction (`nsp` shards)
and ALBERT's sentence-order prediction (`sop` shards).

Segment B gets token type 1 from `segment_b_start` up to the last real token. The pair label
is 0 for the original order / the true next segment (the `transformers` convention) and 1
otherwise. Held-out counts add the pair accuracy beside the majority class.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import VocabInfo
from trainer.objectives.base import Objective, StepOutput, sum_parts
from trainer.objectives.mlm import EncoderHeads, MaskedLMTask, mask_batch
from trainer.randomness import Randomness


def token_types(segment_b_start: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """1 from segment_b_start to the last real token, 0 elsewhere (padding included)."""
    positions = torch.arange(attention_mask.shape[1])
    return ((positions[None, :] >= segment_b_start[:, None]) & attention_mask.bool()).long()


def prepare_pair(batch: dict[str, torch.Tensor], masker, generator: Randomness, *,
                 label: str) -> dict[str, torch.Tensor]:
    out = mask_batch(batch, masker, generator)
    out["token_type_ids"] = token_types(batch["segment_b_start"], batch["attention_mask"])
    out["pair_label"] = batch[label].long()
    return out


NSP = Objective(name="mlm+nsp", shard_objective="nsp", shard_help="sentence pairs with NSP labels",
                columns=("input_ids", "segment_b_start", "next_sentence_label"),
                prepare=partial(prepare_pair, label="next_sentence_label"))
SOP = Objective(name="mlm+sop", shard_objective="sop", shard_help="consecutive segment pairs with sentence-order labels",
                columns=("input_ids", "segment_b_start", "sentence_order_label"),
                prepare=partial(prepare_pair, label="sentence_order_label"))


class PairTask(MaskedLMTask):
    """MLM plus a two-way classification of the pooled [CLS] state; parts mlm_loss and `{kind}_loss`."""

    def __init__(self, network: nn.Module, heads: EncoderHeads, vocab: VocabInfo, *, kind: str, sparse: bool = True):
        super().__init__(network, heads, vocab, sparse=sparse)
        if heads.classify_pair is None:
            raise ValueError(f"a {kind} task needs EncoderHeads.classify_pair")
        self.kind = kind

    def forward(self, inputs: dict[str, torch.Tensor], *, with_counts: bool = False) -> StepOutput:
        pooled, parts, counts = self.mlm_parts(inputs, with_counts)
        logits = self.heads.classify_pair(self.network, pooled)
        labels = inputs["pair_label"]
        parts[f"{self.kind}_loss"] = F.cross_entropy(logits.float(), labels)
        if with_counts:
            counts[f"{self.kind}_correct"] = (logits.detach().argmax(dim=-1) == labels).sum().double().cpu()
            counts[f"{self.kind}_examples"] = torch.tensor(float(labels.numel()), dtype=torch.float64)
            counts[f"{self.kind}_label_1"] = labels.sum().double().cpu()
        return StepOutput(sum_parts(parts), parts, counts)

    def summarize(self, counts: dict[str, torch.Tensor]) -> dict[str, float]:
        metrics = super().summarize(counts)
        n = max(float(counts[f"{self.kind}_examples"]), 1.0)
        ones = float(counts[f"{self.kind}_label_1"])
        metrics[f"{self.kind}_accuracy"] = float(counts[f"{self.kind}_correct"]) / n
        metrics[f"{self.kind}_majority_accuracy"] = max(ones, n - ones) / n
        return metrics


__all__ = ["NSP", "PairTask", "SOP", "prepare_pair", "token_types"]
