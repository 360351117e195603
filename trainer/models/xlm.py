"""XLM: cross-lingual LM pretraining with language embeddings (Lample & Conneau 2019,
"Cross-lingual Language Model Pretraining"; facebookresearch/XLM). One `XLMWithLMHeadModel`
trained with TLM (`tlm` shards), MLM (per-language `mlm` shards) or CLM (`clm` shards): the
objective follows the shard set (trainer.objectives.xlm)."""

from __future__ import annotations

from typing import Any

from transformers import XLMConfig, XLMWithLMHeadModel

from trainer.config import ModelSize, Recipe, VocabInfo
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.base import Objective
from trainer.objectives.xlm import CLM, MLM, OBJECTIVES, TLM, XLMTask

# XLM's feed-forward width is always 4 x the model width (TransformerModel: hidden_dim = dim * 4).
SIZES = {
    "tiny": ModelSize(name="tiny", hidden_size=64, num_layers=2, num_heads=2, intermediate_size=256, lr=1e-3),
    "small": ModelSize(name="small", hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024, lr=5e-4),
    # base: the 6-layer, 1024-unit, 8-head model of the unsupervised MT experiments (README
    # xlm-mlm-enfr-1024); large: the 12-layer XNLI-15 model (mlm-tlm-xnli15-1024). Section 5.1:
    # "Adam ... learning rates varying from 1e-4 to 5e-4"; the README's pretraining runs use 1e-4.
    "base": ModelSize(name="base", hidden_size=1024, num_layers=6, num_heads=8, intermediate_size=4096, lr=1e-4),
    "large": ModelSize(name="large", hidden_size=1024, num_layers=12, num_heads=8, intermediate_size=4096, lr=1e-4),
}
MAX_POSITIONS = 512  # learned positional embeddings, XLM's default max_position_embeddings
# The README's pretraining command: adam_inverse_sqrt,beta1=0.9,beta2=0.98,lr=0.0001 (no weight
# decay, eps 1e-8 in XLM's AdamInverseSqrtWithWarmup); gradient clipping at 5 (--clip_grad_norm 5).
# The schedule here is the project's linear warmup and decay, not the inverse square root.
RECIPE = Recipe(betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0, max_grad_norm=5.0)
DROPOUT = 0.1  # --dropout 0.1 --attention_dropout 0.1
LANG_ALPHA = 0.5  # section 3.1: sentences sampled with q ∝ p^0.5


def languages(manifest: dict[str, Any] | None) -> dict[str, int]:
    """The shard set's language table {code: id} (empty when its examples carry no language)."""
    return {str(k): int(v) for k, v in ((manifest or {}).get("languages") or {}).items()}


def build_config(size: ModelSize, vocab: VocabInfo, lang2id: dict[str, int], *, causal: bool = False) -> XLMConfig:
    specials = vocab.special_ids
    n_langs = max(lang2id.values(), default=0) + 1
    return XLMConfig(vocab_size=vocab.vocab_size, emb_dim=size.hidden_size, n_layers=size.num_layers,
                     n_heads=size.num_heads, dropout=DROPOUT, attention_dropout=DROPOUT, gelu_activation=True,
                     sinusoidal_embeddings=False, causal=causal, asm=False, n_langs=n_langs, use_lang_emb=True,
                     max_position_embeddings=MAX_POSITIONS, embed_init_std=size.hidden_size ** -0.5,
                     pad_token_id=vocab.pad_id, mask_token_id=vocab.mask_id, unk_index=specials.get("unk", 0),
                     mask_index=vocab.mask_id, bos_token_id=specials.get("cls", vocab.pad_id),
                     eos_token_id=specials.get("sep", vocab.pad_id),
                     lang2id=dict(lang2id) or None, id2lang={v: k for k, v in lang2id.items()} or None)


def select_objective(manifest: dict[str, Any], data: str) -> Objective:
    """TLM, MLM or CLM from the shard set; language-less shards fail with one line naming the build."""
    objective = manifest.get("objective")
    seq_len = int(manifest.get("seq_len", 0)) or 128
    if objective in OBJECTIVES and languages(manifest):
        return OBJECTIVES[objective]
    if objective == "mlm":
        raise ValueError(
            f"xlm needs examples with language ids but {data} holds mlm shards without languages; build TLM "
            f"shards with: shardlm build --input PARALLEL --tokenizer TOK --objective tlm --seq-len {seq_len} "
            f"--output URL (or per-language MLM shards with --objective mlm --per-language)")
    if objective in OBJECTIVES:
        raise ValueError(f"{data}: {objective} shards without a languages table in the manifest; rebuild them "
                         f"with shardlm build --objective {objective}")
    raise ValueError(
        f"xlm needs tlm, clm or per-language mlm shards but {data} holds {objective} shards; build them with: "
        f"shardlm build --input PARALLEL --tokenizer TOK --objective tlm --seq-len {seq_len} --output URL")


def build_task(ctx: BuildContext) -> XLMTask:
    manifest = ctx.manifest or {}
    causal = manifest.get("objective") == "clm"  # a CLM-only model exports with causal attention
    network = XLMWithLMHeadModel(build_config(ctx.size, ctx.vocab, languages(manifest), causal=causal))
    return XLMTask(network, ctx.vocab)


SPEC = ModelSpec(name="xlm", paper="Lample & Conneau 2019, arXiv:1901.07291", objective=TLM, masking="token",
                 sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE, auto_class="AutoModelForMaskedLM",
                 build_task=build_task, select_objective=select_objective, lang_alpha=LANG_ALPHA,
                 options=("lang_alpha",))

__all__ = ["CLM", "MLM", "SPEC", "TLM", "build_config", "languages", "select_objective"]
