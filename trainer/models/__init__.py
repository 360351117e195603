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


def for_shard_sets(spec: "ModelSpec", manifests: list[dict[str, Any]], datas: list[str]) -> "ModelSpec":
    """Several shard sets (--data repeated): the spec with an objective that prepares each batch with
    the objective of the set it came from (the batch's `_source`, trainer.alternate). The sets must
    share the tokenizer and the languages table."""
    from trainer.objectives.base import Objective

    if spec.select_objective is None:
        raise ValueError(f"{spec.name} trains on one shard set; pass --data once (several alternate only for xlm)")
    objectives = [spec.select_objective(m, d) for m, d in zip(manifests, datas)]
    first = manifests[0]
    for manifest, data in zip(manifests[1:], datas[1:]):
        if manifest["tokenizer"].get("sha256") != first["tokenizer"].get("sha256"):
            raise ValueError(f"{data} was built with another tokenizer than {datas[0]}; build every --data shard "
                             f"set with the same --tokenizer")
        if manifest.get("languages") != first.get("languages"):
            raise ValueError(f"{data} has the languages table {manifest.get('languages')} but {datas[0]} has "
                             f"{first.get('languages')}; build the shard sets from inputs with the same languages")

    def prepare(batch, masker, generator):
        source = int(batch["_source"][0]) if "_source" in batch else 0  # eval: the first set's held-out shards
        objectives[source].check_batch(batch)
        return objectives[source].prepare(batch, masker, generator)

    combined = Objective(name="+".join(o.name for o in objectives), shard_objective=objectives[0].shard_objective,
                         shard_help=objectives[0].shard_help, columns=("input_ids",), prepare=prepare)
    return replace(spec, objective=combined)


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


__all__ = ["MODELS", "MODEL_NAMES", "check_shards", "for_shard_sets", "for_shards", "get_model_spec"]
