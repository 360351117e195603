"""Exact deduplication of cleaned documents.

Documents with the same key (sha256 of the cleaned, NFC-normalized text) are one group; the
survivor is the document with the smallest `(url or "", id)` (plain string order), so the
result does not depend on the runner or the order records arrive in. Every other member of
the group becomes `Drop(reason="exact_duplicate")`. A combiner (not GroupByKey) keeps only
the survivor and a count per key, so a large group never has to fit in one worker's memory.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Iterator

import apache_beam as beam

from pipelines.readers import Drop

DUPLICATE = "exact_duplicate"


def dedup_key(row: dict) -> str:
    return hashlib.sha256(row["text"].encode("utf-8")).hexdigest()


def survivor_rank(row: dict) -> tuple[str, str]:
    """Smaller ranks survive: the document with the smallest URL, then the smallest id."""
    return (row["url"] or "", row["id"])


def _better(a: dict | None, b: dict | None) -> dict | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if survivor_rank(a) <= survivor_rank(b) else b


class KeepSurvivor(beam.CombineFn):
    """Accumulates (survivor so far, number of documents seen) for one dedup key."""

    def create_accumulator(self) -> tuple[dict | None, int]:
        return (None, 0)

    def add_input(self, acc: tuple[dict | None, int], row: dict) -> tuple[dict | None, int]:
        return (_better(acc[0], row), acc[1] + 1)

    def merge_accumulators(self, accs: Iterable[tuple[dict | None, int]]) -> tuple[dict | None, int]:
        best, total = None, 0
        for row, n in accs:
            best, total = _better(best, row), total + n
        return (best, total)

    def extract_output(self, acc: tuple[dict | None, int]) -> tuple[dict | None, int]:
        return acc


def survivor_and_drops(keyed: tuple[str, tuple[dict | None, int]]) -> Iterator[dict | Drop]:
    """The survivor row of one group, then one exact_duplicate Drop per other member."""
    _, (row, total) = keyed
    if row is None:
        return
    yield row
    for _ in range(total - 1):
        yield Drop(reason=DUPLICATE, source=None, position=None)


def dedup_rows(rows: Iterable[dict]) -> list[dict | Drop]:
    """The same as `ExactDedup`, in memory: survivors (in key order) and their drops."""
    groups: dict[str, tuple[dict | None, int]] = {}
    combine = KeepSurvivor()
    for row in rows:
        key = dedup_key(row)
        groups[key] = combine.add_input(groups.get(key, combine.create_accumulator()), row)
    return [out for key in sorted(groups) for out in survivor_and_drops((key, groups[key]))]


def _with_key(row: dict) -> tuple[str, dict]:
    return (dedup_key(row), row)


class ExactDedup(beam.PTransform):
    """rows -> surviving rows and exact_duplicate Drops (one output item per input row)."""

    def expand(self, rows):
        return (rows
                | "KeyByText" >> beam.Map(_with_key)
                | "KeepSurvivor" >> beam.CombinePerKey(KeepSurvivor())
                | "SurvivorAndDrops" >> beam.FlatMap(survivor_and_drops))
