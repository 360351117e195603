import pytest

from pipelines.build.sentences import split_paragraph, split_sentences
from tests.conftest import shared_data


@pytest.mark.parametrize("text, expected", [
    ("Hello world. This is Dr. Smith! Is it? Yes.",
     ["Hello world.", "This is Dr. Smith!", "Is it?", "Yes."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("J. R. R. Tolkien wrote books. He died in 1973. 1974 was calm.",
     ["J. R. R. Tolkien wrote books.", "He died in 1973.", "1974 was calm."]),
    ("U.S. troops arrived. The end", ["U.S. troops arrived.", "The end"]),
    ("Pi is 3.14 today. OK", ["Pi is 3.14 today.", "OK"]),
    ("See Fig. 3 and No. 5 for Mr. Brown. Done.", ["See Fig. 3 and No. 5 for Mr. Brown.", "Done."]),
    ("No punctuation at all", ["No punctuation at all"]),
    ("\u201cQuoted.\u201d \u201cAnother one.\u201d", ["\u201cQuoted.\u201d", "\u201cAnother one.\u201d"]),
    # issue 6, item 7: today's regex kept each of these as one sentence
    ("The committee said no. Others agreed.", ["The committee said no.", "Others agreed."]),
    ("The study found that X. This was new.", ["The study found that X.", "This was new."]),
    ("Dr. Smith, e.g. a doctor, came. He left.", ["Dr. Smith, e.g. a doctor, came.", "He left."]),
    ("I waited... and waited. Nobody came.", ["I waited... and waited.", "Nobody came."]),
])
def test_english(text, expected):
    assert split_paragraph(text, "en") == expected


@pytest.mark.parametrize("lang, text, expected", [
    ("zh", "这是第一句。这是第二句。", ["这是第一句。", "这是第二句。"]),
    ("zh", "你去哪儿？我去学校！圆周率约等于3.14。", ["你去哪儿？", "我去学校！", "圆周率约等于3.14。"]),
    ("ja", "今日は晴れです。明日は雨でしょう！本当ですか？",
     ["今日は晴れです。", "明日は雨でしょう！", "本当ですか？"]),
    # sentencex alone keeps a CJK full stop followed by Latin text in one sentence
    ("ja", "全消去します。apt-listbugs パッケージを使います。", ["全消去します。", "apt-listbugs パッケージを使います。"]),
    ("ar", "ذهبت إلى السوق. اشتريت الخبز؟ نعم، اشتريته!",
     ["ذهبت إلى السوق.", "اشتريت الخبز؟", "نعم، اشتريته!"]),
    ("de", "Herr Dr. Müller kam um 8 Uhr. Das kostet ca. 5 Euro. Er ging.",
     ["Herr Dr. Müller kam um 8 Uhr.", "Das kostet ca. 5 Euro.", "Er ging."]),
    ("de", "Am 3. Oktober ist Feiertag. Die Stadt liegt am Rhein, d. h. im Westen.",
     ["Am 3. Oktober ist Feiertag.", "Die Stadt liegt am Rhein, d. h. im Westen."]),
    ("ru", "А. С. Пушкин родился в 1799 г. в Москве. Он был поэтом.",
     ["А. С. Пушкин родился в 1799 г. в Москве.", "Он был поэтом."]),
    # sentencex alone splits Russian at an ellipsis followed by a lowercase word
    ("ru", "Дадим природе отдохнуть...  на наших детях. Конец.",
     ["Дадим природе отдохнуть...  на наших детях.", "Конец."]),
])
def test_languages(lang, text, expected):
    assert split_paragraph(text, lang) == expected


def test_language_hint_changes_the_rules():
    """German rules know ordinals ("3. Mai"), Russian ones "Проф."; English's know neither.
    'und' or no hint split as English."""
    german, russian = "Er kam am 3. Mai. Gut.", "Проф. Иванов читал. Все."
    assert split_paragraph(german, "de") == ["Er kam am 3. Mai.", "Gut."]
    assert split_paragraph(german, "en") == ["Er kam am 3.", "Mai.", "Gut."]
    assert split_paragraph(russian, "ru") == ["Проф. Иванов читал.", "Все."]
    assert split_paragraph(russian, "en") == ["Проф.", "Иванов читал.", "Все."]
    assert split_paragraph(german, "und") == split_paragraph(german) == split_paragraph(german, "en")


def test_lines_are_paragraphs_and_blank_lines_vanish():
    text = "First item here. Second item.\n\n   \n  Next paragraph...   And more\nlast line without stop"
    assert split_sentences(text, "en") == ["First item here.", "Second item.", "Next paragraph...", "And more",
                                           "last line without stop"]


def test_empty_text_has_no_sentences():
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n", "ja") == []


@pytest.mark.parametrize("lang", ["en", "ja", "de"])
def test_real_text_keeps_every_character_and_splits_often(lang):
    if lang == "en":
        text = shared_data("text", "botchan.txt").read_text(encoding="utf-8")
    else:
        rows = shared_data("parallel", f"debian-reference.en-{lang}.tsv").read_text(encoding="utf-8").splitlines()
        text = "\n".join(row.split("\t", 1)[1] for row in rows if "\t" in row)
    sentences = split_sentences(text, lang)
    assert "".join("".join(sentences).split()) == "".join(text.split())  # nothing lost or invented
    paragraphs = [line for line in text.splitlines() if line.strip()]
    assert len(sentences) > 1.1 * len(paragraphs)
    assert all(s == s.strip() and s for s in sentences)



def test_tokenize_documents_splits_with_each_documents_language():
    from tokenizers import Tokenizer

    from pipelines.build.tokenize_docs import tokenize_documents

    path = shared_data("tokenizers", "bert-base-uncased-wordpiece", "tokenizer.json")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    text = "Er kam am 3. Mai. Gut."
    docs, skipped = tokenize_documents(tokenizer, [("a", text, "de"), ("b", text, "en"), ("c", text)])
    assert [d.num_sentences for d in docs] == [2, 3, 3] and not skipped


def test_tokenize_documents_ids_are_each_sentences_own_encoding():
    """The build encodes without offsets (encode_batch_fast): the ids must be encode()'s."""
    from tokenizers import Tokenizer

    from pipelines.build.tokenize_docs import tokenize_documents

    tokenizer = Tokenizer.from_file(str(shared_data("tokenizers", "bert-base-uncased-wordpiece", "tokenizer.json")))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    text = "\n".join(shared_data("text", "botchan.txt").read_text(encoding="utf-8").splitlines()[200:260])
    (doc,), _ = tokenize_documents(tokenizer, [("a", text, "en")])
    sentences = split_sentences(text, "en")
    assert doc.num_sentences == len(sentences) > 60
    for i, sentence in enumerate(sentences):
        assert doc.sentence(i)[0].tolist() == tokenizer.encode(sentence, add_special_tokens=False).ids
