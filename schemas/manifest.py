"""Manifests: the JSON file written last that commits a dataset.

A documents dataset and a shard set are folders (any fsspec URL) holding data files and a
manifest. Writers put the manifest last, so a folder without one is an unfinished job; readers
refuse it with a message that says so. A shard set's manifest is `manifest.json`; a documents
dataset's is `.manifest.json`, a name Parquet readers and Hugging Face `datasets` skip, so the
folder opens directly in pandas, pyarrow, DuckDB and `datasets`. Readers accept either name.
"""

from __future__ import annotations

import base64
import json
import posixpath
from typing import Any

import fsspec
import pyarrow as pa

from schemas.version import SCHEMA_VERSION

MANIFEST_NAME = "manifest.json"
DOCUMENTS_MANIFEST_NAME = ".manifest.json"
# The names a reader looks for in a folder, in order.
MANIFEST_NAMES = (DOCUMENTS_MANIFEST_NAME, MANIFEST_NAME)

_REQUIRED = {
    "documents": ("kind", "schema_version", "arrow_schema", "rows", "files", "stats", "created_by"),
    "examples": ("kind", "schema_version", "objective", "seq_len", "tokenizer", "arrow_schema",
                 "shards", "counts", "created_by"),
}


class ManifestError(ValueError):
    """A manifest exists but is not one this version of shardlm can read."""


class NotCommittedError(FileNotFoundError):
    """A dataset folder has no manifest.json: the job that writes it did not finish."""


def encode_schema(schema: pa.Schema) -> str:
    """Base64 of the Arrow IPC serialization: exact, and small enough for JSON."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def decode_schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def manifest_url(url: str, name: str = MANIFEST_NAME) -> str:
    """The manifest URL of a dataset folder (or the URL itself if it names the manifest)."""
    url = url.rstrip("/")
    if url.endswith(".json"):
        return url
    return f"{url}/{name}"


def manifest_name(kind: str) -> str:
    """The file name a dataset of `kind` is committed by."""
    return DOCUMENTS_MANIFEST_NAME if kind == "documents" else MANIFEST_NAME


def find_manifest(url: str, storage_options: dict | None = None) -> str | None:
    """The URL of the manifest of the dataset at `url` (a folder under either name, or a
    manifest URL) when it exists, else None."""
    candidates = [manifest_url(url)] if url.rstrip("/").endswith(".json") else \
        [manifest_url(url, name) for name in MANIFEST_NAMES]
    fs, _ = fsspec.core.url_to_fs(candidates[0], **(storage_options or {}))
    for candidate in candidates:
        if fs.exists(fsspec.core.url_to_fs(candidate, **(storage_options or {}))[1]):
            return candidate
    return None


def dataset_folder(url: str) -> str:
    """The folder a manifest URL (or folder URL) describes."""
    url = url.rstrip("/")
    return posixpath.dirname(url) if url.endswith(".json") else url


def write_manifest(folder: str, manifest: dict[str, Any], storage_options: dict | None = None) -> str:
    """Validate and write the manifest into `folder` (`manifest_name` of its kind); returns its
    URL. Call it last."""
    validate_manifest(manifest)
    url = manifest_url(folder, manifest_name(manifest["kind"]))
    payload = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with fsspec.open(url, "w", encoding="utf-8", **(storage_options or {})) as f:
        f.write(payload)
    return url


def uncommit(folder: str, storage_options: dict | None = None) -> bool:
    """Remove a dataset's manifest (either name) before rewriting the folder, so a failed rerun
    leaves an uncommitted folder rather than a manifest describing half-replaced files. True if
    one was removed."""
    removed = False
    for name in MANIFEST_NAMES:
        fs, path = fsspec.core.url_to_fs(manifest_url(folder, name), **(storage_options or {}))
        if fs.exists(path):
            fs.rm(path)
            removed = True
    return removed


def read_manifest(url: str, storage_options: dict | None = None) -> dict[str, Any]:
    """Read and validate the manifest of the dataset at `url` (a folder or a manifest URL)."""
    murl = find_manifest(url, storage_options)
    if murl is None:
        folder = dataset_folder(url)
        fs, _ = fsspec.core.url_to_fs(manifest_url(url), **(storage_options or {}))
        _, fpath = fsspec.core.url_to_fs(folder, **(storage_options or {}))
        if not fs.exists(fpath):
            raise FileNotFoundError(f"{folder} does not exist")
        raise NotCommittedError(
            f"{folder} has no {MANIFEST_NAME}: the job writing it did not finish "
            f"(or this is not a shardlm dataset); rerun the job to commit it"
        )
    fs, path = fsspec.core.url_to_fs(murl, **(storage_options or {}))
    with fs.open(path, "r", encoding="utf-8") as f:
        try:
            manifest = json.load(f)
        except json.JSONDecodeError as err:
            raise ManifestError(f"{murl} is not valid JSON: {err}") from err
    validate_manifest(manifest, where=murl)
    return manifest


def validate_manifest(manifest: dict[str, Any], where: str = "manifest") -> None:
    """Raise ManifestError naming the first problem found."""
    if not isinstance(manifest, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(manifest).__name__}")
    kind = manifest.get("kind")
    if kind not in _REQUIRED:
        raise ManifestError(f"{where}: unknown kind {kind!r}; expected one of {sorted(_REQUIRED)}")
    missing = [k for k in _REQUIRED[kind] if k not in manifest]
    if missing:
        raise ManifestError(f"{where}: {kind} manifest lacks {', '.join(missing)}")
    version = manifest["schema_version"]
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{where}: schema_version {version} but this shardlm reads {SCHEMA_VERSION}; "
            f"rebuild the dataset or install the matching shardlm"
        )
    try:
        decode_schema(manifest["arrow_schema"])
    except (ValueError, TypeError, pa.ArrowInvalid) as err:
        raise ManifestError(f"{where}: arrow_schema does not decode: {err}") from err
    entries = manifest["files"] if kind == "documents" else manifest["shards"]
    keys = ("path", "rows", "bytes", "sha256") if kind == "documents" else ("url", "examples", "bytes", "sha256")
    for i, entry in enumerate(entries):
        lacking = [k for k in keys if k not in entry]
        if lacking:
            raise ManifestError(f"{where}: entry {i} of {'files' if kind == 'documents' else 'shards'} "
                                f"lacks {', '.join(lacking)}")
    if kind == "documents":
        _check_accounting(manifest, where)


def _check_accounting(manifest: dict[str, Any], where: str) -> None:
    """read = kept + sum(dropped/*) + sum(rejected/*), and kept = rows."""
    stats = manifest["stats"]
    read, kept = stats.get("read", 0), stats.get("kept", 0)
    lost = sum(v for k, v in stats.items() if k.startswith(("dropped/", "rejected/")))
    if read != kept + lost:
        raise ManifestError(f"{where}: stats do not add up: read={read} but kept + dropped + rejected = {kept + lost}")
    if kept != manifest["rows"]:
        raise ManifestError(f"{where}: stats kept={kept} but rows={manifest['rows']}")
