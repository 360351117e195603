"""Sentence splitting: boundary quality and speed of the candidate splitters, side by side.

    .venv/bin/python benchmarks/sentences.py [--data ../shared/data] [--splitters regex,sentencex,...]
        [--num-paragraphs 200] [--speed-kb 200]

Quality: boundary precision, recall and F1 per language (en, de, ru, zh, ja, ar) against the
gold of benchmarks/sentences_gold.py (written paragraphs with hard cases; real single-sentence
units of ../shared/data joined into paragraphs). A boundary is the number of non-space
characters before it, so splitters that keep or drop spaces are scored alike. Speed: MB/s of
UTF-8 text and sentences/s on one core (process time), every real paragraph of up to
`--speed-kb` KB per language, one call per paragraph as `shardlm build` does. `shardlm` is
`pipelines.build.sentences.split_paragraph` with the language hint; `regex` is the rule set
shardlm used before (kept here as the baseline). Needs the splitters of
benchmarks/requirements.txt. Not a test.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sentences_gold as gold  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LANGS = ("en", "de", "ru", "zh", "ja", "ar")
Split = Callable[[str, str], list[str]]  # (paragraph, lang) -> sentences


# ------------------------------------------------------------------ the baseline: shardlm's regex
_ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sr jr st mt ft gen gov sen rep lt col capt cmdr sgt rev hon pres supt
vs v e.g i.e cf al approx dept est fig figs no nos vol vols pp p ch sec art ed eds
inc ltd co corp bros jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m
""".split())
_CLOSERS = "\"'\u2019\u201d)]}\u00bb"
_OPENERS = "\"'\u2018\u201c([{\u00ab\u00bf\u00a1"
_BOUNDARY = re.compile(r"(?:[.!?\u2026]+)[" + re.escape(_CLOSERS) + r"]*(?=\s+(\S))")


def regex_split(paragraph: str, lang: str) -> list[str]:
    """shardlm's splitter before issue 6 item 7 (pipelines/build/sentences.py at 321e5c3)."""
    out, start = [], 0
    for m in _BOUNDARY.finditer(paragraph):
        c = m.group(1)
        if not (c.isupper() or c.isdigit() or c in _OPENERS):
            continue
        candidate = paragraph[start:m.end()]
        if m.group(0).rstrip(_CLOSERS) == ".":
            words = candidate.split()
            last = words[-1].rstrip(_CLOSERS)[:-1].lstrip(_OPENERS) if words else ""
            if last.lower() in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                continue
            if len(words) == 1 and (last.isdigit() or last.lower() in {"i", "ii", "iii", "iv", "v"}):
                continue
        out.append(candidate.strip())
        start = m.end()
    return out + ([paragraph[start:].strip()] if paragraph[start:].strip() else [])


# ------------------------------------------------------------------ the candidates
def _shardlm() -> Split:
    from pipelines.build.sentences import split_paragraph

    return lambda p, lang: split_paragraph(p, lang=lang)


def _sentencex() -> Split:
    import sentencex

    return lambda p, lang: list(sentencex.segment(lang, p))


def _pysbd() -> Split:
    import pysbd

    segmenters: dict[str, object] = {}

    def split(p: str, lang: str) -> list[str]:
        if lang not in segmenters:
            segmenters[lang] = pysbd.Segmenter(language=lang, clean=False)
        return segmenters[lang].segment(p)
    return split


def _blingfire() -> Split:
    import blingfire

    return lambda p, lang: blingfire.text_to_sentences(p).split("\n")


def _segtok() -> Split:
    from segtok.segmenter import split_single

    return lambda p, lang: list(split_single(p))


def _syntok() -> Split:
    from syntok import segmenter

    def split(p: str, lang: str) -> list[str]:
        return ["".join(t.spacing + t.value for t in s) for para in segmenter.process(p) for s in para]
    return split


def _nupunkt() -> Split:
    import nupunkt

    return lambda p, lang: nupunkt.sent_tokenize(p)


def _moses() -> Split:
    import logging

    from sentence_splitter import SentenceSplitter

    logging.getLogger("sentence_splitter").setLevel(logging.ERROR)
    splitters: dict[str, object] = {}

    def split(p: str, lang: str) -> list[str]:
        if lang not in splitters:  # no non-breaking prefixes for zh, ja, ar: English's
            key = lang if lang in ("en", "de", "ru") else "en"
            splitters[lang] = SentenceSplitter(language=key)
        return splitters[lang].split(p)
    return split


def _spacy() -> Split:
    import spacy

    pipelines: dict[str, object] = {}

    def split(p: str, lang: str) -> list[str]:
        if lang not in pipelines:  # spaCy's Japanese needs sudachipy: the multi-language tokenizer
            nlp = spacy.blank("xx" if lang == "ja" else lang)
            nlp.add_pipe("sentencizer")
            pipelines[lang] = nlp
        return [s.text for s in pipelines[lang](p).sents]
    return split


SPLITTERS: dict[str, Callable[[], Split]] = {
    "shardlm": _shardlm, "regex": lambda: regex_split, "sentencex": _sentencex, "pysbd": _pysbd,
    "blingfire": _blingfire, "segtok": _segtok, "syntok": _syntok, "nupunkt": _nupunkt,
    "sentence-splitter": _moses, "spacy-sentencizer": _spacy,
}


# ------------------------------------------------------------------ scoring
def boundaries(sentences: list[str]) -> tuple[set[int], int]:
    """Positions (non-space characters before) of the boundaries inside a paragraph, and its length."""
    cuts, pos = set(), 0
    for s in sentences:
        pos += sum(not c.isspace() for c in s)
        cuts.add(pos)
    return cuts - {pos, 0}, pos


def score(split: Split, paragraphs: dict[str, list[list[str]]]) -> dict[str, dict]:
    """Per language: true positives, false positives, false negatives, paragraphs split exactly."""
    out = {}
    for lang, groups in paragraphs.items():
        tp = fp = fn = exact = lost = 0
        for sentences in groups:
            want, size = boundaries(sentences)
            got, got_size = boundaries([s for s in split(gold.join(lang, sentences), lang) if s.strip()])
            lost += got_size != size
            tp, fp, fn = tp + len(want & got), fp + len(got - want), fn + len(want - got)
            exact += want == got
        out[lang] = {"tp": tp, "fp": fp, "fn": fn, "exact": exact, "n": len(groups), "lost": lost}
    return out


def f1(c: dict) -> float:
    return 2 * c["tp"] / (2 * c["tp"] + c["fp"] + c["fn"]) if c["tp"] + c["fp"] + c["fn"] else 1.0


def speed(split: Split, texts: dict[str, list[str]]) -> tuple[float, float]:
    """(MB/s, sentences/s) over every paragraph of every language, one core."""
    size = sum(len(t.encode("utf-8")) for ts in texts.values() for t in ts)
    count = 0
    start = time.process_time()
    for lang, ts in texts.items():
        for t in ts:
            count += len(split(t, lang))
    elapsed = time.process_time() - start
    return size / elapsed / 1e6, count / elapsed


def capped(texts: dict[str, list[str]], kb: int) -> dict[str, list[str]]:
    out = {}
    for lang, ts in texts.items():
        kept, size = [], 0
        for t in ts:
            if size >= kb * 1000:
                break
            kept.append(t)
            size += len(t.encode("utf-8"))
        out[lang] = kept
    return out


def run(names: list[str], data: Path, num_paragraphs: int, speed_kb: int) -> list[dict]:
    texts = gold.real_texts(data)
    joined = gold.joined_paragraphs(texts, num_paragraphs)
    timed = capped({**texts, "en": gold.novel_chunks(data) + texts["en"]}, speed_kb)
    results = []
    for name in names:
        split = SPLITTERS[name]()
        written = score(split, gold.WRITTEN)
        real = score(split, joined)
        mb_s, sent_s = speed(split, timed)
        results.append({"splitter": name, "written": written, "joined": real, "mb_s": mb_s, "sent_s": sent_s})
        print(f"{name}: done", file=sys.stderr)
    print("joined paragraphs: " + ", ".join(f"{k} {len(v)}" for k, v in joined.items()), file=sys.stderr)
    print("speed text: " + ", ".join(f"{k} {sum(len(t.encode()) for t in v) / 1000:.0f} KB"
                                     for k, v in timed.items()), file=sys.stderr)
    return results


def table(results: list[dict]) -> str:
    head = ["splitter", *(f"{lang} F1" for lang in LANGS), "mean F1", "written exact", "joined F1", "MB/s", "sentences/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        per_lang = []
        for lang in LANGS:
            total = {k: r["written"][lang][k] + r["joined"].get(lang, {}).get(k, 0) for k in ("tp", "fp", "fn")}
            per_lang.append(f"{f1(total):.3f}")
        written_exact = sum(c["exact"] for c in r["written"].values())
        written_n = sum(c["n"] for c in r["written"].values())
        joined_all = {k: sum(c[k] for c in r["joined"].values()) for k in ("tp", "fp", "fn")}
        mean = sum(map(float, per_lang)) / len(per_lang)
        lines.append("| " + " | ".join([r["splitter"], *per_lang, f"{mean:.3f}", f"{written_exact}/{written_n}",
                                        f"{f1(joined_all):.3f}", f"{r['mb_s']:.2f}", f"{r['sent_s']:,.0f}"]) + " |")
    return "\n".join(lines)


def detail(results: list[dict]) -> str:
    """Per splitter and language: written and joined F1 with the error counts (fp / fn)."""
    head = ["splitter", *(f"{lang} written / joined" for lang in LANGS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = []
        for lang in LANGS:
            w, j = r["written"][lang], r["joined"].get(lang)
            cell = f"{f1(w):.2f} ({w['fp']}/{w['fn']})"
            cells.append(cell + (f" / {f1(j):.2f} ({j['fp']}/{j['fn']})" if j and j["n"] else " / -"))
        lines.append("| " + " | ".join([r["splitter"], *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--splitters", default=",".join(SPLITTERS))
    parser.add_argument("--num-paragraphs", type=int, default=200, help="joined paragraphs per language")
    parser.add_argument("--speed-kb", type=int, default=200, help="real text per language for speed")
    args = parser.parse_args(argv)
    names = args.splitters.split(",")
    unknown = [n for n in names if n not in SPLITTERS]
    if unknown:
        parser.error(f"unknown splitter(s) {unknown}; known: {', '.join(SPLITTERS)}")
    results = run(names, args.data, args.num_paragraphs, args.speed_kb)
    print(table(results))
    print()
    print(detail(results))


if __name__ == "__main__":
    main()
