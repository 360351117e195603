"""Export to Hugging Face folders: `save_pretrained` of each network a task exports plus the shard set's tokenizer.

`AutoModelForPreTraining` / `AutoModelForMaskedLM` and `AutoTokenizer` then load `DIR/hf`
offline (DESIGN.md "Models").
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import tempfile
from pathlib import Path
from typing import Any

import fsspec
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from schemas.tokenizer_folder import CONFIG_FILE, make_portable
from shards.storage import join

log = logging.getLogger(__name__)

_TOKEN_NAMES = {"cls": "cls_token", "sep": "sep_token", "pad": "pad_token", "mask": "mask_token", "unk": "unk_token"}


def _locate(url: str, folder: str, storage_options: dict) -> str:
    """The tokenizer URL as written, or relative to the shard-set folder when that is where it is."""
    fs, path = fsspec.core.url_to_fs(url, **storage_options)
    if fs.exists(path):
        return url
    candidate = join(folder, url)
    fs, path = fsspec.core.url_to_fs(candidate, **storage_options)
    if fs.exists(path):
        return candidate
    raise FileNotFoundError(f"tokenizer {url} named by the shard set's manifest does not exist; "
                            f"rebuild the shards with a reachable --tokenizer")


def _copy_local(url: str, storage_options: dict, dest: Path) -> Path:
    """Copy a tokenizer folder (its files) or a tokenizer.json to a local folder."""
    fs, path = fsspec.core.url_to_fs(url, **storage_options)
    if fs.isdir(path):
        for entry in fs.ls(path, detail=False):
            if fs.isfile(entry):
                fs.get(entry, str(dest / posixpath.basename(entry)))
    else:
        fs.get(path, str(dest / "tokenizer.json"))
    return dest


def _check_sha256(local: Path, tokenizer: dict[str, Any], url: str) -> None:
    """Refuse a tokenizer.json that is not the one the shards were built with."""
    want = tokenizer.get("sha256")
    got = hashlib.sha256((local / "tokenizer.json").read_bytes()).hexdigest()
    if want and got != want:
        raise ValueError(f"tokenizer {url} has changed since the shards were built (sha256 {got[:12]} but the "
                         f"manifest says {want[:12]}); use the tokenizer the shards were built with, or rebuild them")


def load_tokenizer(tokenizer: dict[str, Any], folder: str, storage_options: dict | None = None):
    """The shard set's tokenizer as a `transformers` fast tokenizer, wherever it lives; its
    tokenizer.json must be the one the manifest's sha256 names."""
    options = storage_options or {}
    url = _locate(tokenizer["url"], folder, options)
    with tempfile.TemporaryDirectory(prefix="shardlm-tok-") as tmp:
        local = _copy_local(url, options, Path(tmp))
        _check_sha256(local, tokenizer, url)
        if (local / "tokenizer_config.json").exists():
            return AutoTokenizer.from_pretrained(str(local))
        tok = PreTrainedTokenizerFast(tokenizer_file=str(local / "tokenizer.json"))
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
