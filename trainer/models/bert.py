"""BERT: masked LM plus next-sentence prediction on `nsp` shards (Devlin et al. 2019,
"BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding")."""

from __future__ import annotations

from transformers import BertConfig, BertForPreTraining

from trainer.config import ModelSize, Recipe
from trainer.models.positions import sinusoidal_
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.mlm import EncoderHeads
from trainer.objectives.pair import NSP, PairTask

SIZES = {
    # tiny/small follow the compact BERTs of Turc et al. 2019 ("Well-Read Students Learn Better: On the
    # Importance of Pre-training Compact Models", arXiv:1908.08962): tiny is their BERT-Tiny (L=2,
    # H=128, 2 heads, FFN 4H), small their BERT-Mini (L=4, H=256). Both take the small-budget recipe
    # (docs/models.md): no dropout, 30% masking, a higher peak lr; tiny starts its position table
    # from sine waves. At H=64 tiny stayed at 1.2-1.3x the unigram baseline after 2,000 steps of
    # batch 32; at H=128 roberta-tiny reached 1.51x, bert-tiny 1.30x with NSP 0.77 against the
    # majority's 0.55 (docs/models.md, "Small-budget recipe").
    "tiny": ModelSize(name="tiny", hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512, lr=2e-3,
                      dropout=0.0, mask_prob=0.3, sinusoidal_positions=True),
    "small": ModelSize(name="small", hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024, lr=1e-3,
                       dropout=0.0, mask_prob=0.3),
    # base and large: the paper's BERT-BASE and BERT-LARGE; lr 1e-4 for both (appendix A.2).
    "base": ModelSize(name="base", hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, lr=1e-4),
    "large": ModelSize(name="large", hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096, lr=1e-4),
}
# 512 positions for every size, whatever the shards' seq_len (appendix A.2: 90% of steps at 128,
# then 512), so an export takes any input up to 512 tokens.
MAX_POSITIONS = 512
# Adam beta1 0.9, beta2 0.999, L2 weight decay 0.01 (appendix A.2); epsilon 1e-6 and global-norm
# clipping at 1.0 from google-research/bert optimization.py.
RECIPE = Recipe(betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, max_grad_norm=1.0)


def build_config(size: ModelSize, vocab_size: int, pad_id: int) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, hidden_size=size.hidden_size, num_hidden_layers=size.num_layers,
                      num_attention_heads=size.num_heads, intermediate_size=size.intermediate_size,
                      max_position_embeddings=MAX_POSITIONS, type_vocab_size=2, pad_token_id=pad_id,
                      hidden_dropout_prob=size.dropout, attention_probs_dropout_prob=size.dropout)


def encode(network: BertForPreTraining, inputs):
    out = network.bert(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                       token_type_ids=inputs.get("token_type_ids"))
    return out.last_hidden_state, out.pooler_output


HEADS = EncoderHeads(encode=encode, predict_tokens=lambda network, hidden: network.cls.predictions(hidden),
                     classify_pair=lambda network, pooled: network.cls.seq_relationship(pooled))


def build_task(ctx: BuildContext) -> PairTask:
    network = BertForPreTraining(build_config(ctx.size, ctx.vocab.vocab_size, ctx.vocab.pad_id))
    if ctx.size.sinusoidal_positions:
        sinusoidal_(network.bert.embeddings.position_embeddings, network.config.initializer_range)
    return PairTask(network, HEADS, ctx.vocab, kind="nsp")


SPEC = ModelSpec(name="bert", paper="Devlin et al. 2019, arXiv:1810.04805", objective=NSP, masking="token",
                 sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE, auto_class="AutoModelForPreTraining",
                 build_task=build_task)
