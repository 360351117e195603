"""Where bytes live: fsspec URLs, brace/glob expansion, shard-set manifests, retries.

Object storage that stops answering is retried with exponential backoff (`retrying`; reads
through `open_url` reopen the object and continue at the same byte); when it still does not
answer, `schemas.errors.StoreUnavailableError`, which the command line turns into exit status 3.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import posixpath
import re
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

import fsspec
from braceexpand import braceexpand

from schemas import MANIFEST_NAME, read_manifest
from schemas.errors import StoreUnavailableError
from schemas.manifest import dataset_folder

log = logging.getLogger(__name__)
T = TypeVar("T")

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
    """Open a URL through fsspec (local path, file://, memory://, s3://, gs://, http(s)://).

    A remote URL opened for reading is retried: opening, and every read, which reopens the
    object at the byte it had reached (`retrying`)."""
    check_url(url)
    options = storage_options or {}
    if mode == "rb" and not is_local_url(url):
        return io.BufferedReader(_RetryingReader(url, options), buffer_size=_READ_BUFFER)
    return fsspec.open(url, mode, **options).open()


def is_local_url(url: str) -> bool:
    protocol, _ = fsspec.core.split_protocol(url)
    return protocol in (None, "file", "local")


# --- retries ------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often a storage call is tried, on top of the client's own retries (botocore, gcsfs)."""

    num_attempts: int = 5        # tries in all
    backoff_s: float = 1.0       # sleep before the second try, doubled before each next one
    max_backoff_s: float = 30.0


def retry_policy() -> RetryPolicy:
    """The default policy, with SHARDLM_STORAGE_ATTEMPTS and SHARDLM_STORAGE_BACKOFF_S overriding it."""
    try:
        attempts = int(os.environ.get("SHARDLM_STORAGE_ATTEMPTS", RetryPolicy.num_attempts))
        backoff = float(os.environ.get("SHARDLM_STORAGE_BACKOFF_S", RetryPolicy.backoff_s))
    except ValueError as err:
        raise ValueError(f"SHARDLM_STORAGE_ATTEMPTS / SHARDLM_STORAGE_BACKOFF_S must be numbers: {err}") from None
    return RetryPolicy(num_attempts=max(1, attempts), backoff_s=max(0.0, backoff))


# Connection-level failures of the clients fsspec uses (botocore, aiohttp, google-auth's
# transport); by name, so that none of them has to be installed.
_TRANSIENT_NAMES = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                    "ClientConnectorError", "ServerDisconnectedError", "ClientOSError", "ServerTimeoutError",
                    "ClientPayloadError", "IncompleteRead", "ResponseStreamingError", "TransportError"}
_TRANSIENT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EPIPE,
                     errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EAGAIN}


def is_transient(err: BaseException) -> bool:
    """Whether an error says the store did not answer (worth retrying), not that the request is wrong."""
    if isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
                        FileExistsError, StoreUnavailableError)):
        return False
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    if isinstance(err, OSError) and err.errno in _TRANSIENT_ERRNOS:
        return True
    return bool({cls.__name__ for cls in type(err).__mro__} & _TRANSIENT_NAMES)


def retrying(call: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
    """`call()`, tried again with exponential backoff while it fails with a transient error;
    StoreUnavailableError naming `what` when the last try fails too. Other errors pass unchanged."""
    policy = policy or retry_policy()
    delay = policy.backoff_s
    for attempt in range(1, policy.num_attempts + 1):
        try:
            return call()
        except Exception as err:  # noqa: BLE001 - only transient errors are retried, the rest re-raised
            if not is_transient(err):
                raise
            if attempt == policy.num_attempts:
                raise StoreUnavailableError(
                    f"{what}: object storage did not answer after {attempt} attempts "
                    f"({type(err).__name__}: {err}); rerun when it is reachable") from err
            log.warning("%s failed (%s: %s); try %d of %d in %.1f s", what, type(err).__name__, err,
                        attempt + 1, policy.num_attempts, delay)
            time.sleep(delay)
            delay = min(delay * 2, policy.max_backoff_s)
    raise AssertionError("unreachable")


_READ_BUFFER = 1 << 16


class _RetryingReader(io.RawIOBase):
    """A remote object read through fsspec; a read that fails transiently reopens the object
    and seeks back to where it was, under `retrying`."""

    def __init__(self, url: str, options: dict):
        super().__init__()
        self._url, self._options = url, options
        self._pos = 0
        self._file = None
        self._call(lambda f: None, "opening")  # fail here, not at the first read

    def _call(self, op: Callable, what: str = "reading"):
        def attempt():
            if self._file is None:
                self._file = fsspec.open(self._url, "rb", **self._options).open()
                if self._pos:
                    self._file.seek(self._pos)
            try:
                return op(self._file)
            except Exception as err:
                if is_transient(err):
                    self._drop()
                raise
        return retrying(attempt, f"{what} {self._url}")

    def _drop(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close too
                pass
            self._file = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._call(lambda f: f.read(len(buffer)))
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        else:
            target = self._call(lambda f: f.seek(0, io.SEEK_END)) + offset
        self._pos = self._call(lambda f: f.seek(target))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._drop()
        super().close()


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


__all__ = ["MANIFEST_NAME", "RetryPolicy", "StoreUnavailableError", "check_url", "expand_urls", "is_transient", "join",
           "open_url", "parse_storage_options", "retrying"]
