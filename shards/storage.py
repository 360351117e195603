"""Where bytes live: fsspec URLs, brace/glob expansion, shard-set manifests."""

from __future__ import annotations

import json
import posixpath
import re

import fsspec
from braceexpand import braceexpand

from schemas import MANIFEST_NAME, read_manifest
from schemas.manifest import dataset_folder

_REFUSED_SCHEMES = ("pipe:",)
_GLOB_CHARS = re.compile(r"[*?\[]")


def parse_storage_options(text: str | None) -> dict:
    """Parse `--storage-options '{json}'`; empty means the standard environment."""
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--storage-options is not valid JSON: {err}") from err
    if not isinstance(options, dict):
        raise ValueError("--storage-options must be a JSON object, e.g. '{\"anon\": true}'")
    return options


def check_url(url: str) -> str:
    """Refuse URLs that would run commands (webdataset's `pipe:`)."""
    if url.startswith(_REFUSED_SCHEMES):
        raise ValueError(f"refusing {url!r}: pipe: URLs run shell commands; give an fsspec URL instead")
    return url


def open_url(url: str, mode: str = "rb", storage_options: dict | None = None):
    """Open a URL through fsspec (local path, file://, memory://, s3://, gs://, http(s)://)."""
    return fsspec.open(check_url(url), mode, **(storage_options or {})).open()


def join(folder: str, name: str) -> str:
    """Join a relative name onto a folder URL (absolute URLs are returned unchanged)."""
    if "://" in name or name.startswith("/"):
        return name
    return posixpath.join(folder.rstrip("/"), name)


def _protocol_prefix(url: str) -> str:
    return url.split("://", 1)[0] + "://" if "://" in url else ""


def expand_urls(spec: str | list[str], storage_options: dict | None = None, split: str | None = "train") -> list[str]:
    """Turn a `--data` value into shard URLs.

    Accepts a shard-set folder or its manifest URL (shards of `split`, or all shards
    when split is None), a brace pattern (`train-{000000..000003}.tar`), a glob, a
    plain URL, or a list of any of these. Raises FileNotFoundError when nothing matches.
    """
    specs = [spec] if isinstance(spec, str) else list(spec)
    urls: list[str] = []
    for item in specs:
        check_url(item)
        urls.extend(_expand_one(item, storage_options or {}, split))
    if not urls:
        raise FileNotFoundError(f"no shards match {spec!r}")
    return urls


def manifest_shard_urls(item: str, manifest: dict, split: str | None) -> list[str]:
    """The shard URLs a shard-set manifest (already read from `item`) lists for `split` (None: all)."""
    if manifest["kind"] != "examples":
        raise ValueError(f"{item} is a {manifest['kind']} dataset, not a shard set; run `shardlm build` on it")
    folder = dataset_folder(item)
    return [join(folder, s["url"]) for s in manifest["shards"]
            if split is None or s.get("split", "train") == split]


def _expand_one(item: str, options: dict, split: str | None) -> list[str]:
    if not item.endswith(".tar") and ("{" not in item) and not _GLOB_CHARS.search(item):
        # A folder or a manifest URL: the manifest lists the shards.
        return manifest_shard_urls(item, read_manifest(item, options), split)
    out: list[str] = []
    for url in braceexpand(item):
        if _GLOB_CHARS.search(url):
            fs, path = fsspec.core.url_to_fs(url, **options)
            prefix = _protocol_prefix(url)
            matches = sorted(fs.glob(path))
            if not matches:
                raise FileNotFoundError(f"no shards match {url}")
            out.extend(prefix + m if prefix and not m.startswith(prefix) else m for m in matches)
        else:
            out.append(url)
    return out


__all__ = ["MANIFEST_NAME", "check_url", "expand_urls", "join", "open_url", "parse_storage_options"]
