import dataclasses
from collections import Counter

from pipelines.clean.filters import C4, NONE, clean_lines, filter_page
from pipelines.clean.quality.c4 import c4_lines

FIVE = "This line has exactly five words."  # 1 sentence


def run(text, config=C4):
    """(kept lines or the page's drop reason, removed-line counts)."""
    page, _ = clean_lines(text)
    removed = Counter()
    result = c4_lines(page, config, removed)
    return (result if isinstance(result, str) else result.lines), dict(removed)


def test_each_line_rule_removes_and_counts_its_lines():
    text = "\n".join([
        FIVE,
        "Four words only here.",                            # 4 words < 5
        "No terminal punctuation on this line",
        "This line ends with an ellipsis...",              # "..." is not an end mark
        "Please enable JavaScript to view the page.",
        "Read our Privacy Policy before you continue.",
        'He said "this is a quoted line"',                 # " is an end mark
        "Wait? Is this a question line here?",             # 2 sentences
        "A citation mark is cut out here.[1]",
        "Enormous " + "a" * 1001 + " word in this line.",  # a word over 1000 characters
    ])
    kept, removed = run(text)
    assert kept == [FIVE, 'He said "this is a quoted line"', "Wait? Is this a question line here?",
                    "A citation mark is cut out here."]
    assert removed == {"lines/c4_too_few_words": 1, "lines/c4_no_terminal_punct": 2, "lines/c4_javascript": 1,
                       "lines/c4_policy": 1, "lines/c4_too_long_word": 1}


def test_word_length_and_words_per_line_edges():
    assert run("\n".join([FIVE] * 2 + ["Long " + "a" * 1000 + " words stay in."]))[1] == {}
    assert run("\n".join([FIVE] * 3 + ["Only four words here."]))[1] == {"lines/c4_too_few_words": 1}
    assert run("\n".join([FIVE] * 3 + ["Citations [2][edit] do not count as words."]))[0][3] == (
        "Citations do not count as words.")
    assert run("\n".join([FIVE] * 3 + ["[citation needed]"]))[1] == {"lines/c4_citation_only": 1}


def test_policy_phrases():
    lines = ["We use cookies to improve this site.", "This site uses cookies for everything.",
             "Read the terms of use of this site.", "Read our cookie policy before you go.",
             "The use of cookies is described below.", "A privacy policy applies to this page."]
    kept, removed = run("\n".join([FIVE] * 3 + lines))
    assert kept == [FIVE] * 3 and removed == {"lines/c4_policy": 6}


def test_page_rules_drop_the_whole_page():
    assert run(f"{FIVE}\nLorem ipsum dolor sit amet, consectetur.\n{FIVE}\n{FIVE}")[0] == "c4_lorem_ipsum"
    assert run(f"{FIVE}\nThe function body is {{ return x; }} here.\n{FIVE}\n{FIVE}")[0] == "c4_curly_brace"


def test_page_rules_only_look_at_lines_that_passed_the_line_rules():
    # As in TFDS clean_page: a removed line (no end mark, too short) cannot drop the page.
    kept, removed = run(f"{FIVE}\nlorem ipsum\nvar x = {{}}\n{FIVE}\n{FIVE}")
    assert kept == [FIVE] * 3 and removed == {"lines/c4_no_terminal_punct": 2}
    # javascript is checked before the curly brace: a javascript line with "{" is only removed
    kept, removed = run(f"{FIVE}\nfunction javascript() {{ return this page; }}.\n{FIVE}\n{FIVE}")
    assert kept == [FIVE] * 3 and removed == {"lines/c4_javascript": 1}


def test_minimum_sentences_edge():
    assert run(f"{FIVE}\n{FIVE}")[0] == "c4_too_few_sentences"
    assert run(f"{FIVE}\n{FIVE}\n{FIVE}")[0] == [FIVE] * 3
    assert run("One sentence is here. Another sentence is here. And a third one.")[0] == [
        "One sentence is here. Another sentence is here. And a third one."]
    assert run("Dr. Smith met Mr. Jones at noon today.\n" * 2)[0] == "c4_too_few_sentences"  # abbreviations


def test_rules_are_switched_off_one_by_one():
    no_punct = dataclasses.replace(C4, c4_terminal_punct=False)
    assert run(f"{FIVE}\n{FIVE}\nThree sentences here without a final mark")[0] == "c4_too_few_sentences"
    assert run(f"{FIVE}\n{FIVE}\nA third sentence without a final mark", no_punct)[0][2] == (
        "A third sentence without a final mark")
    only_lorem = dataclasses.replace(NONE, c4_lorem_ipsum=True)
    assert only_lorem.uses_c4_lines and not NONE.uses_c4_lines
    assert run("lorem ipsum", only_lorem)[0] == "c4_lorem_ipsum"
    assert run("x { y", only_lorem)[0] == ["x { y"]


def test_filter_page_counts_line_reasons_and_kept_lines():
    counts = Counter()
    page, _ = clean_lines(f"{FIVE}\nshort\n{FIVE}\nPlease allow javascript in your browser now.\n{FIVE}")
    final, reason = filter_page(page, C4, lambda name, n=1: counts.update({name: n}))
    assert reason is None and final.lines == [FIVE] * 3
    assert counts == {"lines/c4_no_terminal_punct": 1, "lines/c4_javascript": 1, "lines/kept": 3}
    counts.clear()
    assert filter_page(page, dataclasses.replace(C4, c4_min_sentences=4),
                       lambda name, n=1: counts.update({name: n}))[1] == "c4_too_few_sentences"
    assert counts == {"lines/c4_no_terminal_punct": 1, "lines/c4_javascript": 1}  # no lines/kept for a dropped page
