"""Reading a documents dataset (written by `shardlm clean`): its manifest, then its Parquet files.

`document_files` (documents_io.iter_document_files) lists the files; these read them."""

from __future__ import annotations

import logging
from typing import Iterator

import pyarrow.parquet as pq

from pipelines import progress
from pipelines.documents_io import READ_BATCH_ROWS
from pipelines.documents_io import iter_document_files as document_files
from shards.storage import open_url

log = logging.getLogger(__name__)


def iter_documents(file_url: str, storage_options: dict | None = None,
                   columns: tuple[str, ...] = ("id", "text")) -> Iterator[tuple]:
    """Yield one tuple of `columns` per row of a Parquet file, reading batch by batch (counted as
    `documents` for the progress line)."""
    with open_url(file_url, "rb", storage_options) as f:
        parquet = pq.ParquetFile(f)
        batches = parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=list(columns))
        yield from progress.counted((row for batch in batches
                                     for row in zip(*(batch.column(c).to_pylist() for c in columns))), "documents")


def iter_texts(files: list[str], storage_options: dict | None = None,
               max_documents: int | None = None) -> Iterator[str]:
    """The text of every document in these Parquet files (a dataset's, in manifest order), at
    most `max_documents`."""
    count = 0
    for file_url in files:
        for (text,) in iter_documents(file_url, storage_options, columns=("text",)):
            if max_documents is not None and count >= max_documents:
                return
            count += 1
            yield text
    log.info("read %d documents from %d files", count, len(files))


__all__ = ["document_files", "iter_documents", "iter_texts"]
