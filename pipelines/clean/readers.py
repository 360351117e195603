"""Input formats -> records: WARC (and ARC), WET, JSONL and plain text, from any fsspec URL.

Every input record becomes exactly one item: a `RawRecord` to clean, a `Drop` (a record the
job does not want, e.g. a WARC `request`), or a `Reject` (a record that cannot be parsed, or
the damaged tail of a file). A file that yields nothing becomes one `empty_file` reject, so
every input file is accounted for in the manifest's stats. Pure Python, no Beam.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import IO, Iterable, Iterator, NamedTuple, Union

import fsspec
from fsspec.compression import compr
from fsspec.utils import infer_compression
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from pipelines import progress
from pipelines.clean.extract import HTML_TYPES, MAX_HTML_BYTES, charset_of, is_html, mime_type
from shards.storage import check_url, open_url, retrying

FORMATS = ("auto", "warc", "wet", "jsonl", "text")

# Longest suffix first: `.warc.wet.gz` is WET, not WARC. ARC files are read by warcio too.
_SUFFIXES = (
    (".warc.wet.gz", "wet"), (".wet.gz", "wet"), (".wet", "wet"),
    (".warc.gz", "warc"), (".warc", "warc"), (".arc.gz", "warc"), (".arc", "warc"),
    (".jsonl.gz", "jsonl"), (".jsonl", "jsonl"), (".json.gz", "jsonl"), (".ndjson", "jsonl"),
    (".txt.gz", "text"), (".txt", "text"),
)
_GLOB_CHARS = "*?["
_HEAD_BYTES = 4096
# The size cap of a plain-text document (JSONL, text and WET), the same as HTML's
# (extract.MAX_HTML_BYTES, Common Crawl's payload cap): longer texts are cut there and counted
# as `text/truncated`.
MAX_TEXT_BYTES = MAX_HTML_BYTES
_SCAN_BYTES = 1 << 20  # how much of a file is searched at a time for the next gzip member
_GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip id bytes and the deflate method
_DETAIL_CHARS = 200

# What a damaged archive or compressed stream raises. warcio raises AttributeError and
# IndexError from its header parser on a record cut mid-header, so they are listed too.
_ARCHIVE_ERRORS = (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, zlib.error,
                   gzip.BadGzipFile, ValueError, AttributeError, IndexError, KeyError)
_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


class DamagedRecordError(ValueError):
    """A record header that only damaged bytes could give: the reader resumes after it."""


@dataclass(frozen=True, kw_only=True)
class RawRecord:
    """One input record to clean: plain `text`, or an `html` payload to extract text from."""

    source: str  # the input file's name relative to its --input (InputFile.name)
    position: int  # byte offset of the WARC record, or 1-based line number in JSONL / text
    key: str | None = None  # what the id hashes: WARC-Record-ID or JSONL id; None: source and position
    url: str | None = None
    timestamp: int | None = None  # seconds since the epoch, UTC
    text: str | None = None
    html: bytes | None = None
    charset: str | None = None  # from the HTTP Content-Type header
    lang: str | None = None
    truncated: bool = False  # `text` was cut at MAX_TEXT_BYTES (HTML is cut at extraction)

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
    id_field: str = "id"  # a JSONL record's own id (a string or an integer), the key of its document id


class InputFile(NamedTuple):
    """One input file: where it is, its size, and its name relative to the --input that found it
    (a folder's or a glob's fixed part; a single file's base name). The name, never the URL, goes
    into documents and their ids, so the same corpus read from any place gives the same output."""

    url: str
    size: int
    name: str


def doc_id(key: str) -> str:
    """Stable document id: 16 hex digits of sha256 of the record's key (`RawRecord.key`, else
    `position_key`): nothing of where the input sits goes into it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def position_key(name: str, position: int) -> str:
    """The key of a record without its own id: its file's name and its position there."""
    return f"{name}\n{position}"


def detect_format(url: str) -> str:
    """The input format of a file from its name; ValueError naming the file and --format."""
    name = url.split("?", 1)[0].lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    known = ", ".join(s for s, _ in _SUFFIXES)
    raise ValueError(f"cannot tell the format of {url} from its name (known: {known}); "
                     f"pass --format warc|wet|jsonl|text")


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


def read_input(file: InputFile | tuple, config: ReaderConfig, storage_options: dict | None = None) -> Iterator[Item]:
    """`read_source` of an InputFile (what the clean job's `Read` step maps over)."""
    url, _, name = file
    return read_source(url, config, storage_options, name=name)


def read_source(url: str, config: ReaderConfig, storage_options: dict | None = None, *,
                name: str | None = None) -> Iterator[Item]:
    """Every item of one input file; a file that yields none gives one `empty_file` reject.

    Items name the file by `name` (default: the URL's base name), never by its URL.
    """
    fmt = resolve_format(url, config.format)
    options = storage_options or {}
    source = name if name is not None else url.rstrip("/").rsplit("/", 1)[-1]
    count = 0
    compression = None if fmt in ("warc", "wet") else infer_compression(url)
    with open_url(url, "rb", options) as raw, (compr[compression](raw, mode="rb") if compression else raw) as f:
        if fmt in ("warc", "wet"):
            items = iter_warc(f, source, wet=fmt == "wet")
        elif fmt == "jsonl":
            items = iter_jsonl(f, source, config, gz=compression == "gzip")
        else:
            items = iter_text(f, source, gz=compression == "gzip")
        for item in progress.reading(items, raw):  # bytes of raw read so far, for the progress line
            count += 1
            yield item
    if count == 0:
        yield Reject(source=source, position=0, reason="empty_file", detail="the file holds no records")


# --- WARC / ARC / WET ---------------------------------------------------------------------

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
                         detail=_detail(err))
            return
        yield Reject(source=source, position=position, reason="corrupt_gzip",
                     detail=f"skipped {resume - position} bytes to the next intact gzip member at byte "
                            f"{resume}; {_detail(err)}"[:_DETAIL_CHARS])
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
            item = Reject(source=source, position=offset, reason="unreadable_record", detail=_detail(err))
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
    payload = record.content_stream().read(MAX_TEXT_BYTES + 1)
    truncated = len(payload) > MAX_TEXT_BYTES
    try:
        text = cut_utf8(payload)
    except UnicodeDecodeError as err:
        return Reject(source=source, position=offset, reason="invalid_utf8", detail=_detail(err))
    return RawRecord(source=source, position=offset, text=text, truncated=truncated, **meta)


def parse_warc_date(value: str | None) -> int | None:
    """Seconds since the epoch of a WARC-Date (ISO 8601, `Z` or offset), None if absent or bad."""
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp())


def _slug(value: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in value.strip().lower())[:40]


# --- JSONL and text ------------------------------------------------------------------------

def iter_jsonl(lines: Iterable[bytes], source: str, config: ReaderConfig, *, gz: bool = False) -> Iterator[Item]:
    """One item per non-blank line: a JSON object with a non-empty string at `text_field`."""
    number = 0
    try:
        for number, raw in enumerate(lines, 1):
            if raw.strip():
                yield _jsonl_item(raw, source, number, config)
    except _STREAM_ERRORS as err:
        yield _damage(source, number + 1, gz, err)


def _jsonl_item(raw: bytes, source: str, number: int, config: ReaderConfig) -> Item:
    def reject(reason: str, detail: str) -> Reject:
        return Reject(source=source, position=number, reason=reason, detail=detail)

    try:
        line = raw.decode("utf-8-sig")  # a byte-order mark at the start of a file is not text
    except UnicodeDecodeError as err:
        return reject("invalid_utf8", _detail(err))
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        return reject("invalid_json", _detail(err))
    if not isinstance(obj, dict):
        return reject("invalid_json", f"expected a JSON object, got {type(obj).__name__}")
    text = obj.get(config.text_field)
    if not isinstance(text, str) or not text.strip():
        return reject("no_text", f"field {config.text_field!r} is missing, empty or not a string")
    url, lang, own_id = obj.get(config.url_field), obj.get("lang"), obj.get(config.id_field)
    for name, value in (("text", text), ("url", url), ("id", own_id)):
        if isinstance(value, str) and not _encodable(value):  # a lone surrogate escape (\ud800)
            return reject("invalid_utf8", f"field {name!r} holds a lone surrogate, not text")
    truncated = len(text) > MAX_TEXT_BYTES // 4 and len(encoded := text.encode("utf-8")) > MAX_TEXT_BYTES
    if truncated:
        text = cut_utf8(encoded)
    has_id = (isinstance(own_id, str) and own_id.strip()) or (isinstance(own_id, int) and not isinstance(own_id, bool))
    return RawRecord(source=source, position=number, text=text, truncated=truncated,
                     key=str(own_id) if has_id else None,
                     url=url if isinstance(url, str) and url else None,
                     lang=lang.strip() if isinstance(lang, str) and lang.strip() else None)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def iter_text(lines: Iterable[bytes], source: str, *, gz: bool = False) -> Iterator[Item]:
    """One item per block of non-blank lines; blank lines separate documents (BERT's corpus format)."""
    block: list[bytes] = []
    start = number = size = 0
    try:
        for number, raw in enumerate(lines, 1):
            if raw.strip():
                if not block:
                    start, size = number, 0
                if size <= MAX_TEXT_BYTES:  # lines past the cap are read but not held
                    block.append(raw)
                size += len(raw)
            elif block:
                yield _text_item(block, source, start)
                block = []
    except _STREAM_ERRORS as err:
        yield _damage(source, start if block else number + 1, gz, err)
        return
    if block:
        yield _text_item(block, source, start)


def _text_item(block: list[bytes], source: str, start: int) -> Item:
    data = b"".join(block)
    try:
        text = cut_utf8(data)
    except UnicodeDecodeError as err:
        return Reject(source=source, position=start, reason="invalid_utf8", detail=_detail(err))
    return RawRecord(source=source, position=start, text=text, truncated=len(data) > MAX_TEXT_BYTES)


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


def _damage(source: str, position: int, gz: bool, err: Exception) -> Reject:
    reason = "truncated_gzip" if gz and isinstance(err, EOFError) else "unreadable"
    return Reject(source=source, position=position, reason=reason, detail=_detail(err))


def _readable(text: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in text)


def _detail(err: Exception) -> str:
    """A reject's detail: the error as readable text, never the raw bytes some messages quote."""
    message = str(err)
    if "Unknown archive format" in message:  # warcio quotes the undecodable first line
        message = "not a gzip member or a WARC/ARC record header"
    text = f"{type(err).__name__}: {message}"
    return _readable(text)[:_DETAIL_CHARS]
