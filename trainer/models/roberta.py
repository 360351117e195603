"""RoBERTa: masked LM only, on packed `mlm` shards (Liu et al. 2019, "RoBERTa: A Robustly
Optimized BERT Pretraining Approach", FULL-SENTENCES)."""

from __future__ import annotations

from transformers import RobertaConfig, RobertaForMaskedLM

from trainer.config import ModelSize, Recipe, VocabInfo
from trainer.models.positions import sinusoidal_
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.mlm import OBJECTIVE, EncoderHeads, MaskedLMTask

SIZES = {
    # tiny and small: BERT's (trainer/models/bert.py), Turc et al. 2019's BERT-Tiny (arXiv:1908.08962)
    # and a 4 x 256 BERT, with the small-budget recipe (docs/models.md); longformer's tiny and small too.
    "tiny": ModelSize(name="tiny", hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512, lr=2e-3,
                      dropout=0.0, mask_prob=0.3, sinusoidal_positions=True),
    "small": ModelSize(name="small", hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024, lr=1e-3,
                       dropout=0.0, mask_prob=0.3),
    # base and large: peak lr 6e-4 and 4e-4 (Table 9, batch 8k).
    "base": ModelSize(name="base", hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, lr=6e-4),
    "large": ModelSize(name="large", hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096, lr=4e-4),
}
MAX_POSITIONS = 512  # sequences of at most 512 tokens (section 3.1)
# Adam beta2 0.98 for stability with large batches, epsilon 1e-6, weight decay 0.01 (section 3.1,
# Table 9); no gradient clipping (fairseq's RoBERTa pretraining recipe: --clip-norm 0.0).
RECIPE = Recipe(betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01, max_grad_norm=None)


def position_offset(vocab: VocabInfo) -> int:
    """RoBERTa numbers positions from pad_token_id + 1, so it needs that many extra slots."""
    return vocab.pad_id + 1


def build_config(size: ModelSize, vocab: VocabInfo) -> RobertaConfig:
    """RoBERTa of this size; max_position_embeddings = 512 + pad_token_id + 1."""
    specials = vocab.special_ids
    return RobertaConfig(vocab_size=vocab.vocab_size, hidden_size=size.hidden_size, num_hidden_layers=size.num_layers,
                         num_attention_heads=size.num_heads, intermediate_size=size.intermediate_size,
                         max_position_embeddings=MAX_POSITIONS + position_offset(vocab), type_vocab_size=1,
                         pad_token_id=vocab.pad_id, bos_token_id=specials.get("cls", vocab.pad_id),
                         eos_token_id=specials.get("sep", vocab.pad_id),
                         hidden_dropout_prob=size.dropout, attention_probs_dropout_prob=size.dropout)


def encode(network: RobertaForMaskedLM, inputs):
    out = network.roberta(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    return out.last_hidden_state, None


HEADS = EncoderHeads(encode=encode, predict_tokens=lambda network, hidden: network.lm_head(hidden))


def build_task(ctx: BuildContext) -> MaskedLMTask:
    network = RobertaForMaskedLM(build_config(ctx.size, ctx.vocab))
    if ctx.size.sinusoidal_positions:
        sinusoidal_(network.roberta.embeddings.position_embeddings, network.config.initializer_range)
    return MaskedLMTask(network, HEADS, ctx.vocab)


SPEC = ModelSpec(name="roberta", paper="Liu et al. 2019, arXiv:1907.11692", objective=OBJECTIVE, masking="token",
                 sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE, auto_class="AutoModelForMaskedLM",
                 build_task=build_task)
