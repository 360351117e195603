"""C4-style removal of lines repeated across the corpus.

TFDS's C4 builder (`tensorflow_datasets/text/c4_utils.py`: `_emit_url_to_lines`,
`_emit_line_to_urls`, `_remove_lines_from_text`) hashes every line after `strip().lower()`,
keeps each repeated line in one page and removes it from every other page. This module does the
same with a deterministic keeper, the document with the smallest id, and two deliberate
differences:

- Only lines of at least `min_words` words take part (default 5). C4 ran this step after its
  line filter, which had already dropped every line with fewer than 5 words (Raffel et al.
  2020, section 2.2), so C4 only ever deduplicated lines of 5 words or more; keeping that bound
  here means short lines ("Thank you.", list items, headings) are not stripped from all but one
  document when a looser filter preset kept them.
- Repeats inside one document are left alone (the Gopher repetition filters judge those); a
  line seen in several documents is removed everywhere but in the keeper, all its copies.

Counts: removed lines go to `lines/corpus_repeated`; a document left without text becomes
`Drop(reason="repeated_lines_only")`. The row's signals are recomputed with the definitions
of `pipelines.clean.filters` (num_chars, num_words, num_lines, mean_word_length) and
`num_lines_removed` grows by the lines removed. Other quality signals are not recomputed.

Memory: (line hash, document id) pairs are grouped by line hash and each group is read in two
passes (its smallest id and size first, then the other ids), never materialized, so a
boilerplate line in millions of pages streams; the removals are joined back to the documents
by id, a group holding one document and at most its own lines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Iterator

import apache_beam as beam

from pipelines.clean.dedup import count_metric
from pipelines.clean.filters import Count, document_signals, no_count, split_words
from pipelines.clean.readers import Drop, dropped_document

REPEATED_LINES_ONLY = "repeated_lines_only"
LINES_COUNTER = "lines/corpus_repeated"


@dataclass(frozen=True, kw_only=True)
class LineDedupConfig:
    # C4's minimum words per line (Raffel et al. 2020, section 2.2: "We only retained lines that
    # contained at least 5 words"): the only lines C4's cross-page line dedup ever compared.
    min_words: int = 5

    def __post_init__(self) -> None:
        if self.min_words < 1:
            raise ValueError(f"LineDedupConfig.min_words must be at least 1, got {self.min_words}")


def line_key(line: str) -> bytes:
    """The dedup key of a line: 8 bytes of blake2b of the stripped, lowercased line."""
    return hashlib.blake2b(line.strip().lower().encode("utf-8"), digest_size=8).digest()


def row_line_keys(row: dict, config: LineDedupConfig) -> Iterator[tuple[bytes, str]]:
    """(line key, document id) once per distinct line of at least `min_words` words."""
    seen: set[bytes] = set()
    for line in (row["text"] or "").split("\n"):
        if len(split_words(line)) >= config.min_words:
            key = line_key(line)
            if key not in seen:
                seen.add(key)
                yield (key, row["id"])


def removals(group: tuple[bytes, Iterable[str]]) -> Iterator[tuple[str, bytes]]:
    """(document id, line key) for every document but the smallest id holding a repeated line."""
    key, ids = group
    keeper = min(ids)
    for doc in ids:
        if doc != keeper:
            yield (doc, key)


def remove_lines(row: dict, keys: Iterable[bytes], count: Count = no_count,
                 dropped_fraction: float = 0.0) -> dict | Drop:
    """The row without the lines whose key is in `keys`, or a Drop when no text is left."""
    keys = set(keys)
    if not keys:
        return row
    kept = [line for line in row["text"].split("\n") if line_key(line) not in keys]
    removed = row["text"].count("\n") + 1 - len(kept)
    count(LINES_COUNTER, removed)
    text = "\n".join(kept)
    if not text.strip():
        return Drop(reason=REPEATED_LINES_ONLY, document=dropped_document(row, dropped_fraction))
    return {**row, "text": text, **document_signals(text),
            "num_lines_removed": row.get("num_lines_removed", 0) + removed}


def line_dedup_rows(rows: Iterable[dict], config: LineDedupConfig = LineDedupConfig(),
                    count: Count = no_count) -> list[dict | Drop]:
    """The same as `LineDedup`, in memory, in the order of `rows`."""
    rows = list(rows)
    groups: dict[bytes, list[str]] = {}
    for row in rows:
        for key, doc in row_line_keys(row, config):
            groups.setdefault(key, []).append(doc)
    to_remove: dict[str, list[bytes]] = {}
    for group in groups.items():
        for doc, key in removals(group):
            to_remove.setdefault(doc, []).append(key)
    return [remove_lines(row, to_remove.get(row["id"], ()), count) for row in rows]


def apply_removals(group: tuple[str, dict], dropped_fraction: float = 0.0) -> Iterator[dict | Drop]:
    _, joined = group
    for row in joined["row"]:
        yield remove_lines(row, joined["remove"], count_metric, dropped_fraction)


class LineDedup(beam.PTransform):
    """rows -> rows without lines repeated in other documents, and repeated_lines_only Drops."""

    def __init__(self, config: LineDedupConfig = LineDedupConfig(), dropped_fraction: float = 0.0):
        super().__init__()
        self._config = config
        self._dropped_fraction = dropped_fraction  # --write-dropped

    def expand(self, rows):
        to_remove = (rows
                     | "LineKeys" >> beam.FlatMap(row_line_keys, self._config)
                     | "GroupLines" >> beam.GroupByKey()
                     | "Removals" >> beam.FlatMap(removals))
        keyed = rows | "KeyById" >> beam.Map(lambda row: (row["id"], row))
        return ({"row": keyed, "remove": to_remove}
                | "JoinRows" >> beam.CoGroupByKey()
                | "RemoveLines" >> beam.FlatMap(apply_removals, self._dropped_fraction))
