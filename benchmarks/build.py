"""`shardlm build` throughput beside raw `tokenizers.Tokenizer.encode_batch`, and shard bytes per token.

    .venv/bin/python benchmarks/build.py [--data ../shared/data] [--tokenizer DIR] [--mb 16]
        [--objectives mlm,nsp,sop,clm,tlm] [--seq-len 128] [--work /tmp/bench-build] [--repeats 2]
        [--formats] [--profile N]

Input: a documents dataset written here from real English text of ../shared/data (Debian
Reference paragraphs, 20 per document; botchan.txt in 10-line paragraphs, 10 per document),
repeated with new ids up to `--mb` MB of text; for tlm, a parallel corpus of the Debian
Reference's English-German pairs repeated up to as many MB (`copy.en-de.tsv`). In one run:
- raw: `encode_batch` over the same texts (documents, or both sides of the pairs), 64 documents
  or pairs per call as the build does, without special tokens: tokens/s of CPU time (user +
  system; one tokenizer thread, so one core), measured again right before each objective's
  build so that each ratio compares two measurements taken under the same machine load;
- the same tokenizer over the sentences the build makes of that text, one string each, with
  `encode_batch` and with `encode_batch_fast` (no offsets); `encode_batch_fast` over the
  documents; and over each document's sentences joined by the private separator, one string per
  document (what the build calls: `SentenceEncoder` in pipelines/build/tokenize_docs.py);
- each objective: `shardlm build` in-process on the DirectRunner (one worker), tokens/s of CPU
  time (user + system, every thread) over the same text, and the same once start-up is set
  aside (the CPU of a build of a one-document dataset subtracted); the ratio to raw is the goal
  of issue 8 item 5 (at least 0.7x);
- the shards: bytes of the shard files per stored token (input_ids, special tokens included),
  and each column's share of the decoded (uncompressed) Arrow buffers.
Each measurement runs `--repeats` times and the least CPU counts (the machine may be shared).
Start-up is fixed (about 1.3 s of CPU for Beam's pipeline construction and runner) and the goal
is a per-core throughput, so the default input (16 MB) is large enough that it weighs as it
would on a real corpus; both ratios are reported.
`--formats` adds the bytes per token of the mlm examples written in other ways, and their decode
speed (use `--mb 0.5`: larger inputs repeat the text, which flatters compression).
`--profile N` prints the N costliest functions of one build of the first of `--objectives` (cProfile,
CPU time). Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import logging
import os
import pstats
import resource
import shutil
import sys
import tarfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# One tokenizer thread: per-core figures without rayon's thread pool (whose idle threads spin
# and burn CPU on a loaded machine); set RAYON_NUM_THREADS to measure otherwise.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipelines.build.inputs import PAIR_BATCH, TOKENIZE_BATCH  # noqa: E402
from pipelines.build.job import main as build_main  # noqa: E402
from pipelines.tokenizer.load import load_tokenizer  # noqa: E402
from schemas import DOCUMENTS_SCHEMA, SCHEMA_VERSION, encode_schema, read_manifest, write_manifest  # noqa: E402
from shards.format import decode_chunk  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def documents(data: Path, mb: float) -> list[tuple[str, str]]:
    """(id, text) documents of real English text, repeated with new ids up to `mb` MB."""
    debian = [line.split("\t", 1)[0] for line in
              (data / "parallel" / "debian-reference.en-de.tsv").read_text("utf-8").splitlines() if "\t" in line]
    novel = (data / "text" / "botchan.txt").read_text("utf-8").splitlines()
    novel_paragraphs = [" ".join(novel[i:i + 10]) for i in range(0, len(novel), 10)]
    base = ["\n".join(debian[i:i + 20]) for i in range(0, len(debian), 20)]
    base += ["\n".join(novel_paragraphs[i:i + 10]) for i in range(0, len(novel_paragraphs), 10)]
    docs, size, copy = [], 0, 0
    while size < mb * 1e6:
        for i, text in enumerate(base):
            docs.append((hashlib.sha256(f"{copy}/{i}".encode()).hexdigest()[:16], text))
            size += len(text.encode("utf-8"))
        copy += 1
    return docs


def parallel_pairs(data: Path, mb: float) -> list[tuple[str, str]]:
    """(en, de) pairs of the Debian Reference, repeated up to `mb` MB of text (both sides)."""
    lines = (data / "parallel" / "debian-reference.en-de.tsv").read_text("utf-8").splitlines()
    base = [tuple(line.split("\t")) for line in lines if line.count("\t") == 1]
    pairs, size = [], 0
    while size < mb * 1e6:
        for src, tgt in base:
            pairs.append((src, tgt))
            size += len(src.encode("utf-8")) + len(tgt.encode("utf-8"))
    return pairs


def write_pairs(folder: Path, pairs: list[tuple[str, str]]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "copy.en-de.tsv").write_text("".join(f"{src}\t{tgt}\n" for src, tgt in pairs), "utf-8")


def write_documents(folder: Path, docs: list[tuple[str, str]]) -> None:
    """A documents dataset (one Parquet file and its manifest), as `shardlm clean` writes them."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    texts = [t for _, t in docs]
    n = len(docs)
    table = pa.table({
        "id": [i for i, _ in docs], "url": [None] * n, "text": texts, "lang": ["en"] * n,
        "lang_score": [1.0] * n, "source": ["benchmark"] * n, "timestamp": [None] * n,
        "num_chars": [len(t) for t in texts], "num_words": [len(t.split()) for t in texts],
        "num_lines": [t.count("\n") + 1 for t in texts], "num_lines_removed": [0] * n,
        "mean_word_length": [sum(map(len, t.split())) / max(1, len(t.split())) for t in texts],
    }, schema=DOCUMENTS_SCHEMA)
    pq.write_table(table, folder / "part-00000.parquet")
    data = (folder / "part-00000.parquet").read_bytes()
    write_manifest(str(folder), {
        "kind": "documents", "schema_version": SCHEMA_VERSION, "arrow_schema": encode_schema(DOCUMENTS_SCHEMA),
        "rows": n, "files": [{"path": "part-00000.parquet", "rows": n, "bytes": len(data),
                               "sha256": hashlib.sha256(data).hexdigest()}],
        "stats": {"read": n, "kept": n}, "created_by": {"tool": "benchmarks/build.py"}})


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raw_encode(tokenizer_dir: str, texts: list[str], per_call: int = TOKENIZE_BATCH) -> tuple[int, float]:
    """(tokens, CPU s) of encode_batch over the texts, `per_call` texts per call."""
    tokenizer, _ = load_tokenizer(tokenizer_dir)
    tokens = 0
    start = cpu_seconds()
    for i in range(0, len(texts), per_call):
        tokens += sum(len(e.ids) for e in tokenizer.encode_batch(texts[i:i + per_call], add_special_tokens=False))
    return tokens, cpu_seconds() - start


SENTENCE_RUNS = {  # row name: (encode_batch_fast, input)
    "encode_batch over the sentences": (False, "sentences"),
    "encode_batch_fast over the sentences": (True, "sentences"),
    "encode_batch_fast over the documents": (True, "documents"),
    "encode_batch_fast over the documents, sentences joined (the build)": (True, "joined"),
}


def sentence_encode(tokenizer_dir: str, docs: list[tuple[str, str]], fast: bool, unit: str) -> float:
    """CPU s of encoding the documents' sentences (as the build splits them) one string each
    (`sentences`), the documents (`documents`), or each document's sentences joined by the
    build's separator (`joined`, with the build's private copy of the tokenizer)."""
    from pipelines.build.sentences import split_sentences
    from pipelines.build.tokenize_docs import SentenceEncoder

    tokenizer, _ = load_tokenizer(tokenizer_dir)
    if unit == "joined":
        encoder = SentenceEncoder(tokenizer)
        tokenizer, separator = encoder.joined, encoder.separator
    encode = tokenizer.encode_batch_fast if fast else tokenizer.encode_batch
    batches = [docs[i:i + TOKENIZE_BATCH] for i in range(0, len(docs), TOKENIZE_BATCH)]
    if unit == "sentences":
        batches = [[s for _, text in batch for s in split_sentences(text, "en")] for batch in batches]
    elif unit == "joined":
        batches = [[separator.join(split_sentences(text, "en")) for _, text in batch] for batch in batches]
    else:
        batches = [[text for _, text in batch] for batch in batches]
    start = cpu_seconds()
    for batch in batches:
        encode(batch, add_special_tokens=False)
    return cpu_seconds() - start


def run_build(objective: str, inp: Path, tokenizer_dir: str, out: Path, seq_len: int) -> tuple[float, float]:
    """(CPU s, wall s) of one in-process `shardlm build`."""
    shutil.rmtree(out, ignore_errors=True)
    argv = ["--input", str(inp), "--tokenizer", tokenizer_dir, "--objective", objective,
            "--seq-len", str(seq_len), "--output", str(out), "--num-shards", "1"]
    cpu, wall = cpu_seconds(), time.perf_counter()
    build_main(argv)
    return cpu_seconds() - cpu, time.perf_counter() - wall


def shard_bytes(out: Path) -> dict[str, float]:
    """Bytes of the shard set per stored token: total, and each column's Arrow buffers."""
    manifest = read_manifest(str(out))
    total = sum(s["bytes"] for s in manifest["shards"])
    columns: dict[str, int] = {}
    tokens = 0
    for shard in manifest["shards"]:
        with tarfile.open(fileobj=io.BytesIO((out / shard["url"]).read_bytes())) as tar:
            for member in tar.getmembers():
                table = decode_chunk(tar.extractfile(member).read())
                tokens += len(table.column("input_ids").combine_chunks().values)
                for name in table.column_names:
                    array = table.column(name).combine_chunks()
                    columns[name] = columns.get(name, 0) + sum(b.size for b in array.buffers() if b is not None)
    result = {"total": total / tokens, "tokens": tokens}
    result.update({name: size / tokens for name, size in columns.items()})
    result["uncompressed"] = sum(columns.values()) / tokens
    return result


def format_alternatives(out: Path) -> dict[str, float]:
    """Bytes per stored token of the same examples written differently (/work/notes/format-proposal.md):
    each chunk re-encoded as an Arrow IPC stream, tar framing left out for all alike."""
    manifest = read_manifest(str(out))
    tables = []
    for shard in manifest["shards"]:
        with tarfile.open(fileobj=io.BytesIO((out / shard["url"]).read_bytes())) as tar:
            tables += [decode_chunk(tar.extractfile(m).read()) for m in tar.getmembers()]
    tokens = sum(len(t.column("input_ids").combine_chunks().values) for t in tables)

    def size(transform, compression=None) -> float:
        options = pa.ipc.IpcWriteOptions(compression=compression)
        total = 0
        for table in tables:
            table = transform(table)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
                writer.write_table(table)
            total += len(sink.getvalue())
        return total / tokens

    def decode_rate(compression=None) -> float:
        """Examples/s of decoding the chunks (pa.ipc.open_stream().read_all(), as shards.format does)."""
        options = pa.ipc.IpcWriteOptions(compression=compression)
        chunks = []
        for table in tables:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
                writer.write_table(table)
            chunks.append(sink.getvalue())
        start = time.process_time()
        for _ in range(5):
            for chunk in chunks:
                pa.ipc.open_stream(chunk).read_all()
        return 5 * sum(t.num_rows for t in tables) / (time.process_time() - start)

    def binary_doc_id(table: pa.Table) -> pa.Table:
        ids = pa.array([bytes.fromhex(x) for x in table.column("doc_id").to_pylist()], pa.binary(8))
        return table.set_column(table.column_names.index("doc_id"), "doc_id", ids)

    same = lambda table: table  # noqa: E731
    return {
        "uncompressed (no tar)": size(same),
        "doc_id as binary(8)": size(binary_doc_id),
        "doc_id as binary(8), no word_start": size(lambda t: binary_doc_id(t).drop(["word_start"])),
        "input_ids only": size(lambda t: t.select(["input_ids"])),
        "lz4 buffers": size(same, "lz4"),
        "zstd buffers": size(same, "zstd"),
        "zstd buffers, input_ids only": size(lambda t: t.select(["input_ids"]), "zstd"),
        "decode examples/s: uncompressed": decode_rate(),
        "decode examples/s: lz4": decode_rate("lz4"),
        "decode examples/s: zstd": decode_rate("zstd"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--tokenizer", default=None, help="default: ../shared/data/tokenizers/bert-base-uncased-wordpiece")
    parser.add_argument("--mb", type=float, default=16.0, help="MB of document text (and of pairs, for tlm)")
    parser.add_argument("--objectives", default="mlm,nsp,sop,clm,tlm")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-build"))
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions of a build of the first of --objectives")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the least CPU counts")
    parser.add_argument("--formats", action="store_true",
                        help="also the bytes per token of the mlm examples written in other ways")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tokenizer = args.tokenizer or str(args.data / "tokenizers" / "bert-base-uncased-wordpiece")
    docs = documents(args.data, args.mb)
    write_documents(args.work / "docs", docs)
    write_documents(args.work / "one-doc", docs[:1])
    size = sum(len(t.encode("utf-8")) for _, t in docs)
    print(f"{len(docs):,} documents, {size / 1e6:.2f} MB of text, seq {args.seq_len}, tokenizer {tokenizer}")
    if args.profile:
        profiler = cProfile.Profile(time.process_time)  # CPU time: the machine may be shared
        profiler.enable()
        objective = args.objectives.split(",")[0]
        if objective == "tlm":
            write_pairs(args.work / "pairs", parallel_pairs(args.data, args.mb))
        run_build(objective, args.work / ("pairs" if objective == "tlm" else "docs"), tokenizer,
                  args.work / "profile", args.seq_len)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        return
    texts = [t for _, t in docs]
    runs = [raw_encode(tokenizer, texts) for _ in range(args.repeats)]
    tokens, raw_cpu = runs[0][0], min(cpu for _, cpu in runs)
    rows = [("raw encode_batch", tokens, raw_cpu, raw_cpu, raw_cpu, raw_cpu, None)]
    for name, (fast, unit) in SENTENCE_RUNS.items():
        cpu = min(sentence_encode(tokenizer, docs, fast, unit) for _ in range(args.repeats))
        rows.append((name, tokens, raw_cpu, cpu, cpu, cpu, None))
    objectives = args.objectives.split(",")
    if "tlm" in objectives:
        pairs = parallel_pairs(args.data, args.mb)
        write_pairs(args.work / "pairs", pairs)
        write_pairs(args.work / "one-pair", pairs[:1])
        pair_texts = [t for pair in pairs for t in pair]
        print(f"tlm: {len(pairs):,} pairs, {sum(len(t.encode('utf-8')) for t in pair_texts) / 1e6:.2f} MB of text")
    for objective in objectives:
        inputs = ("pairs", "one-pair", pair_texts, 2 * PAIR_BATCH) if objective == "tlm" else (
            "docs", "one-doc", texts, TOKENIZE_BATCH)
        startup = min(run_build(objective, args.work / inputs[1], tokenizer, args.work / f"{objective}-one",
                                args.seq_len)[0] for _ in range(args.repeats))
        raws, builds = [], []
        for _ in range(args.repeats):  # raw right before the build: both under the same load
            raws.append(raw_encode(tokenizer, inputs[2], inputs[3]))
            builds.append(run_build(objective, args.work / inputs[0], tokenizer, args.work / objective, args.seq_len))
        cpu, wall = min(builds)
        rows.append((f"shardlm build --objective {objective}", raws[0][0], min(c for _, c in raws), cpu, wall,
                     cpu - startup, shard_bytes(args.work / objective)))
    print(f"\n{tokens:,} tokens of document text (raw encode_batch count)\n")
    print("| run | CPU s | wall s | raw CPU s | tokens/s per core | x raw | without start-up: tokens/s | x raw "
          "| bytes/token |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, raw, cpu, wall, steady, sizes in rows:
        print(f"| {name} | {cpu:.1f} | {wall:.1f} | {raw:.1f} | {n / cpu:,.0f} | {raw / cpu:.2f} | "
              f"{n / steady:,.0f} | {raw / steady:.2f} | {sizes['total']:.3f} |" if sizes else
              f"| {name} | {cpu:.1f} | {wall:.1f} | {raw:.1f} | {n / cpu:,.0f} | {raw / cpu:.2f} | | | |")
    print("\nbytes per stored token: each column's decoded Arrow buffers, their sum, and the shard files\n")
    names = sorted({k for *_, s in rows if s for k in s} - {"total", "tokens", "uncompressed"})
    print("| objective | " + " | ".join(names) + " | columns, uncompressed | shard files |")
    print("|---|" + "---|" * (len(names) + 2))
    for name, *_, sizes in rows[1 + len(SENTENCE_RUNS):]:
        cells = [f"{sizes[n]:.3f}" if n in sizes else "" for n in names]
        print(f"| {name.split()[-1]} | " + " | ".join(cells) + f" | {sizes['uncompressed']:.3f} | {sizes['total']:.3f} |")
    if args.formats and (args.work / "mlm").exists():
        print("\nmlm examples written in other ways: bytes per stored token (Arrow IPC, no tar)\n")
        print("| chunks | bytes/token |\n|---|---|")
        for name, value in format_alternatives(args.work / "mlm").items():
            print(f"| {name} | {value:,.0f} |" if name.startswith("decode") else f"| {name} | {value:.3f} |")


if __name__ == "__main__":
    main()
