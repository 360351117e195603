"""Longformer: masked LM on long packed `mlm` shards (Beltagy et al. 2020, "Longformer: The
Long-Document Transformer", arXiv:2004.05150; reference code allenai/longformer).

Each token attends to a sliding window of `attention_window` tokens around it (local attention
only for MLM pretraining; global attention is a fine-tuning choice), so memory grows linearly with
the sequence: the paper pretrains on 4,096-token sequences.

`--init DIR` starts from a RoBERTa export of the same size, as the authors did (section 5,
`convert_model_to_long.ipynb`): every RoBERTa weight is copied, the global query/key/value
projections start as copies of the local ones, and RoBERTa's 512 learned positions are repeated
to fill the 4,096-position table (its first pad_id + 1 rows, which RoBERTa never uses for a
token, are copied as they are). Without `--init` the model starts from random weights.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import LongformerConfig, LongformerForMaskedLM

from trainer.config import ModelSize, VocabInfo
from trainer.models import roberta
from trainer.models.positions import sinusoidal_
from trainer.models.spec import BuildContext, ModelSpec
from trainer.objectives.mlm import OBJECTIVE, EncoderHeads, MaskedLMTask

log = logging.getLogger(__name__)

# RoBERTa's sizes, so a RoBERTa of the same --size converts. base and large continue from RoBERTa
# at lr 3e-5 (section 5: 3e-5, 500 warmup steps, batch 64 x 4,096); tiny and small are the
# project's CPU sizes, trained from scratch at RoBERTa's rates.
SIZES = {name: size if name in ("tiny", "small") else ModelSize(
    name=name, hidden_size=size.hidden_size, num_layers=size.num_layers, num_heads=size.num_heads,
    intermediate_size=size.intermediate_size, lr=3e-5) for name, size in roberta.SIZES.items()}
# The sliding window per layer (tokens attended around each token): 512 for base and large, as the
# released longformer-base-4096 and -large-4096; smaller windows for the CPU sizes.
ATTENTION_WINDOWS = {"tiny": 16, "small": 128, "base": 512, "large": 512}
MAX_POSITIONS = 4096  # section 5: sequences of 4,096 tokens
RECIPE = roberta.RECIPE  # continued RoBERTa pretraining: RoBERTa's optimiser settings


def build_config(size: ModelSize, vocab: VocabInfo) -> LongformerConfig:
    """Positions numbered from pad_id + 1 as in RoBERTa: the table has 4,096 + pad_id + 1 rows."""
    specials = vocab.special_ids
    return LongformerConfig(vocab_size=vocab.vocab_size, hidden_size=size.hidden_size,
                            num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads,
                            intermediate_size=size.intermediate_size,
                            hidden_dropout_prob=size.dropout, attention_probs_dropout_prob=size.dropout,
                            attention_window=[ATTENTION_WINDOWS[size.name]] * size.num_layers,
                            max_position_embeddings=MAX_POSITIONS + roberta.position_offset(vocab),
                            type_vocab_size=1, pad_token_id=vocab.pad_id,
                            bos_token_id=specials.get("cls", vocab.pad_id), eos_token_id=specials.get("sep", vocab.pad_id))


def encode(network: LongformerForMaskedLM, inputs):
    out = network.longformer(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    return out.last_hidden_state, None


HEADS = EncoderHeads(encode=encode, predict_tokens=lambda network, hidden: network.lm_head(hidden))


def build_task(ctx: BuildContext) -> MaskedLMTask:
    network = LongformerForMaskedLM(build_config(ctx.size, ctx.vocab))
    if ctx.size.sinusoidal_positions:  # RoBERTa's tiny: from scratch, the waves fill all 4,096 positions
        sinusoidal_(network.longformer.embeddings.position_embeddings, network.config.initializer_range)
    return MaskedLMTask(network, HEADS, ctx.vocab)


def roberta_folder(init: str) -> Path:
    """DIR/hf of a roberta run, or the folder itself; ValueError when it holds no RoBERTa."""
    root = Path(init)
    for folder in (root / "hf", root):
        config = folder / "config.json"
        if config.exists():
            kind = json.loads(config.read_text()).get("model_type")
            if kind != "roberta":
                raise ValueError(f"--init {init} holds a {kind} model, not a RoBERTa; longformer starts from a "
                                 f"`shardlm train --model roberta` run (its DIR or DIR/hf) of the same --size")
            return folder
    raise FileNotFoundError(f"--init {init} has no config.json (nor hf/config.json); pass the --output folder of "
                            f"a `shardlm train --model roberta` run")


def long_positions(short: torch.Tensor, rows: int, offset: int) -> torch.Tensor:
    """RoBERTa's table [offset + 512, H] -> [rows, H]: the first `offset` rows kept, the learned
    positions repeated until the table is full (the last copy cut)."""
    learned = short[offset:]
    repeats = -(-(rows - offset) // learned.shape[0])
    return torch.cat([short[:offset], learned.repeat(repeats, 1)[: rows - offset]])


@torch.no_grad()
def load_from_roberta(task: MaskedLMTask, init: str, tokenizer: Any = None) -> None:
    """`--init DIR`: the conversion of the module docstring, into the freshly built task."""
    from transformers import RobertaForMaskedLM

    from trainer.initialize import check_vocabulary

    folder = roberta_folder(init)
    check_vocabulary(folder, tokenizer, init)
    source = RobertaForMaskedLM.from_pretrained(str(folder)).state_dict()
    network = task.network
    target = network.state_dict()
    offset = network.config.pad_token_id + 1
    converted = {}
    for name, value in source.items():
        key = "longformer." + name[len("roberta."):] if name.startswith("roberta.") else name
        if key.endswith("position_embeddings.weight"):
            value = long_positions(value, target[key].shape[0], offset)
        converted[key] = value
        for local in ("query", "key", "value"):
            if f".attention.self.{local}." in key:
                converted[key.replace(f".self.{local}.", f".self.{local}_global.")] = value
    mismatched = [k for k in target if k in converted and converted[k].shape != target[k].shape]
    missing = sorted(set(target) - set(converted))
    if mismatched or missing:
        detail = (f"{mismatched[0]} is {tuple(converted[mismatched[0]].shape)} there but "
                  f"{tuple(target[mismatched[0]].shape)} here" if mismatched else f"missing {missing[:3]}")
        raise ValueError(f"--init {init}: the RoBERTa does not fit longformer-{task_size(network)} ({detail}); start "
                         f"from a RoBERTa of the same --size trained on the same tokenizer")
    network.load_state_dict({k: converted[k] for k in target})
    log.info("longformer: started from RoBERTa %s, positions repeated to %d", folder, MAX_POSITIONS)


def task_size(network: LongformerForMaskedLM) -> str:
    c = network.config
    return f"{c.num_hidden_layers}x{c.hidden_size}"


SPEC = ModelSpec(name="longformer", paper="Beltagy et al. 2020, arXiv:2004.05150", objective=OBJECTIVE,
                 masking="token", sizes=SIZES, max_positions=MAX_POSITIONS, recipe=RECIPE,
                 auto_class="AutoModelForMaskedLM", build_task=build_task,
                 load_init=load_from_roberta)
