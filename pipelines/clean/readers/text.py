"""Plain-text files -> items: one per block of non-blank lines (BERT's corpus format)."""

from __future__ import annotations

from typing import Iterable, Iterator

from pipelines.clean.readers import records as limits  # MAX_TEXT_BYTES read at call time (tests lower it)
from pipelines.clean.readers.records import STREAM_ERRORS, Item, RawRecord, Reject, cut_utf8, damage_reject, error_detail


def iter_text(lines: Iterable[bytes], source: str, *, gz: bool = False) -> Iterator[Item]:
    """One item per block of non-blank lines; blank lines separate documents (BERT's corpus format)."""
    block: list[bytes] = []
    start = number = size = 0
    try:
        for number, raw in enumerate(lines, 1):
            if raw.strip():
                if not block:
                    start, size = number, 0
                if size <= limits.MAX_TEXT_BYTES:  # lines past the cap are read but not held
                    block.append(raw)
                size += len(raw)
            elif block:
                yield _text_item(block, source, start)
                block = []
    except STREAM_ERRORS as err:
        yield damage_reject(source, start if block else number + 1, gz, err)
        return
    if block:
        yield _text_item(block, source, start)


def _text_item(block: list[bytes], source: str, start: int) -> Item:
    data = b"".join(block)
    try:
        text = cut_utf8(data)
    except UnicodeDecodeError as err:
        return Reject(source=source, position=start, reason="invalid_utf8", detail=error_detail(err))
    return RawRecord(source=source, position=start, text=text, truncated=len(data) > limits.MAX_TEXT_BYTES)


__all__ = ["iter_text"]
