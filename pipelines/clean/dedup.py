"""Exact and per-URL deduplication of cleaned documents.

Documents with the same key (sha256 of the cleaned, NFC-normalized text) are one group; the
survivor is the document with the smallest `(url or "", id)` (plain string order), so the
result does not depend on the runner or the order records arrive in. Every other member of
the group becomes `Drop(reason="exact_duplicate")`. A combiner (not GroupByKey) keeps only
the survivor and a count per key, so a large group never has to fit in one worker's memory.

`UrlDedup` groups documents by normalized URL (`urlnorm.normalize_url`) the same way; its
survivor is the newest crawl (the largest timestamp; a missing timestamp is the oldest), then
the smallest id, and the others become `Drop(reason="url_duplicate")`. Documents without a URL
pass through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Callable, Iterable, Iterator

import apache_beam as beam

from pipelines.clean.readers import Drop
from pipelines.clean.urlnorm import normalize_url

# The Beam counters of `shardlm clean` and its dedup transforms share one namespace.
METRICS_NAMESPACE = "shardlm.clean"


def count_metric(name: str, n: int = 1) -> None:
    """Increment the Beam counter `name` (the `count(name, n)` the pure functions take)."""
    beam.metrics.Metrics.counter(METRICS_NAMESPACE, name).inc(n)

DUPLICATE = "exact_duplicate"
URL_DUPLICATE = "url_duplicate"


def dedup_key(row: dict) -> str:
    return hashlib.sha256(row["text"].encode("utf-8")).hexdigest()


def survivor_rank(row: dict) -> tuple[str, str]:
    """Smaller ranks survive: the document with the smallest URL, then the smallest id."""
    return (row["url"] or "", row["id"])


def crawl_time(row: dict) -> float:
    """The row's timestamp in seconds since the epoch (int or datetime); -inf when missing."""
    ts = row.get("timestamp")
    if ts is None:
        return float("-inf")
    if isinstance(ts, dt.datetime):
        return (ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)).timestamp()
    return float(ts)


def newest_first_rank(row: dict) -> tuple[float, str]:
    """Smaller ranks survive: the newest crawl, then the smallest id."""
    return (-crawl_time(row), row["id"])


def _better(a: dict | None, b: dict | None, rank: Callable[[dict], tuple]) -> dict | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if rank(a) <= rank(b) else b


class KeepSurvivor(beam.CombineFn):
    """Accumulates (survivor so far, number of documents seen) for one dedup key."""

    def __init__(self, rank: Callable[[dict], tuple] = survivor_rank):
        super().__init__()
        self._rank = rank

    def create_accumulator(self) -> tuple[dict | None, int]:
        return (None, 0)

    def add_input(self, acc: tuple[dict | None, int], row: dict) -> tuple[dict | None, int]:
        return (_better(acc[0], row, self._rank), acc[1] + 1)

    def merge_accumulators(self, accs: Iterable[tuple[dict | None, int]]) -> tuple[dict | None, int]:
        best, total = None, 0
        for row, n in accs:
            best, total = _better(best, row, self._rank), total + n
        return (best, total)

    def extract_output(self, acc: tuple[dict | None, int]) -> tuple[dict | None, int]:
        return acc


def survivor_and_drops(keyed: tuple[str, tuple[dict | None, int]], reason: str = DUPLICATE) -> Iterator[dict | Drop]:
    """The survivor row of one group, then one Drop (exact_duplicate by default) per other member."""
    _, (row, total) = keyed
    if row is None:
        return
    yield row
    for _ in range(total - 1):
        yield Drop(reason=reason, source=None, position=None)


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


def url_key(row: dict) -> str | None:
    return normalize_url(row.get("url"))


def url_dedup_rows(rows: Iterable[dict]) -> list[dict | Drop]:
    """The same as `UrlDedup`, in memory: rows without a URL, then survivors in key order, and drops."""
    rows = list(rows)
    groups: dict[str, tuple[dict | None, int]] = {}
    combine = KeepSurvivor(newest_first_rank)
    unkeyed: list[dict] = []
    for row in rows:
        key = url_key(row)
        if key is None:
            unkeyed.append(row)
        else:
            groups[key] = combine.add_input(groups.get(key, combine.create_accumulator()), row)
    return unkeyed + [out for key in sorted(groups) for out in survivor_and_drops((key, groups[key]), URL_DUPLICATE)]


def _with_url_key(row: dict) -> tuple[str | None, dict]:
    return (url_key(row), row)


def _has_url(keyed: tuple[str | None, dict], num_partitions: int) -> int:
    return 0 if keyed[0] is not None else 1


class UrlDedup(beam.PTransform):
    """rows -> the newest crawl per normalized URL and url_duplicate Drops (one item per input row)."""

    def expand(self, rows):
        with_url, without_url = (rows
                                 | "KeyByUrl" >> beam.Map(_with_url_key)  # normalizes each URL once
                                 | "HasUrl" >> beam.Partition(_has_url, 2))
        survivors = (with_url
                     | "KeepNewest" >> beam.CombinePerKey(KeepSurvivor(newest_first_rank))
                     | "SurvivorAndDrops" >> beam.FlatMap(survivor_and_drops, URL_DUPLICATE))
        return (survivors, without_url | "Unkey" >> beam.Values()) | "WithUnkeyed" >> beam.Flatten()
