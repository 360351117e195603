"""The real English text the recipe benchmark trains on, as one JSONL for `shardlm clean`.

Reads the shared test material (`../shared/data/text`, never copied into the repository):
botchan.txt (a novel, hard-wrapped: cut into documents of 40 lines), enwiki-sample.xml.bz2
(206 Wikipedia articles: wikitext markup stripped to plain paragraphs here, as `shardlm clean`
reads no MediaWiki XML) and the English fortunes of fortunes-5lang.jsonl. Writes
`OUTPUT` (one {"id", "text"} object per line); prints the document count per source.
"""

from __future__ import annotations

import argparse
import bz2
import html
import json
import re
from pathlib import Path

BOTCHAN_LINES = 40  # lines per botchan document (the file has no blank lines)


def strip_nested(text: str, open_: str, close: str) -> str:
    """`text` without the (possibly nested) spans open_ ... close."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith(open_, i):
            depth, i = depth + 1, i + len(open_)
        elif depth and text.startswith(close, i):
            depth, i = depth - 1, i + len(close)
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def wikitext_to_plain(text: str) -> str:
    """Plain paragraphs of a MediaWiki article: templates, tables, references, files and markup gone."""
    text = html.unescape(text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", "", text, flags=re.S)
    text = strip_nested(strip_nested(text, "{{", "}}"), "{|", "|}")
    text = re.sub(r"\[\[(?:File|Image|Category|[a-z\-]{2,12}):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]", "", text)
    text = re.sub(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]", r"\1", text)
    text = re.sub(r"\[https?://\S+ ([^\]]*)\]|\[https?://\S+\]", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"'{2,}", "", text)
    paragraphs = []
    for line in text.split("\n"):
        line = line.strip()
        if re.fullmatch(r"=+[^=]+=+", line):
            continue  # headings
        line = line.lstrip("*#:; ").strip()
        if len(line.split()) >= 8:
            paragraphs.append(line)
    return "\n\n".join(paragraphs)


def documents(text_dir: Path):
    lines = (text_dir / "botchan.txt").read_text(encoding="utf-8-sig").splitlines()
    for n, start in enumerate(range(0, len(lines), BOTCHAN_LINES)):
        yield "botchan", f"botchan-{n}", " ".join(x.strip() for x in lines[start:start + BOTCHAN_LINES] if x.strip())
    xml = bz2.open(text_dir / "enwiki-sample.xml.bz2", "rt", encoding="utf-8").read()
    for n, m in enumerate(re.finditer(r"<text[^>]*>(.*?)</text>", xml, flags=re.S)):
        plain = wikitext_to_plain(m.group(1))
        if plain:
            yield "enwiki", f"enwiki-{n}", plain
    with open(text_dir / "fortunes-5lang.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f):
            row = json.loads(line)
            if row.get("lang") == "en":
                yield "fortunes", f"fortunes-{n}", row["text"]


def main(argv: list[str] | None = None) -> dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-dir", default="../shared/data/text", help="the shared text folder")
    parser.add_argument("--output", required=True, help="JSONL file to write")
    args = parser.parse_args(argv)
    counts: dict[str, int] = {}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as out:
        for source, doc_id, text in documents(Path(args.text_dir)):
            counts[source] = counts.get(source, 0) + 1
            out.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
    print(json.dumps(counts))
    return counts


if __name__ == "__main__":
    main()
