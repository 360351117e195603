"""Reading a documents dataset (written by `shardlm clean`): its manifest, then its Parquet files."""

from __future__ import annotations

import logging
from typing import Iterator

import fsspec
import pyarrow.parquet as pq

from pipelines.documents_io import iter_document_files
from shards.storage import check_url

log = logging.getLogger(__name__)

READ_BATCH_ROWS = 1024


def document_files(url: str, storage_options: dict | None = None) -> list[str]:
    """URLs of the Parquet files of the documents dataset at `url` (a folder or its manifest URL)."""
    return iter_document_files(url, storage_options)


def iter_documents(file_url: str, storage_options: dict | None = None,
                   columns: tuple[str, ...] = ("id", "text")) -> Iterator[tuple]:
    """Yield one tuple of `columns` per row of a Parquet file, reading batch by batch."""
    with fsspec.open(check_url(file_url), "rb", **(storage_options or {})) as f:
        parquet = pq.ParquetFile(f)
        for batch in parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=list(columns)):
            yield from zip(*(batch.column(c).to_pylist() for c in columns))


def iter_texts(url: str, storage_options: dict | None = None, max_documents: int | None = None) -> Iterator[str]:
    """The text of every document of a dataset, in manifest order, at most `max_documents`."""
    count = 0
    for file_url in document_files(url, storage_options):
        for (text,) in iter_documents(file_url, storage_options, columns=("text",)):
            if max_documents is not None and count >= max_documents:
                return
            count += 1
            yield text
    log.info("read %d documents from %s", count, url)
