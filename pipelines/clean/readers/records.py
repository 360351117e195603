"""What the readers yield, and what every format's reader shares.

`RawRecord` (a record to clean), `Drop` (a record the job does not want, with a reason) and
`Reject` (a record or a damaged stretch of a file that cannot be parsed); the reader options;
document ids; the size cap of a plain-text document and the decoding that cuts there; a reject's
readable detail. Pure Python, no Beam.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import zlib
from dataclasses import dataclass
from typing import NamedTuple, Union

from pipelines.clean.extract import MAX_HTML_BYTES

# The size cap of a plain-text document (JSONL, text and WET), the same as HTML's
# (extract.MAX_HTML_BYTES, Common Crawl's payload cap): longer texts are cut there and counted
# as `text/truncated`.
MAX_TEXT_BYTES = MAX_HTML_BYTES
DETAIL_CHARS = 200  # the longest detail of a reject

# What a damaged compressed stream raises while JSONL or text lines are read from it.
STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


@dataclass(frozen=True, kw_only=True)
class RawRecord:
    """One input record to clean: plain `text`, or an `html` payload to extract text from."""

    source: str  # the input file's name relative to its --input (InputFile.name)
    position: int  # byte offset of the WARC record, 1-based line number in JSONL / text, or row number in Parquet
    key: str | None = None  # what the id hashes: WARC-Record-ID, JSONL or Parquet id; None: source and position
    url: str | None = None
    timestamp: int | None = None  # seconds since the epoch, UTC
    text: str | None = None
    html: bytes | None = None
    charset: str | None = None  # from the HTTP Content-Type header
    lang: str | None = None
    truncated: bool = False  # `text` was cut at MAX_TEXT_BYTES (HTML is cut at extraction)
    bad_timestamp: bool = False  # the --timestamp-field value was not a time (timestamp left null)

    @property
    def id(self) -> str:
        return doc_id(self.key if self.key is not None else position_key(self.source, self.position))


@dataclass(frozen=True, kw_only=True)
class Drop:
    """A record the job does not keep, for a reason (counted as `dropped/<reason>`)."""

    reason: str
    source: str | None = None
    position: int | None = None
    # {id, url, source, text} of a dropped document kept for `--write-dropped` (dropped_document)
    document: dict | None = None


def dropped_document(row: dict, fraction: float) -> dict | None:
    """What `--write-dropped FRACTION` keeps of a dropped document (`row` holds id, url, source,
    text), or None: off (0), or not in the sample, chosen by id so every run keeps the same ones."""
    if fraction <= 0 or int(row["id"], 16) >= fraction * 16 ** len(row["id"]):
        return None
    return {"id": row["id"], "url": row.get("url"), "source": row.get("source"), "text": row["text"]}


@dataclass(frozen=True, kw_only=True)
class Reject:
    """A record (or a damaged stretch of a file) that cannot be parsed (`rejected/<reason>`)."""

    source: str
    position: int
    reason: str
    detail: str = ""

    def to_json(self) -> dict:
        return {"source": self.source, "position": self.position, "reason": self.reason,
                "detail": self.detail}


Item = Union[RawRecord, Drop, Reject]


@dataclass(frozen=True, kw_only=True)
class ReaderConfig:
    format: str = "auto"
    text_field: str = "text"
    url_field: str = "url"
    id_field: str = "id"  # a JSONL or Parquet record's own id (a string or an integer), the key of its document id
    timestamp_field: str = "timestamp"  # a JSONL or Parquet record's time (C4's name; FineWeb's is `date`)


# Seconds since the epoch that a timestamp[s] column and datetime hold: years 1 to 9999.
_EPOCH_RANGE = (-62135596800, 253402300799)


def parse_timestamp(value: object) -> tuple[int | None, bool]:
    """(seconds since the epoch, UTC; whether `value` was there but not a time) of a JSONL field or
    Parquet cell: None (absent: no time, not bad); an ISO 8601 string (`Z`, an offset, or none:
    UTC; a date alone is its midnight); epoch seconds as a number; a datetime or date (Parquet's
    timestamp and date columns). Anything else (another string, a bool, a number out of range)
    is bad: the time stays null and the record is kept."""
    if value is None:
        return None, False
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None, True
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or not _EPOCH_RANGE[0] <= value <= _EPOCH_RANGE[1]:  # a bool, another type, NaN, out of range
        return None, True
    return int(value), False


class InputFile(NamedTuple):
    """One input file: where it is, its size, and its name relative to the --input that found it
    (a folder's or a glob's fixed part; a single file's base name). The name, never the URL, goes
    into documents and their ids, so the same corpus read from any place gives the same output."""

    url: str
    size: int
    name: str


class RowGroups(NamedTuple):
    """A piece of a Parquet file, read as its own unit of work: row groups `start` to `stop` (not
    included), after `rows_before` rows of the file (rows keep their numbers in the whole file)."""

    start: int
    stop: int
    rows_before: int
    last: bool  # the file's last piece: reading it counts the file as read on the progress line


def doc_id(key: str) -> str:
    """Stable document id: 16 hex digits of sha256 of the record's key (`RawRecord.key`, else
    `position_key`): nothing of where the input sits goes into it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def position_key(name: str, position: int) -> str:
    """The key of a record without its own id: its file's name and its position there."""
    return f"{name}\n{position}"

def cut_utf8(data: bytes, max_bytes: int | None = None) -> str:
    """`data` decoded as UTF-8, cut to at most `max_bytes` at a character boundary (a character
    split by the cut is left out); UnicodeDecodeError for invalid UTF-8 before the cut."""
    max_bytes = MAX_TEXT_BYTES if max_bytes is None else max_bytes
    if len(data) <= max_bytes:
        return data.decode("utf-8")
    end = max_bytes
    while end > 0 and data[end] & 0xC0 == 0x80:  # the cut falls inside a character
        end -= 1
    return data[:end].decode("utf-8")


def damage_reject(source: str, position: int, gz: bool, err: Exception) -> Reject:
    reason = "truncated_gzip" if gz and isinstance(err, EOFError) else "unreadable"
    return Reject(source=source, position=position, reason=reason, detail=error_detail(err))


def _readable(text: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in text)


def error_detail(err: Exception) -> str:
    """A reject's detail: the error as readable text, never the raw bytes some messages quote."""
    message = str(err)
    if "Unknown archive format" in message:  # warcio quotes the undecodable first line
        message = "not a gzip member or a WARC/ARC record header"
    text = f"{type(err).__name__}: {message}"
    return _readable(text)[:DETAIL_CHARS]


__all__ = ["DETAIL_CHARS", "MAX_TEXT_BYTES", "STREAM_ERRORS", "Drop", "InputFile", "Item", "RawRecord", "ReaderConfig",
           "Reject", "RowGroups", "cut_utf8", "damage_reject", "doc_id", "dropped_document", "error_detail",
           "position_key"]
