"""XLM-R: multilingual masked LM on `mlm` shards, no language embeddings, a unigram
(SentencePiece) vocabulary (Conneau et al. 2020, "Unsupervised Cross-lingual Representation
Learning at Scale"). The architecture is RoBERTa's; `XLMRobertaForMaskedLM` holds it."""

from __future__ import annotations

from typing import Any

from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

from trainer.config import ModelSize, Recipe, VocabInfo
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.mlm import OBJECTIVE, EncoderHeads, MaskedLMTask

SIZES = {
    "tiny": ModelSize(name="tiny", hidden_size=64, num_layers=2, num_heads=2, intermediate_size=256, lr=1e-3),
    "small": ModelSize(name="small", hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024, lr=5e-4),
    # XLM-R Base (L=12, H=768, A=12) and XLM-R (L=24, H=1024, A=16), Table 7. The paper gives no
    # learning rate; these are RoBERTa's peak rates for the same widths (its Table 9), whose fairseq
    # recipe XLM-R was trained with.
    "base": ModelSize(name="base", hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, lr=6e-4),
    "large": ModelSize(name="large", hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096, lr=4e-4),
}
MAX_POSITIONS = 512  # XLM-R's 514-row table is 512 + pad id (1) + 1
# RoBERTa's fairseq recipe: Adam beta2 0.98, epsilon 1e-6, weight decay 0.01, no clipping.
RECIPE = Recipe(betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01, max_grad_norm=None)
LANG_ALPHA = 0.3  # section 3.1: languages sampled with q ∝ p^0.3 (XLM used 0.5)


def position_offset(vocab: VocabInfo) -> int:
    """Positions are numbered from pad_token_id + 1, as in RoBERTa."""
    return vocab.pad_id + 1


def build_config(size: ModelSize, vocab: VocabInfo) -> XLMRobertaConfig:
    specials = vocab.special_ids
    return XLMRobertaConfig(vocab_size=vocab.vocab_size, hidden_size=size.hidden_size,
                            num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads,
                            intermediate_size=size.intermediate_size,
                            max_position_embeddings=MAX_POSITIONS + position_offset(vocab), type_vocab_size=1,
                            pad_token_id=vocab.pad_id, bos_token_id=specials.get("cls", vocab.pad_id),
                            eos_token_id=specials.get("sep", vocab.pad_id))


def tokenizer_model(tokenizer: Any) -> str | None:
    """The `tokenizers` model type behind a fast tokenizer ("Unigram", "WordPiece", "BPE"), or None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return type(backend.model).__name__ if backend is not None else None


def check_vocabulary(tokenizer: Any) -> None:
    """XLM-R's vocabulary is a SentencePiece unigram model (section 3.1): refuse any other, one line."""
    kind = tokenizer_model(tokenizer)
    if kind is not None and kind != "Unigram":
        raise ValueError(f"xlmr needs a unigram (SentencePiece) vocabulary but the shard set's tokenizer is "
                         f"{kind}; build one with `shardlm tokenizer --kind unigram` (or pass a SentencePiece "
                         f".model as --tokenizer) and rebuild the mlm shards with it")


def encode(network: XLMRobertaForMaskedLM, inputs):
    out = network.roberta(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    return out.last_hidden_state, None


HEADS = EncoderHeads(encode=encode, predict_tokens=lambda network, hidden: network.lm_head(hidden))


def build_task(ctx: BuildContext) -> MaskedLMTask:
    if ctx.tokenizer is not None:
        check_vocabulary(ctx.tokenizer)
    return MaskedLMTask(XLMRobertaForMaskedLM(build_config(ctx.size, ctx.vocab)), HEADS, ctx.vocab)


SPEC = ModelSpec(name="xlmr", paper="Conneau et al. 2020, arXiv:1911.02116", objective=OBJECTIVE, masking="token",
                 sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE, auto_class="AutoModelForMaskedLM",
                 build_task=build_task, lang_alpha=LANG_ALPHA, options=("lang_alpha",))
