"""MinHash signatures and LSH bands for near-duplicate detection. Pure functions, numpy, no Beam.

A document becomes a set of word n-gram shingles (default 5-grams) over a simplified text:
lowercased, diacritics stripped, punctuation and symbols removed, digit runs replaced by "0",
split on whitespace with each CJK ideograph or kana as its own word. These are the semantics
of datatrove's `MinhashConfig` (n_grams=5) and `simplify_text` with its default
`TextNormConfig` (lowercase, norm_whitespace, remove_punctuation, norm_unicode_diacritics,
norm_numbers), minus its language-specific word tokenizers.

Hashing is vectorized with numpy: each distinct word is hashed once (blake2b, 64 bits), the n
word hashes of a shingle are mixed into one 64-bit shingle hash, and permutation i of the
signature is `fmix64(shingle ^ seed_i)` (MurmurHash3's 64-bit finalizer, a bijection of
uint64), so the signature is `min over shingles` of `num_bands * rows_per_band` independent
pseudo-random permutations. Seeds come from `numpy.random.default_rng(config.seed)`: the same
seed gives the same signatures on every worker. A signature is kept as little-endian uint64
bytes, so it pickles small and compares with numpy.

LSH: the signature is cut into `num_bands` bands of `rows_per_band` values; two documents are
candidates when any band is equal. With FineWeb's 14 x 8 (datatrove's MinhashConfig defaults)
the probability that a pair of Jaccard s becomes a candidate is 1 - (1 - s**8)**14: 0.92 at
s=0.8, 0.56 at s=0.7, 0.05 at s=0.5 (`candidate_probability`).
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from pipelines.clean.quality.text import WORD_TOKEN


VERIFY_MODES = ("exact", "signature", "none")


@dataclass(frozen=True, kw_only=True)
class NearDedupConfig:
    # FineWeb: 5-gram shingles, 14 bands x 8 rows = 112 hashes (datatrove MinhashConfig defaults).
    num_bands: int = 14
    rows_per_band: int = 8
    ngram: int = 5
    seed: int = 1
    # How LSH candidates are verified before they link documents: "exact" computes the Jaccard
    # similarity of the two shingle sets, "signature" its MinHash estimate (the fraction of equal
    # hashes; standard deviation about 0.04 with 112 hashes), "none" keeps every candidate, as
    # FineWeb does. docs/dedup.md measures each: only "exact" gives precision >= 0.95.
    verify: str = "exact"
    # Jaccard threshold of verification: the 0.8 (datasketch MinHashLSH threshold=0.8).
    min_similarity: float = 0.8
    # Alternating large-star/small-star iterations of the connected-components step (Kiveris et
    # al. 2014). Measured (docs/dedup.md): random trees of 10,000 nodes converge in 7, a path of
    # 1,000 nodes in random id order in 8; LSH clusters (stars and cliques) in 1 to 5.
    num_cc_rounds: int = 8

    def __post_init__(self) -> None:
        for name in ("num_bands", "rows_per_band", "ngram", "num_cc_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"NearDedupConfig.{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"NearDedupConfig.min_similarity must be in [0, 1], got {self.min_similarity}")
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"NearDedupConfig.verify must be one of {', '.join(VERIFY_MODES)}, got {self.verify!r}")

    @property
    def num_perm(self) -> int:
        return self.num_bands * self.rows_per_band


# --- text -> words -------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
_ASCII_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]+")  # the P* and S* characters of ASCII


@functools.cache
def _punctuation() -> re.Pattern:
    """A character class of every Unicode punctuation (P*) and symbol (S*) code point."""
    ranges: list[list[int]] = []
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] in "PS":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    parts = (re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile("[" + "".join(parts) + "]+")


def simplify(text: str) -> str:
    """datatrove-style simplification: lowercase, no diacritics, no punctuation, digits -> 0."""
    text = text.lower()
    if text.isascii():
        text = _ASCII_PUNCTUATION.sub("", text)
    else:
        text = unicodedata.normalize("NFD", text)
        text = _punctuation().sub("", "".join(c for c in text if unicodedata.category(c) != "Mn"))
    return _DIGITS.sub("0", text)


def words(text: str) -> list[str]:
    """The words shingles are made of: whitespace-separated, each CJK character one word."""
    return WORD_TOKEN.findall(simplify(text))


# --- shingles ----------------------------------------------------------------------------------

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 4096  # shingles per numpy block: bounds memory at 4096 x num_perm x 8 bytes


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place on a uint64 array (a bijection of uint64)."""
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


def word_hashes(tokens: list[str]) -> np.ndarray:
    """64-bit blake2b hash of each word (each distinct word hashed once), as uint64."""
    table = {w: hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest() for w in set(tokens)}
    return np.frombuffer(b"".join(map(table.__getitem__, tokens)), dtype="<u8").astype(np.uint64)


def shingle_hashes(tokens: list[str], ngram: int) -> np.ndarray:
    """One 64-bit hash per word n-gram (position-sensitive); a text shorter than n is one shingle."""
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    h = word_hashes(tokens)
    n = min(ngram, len(h))
    count = len(h) - n + 1
    with np.errstate(over="ignore"):
        out = h[:count].copy()
        for j in range(1, n):
            out = fmix64(out * _GOLDEN + np.uint64(j)) ^ h[j:j + count]
        return fmix64(out)


# --- signatures ----------------------------------------------------------------------------------

@functools.cache
def permutation_seeds(seed: int, num_perm: int) -> np.ndarray:
    return np.random.default_rng([seed, num_perm]).integers(0, 2**64, size=num_perm, dtype=np.uint64)


def signature(shingles: np.ndarray, config: NearDedupConfig) -> np.ndarray:
    """The MinHash signature (uint64, num_perm values) of a non-empty array of shingle hashes."""
    if len(shingles) == 0:
        raise ValueError("signature of an empty shingle set: check the document has words first")
    seeds = permutation_seeds(config.seed, config.num_perm)
    best = np.full(config.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(shingles), _CHUNK):
            block = shingles[start:start + _CHUNK, None] ^ seeds[None, :]
            np.minimum(best, fmix64(block).min(axis=0), out=best)
    return best


def text_sketch(text: str, config: NearDedupConfig) -> tuple[bytes, bytes] | None:
    """(signature, verification payload) of a text, or None when it has no words.

    The payload is what `payload_similarity` compares: the sorted distinct shingle hashes for
    exact verification, the signature for signature verification, nothing for none."""
    shingles = shingle_hashes(words(text), config.ngram)
    if len(shingles) == 0:
        return None
    sig = signature(shingles, config).astype("<u8").tobytes()
    if config.verify == "exact":
        return sig, np.unique(shingles).astype("<u8").tobytes()
    return sig, sig if config.verify == "signature" else b""


def text_signature(text: str, config: NearDedupConfig) -> bytes | None:
    """Signature bytes of a text, or None when it has no words (it cannot be a near duplicate)."""
    sketch = text_sketch(text, config)
    return None if sketch is None else sketch[0]


def as_array(sig: bytes) -> np.ndarray:
    return np.frombuffer(sig, dtype="<u8")


def band_keys(sig: bytes, config: NearDedupConfig) -> list[bytes]:
    """One LSH bucket key per band: 2 bytes of band index + 8 bytes of blake2b of its rows."""
    width = 8 * config.rows_per_band
    return [band.to_bytes(2, "big") + hashlib.blake2b(sig[band * width:(band + 1) * width], digest_size=8).digest()
            for band in range(config.num_bands)]


def similarity(a: bytes, b: bytes) -> float:
    """The MinHash estimate of the Jaccard similarity: the fraction of equal signature values."""
    return float(np.mean(as_array(a) == as_array(b)))


def payload_similarity(a: bytes, b: bytes, config: NearDedupConfig) -> float:
    """Jaccard similarity (exact) or its MinHash estimate (signature) of two payloads; 1 for none."""
    if config.verify == "none":
        return 1.0
    if config.verify == "signature":
        return similarity(a, b)
    x, y = as_array(a), as_array(b)
    common = len(np.intersect1d(x, y, assume_unique=True))
    return common / (len(x) + len(y) - common)


def verified(a: bytes, b: bytes, config: NearDedupConfig) -> bool:
    return config.verify == "none" or payload_similarity(a, b, config) >= config.min_similarity


def jaccard(a: Iterable, b: Iterable) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a or b else 1.0


def candidate_probability(s: float, num_bands: int, rows_per_band: int) -> float:
    """Probability that a pair of Jaccard similarity s shares at least one LSH band."""
    return 1.0 - (1.0 - s ** rows_per_band) ** num_bands


# --- in-memory reference of the Beam transform (benchmarks and tests) -----------------------------

def star_edges(members: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Edges (center, member) from a bucket's smallest id to each other member (two passes)."""
    center = min(members, default=None)
    for m in members:
        if m != center:
            yield (center, m)


def candidate_pairs(sketches: dict[str, tuple[bytes, bytes]], config: NearDedupConfig) -> set[tuple[str, str]]:
    """The (smaller id, larger id) pairs NearDedup links: star edges per bucket, then verification.

    `sketches` maps ids to `text_sketch` results."""
    buckets: dict[bytes, list[str]] = {}
    for doc, (sig, _) in sketches.items():
        for key in band_keys(sig, config):
            buckets.setdefault(key, []).append(doc)
    edges = {e for members in buckets.values() if len(members) > 1 for e in star_edges(members)}
    return {(a, b) for a, b in edges if verified(sketches[a][1], sketches[b][1], config)}


def components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Union-find: each node -> the smallest node of its connected component."""
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {n: find(n) for n in parent}
