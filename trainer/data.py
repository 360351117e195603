"""From `--data` to tensors: resolve shard URLs and the manifest, pad examples into a batch."""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np
import torch

from schemas import MANIFEST_NAME, read_manifest
from schemas.manifest import dataset_folder, manifest_url
from shards.storage import expand_urls, join, manifest_shard_urls

log = logging.getLogger(__name__)

_GLOB_OR_BRACE = ("*", "?", "[", "{")


@dataclass(frozen=True, kw_only=True)
class DataSource:
    """The shard URLs a run reads, and the manifest describing them."""

    spec: str
    urls: list[str]
    manifest: dict[str, Any]
    folder: str  # the shard-set folder the manifest came from


def is_pattern(spec: str) -> bool:
    return spec.endswith(".tar") or any(c in spec for c in _GLOB_OR_BRACE)


def resolve_data(spec: str, storage_options: dict, split: str = "train") -> DataSource:
    """Shard URLs of `split` plus the manifest.

    A folder or manifest URL gives both directly. For a brace/glob pattern (or a single .tar
    URL) the manifest is read from the folder holding the first shard; the trainer needs it
    (objective, seq_len, tokenizer), so its absence is an error.
    """
    if is_pattern(spec):
        urls = expand_urls(spec, storage_options, split=split)
        folder = posixpath.dirname(urls[0])
        fs, path = fsspec.core.url_to_fs(manifest_url(folder), **storage_options)
        if not fs.exists(path):
            raise FileNotFoundError(
                f"no {MANIFEST_NAME} beside {urls[0]}: the trainer needs the shard set's manifest "
                f"(objective, seq_len, tokenizer); pass the shard-set folder as --data or put its "
                f"{MANIFEST_NAME} beside the shards")
        return DataSource(spec=spec, urls=urls, manifest=read_manifest(folder, storage_options), folder=folder)
    manifest = read_manifest(spec, storage_options)  # read once: it names the shards too
    urls = manifest_shard_urls(spec, manifest, split)
    if not urls:
        raise FileNotFoundError(f"no shards match {spec!r}")
    return DataSource(spec=spec, urls=urls, manifest=manifest, folder=dataset_folder(spec))


def default_eval_urls(data: DataSource) -> list[str]:
    """The `valid` shards of a folder/manifest --data; empty for patterns or when there are none."""
    if is_pattern(data.spec):
        return []
    return [join(data.folder, s["url"]) for s in data.manifest["shards"] if s.get("split", "train") == "valid"]


def collate(examples: list[dict[str, Any]], *, pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a list of stream items to the longest into int64 tensors.

    Gives input_ids, attention_mask, token_type_ids (1 from segment_b_start to the last real
    token, for pairs; zeros otherwise), next_sentence_label (pairs), and the stream coordinates
    `_worker` / `_position` the trainer passes to `ShardStream.observe` and to mask seeding.
    """
    if not examples:
        raise ValueError("collate got an empty batch")
    lengths = [len(ex["input_ids"]) for ex in examples]
    width = max(lengths)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    token_type_ids = torch.zeros((len(examples), width), dtype=torch.long)
    for i, (ex, n) in enumerate(zip(examples, lengths)):
        input_ids[i, :n] = torch.from_numpy(np.asarray(ex["input_ids"], dtype=np.int64))
        attention_mask[i, :n] = 1
        if "segment_b_start" in ex:
            token_type_ids[i, int(ex["segment_b_start"]):n] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
             "_worker": torch.tensor([int(ex.get("_worker", 0)) for ex in examples], dtype=torch.long),
             "_position": torch.tensor([int(ex.get("_position", i)) for i, ex in enumerate(examples)],
                                       dtype=torch.long)}
    if "next_sentence_label" in examples[0]:
        batch["next_sentence_label"] = torch.tensor([int(ex["next_sentence_label"]) for ex in examples],
                                                    dtype=torch.long)
    return batch


__all__ = ["DataSource", "collate", "default_eval_urls", "is_pattern", "resolve_data"]
