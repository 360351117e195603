"""Where `shardlm clean`'s memory goes on one in-process DirectRunner worker. Not a test.

    .venv/bin/python benchmarks/clean_memory.py --input 'CORPUS/*.warc.gz' --output /tmp/mem-out [clean flags]

Prints the resident set size after the imports, at the steps that write the dataset (the
rejects parts, each Parquet part, the manifest) and at the end, plus the peak (ru_maxrss), so
the import baseline and the grouping steps can be told apart. The clean flags default to the
benchmark's (benchmarks/clean.py SHARDLM_FLAGS); a corpus comes from benchmarks/corpus.py.
Run it with the python of a core install (`pip install -c constraints.txt .`, with
PYTHONPATH at the checkout): in a venv with the test extras Beam also imports pandas.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 >> 20


def peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10


def main(argv: list[str] | None = None) -> list[tuple[str, int, int]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args, flags = parser.parse_known_args(argv)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "benchmarks"))
    marks = [("python", rss_mib(), peak_mib())]
    import apache_beam as beam

    marks.append(("import apache_beam", rss_mib(), peak_mib()))
    from clean import SHARDLM_FLAGS

    from pipelines import documents_io as dio
    from pipelines.clean import job

    marks.append(("import the clean job", rss_mib(), peak_mib()))

    def mark(name: str, fn):
        def wrapped(*a, **k):
            marks.append((f"{name} starts", rss_mib(), peak_mib()))
            out = fn(*a, **k)
            marks.append((f"{name} done", rss_mib(), peak_mib()))
            return out
        return wrapped

    for name in ("write_rejects", "write_part", "documents_manifest"):
        setattr(dio, name, mark(name, getattr(dio, name)))
    beam.Pipeline.run = mark("pipeline", beam.Pipeline.run)
    started = time.monotonic()
    manifest = job.main(["--input", args.input, "--output", args.output, *(flags or SHARDLM_FLAGS),
                         "--direct_num_workers", "1", "--direct_running_mode", "in_memory"])
    marks.append(("end", rss_mib(), peak_mib()))
    print(f"kept {manifest['rows']} in {time.monotonic() - started:.1f} s; "
          f"pandas imported: {'pandas' in sys.modules}")
    for name, rss, peak in marks:
        print(f"  {name:<28} rss {rss:>5} MiB  peak {peak:>5} MiB")
    return marks


if __name__ == "__main__":
    main()
