"""Model registry: name -> the module whose `SPEC` describes it (DESIGN.md "Models").

A model is one file here plus one line in `MODELS`. The registry holds module paths, so the
names are known without importing torch or transformers (`shardlm train --help` stays fast);
`get_model_spec` imports the one model a run asks for.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from trainer.config import SIZE_NAMES, VocabInfo

if TYPE_CHECKING:
    from trainer.models.spec import ModelSpec

MODELS: dict[str, str] = {
    "bert": "trainer.models.bert",
    "roberta": "trainer.models.roberta",
    "electra": "trainer.models.electra",
    "distilbert": "trainer.models.distilbert",
    "albert": "trainer.models.albert",
    "xlmr": "trainer.models.xlmr",
    "xlm": "trainer.models.xlm",
    "longformer": "trainer.models.longformer",
}
MODEL_NAMES = tuple(MODELS)


def get_model_spec(name: str) -> "ModelSpec":
    """The spec of a registered model; ValueError listing the choices otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    spec = importlib.import_module(MODELS[name]).SPEC
    assert spec.name == name and set(spec.sizes) == set(SIZE_NAMES), f"{MODELS[name]}.SPEC is inconsistent"
    return spec


def for_shards(spec: "ModelSpec", manifest: dict[str, Any], data: str) -> "ModelSpec":
    """The spec with the objective this shard set feeds (models with `select_objective`), else as is."""
    if spec.select_objective is None:
        return spec
    return replace(spec, objective=spec.select_objective(manifest, data))


def check_shards(spec: "ModelSpec", size: str, manifest: dict[str, Any], data: str) -> VocabInfo:
    """Fail before training when the shard set cannot train this model (one line, with the fix)."""
    objective = manifest.get("objective")
    seq_len = int(manifest.get("seq_len", 0))
    want = spec.objective.shard_objective
    if objective != want:
        raise ValueError(
            f"{spec.name} needs {want} shards ({spec.objective.shard_help}) but {data} "
            f"holds {objective} shards; build them with: shardlm build --input DOCS --tokenizer TOK "
            f"--objective {want} --seq-len {seq_len or 128} --output URL")
    if seq_len > spec.max_positions:
        raise ValueError(
            f"{spec.name}-{size} takes sequences of at most {spec.max_positions} tokens but {data} has seq_len "
            f"{seq_len}; rebuild the shards with --seq-len {spec.max_positions} or less")
    if seq_len <= 0:
        raise ValueError(f"{data}: manifest seq_len must be positive, got {seq_len}; rebuild the shard set")
    return VocabInfo.from_manifest(manifest)  # raises when pad/mask ids are missing


__all__ = ["MODELS", "MODEL_NAMES", "check_shards", "for_shards", "get_model_spec"]
