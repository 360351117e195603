"""NSP negatives against sharding: random fraction, examples, drops and distinct random segments
of `shardlm build --objective nsp` at one shard and at one document per shard (quality, not speed).

    PYTHONPATH=. .venv/bin/python benchmarks/nsp_negatives.py [--documents 300] [--seq-len 64]

Builds a synthetic documents dataset (tests/pipelines/conftest.py's templated English) and a
WordPiece tokenizer in a temporary folder, then the train split twice. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pipelines.build.job import main as build
from pipelines.tokenizer.job import main as train_tokenizer
from shards import iter_chunks
from tests.pipelines.conftest import synthetic_texts, write_documents


def measure(folder: Path, manifest: dict) -> str:
    rows = [r for s in manifest["shards"] for _, t in iter_chunks(str(folder / s["url"])) for r in t.to_pylist()]
    randoms = [r for r in rows if r["next_sentence_label"] == 1]
    distinct = len({tuple(r["input_ids"][r["segment_b_start"]:]) for r in randoms})
    used = sum(1 for s in manifest["shards"] if s["examples"])
    return (f"shards with examples {used}, examples {len(rows)}, random fraction {len(randoms) / len(rows):.3f}, "
            f"distinct random B {distinct}, dropped {manifest['counts'].get('nsp/dropped/no_random_document', 0)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--seq-len", type=int, default=64)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="nsp-negatives-"))
    docs = write_documents(str(root / "docs"), synthetic_texts(args.documents, seed=1), files=2)
    tok = train_tokenizer(["--input", docs, "--kind", "wordpiece", "--vocab-size", "300", "--output", str(root / "tok")])
    for shards in (1, args.documents):
        out = root / f"nsp-{shards}"
        manifest = build(["--input", docs, "--tokenizer", tok, "--objective", "nsp", "--seq-len", str(args.seq_len),
                          "--num-shards", str(shards), "--output", str(out), "--valid-fraction", "0"])
        print(f"--num-shards {shards}: {measure(out, manifest)}")


if __name__ == "__main__":
    main()
