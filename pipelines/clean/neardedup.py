"""Near-duplicate removal with MinHash LSH and connected components, inside Beam.

    rows -> (id, signature)                          minhash.text_signature, once per document
         -> (band key, id) x num_bands               minhash.band_keys
         -> GroupByKey per bucket -> star edges      (bucket min id, member), not all pairs
         -> Distinct -> verify (optional)            Jaccard (exact or estimated) >= min_similarity
         -> connected components                     large-star / small-star, fixed rounds
         -> one survivor per component               the smallest id; the rest near_duplicate

Memory stays bounded by key: a bucket or a star center is read in two passes over its grouped
values (the minimum first, then the edges), never materialized as a list, so a bucket of a
million template pages streams (Dataflow pages the values of a large group). Verification
sends a candidate's payload (shingle set or signature) from the smaller end (the star center, which may have a huge
degree: streamed) to the larger end, which has at most `num_bands` candidate edges; the larger end's own payload
comes from the same grouping (every document is grouped once with its payload and its edges), so only the
documents that are the larger end of a candidate edge send their payload a second time.

Connected components: the alternating large-star / small-star algorithm of Kiveris et al.,
"Connected Components in MapReduce and Beyond" (SoCC 2014). Each step keeps the components of
the graph and converges to one star per component centered on its smallest id in
O(log^2 n) rounds (their Theorem 1; in practice a few). A Beam graph is static, so
`num_cc_rounds` iterations are unrolled. The survivor rule is sound whether or not the rounds
converged: a document is dropped only when it has a smaller neighbor in the final graph, so
the smallest id of each component always survives, and an unconverged component can only
keep extra documents, never lose all of them. Nodes that would still change are counted in the
`near_dedup/unconverged` counter (0 on every input measured in docs/dedup.md).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import apache_beam as beam

from pipelines.clean.dedup import count_metric
from pipelines.clean.minhash import NearDedupConfig, band_keys, star_edges, text_sketch, verified
from pipelines.clean.readers import Drop, dropped_document

NEAR_DUPLICATE = "near_duplicate"

Edge = tuple[str, str]  # (smaller id, larger id)


# --- pure steps (plain functions of one element or one group) -------------------------------

def row_sketch(row: dict, config: NearDedupConfig) -> Iterator[tuple[str, tuple[bytes, bytes]]]:
    """(id, (signature, verification payload)) of a row; nothing for a row without words (kept)."""
    sketch = text_sketch(row["text"] or "", config)
    if sketch is not None:
        yield (row["id"], sketch)


def bucket_items(keyed: tuple[str, tuple[bytes, bytes]], config: NearDedupConfig) -> Iterator[tuple[bytes, str]]:
    doc, (sig, _) = keyed
    for key in band_keys(sig, config):
        yield (key, doc)


def bucket_edges(group: tuple[bytes, Iterable[str]]) -> Iterator[Edge]:
    """Star edges of one bucket: (its smallest id, each other member)."""
    _, members = group
    yield from star_edges(members)


def both_directions(edge: Edge) -> Iterator[tuple[str, str]]:
    a, b = edge
    yield (a, b)
    yield (b, a)


def large_star(group: tuple[str, Iterable[str]]) -> Iterator[Edge]:
    """Link every larger neighbor of u to the smallest node of u's closed neighborhood."""
    u, neighbors = group
    m = min(min(neighbors), u)
    for v in neighbors:
        if v > u:
            yield (m, v)


def small_star(group: tuple[str, Iterable[str]]) -> Iterator[Edge]:
    """Link u and its smaller neighbors to the smallest of them."""
    u, neighbors = group
    m = min(min(neighbors), u)
    if m != u:
        yield (m, u)
    for v in neighbors:
        if m < v < u:
            yield (m, v)


def resolve_node(group: tuple[str, Iterable[str]]) -> Iterator[tuple[str, bool]]:
    """(u, True) when u has a smaller neighbor (a duplicate); counts nodes not yet in a star."""
    u, neighbors = group
    smaller = sum(1 for v in neighbors if v < u)
    if smaller and (smaller > 1 or any(v > u for v in neighbors)):
        count_metric("near_dedup/unconverged")
    if smaller:
        yield (u, True)


def send_payload(group: tuple[str, Iterable[tuple[str, object]]]) -> Iterator[tuple[str, tuple[str, object]]]:
    """At a document: ("cand", (center, payload)) to each member of its candidate edges (it is their
    center), and ("payload", payload) to itself once when it is the member of a candidate edge.

    Only the members' own payloads go on to `verified_edges`, so the grouping there holds the
    documents with a candidate edge, not every document's shingle set."""
    doc, tagged = group
    payload = next((value for tag, value in tagged if tag == "payload"), None)
    if payload is None:
        return
    sent_own = False
    for tag, value in tagged:
        if tag == "edge":
            yield (value, ("cand", (doc, payload)))
        elif tag == "member" and not sent_own:
            sent_own = True
            yield (doc, ("payload", payload))


def verified_edges(group: tuple[str, Iterable[tuple[str, object]]], config: NearDedupConfig) -> Iterator[Edge]:
    """At a member: the candidate edges that pass verification (`minhash.verified`)."""
    member, tagged = group
    tagged = list(tagged)  # at most num_bands candidates and one payload
    payload = next((value for tag, value in tagged if tag == "payload"), None)
    for tag, value in tagged:
        if tag == "cand" and payload is not None:
            center, center_payload = value
            count_metric("near_dedup/candidate_edges")
            if verified(center_payload, payload, config):
                yield (center, member)
            else:
                count_metric("near_dedup/rejected_candidates")


def keep_or_drop(group: tuple[str, dict], dropped_fraction: float = 0.0) -> Iterator[dict | Drop]:
    """The rows of one id: near_duplicate Drops when the id is a duplicate, else the rows."""
    _, joined = group
    duplicate = bool(joined["dup"])
    for row in joined["row"]:
        if duplicate:
            yield Drop(reason=NEAR_DUPLICATE, document=dropped_document(row, dropped_fraction))
        else:
            yield row


def _tag(tag: str):
    return lambda kv: (kv[0], (tag, kv[1]))


def _as_member(edge: Edge) -> tuple[str, tuple[str, None]]:
    return (edge[1], ("member", None))


# --- Beam wiring ----------------------------------------------------------------------------------

class _Verify(beam.PTransform):
    def __init__(self, sketches, config: NearDedupConfig):
        super().__init__()
        self._sketches = sketches
        self._config = config

    def expand(self, edges):
        payloads = self._sketches | "TagPayload" >> beam.Map(lambda kv: (kv[0], ("payload", kv[1][1])))
        return ((payloads, edges | "TagEdge" >> beam.Map(_tag("edge")),
                 edges | "TagMember" >> beam.Map(_as_member))
                | "AtDocuments" >> beam.Flatten()
                | "GroupDocuments" >> beam.GroupByKey()
                | "SendPayload" >> beam.FlatMap(send_payload)
                | "GroupMembers" >> beam.GroupByKey()
                | "Compare" >> beam.FlatMap(verified_edges, self._config))


class _StarStep(beam.PTransform):
    def __init__(self, step):
        super().__init__()
        self._step = step

    def expand(self, edges):
        return (edges
                | "BothWays" >> beam.FlatMap(both_directions)
                | "ByNode" >> beam.GroupByKey()
                | "Star" >> beam.FlatMap(self._step)
                | "Distinct" >> beam.Distinct())


class ConnectedComponents(beam.PTransform):
    """Edges (a, b) -> (id, True) for every node that is not the smallest of its component."""

    def __init__(self, num_rounds: int):
        super().__init__()
        self._num_rounds = num_rounds

    def expand(self, edges):
        for i in range(self._num_rounds):
            edges = (edges
                     | f"LargeStar{i}" >> _StarStep(large_star)
                     | f"SmallStar{i}" >> _StarStep(small_star))
        return (edges
                | "FinalBothWays" >> beam.FlatMap(both_directions)
                | "FinalByNode" >> beam.GroupByKey()
                | "Resolve" >> beam.FlatMap(resolve_node))


class NearDedup(beam.PTransform):
    """rows -> rows and near_duplicate Drops (one output item per input row)."""

    def __init__(self, config: NearDedupConfig = NearDedupConfig(), dropped_fraction: float = 0.0):
        super().__init__()
        self._config = config
        self._dropped_fraction = dropped_fraction  # --write-dropped

    def expand(self, rows):
        config = self._config
        sketches = rows | "Sketch" >> beam.FlatMap(row_sketch, config)
        edges = (sketches
                 | "BandKeys" >> beam.FlatMap(bucket_items, config)
                 | "GroupBuckets" >> beam.GroupByKey()
                 | "StarEdges" >> beam.FlatMap(bucket_edges)
                 | "DistinctEdges" >> beam.Distinct())
        if config.verify != "none":
            edges = edges | "Verify" >> _Verify(sketches, config)
        duplicates = edges | "Components" >> ConnectedComponents(config.num_cc_rounds)
        keyed_rows = rows | "KeyById" >> beam.Map(lambda row: (row["id"], row))
        return ({"row": keyed_rows, "dup": duplicates}
                | "JoinRows" >> beam.CoGroupByKey()
                | "KeepOrDrop" >> beam.FlatMap(keep_or_drop, self._dropped_fraction))
