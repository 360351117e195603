"""The documents dataset on storage: Parquet parts, rejects, stats and the manifest (written last).

Layout of a dataset folder (any fsspec URL):

    part-00000.parquet ...          documents, schemas.DOCUMENTS_SCHEMA, sorted by id in a part
    .rejects/part-00000.jsonl ...   one JSON object per rejected record (every part written)
    .dropped/part-00000.jsonl ...   with --write-dropped: dropped documents with their reason
    .manifest.json                  written last; commits the dataset

The names starting with a dot keep the folder a plain Parquet dataset: pandas, pyarrow, DuckDB
and Hugging Face `datasets` skip them.

Bytes are deterministic: a document goes to part `int(id, 16) % num_parts`, rows are sorted
by id inside a part, the Parquet writer options are fixed and carry no timestamps, and
rejects are sorted. Readers (`iter_document_files`, `read_documents`) go through the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any, Iterable, Iterator

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.clean.readers import Drop, Reject, doc_id, position_key
from schemas import DOCUMENTS_SCHEMA, SCHEMA_VERSION, encode_schema, read_manifest
from schemas.manifest import dataset_folder
from schemas.version import tool_version
from shards.storage import check_url, join, open_url, retrying

TOOL = "shardlm clean"
REJECTS_FOLDER = ".rejects"
DROPPED_FOLDER = ".dropped"
ROW_GROUP_ROWS = 16384
READ_BATCH_ROWS = 1024
# Fixed writer options: same rows in, same bytes out (pyarrow writes no timestamps).
_PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": ["lang", "source"],
                    "write_statistics": True, "version": "2.6", "row_group_size": ROW_GROUP_ROWS}


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def part_of(doc_id: str, num_parts: int) -> int:
    """The part a document goes to: its id (hex) modulo the number of parts."""
    return int(doc_id, 16) % num_parts


def documents_table(rows: Iterable[dict]) -> pa.Table:
    """Rows sorted by id, as a table of exactly DOCUMENTS_SCHEMA."""
    ordered = sorted(rows, key=lambda r: (r["id"], r["text"]))
    return pa.Table.from_pylist(ordered, schema=DOCUMENTS_SCHEMA)


def parquet_bytes(table: pa.Table) -> bytes:
    """A part's bytes; an empty part has no row group (an empty row group stops Hugging Face
    `datasets`, which sizes its batches by the first row group)."""
    sink = io.BytesIO()
    if table.num_rows:
        pq.write_table(table.cast(DOCUMENTS_SCHEMA), sink, **_PARQUET_OPTIONS)
    else:
        options = {k: v for k, v in _PARQUET_OPTIONS.items() if k != "row_group_size"}
        with pq.ParquetWriter(sink, DOCUMENTS_SCHEMA, **options):
            pass
    return sink.getvalue()


def write_file(folder: str, path: str, data: bytes, rows: int, storage_options: dict | None = None) -> dict:
    """Put `data` at `folder/path` in one write; returns its manifest entry."""
    def put() -> None:
        with fsspec.open(check_url(join(folder, path)), "wb", **(storage_options or {})) as f:
            f.write(data)

    retrying(put, f"writing {join(folder, path)}")
    return {"path": path, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_part(folder: str, index: int, rows: Iterable[dict], storage_options: dict | None = None) -> dict:
    """Write `part-{index:05d}.parquet` (possibly empty); returns its manifest entry."""
    table = documents_table(rows)
    return write_file(folder, part_name(index), parquet_bytes(table), table.num_rows, storage_options)


def rejects_bytes(rejects: Iterable[dict]) -> bytes:
    ordered = sorted(rejects, key=lambda r: (r["source"], r["position"], r["reason"], r["detail"]))
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in ordered).encode("utf-8")


def rejects_path(index: int) -> str:
    return f"{REJECTS_FOLDER}/part-{index:05d}.jsonl"


def reject_part(reject: dict, num_parts: int) -> int:
    """The rejects part of a reject: like a document's part, from its file's name and position."""
    return part_of(doc_id(position_key(reject["source"], reject["position"])), num_parts)


def write_rejects(folder: str, index: int, rejects: Iterable[dict], storage_options: dict | None = None) -> dict:
    """Write `.rejects/part-{index:05d}.jsonl` (empty when that part has no reject); returns its entry."""
    rejects = list(rejects)
    return write_file(folder, rejects_path(index), rejects_bytes(rejects), len(rejects), storage_options)


def dropped_json(drop: Drop) -> dict:
    """One line of `.dropped/`: the document's id, url, source and text, and why it was dropped."""
    return {**drop.document, "reason": drop.reason}


def dropped_path(index: int) -> str:
    return f"{DROPPED_FOLDER}/part-{index:05d}.jsonl"


def write_dropped(folder: str, index: int, documents: Iterable[dict], storage_options: dict | None = None) -> dict:
    """Write `.dropped/part-{index:05d}.jsonl`, sorted by id then reason; returns its entry."""
    ordered = sorted(documents, key=lambda d: (d["id"], d["reason"], d["text"]))
    data = "".join(json.dumps(d, sort_keys=True, ensure_ascii=False) + "\n" for d in ordered).encode("utf-8")
    return write_file(folder, dropped_path(index), data, len(ordered), storage_options)


# --- stats -----------------------------------------------------------------------------------

def outcome_key(item: dict | Drop | Reject) -> str:
    """The stats key of one final outcome: kept, dropped/<reason> or rejected/<reason>."""
    if isinstance(item, Drop):
        return f"dropped/{item.reason}"
    if isinstance(item, Reject):
        return f"rejected/{item.reason}"
    return "kept"


def stats_from_counts(counts: dict[str, int], languages: dict[str, int] | None = None) -> dict[str, int]:
    """Manifest stats: read (every outcome), kept, the drop and reject reasons, sorted, then the
    kept documents per language as `lang/<code>` (they add up to kept)."""
    stats = {"read": sum(counts.values()), "kept": counts.get("kept", 0)}
    stats.update(sorted((k, v) for k, v in counts.items() if k != "kept"))
    stats.update(sorted((f"lang/{k}", v) for k, v in (languages or {}).items()))
    return stats


def summary_table(stats: dict[str, int]) -> str:
    """A readable table of the stats, one key per line with its share of `read`."""
    read = stats.get("read", 0) or 1
    width = max(len(k) for k in stats)

    def rank(key: str) -> tuple[int, str]:  # read, kept, drops, rejects, then per-language counts
        order = ("read", "kept", "dropped/", "rejected/")
        return next((i for i, p in enumerate(order) if key.startswith(p)), len(order)), key

    lines = [f"  {k:<{width}}  {stats[k]:>10,d}  {100 * stats[k] / read:6.2f}%" for k in sorted(stats, key=rank)]
    return "\n".join(lines)


# --- manifest ----------------------------------------------------------------------------------

def documents_manifest(*, files: list[dict], rejects: list[dict], stats: dict[str, int],
                       config: dict[str, Any], dropped: list[dict] | None = None) -> dict:
    """The manifest; `dropped` (the `.dropped/` parts of --write-dropped) only when written."""
    files = sorted(files, key=lambda f: f["path"])
    extra = {} if dropped is None else {"dropped": sorted(dropped, key=lambda f: f["path"])}
    return {
        **extra,
        "kind": "documents",
        "schema_version": SCHEMA_VERSION,
        "arrow_schema": encode_schema(DOCUMENTS_SCHEMA),
        "rows": sum(f["rows"] for f in files),
        "files": files,
        "rejects": sorted(rejects, key=lambda f: f["path"]),
        "stats": stats,
        "created_by": {"tool": TOOL, "version": tool_version(), "config": config},
    }


# --- reading -----------------------------------------------------------------------------------

def iter_document_files(url: str, storage_options: dict | None = None) -> list[str]:
    """URLs of the Parquet parts of the documents dataset at `url` (folder or manifest URL).

    FileNotFoundError / NotCommittedError for a missing or unfinished dataset; ValueError
    for a dataset of another kind.
    """
    manifest = retrying(lambda: read_manifest(check_url(url), storage_options), f"reading the manifest of {url}")
    if manifest["kind"] != "documents":
        raise ValueError(f"{url} is a {manifest['kind']} dataset, not a documents dataset; "
                         f"give the output folder of `shardlm clean`")
    folder = dataset_folder(url)
    return [join(folder, entry["path"]) for entry in manifest["files"]]


def read_documents(url: str, storage_options: dict | None = None,
                   columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of every document of the dataset at `url`, part by part in manifest order.

    Batches have exactly DOCUMENTS_SCHEMA (or its `columns`): Parquet cannot store second
    timestamps and reads them back in milliseconds, so they are cast back here.
    """
    schema = DOCUMENTS_SCHEMA if columns is None else pa.schema([DOCUMENTS_SCHEMA.field(c) for c in columns])
    for file_url in iter_document_files(url, storage_options):
        with open_url(file_url, "rb", storage_options) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=READ_BATCH_ROWS, columns=columns):
                yield batch.cast(schema)
