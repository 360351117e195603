"""What the progress hooks cost: reading a documents dataset's rows with and without them, and
`shardlm build` with --progress against --no-progress, CPU time side by side in one run.

    .venv/bin/python benchmarks/progress.py --docs 200000 --build-docs 20000 --repeat 3

Rows: `pipelines.docs_input.iter_documents` as it was before the hooks (a plain loop over Parquet
batches), as it is with no job watched (one more generator layer), and inside a `Watch` (counted
in chunks of 256). Build: the whole job on the DirectRunner in this process, `--progress` (off a
terminal: the counts are kept and one line is logged at the end) against `--no-progress`.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines import progress  # noqa: E402
from pipelines.docs_input import iter_documents  # noqa: E402
from pipelines.documents_io import READ_BATCH_ROWS  # noqa: E402
from shards.storage import open_url  # noqa: E402
from tests.pipelines.conftest import synthetic_texts, write_documents  # noqa: E402

PLAN = progress.Plan(job="bench", unit="documents", total=None)


def rows_before(file_url: str, columns=("id", "text")):
    """iter_documents before the progress hooks."""
    with open_url(file_url, "rb") as f:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=READ_BATCH_ROWS, columns=list(columns)):
            yield from zip(*(batch.column(c).to_pylist() for c in columns))


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def drain(rows) -> None:
    for _ in rows:
        pass


def bench_rows(folder: str, num_docs: int, repeat: int) -> None:
    file_url = f"{folder}/part-00000.parquet"
    cases = {"before the hooks": lambda: drain(rows_before(file_url)),
             "no job watched": lambda: drain(iter_documents(file_url)),
             "inside a Watch": lambda: drain_watched(file_url)}
    best = {name: min(cpu(fn) for _ in range(repeat)) for name, fn in cases.items()}
    base = best["before the hooks"]
    print(f"rows of one Parquet file ({num_docs:,} documents), CPU s, best of {repeat}:")
    for name, seconds in best.items():
        print(f"  {name:<18} {seconds:7.3f} s  {seconds / num_docs * 1e9:6.0f} ns/row  {seconds / base:5.2f}x")


def drain_watched(file_url: str) -> None:
    with progress.Watch(PLAN, stream=io.StringIO()):
        drain(iter_documents(file_url))


def bench_build(folder: str, work: Path, repeat: int) -> None:
    from pipelines.build.job import main as build
    from pipelines.tokenizer.job import main as tokenizer

    tok = tokenizer(["--input", folder, "--kind", "wordpiece", "--vocab-size", "2000", "--output", str(work / "tok"),
                     "--no-progress"])
    times: dict[str, list[float]] = {"--progress": [], "--no-progress": []}
    for i in range(repeat):
        for flag in times:  # alternating, so the machine's load falls on both alike
            argv = ["--input", folder, "--tokenizer", tok, "--objective", "mlm", "--seq-len", "128",
                    "--output", str(work / f"shards-{i}{flag}"), flag]
            times[flag].append(cpu(lambda: build(argv)))
    on, off = min(times["--progress"]), min(times["--no-progress"])
    print(f"shardlm build (mlm, seq 128), CPU s of this process, best of {repeat}: --progress {on:.2f}, "
          f"--no-progress {off:.2f}, ratio {on / off:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000, help="documents for the row benchmark")
    parser.add_argument("--build-docs", type=int, default=20_000, help="documents for the build benchmark (0: skip)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench_rows(write_documents(str(work / "rows"), synthetic_texts(args.docs)), args.docs, args.repeat)
        if args.build_docs:
            bench_build(write_documents(str(work / "build"), synthetic_texts(args.build_docs, seed=1)), work,
                        args.repeat)


if __name__ == "__main__":
    main()
