"""ELECTRA: replaced-token detection on packed `mlm` shards (Clark et al. 2020, "ELECTRA:
Pre-training Text Encoders as Discriminators Rather Than Generators"; reference code
google-research/electra, `run_pretraining.py`, `configure_pretraining.py`).

A small masked-LM generator fills the masked positions with tokens sampled from its softmax; the
discriminator labels every real token as original or replaced. Loss = generator MLM
cross-entropy + 50 x discriminator binary cross-entropy (mean over real tokens). As in the
reference code:

- the two networks share the whole embedding module (token, position and token-type embeddings
  and their LayerNorm: the TF code builds both under the `electra/embeddings` scope); each
  network keeps its own projection from the embedding width to its hidden width;
- the generator has the discriminator's depth and a fraction of its width (1/4 for small and
  large, 1/3 for base; paper Table 6), 4 x hidden feed-forward, one head per 64 dimensions;
- sampling is at temperature 1 with no gradient through it; a sampled token equal to the
  original counts as original (label 0);
- masking: 15% of tokens selected, 85% of them become [MASK] and 15% stay unchanged, no random
  replacement (`pretrain_helpers.mask`): the `electra` preset.

One departure: the discriminator's output bias starts at the prior log-odds of "replaced" for the
run's masking rate, not at 0 (`prior_logit`, `build_task`), which keeps a small discriminator from
collapsing to one answer for every token in its first steps (docs/models.md, "electra").

Sampling draws no randomness in the forward pass: `prepare` draws one uniform number per token
from the batch's seeded generator and the task samples by inverting the generator's cumulative
distribution at it, so a resumed run samples exactly the tokens of the uninterrupted one, on any
device. `DIR/hf/` holds the discriminator (`ElectraForPreTraining`, `AutoModelForPreTraining`) and
`DIR/hf-generator/` the generator (`ElectraForMaskedLM`, `AutoModelForMaskedLM`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

from trainer.config import ModelSize, Recipe, VocabInfo
from trainer.masking import IGNORE_INDEX, Randomness, masked_lm_loss, run_masking, torch_generator
from trainer.models.positions import sinusoidal_
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.base import Objective, StepOutput, Task, sum_parts
from trainer.objectives.mlm import mask_batch, mlm_metrics

# The discriminator per size: heads = hidden / 64 and intermediate = 4 x hidden, as
# `util/training_utils.get_bert_config` sets them. small, base and large are Table 6's ELECTRA-Small
# (12 layers of 256), -Base and -Large with their learning rates (5e-4, 2e-4, 2e-4). tiny is not in
# the paper: BERT-Tiny's shape (2 x 128, 2 heads, FFN 512, as bert's and roberta's tiny) with the
# small-budget recipe (docs/models.md): no dropout, peak lr 2e-3, sine-wave initial positions in the
# shared table; masking stays the paper's 15%. At 2 x 64 with a 16-wide generator it sat on the
# plateau in the demo's 400 steps of batch 32 (generator 1.24x the unigram baseline, RTD 1.01x
# always-original); at 2 x 128 with a 64-wide generator: 1.67x, RTD 0.870 against 0.869
# (docs/models.md, "electra").
SIZES = {
    "tiny": ModelSize(name="tiny", hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512, lr=2e-3,
                      dropout=0.0, sinusoidal_positions=True),
    "small": ModelSize(name="small", hidden_size=256, num_layers=12, num_heads=4, intermediate_size=1024, lr=5e-4),
    "base": ModelSize(name="base", hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, lr=2e-4),
    # Table 6: Large masks 25% of the tokens (configure_pretraining.py: mask_prob = 0.25), the others 15%.
    "large": ModelSize(name="large", hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096, lr=2e-4,
                       mask_prob=0.25),
}
# Width of the shared embeddings: 128 for Small (configure_pretraining.py), the hidden size for Base
# and Large (Table 6); tiny takes Small's 128, its hidden size.
EMBEDDING_SIZES = {"tiny": 128, "small": 128, "base": 768, "large": 1024}
# Generator width as a fraction of the discriminator's (Table 6: Small 1/4, Base 1/3, Large 1/4;
# configure_pretraining.py overrides the 0.25 default with 0.33333 for base only). tiny takes 1/2,
# the top of the range section 3.2 found best ("generators 1/4-1/2 the size of the discriminator",
# Figure 3): a 64-wide generator, one 64-dimension head; 1/4 of 128 would be 32 wide.
GENERATOR_FRACTIONS = {"tiny": 0.5, "small": 0.25, "base": 1 / 3, "large": 0.25}
MAX_POSITIONS = 512  # Table 6: sequences of 128 (Small) and 512 (Base, Large) tokens
DISCRIMINATOR_WEIGHT = 50.0  # λ (section 3, configure_pretraining.py disc_weight)
# Discriminator logits are counted in bins of this width over [-LOGIT_RANGE, LOGIT_RANGE] (the ends
# take what lies beyond), one histogram for original and one for replaced tokens: summable over
# batches and ranks, and enough for the AUC to about 1e-3 (`histogram_auc`).
LOGIT_RANGE, LOGIT_BINS = 8.0, 1600
# Adam β1 0.9, β2 0.999, ε 1e-6, weight decay 0.01, clipping at global norm 1.0 (model/optimization.py).
RECIPE = Recipe(betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01, max_grad_norm=1.0)


def discriminator_config(size: ModelSize, embedding_size: int, vocab: VocabInfo) -> ElectraConfig:
    return ElectraConfig(vocab_size=vocab.vocab_size, embedding_size=embedding_size, hidden_size=size.hidden_size,
                         num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads,
                         intermediate_size=size.intermediate_size, max_position_embeddings=MAX_POSITIONS,
                         type_vocab_size=2, pad_token_id=vocab.pad_id, hidden_dropout_prob=size.dropout,
                         attention_probs_dropout_prob=size.dropout)


def generator_config(discriminator: ElectraConfig, fraction: float) -> ElectraConfig:
    """`run_pretraining.get_generator_config`: a fraction of the width, the same depth, 4 x hidden
    feed-forward, one head per 64 dimensions (at least one)."""
    config = ElectraConfig.from_dict(discriminator.to_dict())
    config.hidden_size = int(round(discriminator.hidden_size * fraction))
    config.intermediate_size = 4 * config.hidden_size
    config.num_attention_heads = max(1, config.hidden_size // 64)
    return config


def prepare(batch: dict[str, torch.Tensor], masker, generator: Randomness) -> dict[str, torch.Tensor]:
    """Masked inputs and labels, plus one uniform number per token (from the batch's torch
    generator) for sampling the replacements."""
    out = mask_batch(batch, masker, generator)
    out["sample_uniform"] = torch.rand(out["input_ids"].shape, generator=torch_generator(generator),
                                       dtype=torch.float64)
    return out


OBJECTIVE = Objective(name="electra", shard_objective="mlm", shard_help="packed token sequences",
                      columns=("input_ids",), prepare=prepare)


@torch.no_grad()
def sample_tokens(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """One token per row of `logits` [N, V] from softmax(logits), chosen by inverting the
    cumulative distribution at `uniform` [N] in [0, 1). No gradient flows through it."""
    if logits.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=logits.device)
    cdf = torch.softmax(logits.detach().double(), dim=-1).cumsum(dim=-1)
    target = (uniform.double() * cdf[:, -1]).unsqueeze(-1)
    return torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp(max=logits.shape[-1] - 1)


def replace_tokens(input_ids: torch.Tensor, labels: torch.Tensor,
                   sampled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's input (selected positions hold the sampled tokens) and its labels
    (1 where the token differs from the original; a sample equal to the original is original)."""
    selected = labels != IGNORE_INDEX
    replaced = input_ids.clone()
    replaced[selected] = sampled.to(input_ids.dtype)
    is_replaced = torch.zeros_like(input_ids, dtype=torch.bool)
    is_replaced[selected] = sampled != labels[selected]
    return replaced, is_replaced


def logit_histogram(logits: torch.Tensor, is_replaced: torch.Tensor) -> torch.Tensor:
    """Counts [2, LOGIT_BINS] of discriminator logits in equal bins over [-LOGIT_RANGE, LOGIT_RANGE]:
    row 0 the original tokens', row 1 the replaced ones'."""
    width = 2 * LOGIT_RANGE / LOGIT_BINS
    bins = ((logits.detach().double() + LOGIT_RANGE) / width).floor().clamp(0, LOGIT_BINS - 1).long()
    flat = bins + LOGIT_BINS * is_replaced.long()
    return torch.bincount(flat.cpu(), minlength=2 * LOGIT_BINS).double().view(2, LOGIT_BINS)


def histogram_auc(histogram: torch.Tensor) -> float:
    """Area under the ROC curve of replaced against original tokens from `logit_histogram` counts:
    the chance that a replaced token's logit is above an original one's, ties (one bin) counted
    half. 0.5 when either class is empty."""
    original, replaced = histogram[0].double(), histogram[1].double()
    n_original, n_replaced = float(original.sum()), float(replaced.sum())
    if n_original == 0 or n_replaced == 0:
        return 0.5
    below = torch.cumsum(original, 0) - original  # original tokens in lower bins
    return float((replaced * (below + 0.5 * original)).sum()) / (n_original * n_replaced)


class ElectraTask(Task):
    """Generator (MLM on the selected positions) and discriminator (replaced-token detection)."""

    def __init__(self, discriminator: ElectraForPreTraining, generator: ElectraForMaskedLM, vocab: VocabInfo):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator
        # One embedding module for both, and the generator's output layer tied to its token table.
        generator.electra.embeddings = discriminator.electra.embeddings
        generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight
        self.mask_id, self.vocab_size = vocab.mask_id, vocab.vocab_size

    def generator_logits(self, inputs: dict[str, torch.Tensor], selected: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits at the selected positions only [N, V] (the head runs on N rows, not B x T)."""
        hidden = self.generator.electra(input_ids=inputs["input_ids"],
                                        attention_mask=inputs["attention_mask"]).last_hidden_state
        return self.generator.generator_lm_head(self.generator.generator_predictions(hidden[selected]))

    def forward(self, inputs: dict[str, torch.Tensor], *, with_counts: bool = False) -> StepOutput:
        labels, attention = inputs["labels"], inputs["attention_mask"]
        selected = labels != IGNORE_INDEX
        targets = labels[selected]
        gen_logits = self.generator_logits(inputs, selected)
        sampled = sample_tokens(gen_logits, inputs["sample_uniform"][selected])
        replaced, is_replaced = replace_tokens(inputs["input_ids"], labels, sampled)
        disc_logits = self.discriminator(input_ids=replaced, attention_mask=attention).logits
        real = attention.bool()
        rtd = F.binary_cross_entropy_with_logits(disc_logits[real].float(), is_replaced[real].float())
        parts = {"mlm_loss": masked_lm_loss(gen_logits, targets), "rtd_loss": rtd}
        counts = {}
        if with_counts:
            at_mask = inputs["input_ids"][selected] == self.mask_id
            predicted = gen_logits.detach().argmax(dim=-1)
            predicted_replaced = disc_logits.detach() > 0
            counts = {"mlm_correct": (predicted == targets)[at_mask].sum().double().cpu(),
                      "mlm_at_mask": at_mask.sum().double().cpu(),
                      "mlm_label_histogram": torch.bincount(targets[at_mask].cpu(), minlength=self.vocab_size).double(),
                      "rtd_correct": (predicted_replaced == is_replaced)[real].sum().double().cpu(),
                      "rtd_predicted": predicted_replaced[real].sum().double().cpu(),
                      "rtd_caught": (predicted_replaced & is_replaced)[real].sum().double().cpu(),
                      "rtd_tokens": real.sum().double().cpu(),
                      "rtd_replaced": is_replaced[real].sum().double().cpu(),
                      "rtd_logit_histogram": logit_histogram(disc_logits[real].float(), is_replaced[real])}
        return StepOutput(sum_parts(parts, {"rtd_loss": DISCRIMINATOR_WEIGHT}), parts, counts)

    def summarize(self, counts: dict[str, torch.Tensor]) -> dict[str, float]:
        """Generator accuracy at [MASK] beside the unigram baseline; discriminator accuracy over
        real tokens beside always answering its majority label ("original"), and what accuracy at
        logit 0 hides while replaced tokens are few: precision and recall of "replaced" (0 when
        nothing is predicted / replaced) and the AUC (0.5: no better than chance), as the
        reference's `disc_precision`, `disc_recall`, `disc_auc`."""
        metrics = mlm_metrics(counts)
        n = max(float(counts["rtd_tokens"]), 1.0)
        replaced = float(counts["rtd_replaced"])
        caught, predicted = float(counts["rtd_caught"]), float(counts["rtd_predicted"])
        metrics["rtd_accuracy"] = float(counts["rtd_correct"]) / n
        metrics["rtd_majority_accuracy"] = max(replaced, n - replaced) / n
        metrics["rtd_replaced_share"] = replaced / n
        metrics["rtd_precision"] = caught / predicted if predicted else 0.0
        metrics["rtd_recall"] = caught / replaced if replaced else 0.0
        metrics["rtd_auc"] = histogram_auc(counts["rtd_logit_histogram"])
        return metrics

    def exports(self) -> dict[str, nn.Module]:
        return {"hf": self.discriminator, "hf-generator": self.generator}


def prior_logit(ctx: BuildContext) -> float:
    """log(p / (1 - p)) for p the run's masking rate (--mask-prob, else the size's, else the preset's):
    about the share of real tokens the generator replaces, "replaced" being the minority label."""
    p = run_masking(ctx.config, SPEC.masking, ctx.size).mask_prob
    return math.log(p / (1.0 - p))


def build_task(ctx: BuildContext) -> ElectraTask:
    name = ctx.size.name
    config = discriminator_config(ctx.size, EMBEDDING_SIZES[name], ctx.vocab)
    discriminator = ElectraForPreTraining(config)
    # The discriminator starts at the prior log-odds of "replaced" instead of 0 (the reference's zero
    # bias, p = 0.5): from 0 the first steps' gradient says "lower every logit", and a 2-layer
    # post-LayerNorm encoder obeys by writing one vector into every token's state, after which it
    # answers the same for all tokens and learns nothing (docs/models.md, "electra": with a fixed
    # unigram generator on the demo's data, AUC 0.500 at steps 100-200 from 0, 0.58-0.68 from the prior).
    with torch.no_grad():
        discriminator.discriminator_predictions.dense_prediction.bias.fill_(prior_logit(ctx))
    if ctx.size.sinusoidal_positions:  # the generator shares this embedding module (ElectraTask)
        sinusoidal_(discriminator.electra.embeddings.position_embeddings, config.initializer_range)
    generator = ElectraForMaskedLM(generator_config(config, GENERATOR_FRACTIONS[name]))
    return ElectraTask(discriminator, generator, ctx.vocab)


SPEC = ModelSpec(name="electra", paper="Clark et al. 2020, arXiv:2003.10555", objective=OBJECTIVE, masking="electra",
                 sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE, auto_class="AutoModelForPreTraining",
                 build_task=build_task)
