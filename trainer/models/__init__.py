"""Model registry: name -> ModelSpec (DESIGN.md "Models").

The design names seven families (bert, roberta, albert, xlm/xlmr, distilbert, electra,
longformer); each is one file here plus one entry in `MODELS`. Registered so far: bert, roberta.
"""

from __future__ import annotations

from typing import Any

from trainer.config import MODEL_NAMES, ModelSpec, SIZES, VocabInfo
from trainer.models import bert, roberta

MODELS: dict[str, ModelSpec] = {
    "bert": bert.SPEC,
    "roberta": roberta.SPEC,
}
assert tuple(MODELS) == MODEL_NAMES, "trainer.config.MODEL_NAMES must list the registered models"


def get_model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; ValueError listing the choices otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}") from None


def check_shards(spec: ModelSpec, size: str, manifest: dict[str, Any], data: str) -> VocabInfo:
    """Fail before training when the shard set cannot train this model (one line, with the fix)."""
    objective = manifest.get("objective")
    seq_len = int(manifest.get("seq_len", 0))
    if objective != spec.shard_objective:
        raise ValueError(
            f"{spec.name} needs {spec.shard_objective} shards ({spec.shard_objective_help}) but {data} "
            f"holds {objective} shards; build them with: shardlm build --input DOCS --tokenizer TOK "
            f"--objective {spec.shard_objective} --seq-len {seq_len or 128} --output URL")
    limit = SIZES[size].max_seq_len
    if seq_len > limit:
        raise ValueError(
            f"{spec.name}-{size} takes sequences of at most {limit} tokens but {data} has seq_len {seq_len}; "
            f"rebuild the shards with --seq-len {limit} or less")
    if seq_len <= 0:
        raise ValueError(f"{data}: manifest seq_len must be positive, got {seq_len}; rebuild the shard set")
    return VocabInfo.from_manifest(manifest)  # raises when pad/mask ids are missing


def build_model(spec: ModelSpec, size: str, vocab: VocabInfo, seq_len: int):
    """A freshly initialised model (initialisation draws from torch's seeded global RNG)."""
    config = spec.build_config(SIZES[size], vocab, seq_len)
    return spec.model_class(config)


__all__ = ["MODELS", "build_model", "check_shards", "get_model_spec"]
