"""ALBERT: n-gram masked LM plus sentence-order prediction on `sop` shards (Lan et al. 2020,
"ALBERT: A Lite BERT for Self-supervised Learning of Language Representations"; reference code
google-research/albert).

What makes it ALBERT, each from the paper:
- factorised embeddings: tokens are embedded in E = 128 dimensions and projected to the hidden
  size (section 3.1; every configuration of Table 1 uses E = 128);
- cross-layer sharing: all layers share one set of parameters (`num_hidden_groups = 1`);
- sentence-order prediction instead of NSP (section 3.1), on `sop` shards;
- n-gram masking: spans of up to 3 whole words, p(n) ∝ 1/n (section 4.1): the `ngram` preset;
- no dropout (section 4.10; the reference `AlbertConfig` defaults both dropouts to 0);
- LAMB with learning rate 0.00176 (section 4.1), β1 0.9, β2 0.999, ε 1e-6, weight decay 0.01
  excluding LayerNorm and biases (`optimization.py`), clipping at global norm 1.0.
"""

from __future__ import annotations

from transformers import AlbertConfig, AlbertForPreTraining

from trainer.config import ModelSize, Recipe
from trainer.models.positions import sinusoidal_
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.mlm import EncoderHeads
from trainer.objectives.pair import SOP, PairTask

LR = 0.00176  # section 4.1, batch 4096 for 125k steps
# base and large: Table 1's ALBERT-base (L12, H768, 12 heads) and ALBERT-large (L24, H1024, 16
# heads), feed-forward 4H. tiny and small are not in the paper: the BERT sizes of this project.
# tiny is BERT-Tiny's shape (2 x 128, 2 heads, FFN 512, as bert's and roberta's tiny), E 64, sine-wave
# initial positions (the small-budget recipe, docs/models.md; no dropout is ALBERT's own), the
# paper's 15% masking (30% scored 1.18x, below 15%'s 1.31x) and a LAMB lr of 1e-2: LAMB moves each
# weight matrix by about lr x its norm per step, so 0.00176 (125k steps at batch 4096) barely moves
# a model in 400 steps, while 2e-2 and 5e-2 stayed on the plateau and 5e-3 learned less. At 2 x 64,
# E 32, lr 0.00176 it sat on the plateau in the demo's 400 steps of batch 32 ([MASK] 1.00x the
# unigram baseline); this preset reaches 1.31x, SOP still below the majority (docs/models.md, "albert").
SIZES = {
    "tiny": ModelSize(name="tiny", hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512, lr=1e-2,
                      dropout=0.0, sinusoidal_positions=True),
    "small": ModelSize(name="small", hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024, lr=LR),
    "base": ModelSize(name="base", hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, lr=LR),
    "large": ModelSize(name="large", hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096, lr=LR),
}
# E = 128 (Table 1); tiny's hidden size is 128, so its embeddings are 64 (still factorised: E < H).
EMBEDDING_SIZES = {"tiny": 64, "small": 128, "base": 128, "large": 128}
MAX_POSITIONS = 512  # sequences of at most 512 tokens (section 4.1)
RECIPE = Recipe(optimizer="lamb", betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, max_grad_norm=1.0)


def build_config(size: ModelSize, vocab_size: int, pad_id: int) -> AlbertConfig:
    return AlbertConfig(vocab_size=vocab_size, embedding_size=EMBEDDING_SIZES[size.name],
                        hidden_size=size.hidden_size, num_hidden_layers=size.num_layers, num_hidden_groups=1,
                        inner_group_num=1, num_attention_heads=size.num_heads,
                        intermediate_size=size.intermediate_size, hidden_act="gelu_new",  # the reference gelu is the tanh approximation
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
                        max_position_embeddings=MAX_POSITIONS, type_vocab_size=2, pad_token_id=pad_id)


def encode(network: AlbertForPreTraining, inputs):
    out = network.albert(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                         token_type_ids=inputs.get("token_type_ids"))
    return out.last_hidden_state, out.pooler_output


HEADS = EncoderHeads(encode=encode, predict_tokens=lambda network, hidden: network.predictions(hidden),
                     classify_pair=lambda network, pooled: network.sop_classifier(pooled))


def build_task(ctx: BuildContext) -> PairTask:
    network = AlbertForPreTraining(build_config(ctx.size, ctx.vocab.vocab_size, ctx.vocab.pad_id))
    if ctx.size.sinusoidal_positions:
        sinusoidal_(network.albert.embeddings.position_embeddings, network.config.initializer_range)
    return PairTask(network, HEADS, ctx.vocab, kind="sop")


SPEC = ModelSpec(name="albert", paper="Lan et al. 2020, arXiv:1909.11942", objective=SOP, masking="ngram",
                 sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE, auto_class="AutoModelForPreTraining",
                 build_task=build_task)
