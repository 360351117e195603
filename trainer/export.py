"""Export to Hugging Face folders: `save_pretrained` of each network a task exports plus the shard set's tokenizer.

`AutoModelForPreTraining` / `AutoModelForMaskedLM` and `AutoTokenizer` then load `DIR/hf`
offline (DESIGN.md "Models").
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from schemas.tokenizer_folder import CONFIG_FILE, make_portable
from shards.tokenizer import TOKENIZER_JSON, shard_set_tokenizer_files

log = logging.getLogger(__name__)

_TOKEN_NAMES = {"cls": "cls_token", "sep": "sep_token", "pad": "pad_token", "mask": "mask_token", "unk": "unk_token"}


def load_tokenizer(tokenizer: dict[str, Any], folder: str, storage_options: dict | None = None):
    """The shard set's tokenizer as a `transformers` fast tokenizer: the files the manifest names
    (relative to the shard-set folder, sha256 checked: shards.tokenizer), loaded offline."""
    files = shard_set_tokenizer_files(folder, tokenizer, storage_options)
    with tempfile.TemporaryDirectory(prefix="shardlm-tok-") as tmp:
        local = Path(tmp)
        for name, data in files.items():
            (local / name).write_bytes(data)
        if (local / "tokenizer_config.json").exists():
            return AutoTokenizer.from_pretrained(str(local))
        tok = PreTrainedTokenizerFast(tokenizer_file=str(local / TOKENIZER_JSON))
        specials = {}
        for key, attr in _TOKEN_NAMES.items():
            sid = tokenizer.get("special_ids", {}).get(key)
            if sid is not None:
                specials[attr] = tok.convert_ids_to_tokens(int(sid))
        tok.add_special_tokens(specials)
        return tok


def export_hf(model, tokenizer, out_dir: str | Path, *, max_length: int) -> Path:
    """Write one network and the tokenizer into `out_dir` with `save_pretrained`; the tokenizer's
    model_max_length is the longest input the network has positions for."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(str(out))
    make_portable(str(out / CONFIG_FILE))  # transformers 4.x loads it too
    log.info("exported Hugging Face model and tokenizer to %s", out)
    return out


def export_task(task, tokenizer, output: str | Path, *, max_length: int) -> dict[str, Path]:
    """Every network a task exports (`task.exports()`: {"hf": ..., ...}) into `output/<name>/`."""
    return {name: export_hf(network, tokenizer, Path(output) / name, max_length=max_length)
            for name, network in task.exports().items()}


__all__ = ["export_hf", "export_task", "load_tokenizer"]
