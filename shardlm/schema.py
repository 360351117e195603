"""`shardlm schema URL`: what a dataset holds, without loading it.

URL is a documents dataset (folder or manifest), a shard set (folder or manifest), one
shard `.tar`, or one Parquet file. Prints the Arrow schema, the counts the manifest
records, and a few decoded rows. Reads only the manifest and a sample: the first rows
of one Parquet file, or the first chunk of one tar (plus member headers, to count).
This module imports neither torch nor Beam. It is the CLI layer's (DESIGN.md: decoding rows for
display is `shardlm schema`'s), so `schemas` stays the base that imports nothing of the project.
"""

from __future__ import annotations

import argparse
import json
import logging
import posixpath
import sys
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.errors import one_line
from schemas.manifest import (NotCommittedError, dataset_folder, decode_schema, manifest_name, manifest_url,
                              read_manifest)
from shards.reader import iter_chunks
from shards.storage import join, open_url, parse_storage_options
from shards.tokenizer import load_shard_set_tokenizer

log = logging.getLogger(__name__)

TEXT_PREVIEW_CHARS = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="shardlm schema",
        description="Print the Arrow schema, counts and a few decoded rows of a documents dataset, "
                    "a shard set, one shard .tar or one Parquet file.")
    parser.add_argument("url", metavar="URL", help="dataset folder, manifest.json, shard .tar or .parquet URL")
    parser.add_argument("--rows", type=int, default=3, help="how many rows to decode (default 3)")
    parser.add_argument("--storage-options", default=None, metavar="JSON",
                        help="fsspec storage options as JSON (default: the standard environment)")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error(f"--rows must be 0 or more, got {args.rows}")
    args.storage_options = parse_storage_options(args.storage_options)
    return args


# ---- reading a sample ------------------------------------------------------------------


def head_parquet(url: str, rows: int, storage_options: dict) -> tuple[pa.Schema, int, pa.Table]:
    """(schema, total rows, first `rows` rows) of one Parquet file, reading one batch."""
    with open_url(url, "rb", storage_options) as f:
        parquet = pq.ParquetFile(f)
        total = parquet.metadata.num_rows
        batch = next(parquet.iter_batches(batch_size=max(rows, 1)), None)
        table = pa.Table.from_batches([batch]) if batch is not None else parquet.schema_arrow.empty_table()
        return parquet.schema_arrow, total, table.slice(0, rows)


def scan_shard(url: str, storage_options: dict) -> tuple[pa.Table | None, int, int]:
    """(first chunk or None for an empty shard, number of chunks, number of examples) of one shard."""
    first: pa.Table | None = None
    chunks = examples = 0
    for _, table in iter_chunks(url, storage_options):
        first = table if first is None else first
        chunks += 1
        examples += table.num_rows
    return first, chunks, examples


def load_tokenizer(folder: str, spec: dict[str, Any] | None, storage_options: dict):
    """The shard set's tokenizer (shards.tokenizer: resolved against the set, sha256 checked), or
    None, with a warning, when there is none or it is not the one the shards were built with."""
    if not (spec or {}).get("url"):
        return None
    try:
        return load_shard_set_tokenizer(folder, spec, storage_options)
    except (OSError, ValueError) as err:
        log.warning("%s; showing token ids", one_line(err))
        return None


# ---- rendering -------------------------------------------------------------------------


def format_schema(schema: pa.Schema) -> list[str]:
    text = schema.to_string(show_field_metadata=False, show_schema_metadata=False)
    return ["schema:"] + [f"  {line}" for line in text.splitlines()]


def format_stats(stats: dict[str, int]) -> list[str]:
    """read and kept first, then drops and rejects by reason, then anything else."""
    first = [k for k in ("read", "kept") if k in stats]
    losses = sorted(k for k in stats if k.startswith(("dropped/", "rejected/")))
    rest = sorted(k for k in stats if k not in first and k not in losses)
    return ["stats:"] + [f"  {k}: {stats[k]}" for k in first + losses + rest]


def format_manifest_header(kind: str, url: str, manifest: dict[str, Any]) -> list[str]:
    created_by = json.dumps(manifest.get("created_by"), sort_keys=True)
    return [f"{kind} at {url}",
            f"manifest: {manifest_url(url, manifest_name(manifest['kind']))} (schema_version {manifest['schema_version']}, created_by {created_by})"]


def format_examples_counts(manifest: dict[str, Any]) -> list[str]:
    tok = manifest.get("tokenizer") or {}
    total_bytes = sum(s.get("bytes", 0) for s in manifest["shards"])
    lines = [f"objective: {manifest['objective']}, seq_len: {manifest['seq_len']}",
             f"tokenizer: {tok.get('url')} (vocab_size {tok.get('vocab_size')})",
             f"shards: {len(manifest['shards'])} ({total_bytes} bytes)",
             "counts:"]
    return lines + [f"  {k}: {v}" for k, v in sorted(manifest["counts"].items())]


def format_document_row(index: int, row: dict[str, Any]) -> list[str]:
    text = row.get("text") or ""
    more = f" (+{len(text) - TEXT_PREVIEW_CHARS} chars)" if len(text) > TEXT_PREVIEW_CHARS else ""
    return [f"[{index}] id={row.get('id')} lang={row.get('lang')} url={row.get('url')}",
            f"    text: {json.dumps(text[:TEXT_PREVIEW_CHARS], ensure_ascii=False)}{more}"]


def _decode(ids: list[int], tokenizer) -> str:
    if tokenizer is None:
        shown = ids[:32]
        return f"ids {shown}{' ...' if len(ids) > len(shown) else ''}"
    return json.dumps(tokenizer.decode(ids, skip_special_tokens=False), ensure_ascii=False)


def format_example_row(index: int, row: dict[str, Any], tokenizer) -> list[str]:
    """Token ids as text through the tokenizer, segment A/B split at segment_b_start, other fields."""
    ids = list(row.get("input_ids") or [])
    fields = [f"{k}={v}" for k, v in row.items() if k not in ("input_ids", "word_start") and not isinstance(v, list)]
    lines = [f"[{index}] tokens={len(ids)} " + " ".join(fields)]
    start = row.get("segment_b_start")
    if isinstance(start, int) and 0 < start <= len(ids):
        lines += [f"    A: {_decode(ids[:start], tokenizer)}", f"    B: {_decode(ids[start:], tokenizer)}"]
    else:
        lines.append(f"    text: {_decode(ids, tokenizer)}")
    for key, value in row.items():
        if isinstance(value, list) and key not in ("input_ids", "word_start"):
            lines.append(f"    {key}: {value[:32]}{' ...' if len(value) > 32 else ''}")
    return lines


def format_rows(table: pa.Table, kind: str, tokenizer=None) -> list[str]:
    lines = [f"first {table.num_rows} rows:"]
    for i, row in enumerate(table.to_pylist()):
        lines += format_document_row(i, row) if kind == "documents" else format_example_row(i, row, tokenizer)
    return lines


# ---- the four kinds of URL -------------------------------------------------------------


def describe_documents(url: str, manifest: dict[str, Any], rows: int, options: dict) -> list[str]:
    files = manifest["files"]
    lines = format_manifest_header("documents dataset", url, manifest)
    lines.append(f"rows: {manifest['rows']} in {len(files)} files ({sum(f['bytes'] for f in files)} bytes)")
    lines += format_stats(manifest["stats"])
    lines += format_schema(decode_schema(manifest["arrow_schema"]))
    if rows and files:
        _, _, table = head_parquet(join(dataset_folder(url), files[0]["path"]), rows, options)
        lines += format_rows(table, "documents")
    return lines


def describe_examples(url: str, manifest: dict[str, Any], rows: int, options: dict) -> list[str]:
    lines = format_manifest_header("shard set", url, manifest)
    lines += format_examples_counts(manifest)
    lines += format_schema(decode_schema(manifest["arrow_schema"]))
    # empty shards are legitimate (every planned shard is written): sample the first with examples
    sample = next((s for s in manifest["shards"] if s["examples"]), None)
    if rows and sample is not None:
        first = join(dataset_folder(url), sample["url"])
        chunk = next(iter_chunks(first, options))[1]
        tokenizer = load_tokenizer(dataset_folder(url), manifest["tokenizer"], options)
        lines += format_rows(chunk.slice(0, rows), "examples", tokenizer)
    return lines


def describe_shard(url: str, rows: int, options: dict) -> list[str]:
    """One shard: its first chunk's schema, its chunk/example counts, and its folder's manifest."""
    first, chunks, examples = scan_shard(url, options)
    lines = [f"shard at {url}", f"chunks: {chunks}, examples: {examples}"]
    folder = posixpath.dirname(url) or "."
    try:
        manifest = read_manifest(folder, options)
    except NotCommittedError:
        manifest = None
        lines.append(f"no manifest in {folder}: the shard set was not committed")
    except FileNotFoundError:
        manifest = None
    if manifest is not None and manifest["kind"] == "examples":
        lines.append(f"folder manifest: {manifest_url(folder)}")
        lines += [f"  {line}" for line in format_examples_counts(manifest)]
    if first is None:
        lines.append("an empty shard (a planned shard that got no examples)")
        return lines
    lines += format_schema(first.schema)
    if rows:
        tokenizer = load_tokenizer(folder, manifest.get("tokenizer"), options) if manifest else None
        lines += format_rows(first.slice(0, rows), "examples", tokenizer)
    return lines


def describe_parquet(url: str, rows: int, options: dict) -> list[str]:
    schema, total, table = head_parquet(url, rows, options)
    kind = "documents" if (schema.metadata or {}).get(b"kind") == b"documents" or "text" in schema.names else "table"
    lines = [f"parquet file at {url}", f"rows: {total}"] + format_schema(schema)
    if rows and kind == "documents":
        lines += format_rows(table, "documents")
    elif rows:
        lines += [f"first {table.num_rows} rows:"] + [f"[{i}] {r}" for i, r in enumerate(table.to_pylist())]
    return lines


def describe(url: str, rows: int = 3, storage_options: dict | None = None) -> str:
    """The report `shardlm schema URL` prints."""
    options = storage_options or {}
    path = url.rstrip("/")
    if path.endswith(".tar"):
        lines = describe_shard(path, rows, options)
    elif path.endswith(".parquet"):
        lines = describe_parquet(path, rows, options)
    else:
        manifest = read_manifest(path, options)
        describe_kind = describe_documents if manifest["kind"] == "documents" else describe_examples
        lines = describe_kind(path, manifest, rows, options)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    """Print the report for one URL; returns it (ValueError/FileNotFoundError for bad URLs)."""
    args = parse_args(argv)
    report = describe(args.url, args.rows, args.storage_options)
    sys.stdout.write(report)
    return report
