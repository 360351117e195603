"""JSONL files -> items: one per non-blank line, a JSON object with its text in --text-field (and its
URL, own id and time in --url-field, --id-field and --timestamp-field, where present)."""

from __future__ import annotations

import json
from typing import Iterable, Iterator

from pipelines.clean.readers import records as limits  # MAX_TEXT_BYTES read at call time (tests lower it)
from pipelines.clean.readers.records import (STREAM_ERRORS, Item, RawRecord, ReaderConfig, Reject, cut_utf8,
                                             damage_reject, error_detail, parse_timestamp)


def iter_jsonl(lines: Iterable[bytes], source: str, config: ReaderConfig, *, gz: bool = False) -> Iterator[Item]:
    """One item per non-blank line: a JSON object with a non-empty string at `text_field`."""
    number = 0
    try:
        for number, raw in enumerate(lines, 1):
            if raw.strip():
                yield _jsonl_item(raw, source, number, config)
    except STREAM_ERRORS as err:
        yield damage_reject(source, number + 1, gz, err)


def _jsonl_item(raw: bytes, source: str, number: int, config: ReaderConfig) -> Item:
    def reject(reason: str, detail: str) -> Reject:
        return Reject(source=source, position=number, reason=reason, detail=detail)

    try:
        line = raw.decode("utf-8-sig")  # a byte-order mark at the start of a file is not text
    except UnicodeDecodeError as err:
        return reject("invalid_utf8", error_detail(err))
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        return reject("invalid_json", error_detail(err))
    if not isinstance(obj, dict):
        return reject("invalid_json", f"expected a JSON object, got {type(obj).__name__}")
    text = obj.get(config.text_field)
    if not isinstance(text, str) or not text.strip():
        return reject("no_text", f"field {config.text_field!r} is missing, empty or not a string")
    url, lang, own_id = obj.get(config.url_field), obj.get("lang"), obj.get(config.id_field)
    for name, value in (("text", text), ("url", url), ("id", own_id)):
        if isinstance(value, str) and not _encodable(value):  # a lone surrogate escape (\ud800)
            return reject("invalid_utf8", f"field {name!r} holds a lone surrogate, not text")
    truncated = len(text) > limits.MAX_TEXT_BYTES // 4 and len(encoded := text.encode("utf-8")) > limits.MAX_TEXT_BYTES
    if truncated:
        text = cut_utf8(encoded)
    has_id = (isinstance(own_id, str) and own_id.strip()) or (isinstance(own_id, int) and not isinstance(own_id, bool))
    timestamp, bad_timestamp = parse_timestamp(obj.get(config.timestamp_field))
    return RawRecord(source=source, position=number, text=text, truncated=truncated,
                     key=str(own_id) if has_id else None,
                     url=url if isinstance(url, str) and url else None,
                     lang=lang.strip() if isinstance(lang, str) and lang.strip() else None,
                     timestamp=timestamp, bad_timestamp=bad_timestamp)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


__all__ = ["iter_jsonl"]
