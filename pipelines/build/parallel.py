"""Parallel corpora for `tlm`: listing, reading and tokenizing sentence pairs (pure, no Beam).

Inputs are TSV files of `src<TAB>tgt` lines or JSONL files of objects holding both sides under
configurable field names (dotted paths reach into nested objects: `translation.en`). A file's
languages come from its name, `*.<l1>-<l2>.tsv` / `*.<l1>-<l2>.jsonl` (optionally `.gz`), or
from `--langs l1,l2`, which applies to every file. A line that cannot be a pair is counted as
`pairs/rejected/<reason>`: `invalid_utf8`, `no_tab`, `extra_tab`, `empty_side`, `invalid_json`,
`missing_field`. Every line read is counted once: `pairs/read = kept + rejected + skipped`.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator

import fsspec
import numpy as np
from tokenizers import Tokenizer

from pipelines.build.tokenize_docs import DocBatch, SentenceEncoder, TokenizedDoc
from pipelines.tokenizer.word_starts import WordStartRule
from shards.storage import check_url

LANG_CODE = r"[A-Za-z]{2,3}(?:_[A-Za-z0-9]+)?"  # ISO 639-1/3, optionally with a script: zh_Hans
_NAME = re.compile(rf"\.(?P<l1>{LANG_CODE})-(?P<l2>{LANG_CODE})\.(?:tsv|jsonl)(?:\.gz)?$")
FORMATS = {".tsv": "tsv", ".tsv.gz": "tsv", ".jsonl": "jsonl", ".jsonl.gz": "jsonl"}


@dataclass(frozen=True)
class ParallelFile:
    url: str
    format: str  # tsv | jsonl
    src_lang: str
    tgt_lang: str
    name: str = ""  # the file's path under --input (its base name for a file or a glob): pair ids use it


@dataclass(frozen=True, kw_only=True)
class PairFields:
    """Where a JSONL object holds each side (dotted paths reach into nested objects)."""

    src: str = "src"
    tgt: str = "tgt"


def parse_langs(value: str | None) -> tuple[str, str] | None:
    """`--langs l1,l2` -> (l1, l2); ValueError naming the form otherwise."""
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) != 2 or not all(re.fullmatch(LANG_CODE, p) for p in parts) or parts[0] == parts[1]:
        raise ValueError(f"--langs takes two different language codes as l1,l2 (e.g. en,de), got {value!r}")
    return parts[0], parts[1]


def file_format(url: str) -> str | None:
    name = posixpath.basename(url)
    return next((fmt for ext, fmt in FORMATS.items() if name.endswith(ext)), None)


def parallel_files(input_url: str, langs: tuple[str, str] | None,
                   storage_options: dict | None = None) -> list[ParallelFile]:
    """The TSV and JSONL files of `input_url` (a file, a folder or a glob) with their languages,
    sorted by URL. Fails before any work when there is none, or when a file's languages are
    unknown (its name does not say them and --langs is not given)."""
    fs, path = fsspec.core.url_to_fs(check_url(input_url), **(storage_options or {}))
    root = None
    if fs.isdir(path):
        root = path.rstrip("/")
        paths = [p for p in fs.find(path) if not posixpath.basename(p).startswith((".", "_"))]
    elif any(c in path for c in "*?["):
        paths = fs.glob(path)
    elif fs.exists(path):
        paths = [path]
    else:
        raise FileNotFoundError(f"{input_url} does not exist; give --input a parallel corpus (TSV or JSONL files)")
    files = []
    for p in sorted(paths):
        fmt = file_format(p)
        if fmt is None:
            continue
        url = fs.unstrip_protocol(p) if "://" in input_url else p
        named = _NAME.search(posixpath.basename(p))
        if langs is None and named is None:
            raise ValueError(f"{url}: the file name does not say its languages; name it *.<l1>-<l2>.{fmt} "
                             f"or pass --langs l1,l2")
        src, tgt = langs or (named["l1"], named["l2"])
        name = posixpath.relpath(p, root) if root else posixpath.basename(p)
        files.append(ParallelFile(url, fmt, src, tgt, name))
    if not files:
        raise FileNotFoundError(f"{input_url} holds no .tsv or .jsonl file; --objective tlm reads a parallel corpus")
    return files


def pair_id(name: str, line: int) -> str:
    """A stable id: 16 hex digits of sha256(the file's name under --input, line number), so the
    same files give the same ids (and bytes) wherever they are stored."""
    return hashlib.sha256(f"{name}\x00{line}".encode("utf-8")).hexdigest()[:16]


def parse_line(raw: bytes, fmt: str, fields: PairFields) -> tuple[str, str] | str:
    """(src, tgt), or the reason the line is rejected."""
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return "invalid_utf8"
    if fmt == "tsv":
        sides = line.split("\t")
        if len(sides) != 2:
            return "no_tab" if len(sides) == 1 else "extra_tab"
    else:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return "invalid_json"
        if not isinstance(record, dict):
            return "invalid_json"
        sides = [_field(record, fields.src), _field(record, fields.tgt)]
        if not all(isinstance(s, str) for s in sides):
            return "missing_field"
    src, tgt = (s.strip() for s in sides)
    if not src or not tgt:
        return "empty_side"
    return src, tgt


def _field(record: dict, path: str) -> Any:
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def iter_pairs(file: ParallelFile, fields: PairFields, counter: Counter,
               storage_options: dict | None = None) -> Iterator[tuple[str, str, str, str]]:
    """(pair id, `src-tgt` languages, src text, tgt text) for every good line of a file; every
    line read counts in `counter` (`pairs/read`, `pairs/rejected/<reason>`)."""
    with fsspec.open(check_url(file.url), "rb", compression="infer", **(storage_options or {})) as f:
        for number, raw in enumerate(f):
            counter["pairs/read"] += 1
            if number == 0 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is no text
                raw = raw[3:]
            parsed = parse_line(raw, file.format, fields)
            if isinstance(parsed, str):
                counter[f"pairs/rejected/{parsed}"] += 1
                continue
            yield pair_id(file.name or file.url, number), f"{file.src_lang}-{file.tgt_lang}", parsed[0], parsed[1]


def tokenize_pairs(tokenizer: Tokenizer | SentenceEncoder, pairs: list[tuple[str, str, str, str]],
                   rule: WordStartRule | None = None) -> tuple[list[TokenizedDoc], Counter]:
    """`tokenize_pair_batch` as a list of documents."""
    batch, skipped = tokenize_pair_batch(tokenizer, pairs, rule)
    return list(batch.docs()), skipped


def tokenize_pair_batch(tokenizer: Tokenizer | SentenceEncoder, pairs: list[tuple[str, str, str, str]],
                        rule: WordStartRule | None = None) -> tuple[DocBatch, Counter]:
    """Encode both sides of each pair in one batch: a pair becomes a two-sentence document
    (sentence 0 the source, 1 the target) whose lang is `src-tgt`. A pair with a side that
    encodes to no token is skipped (`no_tokens`)."""
    encoder = tokenizer if isinstance(tokenizer, SentenceEncoder) else SentenceEncoder(tokenizer, rule)
    ids, word_start, lengths = encoder.encode([(src, tgt) for _, _, src, tgt in pairs])
    sides = lengths.reshape(-1, 2)
    keep = (sides > 0).all(axis=1)
    skipped = Counter()
    if not keep.all():
        skipped["no_tokens"] = int((~keep).sum())
        tokens = np.repeat(keep, sides.sum(axis=1))
        ids, word_start, sides = ids[tokens], word_start[tokens], sides[keep]
    offsets = np.zeros(2 * len(sides) + 1, dtype=np.int64)
    np.cumsum(sides.reshape(-1), out=offsets[1:])
    kept = [pair for pair, k in zip(pairs, keep.tolist()) if k]
    return DocBatch(tuple(pid for pid, *_ in kept), tuple(langs for _, langs, *_ in kept), ids, word_start,
                    offsets, np.arange(0, 2 * len(kept) + 1, 2, dtype=np.int64)), skipped
