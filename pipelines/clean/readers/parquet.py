"""Parquet files -> items: one per row, its text in the --text-field column (FineWeb, C4, CC-News dumps).

Read with pyarrow row group by row group and record batch by record batch, only the columns the
reader needs (text, and url and id where the file has them), through a buffered stream, so a
large file or row group never sits in memory whole. Rows are numbered from 1 across the file,
like JSONL lines: a row's position, and with no id column the key of its document id.

Before any work, `check_columns` reads every Parquet input's footer to check the columns the
flags name. In the job, `parquet_pieces` splits a file into pieces of whole row groups
(`RowGroups`), each read as its own unit of work, so one large file is read (and on the
DirectRunner cleaned) by several workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import IO, Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.clean.readers import records as limits  # MAX_TEXT_BYTES read at call time (tests lower it)
from pipelines.clean.readers.records import (DETAIL_CHARS, Item, RawRecord, ReaderConfig, Reject, RowGroups,
                                             cut_utf8, error_detail, parse_timestamp)
from shards.storage import is_transient, open_url, retrying

BATCH_ROWS = 1024  # rows decoded at a time: at most this many texts held at once
STREAM_BUFFER = 1 << 20  # pages of a column chunk are read through a buffer of this size, not the chunk whole

FOOTER_THREADS = 16  # footers read at once when the job plans its Parquet inputs, before any work
# A file is split into pieces of whole row groups of about this many bytes (uncompressed, as the
# footer gives them): a unit of work of the order of a 512 MiB WARC's extracted text.
PIECE_BYTES = 128 << 20

# What pyarrow raises on a file that is not Parquet, or on a damaged footer, page or column chunk
# (a damaged page is a plain OSError); a store that does not answer is not damage (`_damage`).
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError, EOFError)


class ReadShare:
    """The position `progress.reading` follows for a Parquet file: the share of its bytes that the
    rows read so far stand for. (pyarrow reads the footer at the end first and then seeks among
    column chunks, so the file's own position says nothing of how much is read.) A piece of a
    file stands for the bytes of its rows' share, so the pieces of a file add up to its size."""

    def __init__(self, size: int):
        self.size, self.rows, self.total = size, 0, 0

    def piece(self, rows_before: int, rows: int, file_rows: int) -> None:
        if file_rows:
            self.size = self.size * (rows_before + rows) // file_rows - self.size * rows_before // file_rows
        self.total = rows

    def tell(self) -> int:
        return self.size * self.rows // self.total if self.total else 0

    def seek(self, offset: int, whence: int = 0) -> int:  # only ever asked for the end
        return self.size


class MissingColumnError(ValueError):
    """A Parquet file lacks the column a flag names: a configuration error, raised before any work."""


def needed_columns(names: Iterable[str], source: str, config: ReaderConfig) -> list[str]:
    """The columns to read of a file whose columns are `names`: --text-field (required), and
    --url-field, --id-field and --timestamp-field where present (a `lang` column is not read: the
    job identifies every document's language itself). A missing --text-field column, or a
    --url-field / --id-field / --timestamp-field column named away from its default that is
    missing, raises MissingColumnError
    naming the file, the column and the columns the file has."""
    names = list(names)
    defaults = ReaderConfig()
    required = {("--text-field", config.text_field)}
    if config.url_field != defaults.url_field:
        required.add(("--url-field", config.url_field))
    if config.id_field != defaults.id_field:
        required.add(("--id-field", config.id_field))
    if config.timestamp_field != defaults.timestamp_field:
        required.add(("--timestamp-field", config.timestamp_field))
    for flag, column in sorted(required):
        if column not in names:
            raise MissingColumnError(f"{source} has no column {column!r} for {flag} (its columns: "
                                     f"{', '.join(names) or 'none'}); pass {flag} COLUMN")
    wanted = (config.text_field, config.url_field, config.id_field, config.timestamp_field)
    return [c for c in dict.fromkeys(wanted) if c in names]


def check_columns(urls: Iterable[str], config: ReaderConfig, storage_options: dict | None = None) -> None:
    """Fail fast, before any work: MissingColumnError for the first Parquet file (in order) that
    lacks a column the flags name. Reads only the footers, several at once; a file whose footer
    cannot be read passes here, and its reader rejects it."""
    urls = list(urls)
    if not urls:
        return
    with ThreadPoolExecutor(max_workers=min(FOOTER_THREADS, len(urls))) as pool:
        footers = list(pool.map(lambda u: _footer(u, storage_options or {}), urls))
    for url, footer in zip(urls, footers):
        if footer is not None:
            needed_columns(footer.schema.to_arrow_schema().names, url, config)


def parquet_pieces(url: str, storage_options: dict | None = None) -> tuple[RowGroups | None, ...]:
    """The pieces a Parquet file is read in, from its footer (`(None,)`: the file whole, also
    when its footer cannot be read: its reader rejects it)."""
    footer = _footer(url, storage_options or {})
    return split_row_groups(footer) if footer is not None else (None,)


def split_row_groups(metadata: pq.FileMetaData, piece_bytes: int | None = None) -> tuple[RowGroups | None, ...]:
    """Consecutive row groups, about `piece_bytes` (PIECE_BYTES) a piece, each piece holding rows;
    `(None,)` for a file that is one piece."""
    piece_bytes = PIECE_BYTES if piece_bytes is None else piece_bytes
    pieces: list[list[int]] = []  # [start, stop, rows_before, rows]
    size = rows = 0
    for group in range(metadata.num_row_groups):
        if not pieces or (size >= piece_bytes and pieces[-1][3] > 0):
            pieces.append([group, group, rows, 0])
            size = 0
        info = metadata.row_group(group)
        pieces[-1][1], pieces[-1][3] = group + 1, pieces[-1][3] + info.num_rows
        size, rows = size + info.total_byte_size, rows + info.num_rows
    if len(pieces) > 1 and pieces[-1][3] == 0:  # trailing empty row groups join the piece before
        tail = pieces.pop()
        pieces[-1][1] = tail[1]
    if len(pieces) <= 1:
        return (None,)
    return tuple(RowGroups(start, stop, before, last=i == len(pieces) - 1)
                 for i, (start, stop, before, _) in enumerate(pieces))


def _footer(url: str, options: dict) -> pq.FileMetaData | None:
    def read() -> pq.FileMetaData | None:
        with open_url(url, "rb", options) as f:
            try:
                return pq.read_metadata(f)
            except _PARQUET_ERRORS as err:
                _damage(err)
                return None
    return retrying(read, f"reading the footer of {url}")


def _damage(err: Exception) -> None:
    """Re-raise an error that says the store did not answer: only damage becomes a reject."""
    if is_transient(err):
        raise err


def iter_parquet(f: IO[bytes], source: str, config: ReaderConfig, share: ReadShare | None = None,
                 piece: RowGroups | None = None) -> Iterator[Item]:
    """One item per row of a Parquet file (a seekable binary file), or of one piece of it.

    A file whose footer cannot be read is one `unreadable` reject at position 0; a row group
    that cannot be decoded is one `corrupt_row_group` reject at the first row it did not give,
    whose detail says how many rows were skipped, and reading resumes at the next row group.
    An empty (0-byte) file yields nothing (the caller makes it an `empty_file` reject). `share`,
    if given, follows the rows read, as a share of the piece's part of the file's bytes.
    """
    if f.seek(0, 2) == 0:
        return
    f.seek(0)
    try:
        # pre_buffer (pyarrow's default) would read a row group's column chunks whole
        parquet = pq.ParquetFile(f, buffer_size=STREAM_BUFFER, pre_buffer=False)
        metadata = parquet.metadata
    except _PARQUET_ERRORS as err:
        _damage(err)
        yield Reject(source=source, position=0, reason="unreadable", detail=error_detail(err))
        return
    columns = needed_columns(parquet.schema_arrow.names, source, config)
    groups = range(metadata.num_row_groups) if piece is None else range(piece.start, piece.stop)
    before = 0 if piece is None else piece.rows_before  # rows of the row groups before this one
    if share is not None:
        share.piece(before, sum(metadata.row_group(g).num_rows for g in groups), metadata.num_rows)
    for group in groups:
        rows = metadata.row_group(group).num_rows
        done = 0
        try:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns,
                                              use_threads=False):
                if share is not None:  # the rows decoded
                    share.rows += batch.num_rows
                yield from _batch_items(batch, source, before + done + 1, config)
                done += batch.num_rows
        except _PARQUET_ERRORS as err:
            _damage(err)
            detail = f"skipped {rows - done} of the {rows} rows of row group {group}; {error_detail(err)}"
            yield Reject(source=source, position=before + done + 1, reason="corrupt_row_group",
                         detail=detail[:DETAIL_CHARS])
        before += rows


def _batch_items(batch: pa.RecordBatch, source: str, first: int, config: ReaderConfig) -> Iterator[Item]:
    def column(name: str) -> list:
        index = batch.schema.get_field_index(name)
        return batch.column(index).to_pylist() if index >= 0 else [None] * batch.num_rows

    texts, urls, ids, times = (column(c) for c in (config.text_field, config.url_field, config.id_field,
                                                   config.timestamp_field))
    for offset, (text, url, own_id, when) in enumerate(zip(texts, urls, ids, times)):
        yield _row_item(text, url, own_id, when, source, first + offset, config)


def _row_item(text, url, own_id, when, source: str, number: int, config: ReaderConfig) -> Item:
    def reject(reason: str, detail: str) -> Reject:
        return Reject(source=source, position=number, reason=reason, detail=detail)

    if isinstance(text, bytes):  # a BYTE_ARRAY column without the UTF8 annotation (older writers)
        truncated = len(text) > limits.MAX_TEXT_BYTES
        try:
            text = cut_utf8(text)
        except UnicodeDecodeError as err:
            return reject("invalid_utf8", error_detail(err))
    elif isinstance(text, str):
        cap = limits.MAX_TEXT_BYTES
        truncated = len(text) > cap // 4 and len(encoded := text.encode("utf-8")) > cap
        if truncated:
            text = cut_utf8(encoded)
    else:
        what = "null" if text is None else f"of Python type {type(text).__name__}, not a string"
        return reject("no_text", f"column {config.text_field!r} is {what}")
    if not text.strip():
        return reject("no_text", f"column {config.text_field!r} is empty")
    has_id = (isinstance(own_id, str) and own_id.strip()) or (isinstance(own_id, int) and not isinstance(own_id, bool))
    timestamp, bad_timestamp = parse_timestamp(when)
    return RawRecord(source=source, position=number, text=text, truncated=truncated,
                     key=str(own_id) if has_id else None,
                     url=url if isinstance(url, str) and url else None,
                     timestamp=timestamp, bad_timestamp=bad_timestamp)


__all__ = ["BATCH_ROWS", "PIECE_BYTES", "MissingColumnError", "ReadShare", "check_columns", "iter_parquet",
           "needed_columns", "parquet_pieces", "split_row_groups"]
