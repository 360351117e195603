import dataclasses

from pipelines.clean.filters import C4, FINEWEB, clean_lines, filter_page, preset
from pipelines.clean.quality.fineweb import fineweb_lines


def page(lines):
    return clean_lines("\n".join(lines))[0]


def long_line(i, end="."):
    """A unique line of 8 words and more than 30 characters."""
    return f"Line {i} holds eight words of ordinary text{end}"


def test_line_punctuation_edge():
    three = [long_line(i, ".") for i in range(3)] + [long_line(i, "") for i in range(3, 25)]
    assert fineweb_lines(page(three), FINEWEB) is None  # 3 of 25 = 0.12
    two = [long_line(i, "\u3002") for i in range(2)] + [long_line(i, "") for i in range(2, 25)]
    assert fineweb_lines(page(two), FINEWEB) == "fineweb_line_punct"  # 2 of 25 = 0.08
    quoted = [long_line(i, '."') for i in range(25)]  # a closing quote is not terminal punctuation here
    assert fineweb_lines(page(quoted), FINEWEB) == "fineweb_line_punct"


def test_short_line_edge():
    short = [f"Short line {i:02d}." for i in range(67)]  # 15 characters
    assert fineweb_lines(page(short + [long_line(i) for i in range(33)]), FINEWEB) is None  # 0.67
    assert fineweb_lines(page(short + [f"Short line {i}." for i in range(67, 68)] +
                              [long_line(i) for i in range(32)]), FINEWEB) == "fineweb_short_lines"  # 0.68
    exactly_30 = "Thirty characters in one line."
    assert len(exactly_30) == 30
    assert fineweb_lines(page([exactly_30.replace("one", f"{i:03d}") for i in range(3)] + [long_line(0)]),
                         FINEWEB) == "fineweb_short_lines"  # 3 of 4 lines at most 30 characters


def test_duplicated_line_characters_edge():
    lines = [long_line(i) for i in range(24)]  # 10 x 42 + 14 x 43 characters
    assert sum(map(len, lines)) == 1022
    assert fineweb_lines(page(lines + ["Again."]), FINEWEB) is None
    assert fineweb_lines(page(lines + ["Again.", "Again."]), FINEWEB) is None  # 6 of 1034 = 0.0058
    twice = lines + ["Repeated text here!", "Repeated text here!"]  # 19 of 1060 = 0.018
    assert fineweb_lines(page(twice), FINEWEB) == "fineweb_char_dup"


def test_newline_ratio_edge():
    lines = [f"Extraordinary magnificent performance{i:02d}." for i in range(10)]  # 3 words each
    assert fineweb_lines(page(lines), FINEWEB) is None  # 9 newlines / 30 words = 0.3
    lines[0] = "Extraordinary performances."
    assert fineweb_lines(page(lines), FINEWEB) == "fineweb_newline_ratio"  # 9 / 29 = 0.31
    assert fineweb_lines(page(lines), dataclasses.replace(FINEWEB, fineweb_max_newline_ratio=None)) is None


def test_fineweb_sees_the_text_after_c4_line_removal():
    prose = [f"Sentence number {i} of this page is long enough to stay." for i in range(3)]
    menu = [f"Menu item {i}" for i in range(12)]
    assert filter_page(page(menu + prose), FINEWEB)[1] == "fineweb_short_lines"  # 12 of 15 = 0.8
    assert filter_page(page(menu + prose), C4)[1] is None
    assert filter_page(page(menu + prose), preset("c4,fineweb"))[1] is None
