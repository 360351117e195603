"""XLM's three objectives (Lample & Conneau 2019, facebookresearch/XLM `trainer.py` mlm_step and
clm_step) and the task that runs them on one `XLMWithLMHeadModel`.

- TLM on `tlm` shards: a translation pair `[CLS] A [SEP] [SEP] B [SEP]` masked as MLM, each token
  with its own language id (the shards' `langs`), positions 0.. over A's block and again 0.. from
  `segment_b_start` (XLM's `concat_batches(..., reset_positions=True)`).
- MLM on per-language `mlm` shards (`shardlm build --objective mlm --per-language`): the
  example's `lang` on every token.
- CLM on `clm` shards: causal attention and next-token labels at every position but the last
  (clm_step's `pred_mask`), the example's `lang` on every token; metric perplexity.

Every objective's inputs carry `langs`; TLM adds `position_ids`, CLM a `causal` flag that the
task turns into XLM's causal attention for that forward pass (XLM passes `causal=True` per step,
the same network serving both kinds of step).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from trainer.config import VocabInfo
from trainer.masking import IGNORE_INDEX, masked_lm_loss, next_token_labels
from trainer.objectives.base import Objective, StepOutput, Task, sum_parts
from trainer.objectives.mlm import mask_batch, mlm_counts, mlm_metrics


def _example_langs(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The example's `lang` on each of its tokens (0 on padding, which attends to nothing)."""
    return batch["lang"][:, None].expand_as(batch["input_ids"]) * batch["attention_mask"]


def prepare_tlm(batch, masker, generator):
    inputs = mask_batch(batch, masker, generator)
    positions = torch.arange(batch["input_ids"].shape[1])[None, :]
    b_start = batch["segment_b_start"][:, None]
    inputs["position_ids"] = torch.where(positions < b_start, positions, positions - b_start)
    inputs["langs"] = batch["langs"]
    return inputs


def prepare_mlm(batch, masker, generator):
    return {**mask_batch(batch, masker, generator), "langs": _example_langs(batch)}


def prepare_clm(batch, masker, generator):
    """No randomness: the tokens as they are, each labelled with the next one."""
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
            "labels": next_token_labels(batch["input_ids"], batch["attention_mask"]),
            "langs": _example_langs(batch), "causal": torch.ones((), dtype=torch.bool)}


TLM = Objective(name="tlm", shard_objective="tlm",
                shard_help="translation pairs with per-token language ids, from a parallel corpus",
                columns=("input_ids", "segment_b_start", "langs"), prepare=prepare_tlm)
MLM = Objective(name="mlm", shard_objective="mlm", shard_help="per-language packed sentences (--per-language)",
                columns=("input_ids", "lang"), prepare=prepare_mlm)
CLM = Objective(name="clm", shard_objective="clm", shard_help="per-language token streams",
                columns=("input_ids", "lang"), prepare=prepare_clm)
OBJECTIVES = {o.shard_objective: o for o in (TLM, MLM, CLM)}


class XLMTask(Task):
    """One XLM network; each batch is TLM, MLM or CLM (told apart by its inputs), with loss part
    `tlm_loss`, `mlm_loss` or `clm_loss`. Sparse prediction as MaskedLMTask: only labelled positions
    reach the vocabulary projection."""

    def __init__(self, network: nn.Module, vocab: VocabInfo):
        super().__init__()
        self.network = network
        self.mask_id, self.vocab_size = vocab.mask_id, vocab.vocab_size

    def encode(self, inputs: dict[str, torch.Tensor], causal: bool) -> torch.Tensor:
        transformer = self.network.transformer
        default, transformer.causal = transformer.causal, causal
        try:
            out = transformer(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"].bool(),
                              langs=inputs["langs"], position_ids=inputs.get("position_ids"),
                              lengths=inputs["attention_mask"].sum(dim=1))
        finally:
            transformer.causal = default
        return out.last_hidden_state

    def forward(self, inputs: dict[str, torch.Tensor], *, with_counts: bool = False) -> StepOutput:
        causal = "causal" in inputs
        kind = "clm" if causal else ("tlm" if "position_ids" in inputs else "mlm")
        hidden = self.encode(inputs, causal)
        labels, input_ids = inputs["labels"], inputs["input_ids"]
        selected = labels != IGNORE_INDEX
        hidden, labels, input_ids = hidden[selected], labels[selected], input_ids[selected]
        logits = self.network.pred_layer.proj(hidden)
        parts = {f"{kind}_loss": masked_lm_loss(logits, labels)}
        counts = {}
        if with_counts and causal:
            nll = nn.functional.cross_entropy(logits.detach().float(), labels, reduction="sum")
            counts = {"clm_nll": nll.double().cpu(), "clm_tokens": torch.tensor(float(labels.numel()),
                                                                                dtype=torch.float64)}
        elif with_counts:
            found = mlm_counts(logits.detach(), labels, input_ids, self.mask_id, self.vocab_size)
            counts = {kind + name[3:]: value for name, value in found.items()}  # mlm_correct -> tlm_correct
        return StepOutput(sum_parts(parts), parts, counts)

    def summarize(self, counts: dict[str, torch.Tensor]) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for kind in ("mlm", "tlm"):
            if f"{kind}_correct" in counts:
                found = mlm_metrics({"mlm" + name[3:]: counts[kind + name[3:]]
                                     for name in ("mlm_correct", "mlm_at_mask", "mlm_label_histogram")})
                metrics.update({kind + name[3:]: value for name, value in found.items()})
        if "clm_nll" in counts:
            tokens = max(float(counts["clm_tokens"]), 1.0)
            metrics["clm_perplexity"] = math.exp(float(counts["clm_nll"]) / tokens)
        return metrics

    def exports(self) -> dict[str, nn.Module]:
        return {"hf": self.network}


__all__ = ["CLM", "MLM", "OBJECTIVES", "TLM", "XLMTask", "prepare_clm", "prepare_mlm", "prepare_tlm"]
