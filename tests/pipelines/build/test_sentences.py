import pytest

from pipelines.build.sentences import split_paragraph, split_sentences
from tests.conftest import shared_data


@pytest.mark.parametrize("text, expected", [
    ("Hello world. This is Dr. Smith! Is it? Yes.",
     ["Hello world.", "This is Dr. Smith!", "Is it?", "Yes."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("J. R. R. Tolkien wrote books. He died in 1973. 1974 was calm.",
     ["J. R. R. Tolkien wrote books.", "He died in 1973.", "1974 was calm."]),
    ("e.g. this one. lowercase starts do not split", ["e.g. this one. lowercase starts do not split"]),
    ("U.S. troops arrived. The end", ["U.S. troops arrived.", "The end"]),
    ("Wait... What?! (Really.) Yes.", ["Wait...", "What?!", "(Really.)", "Yes."]),
    ("Pi is 3.14 today. OK", ["Pi is 3.14 today.", "OK"]),
    ("See Fig. 3 and No. 5 for Mr. Brown. Done.", ["See Fig. 3 and No. 5 for Mr. Brown.", "Done."]),
    ("No punctuation at all", ["No punctuation at all"]),
    ("\u201cQuoted.\u201d \u201cAnother one.\u201d", ["\u201cQuoted.\u201d", "\u201cAnother one.\u201d"]),
    ("Es ist gut. \u00dcber alles.", ["Es ist gut.", "\u00dcber alles."]),
])
def test_split_paragraph_exact(text, expected):
    assert split_paragraph(text) == expected


def test_lines_are_paragraphs_and_blank_lines_vanish():
    text = "1. First item here. Second item.\n\n   \n  Next paragraph...   And more\nlast line without stop"
    assert split_sentences(text) == ["1. First item here.", "Second item.", "Next paragraph...", "And more",
                                     "last line without stop"]


def test_empty_text_has_no_sentences():
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n") == []


def test_real_novel_keeps_every_word_and_splits_often():
    text = shared_data("text", "botchan.txt").read_text(encoding="utf-8")
    sentences = split_sentences(text)
    assert " ".join(sentences).split() == text.split()  # nothing lost or invented
    paragraphs = [line for line in text.splitlines() if line.strip()]
    assert len(sentences) > 1.5 * len(paragraphs)
    assert all(s == s.strip() and s for s in sentences)
