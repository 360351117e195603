"""Checkpoints: `DIR/checkpoints/step-N/`, committed by a `complete` marker written last.

Layout of one checkpoint:
  model.safetensors   the task's weights, frozen networks left out (safetensors: no pickle)
  optimizer.pt        optimizer and scheduler state (torch.save of tensors and plain values)
  trainer.pt          step counters, meters
  rank-R.pt           per rank: torch/CUDA RNG states and the stream's state_dict()
  config.json         the TrainConfig and each network's config, for humans and for resume checks
  complete            empty marker, written last

Files are written into `.tmp-step-N/`, which is renamed to `step-N/` before the marker is
written, so a crash leaves either a hidden temp folder or a folder without a marker; both are
ignored by `latest_checkpoint`. Everything is read back with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)

COMPLETE = "complete"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoints_root(output: str | Path) -> Path:
    return Path(output) / "checkpoints"


def temp_dir(output: str | Path, step: int) -> Path:
    return checkpoints_root(output) / f".tmp-step-{step}"


def begin(output: str | Path, step: int) -> Path:
    """Create an empty temp folder for step `step` (rank 0, before any rank writes into it)."""
    tmp = temp_dir(output, step)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def write_rank_state(tmp: Path, rank: int, state: dict[str, Any]) -> None:
    """Each rank's own RNG and stream state."""
    torch.save(state, tmp / f"rank-{rank}.pt")


def write_shared_state(tmp: Path, *, weights: dict[str, torch.Tensor], optimizer_state: dict, scheduler_state: dict,
                       trainer_state: dict, config: dict) -> None:
    """What every rank shares (rank 0 writes it): weights (a task's `checkpoint_state()`),
    optimizer, scheduler, counters, config."""
    # contiguous clones: tied weights (BERT's decoder = word embeddings) are saved once per name
    weights = {k: v.detach().cpu().contiguous().clone() for k, v in weights.items()}
    save_file(weights, str(tmp / "model.safetensors"))
    torch.save({"optimizer": optimizer_state, "scheduler": scheduler_state}, tmp / "optimizer.pt")
    torch.save(trainer_state, tmp / "trainer.pt")
    (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")


def commit(output: str | Path, step: int) -> Path:
    """Rename the temp folder to `step-N` (replacing an older one) and write the marker last."""
    final = checkpoints_root(output) / f"step-{step}"
    if final.exists():
        shutil.rmtree(final)
    temp_dir(output, step).rename(final)
    (final / COMPLETE).write_text("")
    log.info("checkpoint %s written", final)
    return final


def list_checkpoints(output: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints as (step, folder), by step."""
    root = checkpoints_root(output)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / COMPLETE).exists():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(output: str | Path) -> Path | None:
    found = list_checkpoints(output)
    return found[-1][1] if found else None


def load_checkpoint(folder: Path, rank: int) -> dict[str, Any]:
    """Everything a rank needs to resume; refuses a folder without the `complete` marker."""
    if not (folder / COMPLETE).exists():
        raise FileNotFoundError(f"{folder} has no '{COMPLETE}' marker: the checkpoint was not finished; "
                                f"delete it and resume from an earlier one")
    rank_file = folder / f"rank-{rank}.pt"
    if not rank_file.exists():
        raise FileNotFoundError(f"{rank_file} is missing: the checkpoint was written by fewer ranks; "
                                f"resume with the same number of processes")
    shared = torch.load(folder / "optimizer.pt", weights_only=True, map_location="cpu")
    return {
        "model": load_file(str(folder / "model.safetensors")),
        "optimizer": shared["optimizer"],
        "scheduler": shared["scheduler"],
        "trainer": torch.load(folder / "trainer.pt", weights_only=True),
        "rank": torch.load(rank_file, weights_only=True),
        "config": json.loads((folder / "config.json").read_text()),
    }


__all__ = ["COMPLETE", "begin", "checkpoints_root", "commit", "latest_checkpoint", "list_checkpoints",
           "load_checkpoint", "write_rank_state", "write_shared_state"]
