"""Tokenized documents for builder tests whose tokens say where they come from."""

from __future__ import annotations

import numpy as np

from pipelines.build.tokenize_docs import make_doc

CLS, SEP = 1, 2


def numbered_docs(num_docs: int, num_sentences: int = 6, seed: int = 0, max_len: int = 8):
    """Document k, sentence s holds the distinct tokens 1000*(k+1) + 10*s + j (j < its length,
    at most 9), so a token names its document and sentence and tokens increase through a document.
    Every other token starts a word."""
    rng = np.random.default_rng(seed)
    docs = []
    for k in range(num_docs):
        sentences = []
        for s in range(num_sentences):
            n = int(rng.integers(1, max_len + 1))
            sentences.append(([1000 * (k + 1) + 10 * s + j for j in range(n)], [j % 2 == 0 for j in range(n)]))
        docs.append(make_doc(f"doc-{k:03d}", sentences))
    return docs


def owner(token: int) -> int:
    """The document number a numbered token comes from."""
    return token // 1000 - 1


def is_run(tokens: list[int], doc) -> bool:
    """Whether `tokens` are consecutive tokens of `doc`."""
    ids = doc.ids.tolist()
    if not tokens or tokens[0] not in ids:
        return False
    start = ids.index(tokens[0])
    return ids[start:start + len(tokens)] == tokens
