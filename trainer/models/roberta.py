"""RoBERTa: masked LM only, on packed `mlm` shards (Liu et al. 2019, FULL-SENTENCES)."""

from __future__ import annotations

import torch
from transformers import RobertaConfig, RobertaForMaskedLM

from trainer.config import ModelSize, ModelSpec, VocabInfo
from trainer.masking import masked_lm_loss


def position_offset(vocab: VocabInfo) -> int:
    """RoBERTa numbers positions from pad_token_id + 1, so it needs that many extra slots."""
    return vocab.pad_id + 1


def build_config(size: ModelSize, vocab: VocabInfo, seq_len: int) -> RobertaConfig:
    """RoBERTa of this size; max_position_embeddings = seq_len + pad_token_id + 1."""
    specials = vocab.special_ids
    return RobertaConfig(
        vocab_size=vocab.vocab_size,
        hidden_size=size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        intermediate_size=size.intermediate_size,
        max_position_embeddings=seq_len + position_offset(vocab),
        type_vocab_size=1,
        pad_token_id=vocab.pad_id,
        bos_token_id=specials.get("cls", vocab.pad_id),
        eos_token_id=specials.get("sep", vocab.pad_id),
    )


def losses(outputs, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Token-averaged MLM cross-entropy."""
    mlm = masked_lm_loss(outputs.logits, batch["labels"])
    return {"loss": mlm, "mlm_loss": mlm}


def mlm_logits(outputs) -> torch.Tensor:
    return outputs.logits


SPEC = ModelSpec(
    name="roberta",
    objective="mlm",
    shard_objective="mlm",
    shard_objective_help="packed token sequences",
    model_class=RobertaForMaskedLM,
    auto_class="AutoModelForMaskedLM",
    build_config=build_config,
    losses=losses,
    mlm_logits=mlm_logits,
    uses_token_types=False,
)
