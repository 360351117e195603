import dataclasses

import pytest

from pipelines.clean.filters import GOPHER, clean_lines, filter_page
from pipelines.clean.quality import gopher

STOP = "the cat and"  # two stop words, three words of mean length 3


def page(text):
    return clean_lines(text)[0]


def words(n, word="word"):
    return " ".join([word] * n)


def test_word_count_edges():
    assert gopher.too_few_words(page(words(49)), GOPHER) == "too_few_words"
    assert gopher.too_few_words(page(words(50)), GOPHER) is None
    assert gopher.too_many_words(page(words(100_000)), GOPHER) is None
    assert gopher.too_many_words(page(words(100_001)), GOPHER) == "too_many_words"


def test_alphabetic_word_fraction_edges():
    assert gopher.low_alpha_ratio(page(words(40) + " 1" * 10), GOPHER) is None  # 40 of 50 = 0.8
    assert gopher.low_alpha_ratio(page(words(39) + " 1" * 11), GOPHER) == "low_alpha_ratio"
    assert gopher.low_alpha_ratio(page(words(39) + " 1" * 10 + " 1a"), GOPHER) is None  # "1a" has a letter


@pytest.mark.parametrize("text,reason", [
    (words(50, "abc"), None),                                              # mean 3.0
    ("ab " + words(49, "abc"), "gopher_mean_word_length_low"),              # mean 149 / 50 = 2.98
    (words(50, "abcdefghij"), None),                                       # mean 10.0
    ("abcdefghijk " + words(49, "abcdefghij"), "gopher_mean_word_length_high"),  # 501 / 50 = 10.02
    ("... " * 10 + words(50, "abc"), None),                                # "..." is not a word
])
def test_mean_word_length_edges(text, reason):
    assert gopher.mean_word_length(page(text), GOPHER) == reason


def test_symbol_ratio_edges():
    assert gopher.symbol_ratio(page(words(45) + " tag#" * 5), GOPHER) is None  # 5 '#' per 50 words = 0.1
    assert gopher.symbol_ratio(page(words(44) + " tag#" * 6), GOPHER) == "gopher_hash_ratio"
    assert gopher.symbol_ratio(page(words(45) + " so..." * 5), GOPHER) is None
    assert gopher.symbol_ratio(page(words(45) + " so..." * 3 + " so\u2026" * 3), GOPHER) == "gopher_ellipsis_ratio"


def test_bullet_and_ellipsis_line_edges():
    nine = "\n".join(["- item"] * 4 + ["\u2022 item"] * 5 + ["plain line"])
    assert gopher.bullet_lines(page(nine), GOPHER) is None  # 9 of 10 = 0.9
    assert gopher.bullet_lines(page(nine.replace("plain line", "-plain line")), GOPHER) == "gopher_bullet_lines"
    three = "\n".join(["it went on..."] * 2 + ["and on\u2026"] + ["it stopped."] * 7)
    assert gopher.ellipsis_lines(page(three), GOPHER) is None  # 3 of 10 = 0.3
    assert gopher.ellipsis_lines(page(three.replace("it stopped.", "it...", 1)), GOPHER) == "gopher_ellipsis_lines"


@pytest.mark.parametrize("text,reason", [
    ("The cat and the dog.", None),
    ("THE end, AND more", None),                   # case does not matter
    ("Of-course, with", None),                     # punctuation around a word does not matter
    ("the the The tHe cat", "gopher_stop_words"),  # one stop word, however often
    ("theory bethe tothe andes", "gopher_stop_words"),
    ("", "gopher_stop_words"),
])
def test_stop_words(text, reason):
    assert gopher.stop_words(page(text), GOPHER) == reason


def test_gopher_preset_reasons_in_order():
    prose = "The quick brown fox jumps over the lazy dog and runs to the forest. "
    prose += " ".join(f"Word{i}" for i in range(40))  # 54 words, none repeated but "the"
    assert filter_page(page(prose), GOPHER)[1] is None
    assert filter_page(page("A short text."), GOPHER)[1] == "too_few_words"
    assert filter_page(page(prose + " #x" * 7), GOPHER)[1] == "gopher_hash_ratio"
    no_stop = prose.replace("the ", "a ").replace("The ", "A ").replace("and", "or").replace(" to ", " into ")
    assert filter_page(page(no_stop), GOPHER)[1] == "gopher_stop_words"
    switched_off = dataclasses.replace(GOPHER, min_stop_words=None)
    assert filter_page(page(no_stop), switched_off)[1] is None
