"""Tiny documents datasets made here (no dependency on `shardlm clean`): templated synthetic English."""

from __future__ import annotations

import hashlib
import random

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import DOCUMENTS_SCHEMA, SCHEMA_VERSION, encode_schema, write_manifest

_NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"]
_VERBS = ["visited", "painted", "repaired", "described", "measured", "counted", "opened", "closed"]
_THINGS = ["the old bridge", "a red house", "the river bank", "seven boxes", "the north tower",
           "a quiet garden", "the long road", "twelve windows", "the market square", "a small boat"]
_TIMES = ["on Monday", "in the morning", "after dinner", "before the storm", "last year", "at noon"]
_ENDINGS = [".", ".", ".", "!", "?"]


def synthetic_text(rng: random.Random, num_paragraphs: int, sentences_per_paragraph: int) -> str:
    """Paragraphs (one per line) of templated sentences like 'Alice visited the old bridge on Monday.'"""
    paragraphs = []
    for _ in range(num_paragraphs):
        sentences = [f"{rng.choice(_NAMES)} {rng.choice(_VERBS)} {rng.choice(_THINGS)} "
                     f"{rng.choice(_TIMES)}{rng.choice(_ENDINGS)}" for _ in range(sentences_per_paragraph)]
        paragraphs.append(" ".join(sentences))
    return "\n".join(paragraphs)


def synthetic_texts(num_documents: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [synthetic_text(rng, rng.randint(1, 4), rng.randint(1, 6)) for _ in range(num_documents)]


def write_documents(folder: str, texts: list[str], storage_options: dict | None = None,
                    files: int = 1, langs: list[str] | None = None) -> str:
    """Write `texts` as a documents dataset (Parquet + manifest) into `folder`; returns the folder.
    Every document is `en` unless `langs` gives each one's language."""
    ids = [hashlib.sha256(f"doc-{i}".encode()).hexdigest()[:16] for i in range(len(texts))]
    entries = []
    per_file = -(-len(texts) // files) if texts else 0
    for f in range(files):
        part = slice(f * per_file, (f + 1) * per_file)
        table = _documents_table(ids[part], texts[part], (langs or ["en"] * len(texts))[part])
        path = f"part-{f:05d}.parquet"
        with fsspec.open(f"{folder}/{path}", "wb", **(storage_options or {})) as out:
            pq.write_table(table, out)
        with fsspec.open(f"{folder}/{path}", "rb", **(storage_options or {})) as src:
            data = src.read()
        entries.append({"path": path, "rows": table.num_rows, "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"kind": "documents", "schema_version": SCHEMA_VERSION,
                "arrow_schema": encode_schema(DOCUMENTS_SCHEMA), "rows": len(texts), "files": entries,
                "stats": {"read": len(texts), "kept": len(texts)}, "created_by": {"tool": "tests"}}
    write_manifest(folder, manifest, storage_options)
    return folder


def _documents_table(ids: list[str], texts: list[str], langs: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table({
        "id": ids, "url": [None] * n, "text": texts, "lang": langs, "lang_score": [1.0] * n,
        "source": ["generated"] * n, "timestamp": [None] * n,
        "num_chars": [len(t) for t in texts], "num_words": [len(t.split()) for t in texts],
        "num_lines": [t.count("\n") + 1 for t in texts], "num_lines_removed": [0] * n,
        "mean_word_length": [sum(map(len, t.split())) / max(1, len(t.split())) for t in texts],
    }, schema=DOCUMENTS_SCHEMA)


@pytest.fixture
def documents_dataset(tmp_path) -> str:
    """A 60-document dataset in two Parquet files, plus one empty document (id order is not file order)."""
    texts = synthetic_texts(60) + [""]
    return write_documents(str(tmp_path / "docs"), texts, files=2)


@pytest.fixture
def make_documents():
    """The `write_documents(folder, texts, storage_options=None, files=1)` helper, as a fixture."""
    return write_documents


@pytest.fixture
def make_texts():
    """The `synthetic_texts(num_documents, seed=0)` helper, as a fixture."""
    return synthetic_texts
