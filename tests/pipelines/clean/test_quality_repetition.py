import dataclasses
import random
from collections import Counter

import pytest

from pipelines.clean.filters import GOPHER, NONE, clean_lines, filter_page
from pipelines.clean.quality import repetition
from pipelines.clean.quality.repetition import NGrams


def page(text):
    return clean_lines(text)[0]


# --- datatrove 0.10.1 gopher_repetition_filter semantics, written out plainly as the reference ---

def reference_top_chars(words, n):
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    top, count = Counter(grams).most_common(1)[0]
    return len(top) * count


def reference_duplicate_chars(words, n):
    seen, total, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = tuple(words[i:i + n])
        if gram in seen:
            total += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return total


def test_ngram_counts_match_the_reference_on_random_texts():
    rng = random.Random(7)
    repeated = 0
    for _ in range(300):
        vocabulary = [f"w{j}" * rng.randint(1, 3) for j in range(rng.randint(1, 12))]
        words = [rng.choice(vocabulary) for _ in range(rng.randint(2, 120))]
        grams = NGrams(words)
        for n in range(2, 11):
            if not grams.advance():
                assert len(words) < n
                break
            assert grams.top_chars() == reference_top_chars(words, n)
            assert grams.duplicate_chars() == reference_duplicate_chars(words, n)
            repeated += grams.duplicate_chars() > 0
    assert repeated > 300  # the interesting case happened often


def test_duplicate_chars_jump_past_a_counted_ngram():
    grams = NGrams(["a", "a", "a", "a", "a", "a", "a"])
    for _ in range(2):
        grams.advance()  # n = 3
    # 3-grams at 0..4 are all "aaa": 0 is new, 1 repeats (+3, jump to 4), 4 repeats (+3)
    assert grams.duplicate_chars() == 6 and grams.top_chars() == 5 * 5


def test_duplicate_line_edges():
    unique = [f"Unique line number {i} with quite a lot of text in it." for i in range(7)]
    three = "\n".join(unique + ["dup", "dup", "dup", "dup"])  # 3 duplicates of 11 lines = 0.27
    assert repetition.dup_lines(page(three), GOPHER) is None
    four = "\n".join(unique[:6] + ["dup"] * 5)  # 4 of 11 = 0.36
    assert repetition.dup_lines(page(four), GOPHER) == "gopher_dup_line_frac"
    long = "A long line that comes back once, with many characters in it, enough to matter."
    chars = "\n".join(unique[:4] + [long, long])  # 1 of 6 lines, 80 of 324 chars = 0.25
    assert repetition.dup_lines(page(chars), GOPHER) == "gopher_dup_line_char_frac"
    assert repetition.dup_lines(page("\n".join(unique + [long, long])), GOPHER) is None  # 80 / 460 = 0.17


def test_duplicate_paragraph_edges():
    paragraphs = [f"Paragraph {i} has its own words.\nAnd a second line {i}." for i in range(7)]
    same = "Same."
    three = "\n\n".join(paragraphs + [same] * 4)  # 3 of 11 = 0.27, 15 chars
    assert repetition.dup_paragraphs(page(three), GOPHER) is None
    four = "\n\n".join(paragraphs[:6] + [same] * 5)  # 4 of 11 = 0.36
    assert repetition.dup_paragraphs(page(four), GOPHER) == "gopher_dup_para_frac"
    big = "\n".join(["A big paragraph repeated once."] * 1 + ["Its second line is different from all."])
    assert repetition.dup_paragraphs(page("\n\n".join(paragraphs[:3] + [big, big])), GOPHER) == (
        "gopher_dup_para_char_frac")
    # the same lines without blank lines between them are one paragraph
    assert repetition.dup_paragraphs(page("\n".join(paragraphs[:6] + [same] * 5)), GOPHER) is None


def test_top_ngram_edges():
    config = dataclasses.replace(NONE, max_top_ngram_char_fractions=((2, 0.20),))
    filler = " ".join(f"filler{i:02d}" for i in range(40))  # 40 unique words of 8 chars: 359 chars
    # "aa bb" (5 chars) x 18 = 90 chars; text 359 + 1 + 18 * 6 - 1 = 467 -> 0.193
    assert repetition.ngram_repetition(page(filler + " " + " ".join(["aa bb"] * 18)), config) is None
    # x 20 = 100 chars of 479 = 0.209 > 0.20
    assert repetition.ngram_repetition(page(filler + " " + " ".join(["aa bb"] * 20)), config) == "gopher_top_2gram"


def test_duplicate_ngram_edge():
    config = dataclasses.replace(NONE, max_dup_ngram_char_fractions=((5, 0.15),))
    filler = " ".join(f"filler{i:02d}" for i in range(40))  # 359 chars
    gram = "one two six ten red"  # 15 chars without spaces
    # the 5-gram twice: 15 duplicate chars; three times: 30 (of 359 + 3 * 20 = 419 -> 0.072)
    text = filler + (" " + gram) * 3
    assert repetition.ngram_repetition(page(text), config) is None
    text = filler + (" " + gram) * 6  # 75 of 479 = 0.157
    assert repetition.ngram_repetition(page(text), config) == "gopher_dup_5gram"


@pytest.mark.parametrize("n_words,reason", [(1, None), (2, "gopher_top_2gram")])
def test_tiny_documents(n_words, reason):
    # As in datatrove: one 2-gram is the whole text, more than 20% of it.
    assert repetition.ngram_repetition(page(" ".join(["word"] * n_words)), GOPHER) == reason


def test_repetition_runs_on_the_page_before_c4_line_removal():
    menu = "\n".join(["Home", "About", "Home", "About", "Home", "About"])
    prose = ("The river runs past the old mill and the town, where people meet to trade goods. "
             "Each spring the water rises and the fields turn green with new grass and flowers. ")
    text = menu + "\n" + prose + "\n" + prose.replace("river", "road").replace("water", "dust")
    assert filter_page(page(text), GOPHER)[1] == "gopher_dup_line_frac"
