"""WARC, ARC and WET files -> items: gzip per record or uncompressed, a damaged member skipped.

WARC keeps `response` records with HTTP 200 and an HTML payload (a `RawRecord` with `html`); WET
keeps `conversion` records (with `text`); other records are drops (`warc_type_*`), damage is a
reject. ARC files are read by warcio too.
"""

from __future__ import annotations

import gzip
import zlib
from typing import IO, Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from pipelines.clean.extract import HTML_TYPES, charset_of, is_html, mime_type
from pipelines.clean.readers import records as limits  # MAX_TEXT_BYTES read at call time (tests lower it)
from pipelines.clean.readers.records import (DETAIL_CHARS, Drop, Item, RawRecord, Reject, cut_utf8, error_detail,
                                             parse_timestamp)

_HEAD_BYTES = 4096
_SCAN_BYTES = 1 << 20  # how much of a file is searched at a time for the next gzip member
_GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip id bytes and the deflate method

# What a damaged archive or compressed stream raises. warcio raises AttributeError and
# IndexError from its header parser on a record cut mid-header, so they are listed too.
_ARCHIVE_ERRORS = (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, zlib.error,
                   gzip.BadGzipFile, ValueError, AttributeError, IndexError, KeyError)


class DamagedRecordError(ValueError):
    """A record header that only damaged bytes could give: the reader resumes after it."""


def iter_warc(f: IO[bytes], source: str, *, wet: bool) -> Iterator[Item]:
    """Items of a WARC, ARC or WET file (gzip per record, or uncompressed).

    WARC keeps `response` records with HTTP 200 and an HTML payload; WET keeps `conversion`
    records. In a file compressed record by record, a damaged gzip member is one `corrupt_gzip`
    reject saying how many bytes were skipped, and reading resumes at the next intact member;
    a damaged tail (truncated gzip, garbage) ends the file with one reject.
    """
    head = f.read(_HEAD_BYTES)
    f.seek(0)
    if not head:
        return
    gz = head[:2] == b"\x1f\x8b"
    problem = _archive_head_problem(head, gz)
    if problem:
        yield Reject(source=source, position=0, reason="unreadable", detail=problem)
        return
    arc = _decompressed(head, gz).lstrip().startswith(b"filedesc://")
    start, last = 0, -1
    while True:
        damage = yield from _archive_run(f, start, last, source, wet=wet, gz=gz, arc=arc)
        if damage is None:
            return
        position, last, err = damage
        if gz and start == 0 and "non-chunked gzip" in str(err):
            # The whole file is one gzip stream (gzip -c of a WARC): read it decompressed, with
            # positions as offsets in the uncompressed stream.
            f.seek(0)
            yield from iter_warc(gzip.GzipFile(fileobj=f), source, wet=wet)
            return
        resume = _next_member(f, position + 1, arc) if gz else None
        if resume is None:
            yield Reject(source=source, position=position, reason="truncated_gzip" if gz else "unreadable",
                         detail=error_detail(err))
            return
        yield Reject(source=source, position=position, reason="corrupt_gzip",
                     detail=f"skipped {resume - position} bytes to the next intact gzip member at byte "
                            f"{resume}; {error_detail(err)}"[:DETAIL_CHARS])
        start = resume


def _archive_run(f: IO[bytes], start: int, last: int, source: str, *, wet: bool, gz: bool, arc: bool):
    """Yield the items of the records from byte `start` on; returns None at a clean end, or
    (position of the damage, last record offset, error) when reading breaks."""
    f.seek(start)
    records = ArchiveIterator(f, arc2warc=True)
    item: Item | None = None
    held: Item | None = None  # the first item waits until a second record proves gzip per record
    try:
        for record in records:
            # Several records in one gzip member get warcio offsets that do not increase (even
            # negative ones): number them after the last one, so every record keeps its own id.
            last = records.offset if records.offset > last else last + 1
            try:
                item = _warc_item(record, last, source, wet=wet, gz=gz, own_ids=not arc)
            except DamagedRecordError as err:  # the damage starts at this record
                if held is not None:
                    yield held
                return last, last, err
            if held is not None:
                yield held
            held = item
    except _ARCHIVE_ERRORS as err:
        if not (gz and start == 0 and "non-chunked gzip" in str(err)) and held is not None:
            yield held
        return max(records.offset, last + 1), last, err
    if held is not None:
        yield held
    # warcio stops quietly at a record cut inside its header: bytes left over are damage.
    left = _file_size(f) - records.offset
    if left > 0 and not (isinstance(item, Reject) and item.position == records.offset):
        yield Reject(source=source, position=records.offset, reason="truncated_gzip" if gz else "unreadable",
                     detail=f"{left} bytes after the last complete record cannot be read")
    return None


def _next_member(f: IO[bytes], begin: int, arc: bool) -> int | None:
    """Offset of the first intact gzip member at or after `begin` that holds a record, or None."""
    f.seek(begin)
    offset, tail = begin, b""
    while True:
        block = f.read(_SCAN_BYTES)
        if not block:
            return None
        data = tail + block
        base = offset - len(tail)
        at = data.find(_GZIP_MAGIC)
        while at >= 0:
            if _member_holds_record(f, base + at, arc):
                return base + at
            at = data.find(_GZIP_MAGIC, at + 1)
        offset += len(block)
        tail = data[-(len(_GZIP_MAGIC) - 1):]
        f.seek(offset)


def _member_holds_record(f: IO[bytes], at: int, arc: bool) -> bool:
    f.seek(at)
    try:
        head = zlib.decompressobj(wbits=31).decompress(f.read(_HEAD_BYTES))
    except zlib.error:
        return False
    head = head.lstrip()
    return bool(head) if arc else head.startswith(b"WARC/")


def _file_size(f: IO[bytes]) -> int:
    f.seek(0, 2)
    return f.tell()


def _decompressed(head: bytes, gz: bool) -> bytes:
    return zlib.decompressobj(wbits=31).decompress(head) if gz else head


def _archive_head_problem(head: bytes, gz: bool) -> str | None:
    """Why the first bytes are not a WARC or ARC file, or None when they look like one."""
    try:
        head = _decompressed(head, gz)
    except zlib.error as err:
        return f"gzip header is damaged: {err}"
    start = head.lstrip()[:16]
    if start.startswith((b"WARC/", b"filedesc://")):
        return None
    return f"not a WARC or ARC file (starts with {start!r})"


def _warc_item(record, offset: int, source: str, *, wet: bool, gz: bool, own_ids: bool = True) -> Item:
    length = (record.rec_headers.get_header("Content-Length") or "").strip()
    if not length.isdigit():  # a header decoded from a damaged gzip member: nothing after it can be trusted
        raise DamagedRecordError("record header has no valid Content-Length")
    wanted = "conversion" if wet else "response"
    rec_type = record.rec_type
    item: Item
    if rec_type != wanted:  # a record without WARC-Type counts as warc_type_missing
        item = Drop(reason=f"warc_type_{_slug(rec_type or 'missing')}", source=source, position=offset)
    else:
        try:
            meta = _record_meta(record, own_ids)
            item = _wet_item(record, offset, source, meta) if wet else _response_item(record, offset, source, meta)
        except _ARCHIVE_ERRORS as err:  # a damaged payload (bad chunking or Content-Encoding)
            item = Reject(source=source, position=offset, reason="unreadable_record", detail=error_detail(err))
    while record.raw_stream.read(1 << 16):
        pass
    if getattr(record.raw_stream, "limit", 0) > 0:
        reason = "truncated_gzip" if gz else "truncated_record"
        return Reject(source=source, position=offset, reason=reason,
                      detail=f"record ends {record.raw_stream.limit} bytes before its Content-Length")
    return item


def _record_meta(record, own_ids: bool) -> dict:
    """url, timestamp and the id key of a record: its WARC-Record-ID, unless the file is an ARC
    (whose records warcio gives random ids) or the header is missing."""
    headers = record.rec_headers
    record_id = (headers.get_header("WARC-Record-ID") or "").strip() if own_ids else ""
    return {"url": headers.get_header("WARC-Target-URI"),
            "timestamp": parse_warc_date(headers.get_header("WARC-Date")), "key": record_id or None}


def _response_item(record, offset: int, source: str, meta: dict) -> Item:
    http = record.http_headers
    if http is None:
        return Drop(reason="not_html", source=source, position=offset)
    status = http.get_statuscode() or ""
    if not (len(status) == 3 and status.isdigit()):  # not an HTTP response: a parse failure
        return Reject(source=source, position=offset, reason="bad_http_status",
                      detail=f"HTTP status line gives status {status[:40]!r}")
    if status != "200":
        return Drop(reason=f"http_status_{status}", source=source, position=offset)
    content_type = http.get_header("Content-Type")
    if mime_type(content_type) not in (None, *HTML_TYPES):  # decided by the header, payload unread
        return Drop(reason="not_html", source=source, position=offset)
    payload = record.content_stream().read()
    if not is_html(content_type, payload):
        return Drop(reason="not_html", source=source, position=offset)
    return RawRecord(source=source, position=offset, html=payload, charset=charset_of(content_type), **meta)


def _wet_item(record, offset: int, source: str, meta: dict) -> Item:
    payload = record.content_stream().read(limits.MAX_TEXT_BYTES + 1)
    truncated = len(payload) > limits.MAX_TEXT_BYTES
    try:
        text = cut_utf8(payload)
    except UnicodeDecodeError as err:
        return Reject(source=source, position=offset, reason="invalid_utf8", detail=error_detail(err))
    return RawRecord(source=source, position=offset, text=text, truncated=truncated, **meta)


def parse_warc_date(value: str | None) -> int | None:
    """Seconds since the epoch of a WARC-Date (ISO 8601, `Z` or offset), None if absent or bad."""
    return parse_timestamp(value)[0] if value else None


def _slug(value: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in value.strip().lower())[:40]


__all__ = ["iter_warc", "parse_warc_date"]
