"""`shardlm clean`'s Parquet reader beside its JSONL reader on the same texts, and its memory. Not a test.

    PYTHONPATH=. .venv/bin/python benchmarks/clean_parquet.py [--docs 20000] [--repeats 3] [--big-mb 150]
        [--work /tmp/bench-clean-parquet]

Speed: `--docs` documents of seeded random words (2-3 kB each, with a url and an id) written as
JSONL, gzipped JSONL and Parquet (pyarrow's defaults: snappy, row groups of up to 1 Mi rows;
and zstd in row groups of 1,000 rows, as datatrove writes FineWeb); each read with
`read_source`, as the job's `Read` step does, in one process: CPU seconds (user + system), the
least of `--repeats`, and the ratio to JSONL, so the machine's load weighs on both alike.
Memory: a Parquet file of one row group holding a `--big-mb` MB text column (and a second
column of the same size the reader never reads) read in a fresh process each way: the peak
resident set (VmHWM) of this reader (`iter_parquet`: pre_buffer off, a 1 MiB buffered
stream), of pyarrow's `ParquetFile.iter_batches` with its defaults (pre_buffer on), and of
`pq.read_table` of the text column, beside the process after its imports.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS = [w for w in "the of and to in a is that for it as was with be by on not he this are or his from at which "
         "but have an they you were her she there been one all we their has would when if so no will what "
         "corpus crawl page text word document reader shard model token clean filter parquet".split()]

MEMORY = """
import sys
def peak():  # VmHWM: this process's own peak (ru_maxrss would count the parent's, kept across exec)
    return next(int(line.split()[1]) >> 10 for line in open("/proc/self/status") if line.startswith("VmHWM"))
sys.path.insert(0, {repo!r})
import pyarrow.parquet as pq
from pipelines.clean.readers import ReaderConfig
from pipelines.clean.readers.parquet import iter_parquet
way, path = sys.argv[1], sys.argv[2]
base = peak()
if way == "shardlm":
    with open(path, "rb") as f:
        rows = sum(1 for _ in iter_parquet(f, "big.parquet", ReaderConfig()))
elif way == "iter_batches":
    with open(path, "rb") as f:
        rows = sum(b.num_rows for b in pq.ParquetFile(f).iter_batches(batch_size=1024, columns=["text"]))
else:
    rows = pq.read_table(path, columns=["text"]).num_rows
print(rows, base, peak())
"""


def documents(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"text": " ".join(rng.choices(WORDS, k=rng.randint(450, 650))), "url": f"https://site{i % 97}.example/{i}",
             "id": f"<urn:uuid:{i:032x}>"} for i in range(n)]


def write_inputs(work: Path, docs: list[dict]) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    work.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(d) + "\n" for d in docs).encode()
    (work / "docs.jsonl").write_bytes(lines)
    (work / "docs.jsonl.gz").write_bytes(gzip.compress(lines, compresslevel=6))
    table = pa.Table.from_pylist(docs)
    pq.write_table(table, str(work / "docs.parquet"))
    pq.write_table(table, str(work / "docs.zstd.parquet"), compression="zstd", row_group_size=1000)
    return {"jsonl": work / "docs.jsonl", "jsonl.gz": work / "docs.jsonl.gz", "parquet (snappy, 1 row group)":
            work / "docs.parquet", "parquet (zstd, 1,000-row groups)": work / "docs.zstd.parquet"}


def cpu_seconds(path: Path, repeats: int) -> tuple[float, int]:
    from pipelines.clean.readers import ReaderConfig, read_source

    best, count = float("inf"), 0
    for _ in range(repeats):
        start = time.process_time()
        count = sum(1 for _ in read_source(str(path), ReaderConfig()))
        best = min(best, time.process_time() - start)
    return best, count


def write_big(path: Path, mb: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(1)
    texts = [rng.randbytes(1500).hex() for _ in range(mb * 1_000_000 // 3000)]  # 3 kB each, barely compressible
    pq.write_table(pa.table({"text": texts, "other": texts}), str(path), row_group_size=len(texts), compression="zstd")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=150)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-clean-parquet"))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    files = write_inputs(args.work, documents(args.docs))
    results = {name: cpu_seconds(path, args.repeats) for name, path in files.items()}
    jsonl = results["jsonl"][0]
    print(f"read_source over {args.docs:,} documents, CPU s (least of {args.repeats}):")
    for name, (seconds, count) in results.items():
        size = files[name].stat().st_size / 1e6
        print(f"  {name:34s} {size:7.1f} MB  {count:,} items  {seconds:6.3f} s  {count / seconds:9,.0f} docs/s  "
              f"{seconds / jsonl:5.2f}x JSONL's time")
    big = args.work / "big.parquet"
    write_big(big, args.big_mb)
    import pyarrow.parquet as pq

    chunk = pq.read_metadata(str(big)).row_group(0).column(0).total_compressed_size
    print(f"peak RSS reading one row group, its text column {chunk / 2**20:.0f} MiB on disk:")
    for way in ("shardlm", "iter_batches", "read_table"):
        out = subprocess.run([sys.executable, "-c", MEMORY.format(repo=str(REPO)), way, str(big)], check=True,
                             capture_output=True, text=True).stdout.split()
        rows, base, peak = map(int, out)
        print(f"  {way:13s} {rows:,} rows  after imports {base} MiB  peak {peak} MiB  (+{peak - base} MiB)")


if __name__ == "__main__":
    main()
