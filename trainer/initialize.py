"""`--init DIR`: start a run from the weights of a finished run's export instead of random ones.

BERT's recipe trains 90% of the steps at 128 tokens and the rest at 512 (Devlin et al. 2019,
appendix A.2); google-research/bert's second phase restores the model's variables from the first
(`init_checkpoint`) and starts a fresh optimizer and schedule. `--init` does the same: every
network the task exports (`task.exports()`: "hf", "hf-generator", ...) loads from the folder of
that name in DIR (DIR may also be the `hf` folder itself for a one-network model); the optimizer,
the schedule, the step and the stream start fresh. The position table has the model's full
length whatever the shards' seq_len, so the second phase may use longer shards.

The weights must fit exactly (same model, same size, same vocabulary as the shards): anything
else fails before training with one line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from trainer.objectives.base import Task

log = logging.getLogger(__name__)


def init_folders(task: Task, init: str) -> dict[str, Path]:
    """{export name: folder in DIR holding that network}; FileNotFoundError naming what is missing."""
    root = Path(init)
    if not root.is_dir():
        raise FileNotFoundError(f"--init {init} is not a folder; pass the --output of a finished run or its hf/ folder")
    folders = {}
    for name in task.exports():
        if (root / name / "config.json").exists():
            folders[name] = root / name
        elif name == "hf" and (root / "config.json").exists():
            folders[name] = root
        else:
            raise FileNotFoundError(f"--init {init} has no {name}/config.json: pass the --output folder of a finished "
                                    f"run of this model (its {', '.join(task.exports())} folders)")
    return folders


def check_vocabulary(folder: Path, tokenizer: Any, init: str) -> None:
    """The export's tokenizer must be the shards' (same tokens, same ids)."""
    if tokenizer is None or not (folder / "tokenizer.json").exists():
        return
    from transformers import AutoTokenizer

    theirs = AutoTokenizer.from_pretrained(str(folder)).get_vocab()
    if theirs != tokenizer.get_vocab():
        raise ValueError(f"--init {init} was trained with another vocabulary than the shards' tokenizer "
                         f"({len(theirs)} against {len(tokenizer.get_vocab())} tokens); continue on shards built with "
                         f"its tokenizer (shardlm build --tokenizer {folder})")


def load_state(folder: Path, network: torch.nn.Module, init: str) -> dict[str, torch.Tensor]:
    """The export's weights, checked name by name and shape by shape against `network`."""
    kind = json.loads((folder / "config.json").read_text()).get("model_type")
    if kind != network.config.model_type:
        raise ValueError(f"--init {folder} holds a {kind} model but this run trains {network.config.model_type}; "
                         f"continue with the --model it was trained with")
    model, info = type(network).from_pretrained(str(folder), output_loading_info=True)
    loaded, mine = model.state_dict(), network.state_dict()
    missing = sorted(set(mine) - set(loaded)) + sorted(info.get("missing_keys", ()))
    unexpected = sorted(set(loaded) - set(mine))
    wrong = [k for k in mine if k in loaded and loaded[k].shape != mine[k].shape]
    if missing or unexpected or wrong:
        detail = (f"{wrong[0]} is {tuple(loaded[wrong[0]].shape)} there but {tuple(mine[wrong[0]].shape)} here"
                  if wrong else f"missing {missing[:3]}, unexpected {unexpected[:3]}")
        raise ValueError(f"--init {folder} does not fit this model ({detail}); continue with the --model and --size "
                         f"it was trained with")
    return loaded


def load_exports(task: Task, init: str, tokenizer: Any = None) -> None:
    """Copy every exported network's weights from DIR into the task (module doc)."""
    folders = init_folders(task, init)
    for name, network in task.exports().items():
        check_vocabulary(folders[name], tokenizer, init)
        state = load_state(folders[name], network, init)
        with torch.no_grad():
            network.load_state_dict(state)
        log.info("--init: %s loaded from %s", name, folders[name])


__all__ = ["check_vocabulary", "init_folders", "load_exports", "load_state"]
