"""What each filter preset keeps: the real `shardlm clean` on real and generated inputs.

    .venv/bin/python benchmarks/presets.py [--warc-dir ../shared/data/warc] [--text-dir ../shared/data/text]
                                           [--generated-mb 20] [--workdir DIR] [--json results.json]

For every input and preset (none, basic, c4, gopher, fineweb, c4,gopher,fineweb) it runs
`python -m pipelines.clean --input FILE --output DIR --preset P` in a subprocess and reads the
manifest's stats. Inputs: each real WARC in --warc-dir; the demo corpus (`shardlm.sample_corpus`,
WARC and JSONL); the Wikipedia sample in --text-dir turned into JSONL (raw wikitext, one article
per line); and, with --generated-mb, a WARC corpus from benchmarks/corpus.py. Prints Markdown
tables (docs/filters.md): records read, records that reached the filters, kept, and the top drop
reasons; then the single-core cost of each preset on the Wikipedia texts (clean_record in a loop).
"""

from __future__ import annotations

import argparse
import bz2
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PRESET_NAMES = ("none", "basic", "c4", "gopher", "fineweb", "c4,gopher,fineweb")
# Drop reasons that come from the quality filters (the others come from reading and dedup).
FILTER_PREFIXES = ("too_few_words", "too_many_words", "low_alpha_ratio", "empty", "c4_", "gopher_", "fineweb_",
                   "wordlist")


def run_clean(source: Path, output: Path, preset: str) -> dict:
    """Run the real command and return the manifest's stats."""
    # URL, near and line dedup off: the tables show what the filters keep (exact dedup always runs)
    command = [sys.executable, "-m", "pipelines.clean", "--input", str(source), "--output", str(output),
               "--preset", preset, "--no-url-dedup", "--no-near-dedup", "--no-line-dedup"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads((output / "manifest.json").read_text())["stats"]


def summarize(stats: dict) -> dict:
    dropped = {k.split("/", 1)[1]: v for k, v in stats.items() if k.startswith("dropped/")}
    filtered = {k: v for k, v in dropped.items() if k.startswith(FILTER_PREFIXES)}
    reached = stats["kept"] + sum(filtered.values()) + dropped.get("exact_duplicate", 0)
    top = Counter(filtered).most_common(3)
    return {"read": stats["read"], "reached_filters": reached, "kept": stats["kept"],
            "top_drops": ", ".join(f"{k} {v}" for k, v in top) or "-"}


def wiki_to_jsonl(source: Path, target: Path) -> Path:
    """MediaWiki XML (bz2) -> one JSON line per article: the raw wikitext and the article URL."""
    lines = []
    with bz2.open(source, "rb") as f:
        title = None
        for _, element in ET.iterparse(f):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = element.text or ""
            elif tag == "text" and element.text:
                url = "https://en.wikipedia.org/wiki/" + title.replace(" ", "_")
                lines.append(json.dumps({"text": element.text, "url": url}, ensure_ascii=False))
            elif tag == "page":
                element.clear()
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def inputs(args: argparse.Namespace, workdir: Path) -> list[tuple[str, Path]]:
    found = [(p.name, p) for p in sorted(Path(args.warc_dir).glob("*")) if p.is_file()]
    sys.path.insert(0, str(ROOT))
    from shardlm import sample_corpus
    demo = sample_corpus.write(workdir / "demo")
    found += [("demo sample.warc.gz", Path(demo["warc"])), ("demo sample.jsonl", Path(demo["jsonl"]))]
    wiki = Path(args.text_dir) / "enwiki-sample.xml.bz2"
    if wiki.exists():
        found.append(("enwiki-sample (JSONL)", wiki_to_jsonl(wiki, workdir / "enwiki.jsonl")))
    if args.generated_mb:
        folder = workdir / "generated"
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "corpus.py"), "--output", str(folder),
                        "--size-mb", str(args.generated_mb)], cwd=ROOT, check=True)
        found.append((f"benchmarks/corpus.py {args.generated_mb} MiB", folder / "*.warc.gz"))
    return found


def preset_cost(jsonl: Path, repeats: int = 3) -> dict[str, float]:
    """Documents per second of `clean_record` for each preset on the texts of `jsonl`, one core."""
    from pipelines.clean.filters import clean_record, preset
    from pipelines.clean.readers import RawRecord
    records = [RawRecord(source="bench", position=i, text=json.loads(line)["text"])
               for i, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines())]
    rates = {}
    for name in PRESET_NAMES:
        config = preset(name)
        best = min(_timed(records, config, clean_record) for _ in range(repeats))
        rates[name] = len(records) / best
    return rates


def _timed(records, config, clean_record) -> float:
    start = time.perf_counter()
    for record in records:
        clean_record(record, config)
    return time.perf_counter() - start


def markdown(results: dict[str, dict[str, dict]]) -> str:
    out = []
    for source, per_preset in results.items():
        out += [f"**{source}**", "", "| preset | read | reached filters | kept | top drop reasons |",
                "| --- | ---: | ---: | ---: | --- |"]
        for name, s in per_preset.items():
            out.append(f"| `{name}` | {s['read']} | {s['reached_filters']} | {s['kept']} | {s['top_drops']} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warc-dir", default=str(SHARED / "warc"))
    parser.add_argument("--text-dir", default=str(SHARED / "text"))
    parser.add_argument("--generated-mb", type=int, default=0, help="also a benchmarks/corpus.py corpus of this size")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        results: dict[str, dict[str, dict]] = {}
        for label, source in inputs(args, workdir):
            results[label] = {}
            for name in PRESET_NAMES:
                output = workdir / "out" / label.replace(" ", "_") / name.replace(",", "+")
                results[label][name] = summarize(run_clean(source, output, name))
            print(markdown({label: results[label]}), flush=True)
        wiki = workdir / "enwiki.jsonl"
        if wiki.exists():
            rates = preset_cost(wiki)
            results["cost_docs_per_s"] = rates
            print("| preset | documents/s (enwiki texts, one core) |\n| --- | ---: |")
            print("\n".join(f"| `{k}` | {v:,.0f} |" for k, v in rates.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
