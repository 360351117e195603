"""From `--data` to tensors: resolve shard URLs and the manifest; the batch stream's worker-side
transform (`PrepareInWorker`); `collate` pads a list of per-example items (ShardStream) into a batch."""

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
from shards.batches import LENGTH_KEY, BatchConfig, BatchCoords, BatchStream
from shards.columns import real_positions
from shards.storage import expand_urls, join, manifest_shard_urls
from shards.stream import POSITION_KEY, WORKER_KEY, StreamConfig
from trainer.masking import BatchRandom, Masker, batch_seed
from trainer.objectives.base import Objective

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


def _pad_rows(rows: list[Any], pad: int) -> torch.Tensor:
    """Variable-length rows into one (n, longest) tensor, `pad` after each row: int64, or bool for flags."""
    arrays = [np.asarray(r) for r in rows]
    lengths = np.fromiter((a.shape[0] for a in arrays), dtype=np.int64, count=len(arrays))
    flags = arrays[0].dtype == np.bool_
    out = np.full((len(arrays), int(lengths.max(initial=0))), pad, dtype=np.bool_ if flags else np.int64)
    out[np.arange(out.shape[1])[None, :] < lengths[:, None]] = np.concatenate(arrays) if arrays else []
    return torch.from_numpy(out)


def collate(examples: list[dict[str, Any]], *, pad_id: int) -> dict[str, torch.Tensor]:
    """Stream items into a batch that follows the shard schema, whatever the objective.

    Every list column (input_ids, word_start, langs, ...) is padded to its longest row: input_ids
    with `pad_id`, other columns with 0 / False; every numeric scalar column (segment_b_start,
    next_sentence_label, sentence_order_label, lang_id, ...) becomes a 1-d tensor. Text columns
    (doc_id) stay out: nothing trains on them. Adds attention_mask (1 on real tokens) and the
    stream coordinates `_worker` / `_position` the trainer passes to `ShardStream.observe` and to
    mask seeding.
    """
    if not examples:
        raise ValueError("collate got an empty batch")
    batch: dict[str, torch.Tensor] = {}
    for name, first in examples[0].items():
        values = [ex[name] for ex in examples]
        if name in (WORKER_KEY, POSITION_KEY) or isinstance(first, (str, bytes)) or first is None:
            continue
        if isinstance(first, (np.ndarray, list, tuple)):
            batch[name] = _pad_rows(values, pad_id if name == "input_ids" else 0)
        else:
            array = np.asarray(values)
            batch[name] = torch.from_numpy(array.astype(np.int64) if array.dtype.kind in "iu" else array)
    if "input_ids" not in batch:
        raise ValueError(f"collate: examples have no input_ids column (columns: {', '.join(examples[0])})")
    lengths = torch.tensor([len(ex["input_ids"]) for ex in examples])
    batch["attention_mask"] = (torch.arange(batch["input_ids"].shape[1])[None, :] < lengths[:, None]).long()
    batch[WORKER_KEY] = torch.tensor([int(ex.get(WORKER_KEY, 0)) for ex in examples], dtype=torch.long)
    batch[POSITION_KEY] = torch.tensor([int(ex.get(POSITION_KEY, i)) for i, ex in enumerate(examples)],
                                       dtype=torch.long)
    return batch


@dataclass(frozen=True, kw_only=True)
class PrepareInWorker:
    """The batch stream's transform, run in the DataLoader workers: a padded batch of shard
    columns becomes the objective's inputs, masked from the `BatchRandom` of (seed, epoch, rank,
    sub-stream, position of the batch's first example, purpose), the key masks had with the
    per-example stream, so a resumed run masks exactly as the uninterrupted one would have."""

    objective: Objective
    masker: Masker
    seed: int
    purpose: str  # "train" or "eval": separate mask streams

    def __call__(self, batch: dict[str, Any], coords: BatchCoords) -> dict[str, torch.Tensor]:
        lengths = batch[LENGTH_KEY].numpy()
        batch["attention_mask"] = torch.from_numpy(real_positions(lengths, batch["input_ids"].shape[1], np.int64))
        self.objective.check_batch(batch)
        seed = batch_seed(self.seed, coords.epoch, coords.rank, coords.worker, coords.position, self.purpose)
        return self.objective.prepare(batch, self.masker, BatchRandom(seed))


def batch_stream(urls: list[str], config: StreamConfig, *, batch_size: int, pad_id: int,
                 transform: PrepareInWorker, rank: int, world_size: int, storage_options: dict,
                 length_groups: int = 1) -> BatchStream:
    """Padded, masked batches of `urls`: text columns left out, input_ids padded with the pad id,
    windows of `length_groups` batches sorted by length first."""
    return BatchStream(urls, config, batch=BatchConfig(batch_size=batch_size, pad_values={"input_ids": pad_id},
                                                       skip_text=True, length_groups=length_groups),
                       transform=transform, rank=rank, world_size=world_size, storage_options=storage_options)


__all__ = ["DataSource", "PrepareInWorker", "batch_stream", "collate", "default_eval_urls",
           "is_pattern", "resolve_data"]
