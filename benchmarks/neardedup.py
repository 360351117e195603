"""Near-dedup quality: our MinHash LSH beside datasketch's MinHashLSH on generated clusters.

    python benchmarks/neardedup.py [--clusters-per-level 200] [--variants 2] [--singletons 2000]

Generates base documents of random words (seeded), and for each Jaccard level (of word 5-gram
shingle sets, after `minhash.words`) clusters of a base plus `--variants` copies perturbed by
word substitutions, as many as keep their Jaccard with the base at or just above the level (the
actual Jaccard is measured and used). Ground truth: every pair of documents in a cluster with exact
Jaccard >= --threshold (pairs across clusters share no shingle). Reports, on the same data:

- ours, pairs: every pair sharing an LSH bucket that passes verification (the pairs querying
  each document would return: the same notion as datasketch's), against the true pairs;
- ours, components: every pair inside one connected component of NearDedup's edges (star edges
  per bucket, verified: `minhash.candidate_pairs`), against the pairs inside one connected
  component of the true pairs (the clusters an exact dedup at the threshold would form);
- datasketch MinHashLSH (threshold 0.8, num_perm 112 and 128, its own optimal bands; and 14 x 8),
  pairs from querying every document;

with precision and recall of pairs at Jaccard >= threshold, per-level detection rates, and time.
Needs `pip install datasketch` (benchmark only).
"""

from __future__ import annotations

import argparse
import itertools
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.clean.minhash import (NearDedupConfig, band_keys, candidate_pairs, components, jaccard,  # noqa: E402
                               text_sketch, verified, words)

LEVELS = (0.5, 0.7, 0.8, 0.9, 0.95)


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return set(zip(*(w[i:] for i in range(n)))) if len(w) >= n else {tuple(w)}


def perturb(base: list[str], target: float, vocab: list[str], rng: random.Random) -> list[str]:
    """The most substitutions at random positions that keep the shingle Jaccard >= target."""
    positions = rng.sample(range(len(base)), len(base))
    replacements = [rng.choice(vocab) + "q" for _ in positions]  # words no base contains

    def edited(k: int) -> list[str]:
        out = list(base)
        for p, word in zip(positions[:k], replacements):
            out[p] = word
        return out

    ref = shingles(" ".join(base))
    lo, hi = 0, len(base)
    while lo < hi:  # the most substitutions (in this position order) keeping Jaccard >= target
        mid = (lo + hi + 1) // 2
        if jaccard(ref, shingles(" ".join(edited(mid)))) >= target:
            lo = mid
        else:
            hi = mid - 1
    return edited(lo)


def corpus(args) -> tuple[dict[str, str], list[list[str]], dict[tuple[str, str], float]]:
    rng = random.Random(args.seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(20000)]
    docs: dict[str, str] = {}
    clusters: list[list[str]] = []
    counter = itertools.count()

    def new_id() -> str:
        return f"{rng.getrandbits(64):016x}{next(counter):06d}"

    for level in LEVELS:
        for _ in range(args.clusters_per_level):
            base = [rng.choice(vocab) for _ in range(rng.randint(200, 800))]
            ids = [new_id() for _ in range(args.variants + 1)]
            docs[ids[0]] = " ".join(base)
            for doc in ids[1:]:
                docs[doc] = " ".join(perturb(base, level, vocab, rng))
            clusters.append(ids)
    for _ in range(args.singletons):
        docs[new_id()] = " ".join(rng.choice(vocab) for _ in range(rng.randint(200, 800)))
    sets = {d: shingles(t) for d, t in docs.items()}
    true_j = {tuple(sorted(p)): jaccard(sets[p[0]], sets[p[1]])
              for ids in clusters for p in itertools.combinations(ids, 2)}
    return docs, clusters, true_j


def scores(pred: set, truth: set) -> tuple[float, float]:
    hit = len(pred & truth)
    return (hit / len(pred) if pred else 1.0, hit / len(truth) if truth else 1.0)


def same_component(nodes, edges) -> set:
    members: dict[str, list[str]] = {}
    for d, r in components(nodes, edges).items():
        members.setdefault(r, []).append(d)
    return {tuple(sorted(p)) for ms in members.values() for p in itertools.combinations(ms, 2)}


def bucket_pairs(sketches: dict, config: NearDedupConfig) -> set:
    """Every verified pair sharing an LSH bucket (what querying each document would return)."""
    buckets: dict[bytes, list[str]] = {}
    for doc, (sig, _) in sketches.items():
        for key in band_keys(sig, config):
            buckets.setdefault(key, []).append(doc)
    pairs = {tuple(sorted(p)) for ms in buckets.values() for p in itertools.combinations(ms, 2)}
    return {(a, b) for a, b in pairs if verified(sketches[a][1], sketches[b][1], config)}


def ours(docs: dict[str, str], config: NearDedupConfig) -> tuple[set, set, float]:
    """(verified pairs sharing a bucket, pairs in one component of NearDedup's edges, seconds)."""
    start = time.perf_counter()
    sketches = {d: text_sketch(t, config) for d, t in docs.items()}
    clustered = same_component(docs, candidate_pairs(sketches, config))
    elapsed = time.perf_counter() - start
    return bucket_pairs(sketches, config), clustered, elapsed


def datasketch_pairs(docs: dict[str, str], num_perm: int, params=None) -> tuple[set, float]:
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=num_perm, params=params)
    hashes = {}
    for d, t in docs.items():
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch([" ".join(s).encode("utf-8") for s in shingles(t)])
        hashes[d] = m
        lsh.insert(d, m)
    pairs = {tuple(sorted((d, o))) for d, m in hashes.items() for o in lsh.query(m) if o != d}
    return pairs, time.perf_counter() - start


def level_rates(pred: set, true_j: dict, clusters_level: dict) -> str:
    cells = []
    for level in LEVELS:
        pairs = [p for p, lv in clusters_level.items() if lv == level]
        found = sum(1 for p in pairs if p in pred)
        cells.append(f"{found / len(pairs):.3f}" if pairs else "-")
    return " | ".join(cells)


def star_rounds(edges: set) -> int:
    """Large-star/small-star iterations (as NearDedup runs them) until every component is a star."""
    from pipelines.clean.neardedup import large_star, small_star

    def step(edges: set, fn) -> set:
        neighbors: dict[str, list[str]] = {}
        for a, b in edges:
            neighbors.setdefault(a, []).append(b)
            neighbors.setdefault(b, []).append(a)
        return {e for u, vs in neighbors.items() for e in fn((u, vs))}

    rounds = 0
    while not _is_star_forest(edges):
        edges = step(step(edges, large_star), small_star)
        rounds += 1
    return rounds


def _is_star_forest(edges: set) -> bool:
    centers = {a for a, _ in edges}
    return not centers & {b for _, b in edges} and len({b for _, b in edges}) == len(edges)


def cc_rounds_table(seed: int) -> None:
    rng = random.Random(seed)
    print("| graph (ids in random order) | 10 | 100 | 1,000 | 10,000 nodes |")
    print("| --- | --- | --- | --- | --- |")
    for kind in ("path", "random tree", "random graph, n edges", "stars of 10 + n/20 random edges"):
        cells = []
        for n in (10, 100, 1000, 10000):
            ids = [f"{rng.getrandbits(64):016x}" for _ in range(n)]
            if kind == "path":
                pairs = [(ids[i], ids[i + 1]) for i in range(n - 1)]
            elif kind == "random tree":
                pairs = [(ids[i], ids[rng.randrange(i)]) for i in range(1, n)]
            elif kind.startswith("random graph"):
                pairs = [(rng.choice(ids), rng.choice(ids)) for _ in range(n)]
            else:
                pairs = [(ids[i // 10 * 10], ids[i]) for i in range(n)] + \
                    [(rng.choice(ids), rng.choice(ids)) for _ in range(n // 20)]
            cells.append(str(star_rounds({(min(a, b), max(a, b)) for a, b in pairs if a != b})))
        print(f"| {kind} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters-per-level", type=int, default=200)
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--singletons", type=int, default=2000)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cc-rounds", action="store_true",
                        help="only print the rounds connected components need on synthetic graphs")
    args = parser.parse_args(argv)
    if args.cc_rounds:
        cc_rounds_table(args.seed)
        return
    docs, clusters, true_j = corpus(args)
    truth = {p for p, j in true_j.items() if j >= args.threshold}
    truth_closure = same_component(docs, truth)
    level_of = {}
    for i, ids in enumerate(clusters):  # base-variant pairs, by the level they were made for
        for v in ids[1:]:
            level_of[tuple(sorted((ids[0], v)))] = LEVELS[i // args.clusters_per_level]
    print(f"{len(docs)} documents, {len(clusters)} clusters, {len(true_j)} in-cluster pairs, "
          f"{len(truth)} at Jaccard >= {args.threshold} ({len(truth_closure)} in their components)")
    print("| method | precision | recall | pairs | seconds | base-variant pairs found at Jaccard " +
          " / ".join(map(str, LEVELS)) + " |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, config in (("ours 14x8, exact verification >= 0.8", NearDedupConfig()),
                         ("ours 14x8, signature verification >= 0.8", NearDedupConfig(verify="signature")),
                         ("ours 14x8, signature verification >= 0.7",
                          NearDedupConfig(verify="signature", min_similarity=0.7)),
                         ("ours 14x8, no verification (FineWeb)", NearDedupConfig(verify="none"))):
        direct, clustered, secs = ours(docs, config)
        for kind, pred, want in (("pairs", direct, truth), ("components", clustered, truth_closure)):
            p, r = scores(pred, want)
            print(f"| {name}, {kind} | {p:.3f} | {r:.3f} | {len(pred)} | {secs:.1f} | "
                  f"{level_rates(pred, true_j, level_of)} |")
    for name, num_perm, params in (("datasketch MinHashLSH(0.8, 128)", 128, None),
                                   ("datasketch MinHashLSH(0.8, 112)", 112, None),
                                   ("datasketch MinHashLSH 14x8", 112, (14, 8))):
        pred, secs = datasketch_pairs(docs, num_perm, params)
        p, r = scores(pred, truth)
        print(f"| {name} | {p:.3f} | {r:.3f} | {len(pred)} | {secs:.1f} | {level_rates(pred, true_j, level_of)} |")


if __name__ == "__main__":
    main()
