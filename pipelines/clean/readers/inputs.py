"""Which files the --input values name, and every item of one file in its format.

`expand_inputs` lists the files (URLs, globs or folders, through fsspec) with the names their
documents carry; `read_source` opens one, picks its reader by --format or its name (warc.py for
WARC, ARC and WET, jsonl.py, text.py, parquet.py), counts what it reads for the progress line,
and makes a file that yields nothing one `empty_file` reject.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import fsspec
from fsspec.compression import compr
from fsspec.utils import infer_compression

from pipelines import progress
from pipelines.clean.readers.jsonl import iter_jsonl
from pipelines.clean.readers.parquet import ReadShare, iter_parquet, parquet_pieces
from pipelines.clean.readers.records import InputFile, Item, ReaderConfig, Reject, RowGroups
from pipelines.clean.readers.text import iter_text
from pipelines.clean.readers.warc import iter_warc
from shards.storage import check_url, open_url, retrying

FORMATS = ("auto", "warc", "wet", "jsonl", "text", "parquet")

# Longest suffix first: `.warc.wet.gz` is WET, not WARC. ARC files are read by warcio too.
_SUFFIXES = (
    (".warc.wet.gz", "wet"), (".wet.gz", "wet"), (".wet", "wet"),
    (".warc.gz", "warc"), (".warc", "warc"), (".arc.gz", "warc"), (".arc", "warc"),
    (".jsonl.gz", "jsonl"), (".jsonl", "jsonl"), (".json.gz", "jsonl"), (".ndjson", "jsonl"),
    (".txt.gz", "text"), (".txt", "text"), (".parquet", "parquet"),
)
_GLOB_CHARS = "*?["


def detect_format(url: str) -> str:
    """The input format of a file from its name; ValueError naming the file and --format."""
    name = url.split("?", 1)[0].lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    known = ", ".join(s for s, _ in _SUFFIXES)
    raise ValueError(f"cannot tell the format of {url} from its name (known: {known}); "
                     f"pass --format {'|'.join(FORMATS[1:])}")


def resolve_format(url: str, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return detect_format(url) if fmt == "auto" else fmt


def expand_inputs(specs: Iterable[str], storage_options: dict | None = None) -> list[InputFile]:
    """Every file the --input values name (URLs, globs or folders), in order.

    Raises FileNotFoundError naming the first value that matches nothing, and ValueError when
    two different files get the same name (their documents would share ids).
    """
    seen: dict[str, InputFile] = {}
    named: dict[str, str] = {}
    for spec in specs:
        check_url(spec)
        for found in retrying(lambda: _expand_one(spec, storage_options or {}), f"listing {spec}"):
            if found.url in seen:
                continue
            other = named.setdefault(found.name, found.url)
            if other != found.url:
                raise ValueError(f"inputs {other} and {found.url} have the same name {found.name!r} relative to "
                                 f"their --input; documents are named by it: give one --input for their "
                                 f"common folder, or rename one")
            seen[found.url] = found
    return list(seen.values())


def _is_file(fs, path: str, info: dict) -> bool:
    """A file, or a symbolic link to one (fsspec's local listing types links as 'other')."""
    return info.get("type") == "file" or (bool(info.get("islink")) and fs.isfile(path))


def _expand_one(spec: str, options: dict) -> list[InputFile]:
    fs, path = fsspec.core.url_to_fs(spec, **options)
    listed, what = True, "matches no files"
    if any(c in spec for c in _GLOB_CHARS):
        found = fs.glob(path, detail=True)
        base = path[:min(path.find(c) for c in _GLOB_CHARS if c in path)].rsplit("/", 1)[0]
    elif fs.isdir(path):
        found, what = fs.find(path, detail=True), "is a folder with no input files"
        base = path.rstrip("/")
    elif fs.exists(path):
        found, listed = {path: fs.info(path)}, False
        base = path.rsplit("/", 1)[0]
    else:
        raise FileNotFoundError(f"--input {spec} does not exist; check the path or URL "
                                f"(and --storage-options for remote storage)")
    # Hidden and marker files (.DS_Store, _SUCCESS) are skipped when listing a glob or folder.
    files = [(p, info) for p, info in sorted(found.items()) if _is_file(fs, p, info)
             and not (listed and p.rsplit("/", 1)[-1].startswith((".", "_")))]
    if not files:
        raise FileNotFoundError(f"--input {spec} {what}")
    # Canonical sources, so one file named two ways is read once: URLs keep their protocol,
    # local paths become absolute.
    keep_protocol = "://" in spec
    return [InputFile(url=fs.unstrip_protocol(p) if keep_protocol else p, size=int(info.get("size") or 0),
                      name=_relative_name(p, base)) for p, info in files]


def _relative_name(path: str, base: str) -> str:
    if base and path.startswith(base + "/"):
        return path[len(base) + 1:]
    return path.rsplit("/", 1)[-1]


def input_pieces(file: InputFile | tuple, config: ReaderConfig, storage_options: dict | None = None) -> list[tuple]:
    """The units of work of one input file, (url, size, name, piece): the pieces of whole row
    groups of a Parquet file (read from its footer), or the file whole (piece None)."""
    url, size, name = file[:3]
    if resolve_format(url, config.format) != "parquet":
        return [(url, size, name, None)]
    return [(url, size, name, piece) for piece in parquet_pieces(url, storage_options)]


def read_input(file: InputFile | tuple, config: ReaderConfig, storage_options: dict | None = None) -> Iterator[Item]:
    """`read_source` of an InputFile, or of (url, size, name, RowGroups or None) for a piece of a
    Parquet file (what the clean job's `Read` step maps over)."""
    url, _, name, *piece = file
    return read_source(url, config, storage_options, name=name, piece=piece[0] if piece else None)


def read_source(url: str, config: ReaderConfig, storage_options: dict | None = None, *,
                name: str | None = None, piece: RowGroups | None = None) -> Iterator[Item]:
    """Every item of one input file (or of one piece of a Parquet file); a file that yields none
    gives one `empty_file` reject.

    Items name the file by `name` (default: the URL's base name), never by its URL.
    """
    fmt = resolve_format(url, config.format)
    options = storage_options or {}
    source = name if name is not None else url.rstrip("/").rsplit("/", 1)[-1]
    count = 0
    compression = None if fmt in ("warc", "wet", "parquet") else infer_compression(url)
    with open_url(url, "rb", options) as raw, (compr[compression](raw, mode="rb") if compression else raw) as f:
        position = raw  # what the progress line follows: bytes of raw read so far
        if fmt in ("warc", "wet"):
            items = iter_warc(f, source, wet=fmt == "wet")
        elif fmt == "parquet":
            position = ReadShare(raw.seek(0, 2))
            items = iter_parquet(f, source, config, position, piece)
        elif fmt == "jsonl":
            items = iter_jsonl(f, source, config, gz=compression == "gzip")
        else:
            items = iter_text(f, source, gz=compression == "gzip")
        for item in progress.reading(items, position, file_done=piece is None or piece.last):
            count += 1
            yield item
    if count == 0:
        yield Reject(source=source, position=0, reason="empty_file", detail="the file holds no records")


__all__ = ["FORMATS", "detect_format", "expand_inputs", "input_pieces", "read_input", "read_source", "resolve_format"]
