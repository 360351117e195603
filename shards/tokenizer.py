"""The shard set's tokenizer: stored in the set, named relative to it, checked by its sha256.

`shardlm build` writes the tokenizer it encoded with into the shard set, as the folder
`tokenizer/` (tokenizer.json and the files `transformers` reads beside it), and the manifest names
it relative to the set: `{"url": "tokenizer", "sha256": <sha256 of tokenizer.json>, "vocab_size",
"special_ids"}`. The set can then be moved, or copied to object storage, as a whole. Every reader
resolves and verifies the reference here: the build's workers, the trainer (and its Hugging Face
export) and `shardlm schema`. A manifest written before this (an absolute URL) still resolves.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

import fsspec

from shards.storage import join

TOKENIZER_FOLDER = "tokenizer"
TOKENIZER_JSON = "tokenizer.json"
# The files of a tokenizer folder that travel with it, when present (never model weights).
FOLDER_FILES = (TOKENIZER_JSON, "tokenizer_config.json", "special_tokens_map.json", "shardlm_tokenizer.json")


def tokenizer_url(folder: str, spec: dict[str, Any]) -> str:
    """Where the manifest's tokenizer is: its `url` relative to the shard-set folder, or as
    written when absolute (a path starting with / or a URL with a protocol)."""
    return join(folder, spec["url"])


def read_tokenizer_files(url: str, storage_options: dict | None = None) -> dict[str, bytes]:
    """{name: bytes} of a tokenizer folder's FOLDER_FILES that exist, or of one tokenizer.json URL;
    FileNotFoundError naming the URL when there is no tokenizer.json."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    if fs.isfile(path):
        return {TOKENIZER_JSON: fs.cat_file(path)}
    files = {}
    for name in FOLDER_FILES:
        file = posixpath.join(path, name)
        if fs.isfile(file):
            files[name] = fs.cat_file(file)
    if TOKENIZER_JSON not in files:
        raise FileNotFoundError(f"tokenizer {url} does not exist (no {TOKENIZER_JSON} there)")
    return files


def shard_set_tokenizer_files(folder: str, spec: dict[str, Any], storage_options: dict | None = None
                              ) -> dict[str, bytes]:
    """The files of the tokenizer a shard set's manifest names (`spec` is its `tokenizer`), with
    tokenizer.json checked against the manifest's sha256: FileNotFoundError when it is missing,
    ValueError when it is not the one the shards were built with."""
    url = tokenizer_url(folder, spec)
    try:
        files = read_tokenizer_files(url, storage_options)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err}; the shard set's manifest names it. Rebuild the shard set, or copy "
                                f"the tokenizer back to {url}") from None
    want = spec.get("sha256")
    got = hashlib.sha256(files[TOKENIZER_JSON]).hexdigest()
    if want and got != want:
        raise ValueError(f"tokenizer {url} has changed since the shards were built (sha256 {got[:12]}, the manifest "
                         f"says {want[:12]}); use the tokenizer the shards were built with, or rebuild them")
    return files


def load_shard_set_tokenizer(folder: str, spec: dict[str, Any], storage_options: dict | None = None):
    """The shard set's tokenizer as a `tokenizers.Tokenizer`, verified (shard_set_tokenizer_files),
    with padding and truncation off, as the build encodes."""
    from tokenizers import Tokenizer

    data = shard_set_tokenizer_files(folder, spec, storage_options)[TOKENIZER_JSON]
    try:
        tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as err:  # noqa: BLE001 - tokenizers raises a plain Exception on bad JSON
        raise ValueError(f"{tokenizer_url(folder, spec)} is not a tokenizers JSON file: {err}") from err
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def clear_shard_set_tokenizer(folder: str, storage_options: dict | None = None) -> None:
    """Remove the tokenizer files of a shard set's `tokenizer/` (before a rebuild writes its own)."""
    fs, path = fsspec.core.url_to_fs(join(folder, TOKENIZER_FOLDER), **(storage_options or {}))
    for name in FOLDER_FILES:
        if fs.isfile(posixpath.join(path, name)):
            fs.rm_file(posixpath.join(path, name))


def write_shard_set_tokenizer(files: dict[str, bytes], folder: str, storage_options: dict | None = None) -> str:
    """Write a tokenizer's files into the shard set as `tokenizer/` (replacing the files of an
    earlier build); returns the reference the manifest stores (relative to the set)."""
    clear_shard_set_tokenizer(folder, storage_options)
    for name, data in files.items():
        with fsspec.open(join(join(folder, TOKENIZER_FOLDER), name), "wb", **(storage_options or {})) as f:
            f.write(data)
    return TOKENIZER_FOLDER
