"""Gold sentence boundaries for benchmarks/sentences.py, in two parts.

1. `written`: paragraphs written for this benchmark, one list of sentences each, so the
   boundaries are known by construction. They hold the hard cases of each language
   (abbreviations, initials, ordinals, decimals, quotes, ellipses, spaceless CJK text, Arabic
   question marks and commas) and the cases of issue 6, item 7.
2. `joined` (built by `joined_paragraphs`): real paragraphs from ../shared/data (Debian Reference
   in en, de, ja; fortunes in de, ru; the Chinese texts of langid/mixed8) that are one sentence
   by a stated rule, joined 2-5 at a time, so the gold boundaries are the joins.
   A unit is a text that ends with a terminal mark and has no other terminal mark that could
   end a sentence: inside it, a mark followed by whitespace is allowed only as a '.' or an
   ellipsis followed by a lowercase letter ("e.g. a", "т.е. другое", "z. B. ein", "wait... and"),
   which in edited Latin and Cyrillic text is an abbreviation or a pause, not a sentence end; CJK text may hold no 。！？ before
   its end. Nothing of ../shared/data is stored here: the units are read at run time.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

WRITTEN: dict[str, list[list[str]]] = {
    "en": [
        ["The committee said no.", "Others agreed."],
        ["The study found that X.", "This was new."],
        ["Dr. Smith arrived at 9 a.m. with Mr. Jones.", "They talked, e.g. about the weather, for an hour."],
        ["J. R. R. Tolkien wrote The Hobbit in 1937.", "It sold well."],
        ['He said "Stop."', "Then he left."],
        ["Pi is about 3.14 in most books.", "Nobody argues."],
        ["Is it true?", "Yes!", "It is."],
        ["The U.S. economy grew in 2019.", "Growth slowed later."],
        ["See Fig. 3 and No. 5 for details.", "The rest is in the appendix."],
        ["She works at Acme Inc. in Boston.", "Her office is small."],
        ["I was born in 1990.", "2001 was the year I moved."],
        ["(This is a sentence in brackets.)", "After it comes another."],
        ["He asked, \u201cWhere are you going?\u201d", "She did not answer."],
        ["I waited... and waited.", "Nobody came."],
        ["Prof. Brown and Sen. White met at St. Paul's.", "It rained."],
    ],
    "de": [
        ["Das ist z. B. ein Test.", "Er funktioniert."],
        ["Am 3. Oktober ist Feiertag.", "Die Geschäfte bleiben zu."],
        ["Herr Dr. Müller kam um 8 Uhr.", "Er ging bald."],
        ["Das kostet ca. 5 Euro.", "Das ist günstig."],
        ["Siehe S. 12 und Abb. 4 im Anhang.", "Dort steht alles."],
        ["Wie geht es dir?", "Gut, danke!"],
        ["Er sagte: \u201eIch komme morgen.\u201c", "Dann ging er."],
        ["Das Gesetz trat 2001 in Kraft.", "2005 wurde es geändert."],
        ["Die Stadt liegt am Rhein, d. h. im Westen.", "Sie ist alt."],
        ["Das Haus stammt aus dem 19. Jahrhundert.", "Es wurde renoviert."],
        ["Er wohnt in der Goethestr. 5 in Berlin.", "Sie wohnt nebenan."],
        ["Die Temperatur lag bei 21,5 Grad.", "Es war warm."],
        ["Die Sitzung usw. dauerte lange.", "Alle waren müde."],
    ],
    "ru": [
        ["Это первое предложение.", "Это второе, т. е. другое."],
        ["А. С. Пушкин родился в 1799 г. в Москве.", "Он был поэтом."],
        ["Цена выросла на 5 %, т.е. заметно.", "Рынок отреагировал."],
        ["Он спросил: «Ты придёшь?»", "Она кивнула."],
        ["Это произошло в 1812 г.", "Наполеон отступил."],
        ["См. рис. 3 на с. 15.", "Там всё видно."],
        ["Я ждал... и ждал.", "Никто не пришёл."],
        ["Где ты был?", "Дома!"],
        ["Компания «Ромашка» открылась в 2010 году.", "Она продаёт чай."],
        ["Температура составила 36.6 градуса.", "Это норма."],
        ["Проф. Иванов читал лекцию.", "Студенты слушали."],
    ],
    "zh": [
        ["这是第一句。", "这是第二句。"],
        ["你去哪儿？", "我去学校！", "好的。"],
        ["他说：\u201c我明天来。\u201d", "然后他走了。"],
        ["圆周率约等于3.14。", "这是常识。"],
        ["我买了苹果、香蕉和橙子。", "价格不贵。"],
        ["Python 3.12 已经发布。", "请升级。"],
        ["这件事……真的吗？", "是的。"],
        ["会议在北京召开，与会者约200人。", "会议持续三天。"],
        ["请参阅第9.6.2节。", "那里有详细说明。"],
        ["《红楼梦》是一部小说。", "作者是曹雪芹。"],
    ],
    "ja": [
        ["今日は晴れです。", "明日は雨でしょう。"],
        ["本当ですか？", "はい！", "そうです。"],
        ["彼は「明日来ます。」と言った。", "そして帰った。"],
        ["円周率は約3.14です。", "これは常識です。"],
        ["Debian 12 をインストールしました。", "問題はありません。"],
        ["ええと……わかりません。", "すみません。"],
        ["東京は日本の首都です。", "人口は約1400万人です。"],
        ["詳細は第9.6.2節を参照してください。", "以上です。"],
        ["「こんにちは」と彼女は言った。", "私も挨拶した。"],
        ["それは面白い！", "もう一度見たい。"],
    ],
    "ar": [
        ["ذهبت إلى السوق.", "اشتريت الخبز والحليب."],
        ["هل أنت بخير؟", "نعم، أنا بخير!"],
        ["قال المعلم: «افتحوا الكتب.»", "ثم بدأ الدرس."],
        ["وصل عدد السكان إلى 3.5 مليون نسمة.", "وهو رقم كبير."],
        ["درس د. أحمد الطب في القاهرة.", "ثم عاد إلى بلده."],
        ["الطقس جميل اليوم.", "سنذهب إلى الحديقة."],
        ["كم عمرك؟", "عمري عشرون سنة."],
        ["تأسست الجامعة عام 1908.", "وهي من أقدم الجامعات."],
        ["يا له من يوم رائع!", "لن أنساه أبداً."],
        ["قرأت الكتاب، وأعجبني كثيراً.", "أنصح به الجميع."],
    ],
}

SPACELESS = frozenset({"zh", "ja"})  # sentences follow each other without a space
_CLOSERS = "\"'\u2019\u201d)]}\u00bb\u300d\u300f\uff09"
_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f\u061f][" + re.escape(_CLOSERS) + r"]*$")
_INNER_LATIN = re.compile(r"[.!?\u2026\u061f][" + re.escape(_CLOSERS) + r"]*(?=\s+(\S))")
_CJK_STOP = re.compile(r"[\u3002\uff01\uff1f]")


def join(lang: str, sentences: list[str]) -> str:
    return ("" if lang in SPACELESS else " ").join(sentences)


def is_unit(text: str, lang: str) -> bool:
    """True when `text` is one sentence by the rule in the module docstring."""
    if not 15 <= len(text) <= 400 or not _END.search(text):
        return False
    body = text[:_END.search(text).start()]
    if _CJK_STOP.search(body):
        return False
    return all(m.group(0)[0] in ".\u2026" and m.group(1).islower() for m in _INNER_LATIN.finditer(body))


def real_texts(data: Path) -> dict[str, list[str]]:
    """The real paragraphs of each language in ../shared/data (one line each, whitespace collapsed)."""
    texts: dict[str, list[str]] = {"en": [], "de": [], "ru": [], "ja": [], "zh": []}
    for lang in ("de", "ja"):
        for line in (data / "parallel" / f"debian-reference.en-{lang}.tsv").read_text("utf-8").splitlines():
            if "\t" in line:
                english, other = line.split("\t", 1)
                texts["en"].append(english)
                texts[lang].append(other)
    with (data / "text" / "fortunes-5lang.jsonl").open(encoding="utf-8") as f:
        for row in map(json.loads, f):
            if row["lang"] in ("de", "ru"):  # the quote, without its "-- author" line
                texts[row["lang"]].append(row["text"].split("\n\t\t--")[0])
    with (data / "langid" / "mixed8-1000.jsonl").open(encoding="utf-8") as f:
        texts["zh"] += [row["text"] for row in map(json.loads, f) if row["lang"] == "zh"]
    return {lang: [" ".join(t.split()) for t in ts if t.strip()] for lang, ts in texts.items()}


def novel_chunks(data: Path, lines_per_chunk: int = 10) -> list[str]:
    """botchan.txt is hard-wrapped prose (no paragraph marks): runs of lines joined by spaces.

    For speed only: a line there is not a paragraph, so no unit is taken from it."""
    lines = (data / "text" / "botchan.txt").read_text("utf-8").splitlines()
    return [" ".join(" ".join(lines[i:i + lines_per_chunk]).split()) for i in range(0, len(lines), lines_per_chunk)]


def joined_paragraphs(texts: dict[str, list[str]], num_paragraphs: int, seed: int = 0
                      ) -> dict[str, list[list[str]]]:
    """Per language, up to `num_paragraphs` paragraphs of 2-5 real units each (seeded)."""
    rng = random.Random(seed)
    out: dict[str, list[list[str]]] = {}
    for lang, paragraphs in texts.items():
        units = sorted({t for t in paragraphs if is_unit(t, lang)})
        rng.shuffle(units)
        groups: list[list[str]] = []
        while len(groups) < num_paragraphs and len(units) >= 2:
            k = min(rng.randint(2, 5), len(units))
            groups.append(units[:k])
            units = units[k:]
        out[lang] = groups
    return out
