"""BERT: masked LM plus next-sentence prediction (Devlin et al. 2019), on `nsp` shards."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForPreTraining

from trainer.config import ModelSize, ModelSpec, VocabInfo
from trainer.masking import masked_lm_loss


def build_config(size: ModelSize, vocab: VocabInfo, seq_len: int) -> BertConfig:
    """BERT of this size over the shard set's vocabulary; positions = the shard set's seq_len."""
    return BertConfig(
        vocab_size=vocab.vocab_size,
        hidden_size=size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        intermediate_size=size.intermediate_size,
        max_position_embeddings=seq_len,
        type_vocab_size=2,
        pad_token_id=vocab.pad_id,
    )


def losses(outputs, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Token-averaged MLM cross-entropy plus example-averaged NSP cross-entropy."""
    mlm = masked_lm_loss(outputs.prediction_logits, batch["labels"])
    nsp = F.cross_entropy(outputs.seq_relationship_logits.float(), batch["next_sentence_label"])
    return {"loss": mlm + nsp, "mlm_loss": mlm, "nsp_loss": nsp}


def mlm_logits(outputs) -> torch.Tensor:
    return outputs.prediction_logits


SPEC = ModelSpec(
    name="bert",
    objective="mlm+nsp",
    shard_objective="nsp",
    shard_objective_help="sentence pairs with NSP labels",
    model_class=BertForPreTraining,
    auto_class="AutoModelForPreTraining",
    build_config=build_config,
    losses=losses,
    mlm_logits=mlm_logits,
    uses_token_types=True,
)
