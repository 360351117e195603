"""Tokenizer training text from several inputs, documents and parallel, with XLM's language
sampling (pipelines/tokenizer/corpus.py), and the job's --input/--lang-alpha/--from flags."""

import json
from collections import Counter

import pytest

from pipelines.tokenizer.corpus import CorpusConfig, CorpusStats, sampling_rates, training_texts
from pipelines.tokenizer.job import main
from pipelines.tokenizer.load import load_tokenizer
from tests.conftest import shared_data


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def inputs(tmp_path, make_documents):
    """A documents dataset of 90 English and 10 German texts, and a parallel en-fr file with one bad line."""
    texts = [f"English text number {i}." for i in range(90)] + [f"Deutscher Text Nummer {i}." for i in range(10)]
    docs = make_documents(str(tmp_path / "docs"), texts, langs=["en"] * 90 + ["de"] * 10)
    parallel = tmp_path / "corpus.en-fr.tsv"
    parallel.write_text("Hello there\tBonjour à vous\nno tab on this line\nGood night\tBonne nuit\n")
    return docs, str(parallel)


def test_sampling_rates_are_xlm_q_over_p():
    rates = sampling_rates({"en": 900, "de": 100}, 0.5)
    # p = 0.9, 0.1; p^0.5 = 0.9487, 0.3162; q = 0.75, 0.25
    assert rates == pytest.approx({"en": 0.75 / 0.9, "de": 0.25 / 0.1})
    assert sampling_rates({"en": 5, "de": 5}, 0.3) == pytest.approx({"en": 1.0, "de": 1.0})
    assert sampling_rates({"en": 900, "de": 100}, 1.0) == pytest.approx({"en": 1.0, "de": 1.0})


def test_texts_from_documents_and_parallel_inputs_in_order(inputs):
    docs, parallel = inputs
    stats = CorpusStats()
    texts = list(training_texts(CorpusConfig(inputs=(docs, parallel)), stats))
    assert texts[:2] == ["English text number 0.", "English text number 1."]
    assert texts[-4:] == ["Hello there", "Bonjour à vous", "Good night", "Bonne nuit"]
    assert stats.read == {"en": 92, "de": 10, "fr": 2} and stats.used == stats.read
    assert stats.pairs == {"pairs/read": 3, "pairs/rejected/no_tab": 1}


def test_lang_alpha_repeats_rare_languages_and_thins_frequent_ones(inputs):
    docs, parallel = inputs
    config = CorpusConfig(inputs=(docs, parallel), lang_alpha=0.3, seed=7)
    stats = CorpusStats()
    texts = list(training_texts(config, stats))
    rates = sampling_rates({"en": 92, "de": 10, "fr": 2}, 0.3)
    assert stats.rates == pytest.approx(rates) and rates["fr"] > rates["de"] > 1 > rates["en"]
    counts = Counter(texts)
    assert all(int(rates["fr"]) <= counts[t] <= int(rates["fr"]) + 1 for t in ("Bonjour à vous", "Bonne nuit"))
    assert stats.used["de"] >= 10 * int(rates["de"]) and stats.used["en"] < 92
    assert sum(stats.used.values()) == len(texts)
    again = list(training_texts(config, CorpusStats()))
    assert again == texts  # seeded: the same draws
    assert list(training_texts(CorpusConfig(inputs=(docs, parallel), lang_alpha=0.3, seed=8), CorpusStats())) != texts


def test_max_documents_counts_texts_in_input_order(inputs):
    docs, parallel = inputs
    stats = CorpusStats()
    texts = list(training_texts(CorpusConfig(inputs=(parallel, docs), max_texts=5), stats))
    assert texts == ["Hello there", "Bonjour à vous", "Good night", "Bonne nuit", "English text number 0."]


def test_config_errors_name_the_flag():
    with pytest.raises(ValueError, match="--lang-alpha must be in"):
        CorpusConfig(inputs=("x",), lang_alpha=0.0)
    with pytest.raises(ValueError, match="--max-documents must be >= 1"):
        CorpusConfig(inputs=("x",), max_texts=0)


def test_job_trains_on_several_inputs_and_records_the_corpus(inputs, tmp_path):
    docs, parallel = inputs
    out = main(["--input", docs, "--input", parallel, "--kind", "wordpiece", "--vocab-size", "120",
                "--min-frequency", "1", "--lang-alpha", "0.5", "--output", str(tmp_path / "tok")])
    info = json.loads((tmp_path / "tok" / "shardlm_tokenizer.json").read_text())
    assert info["inputs"] == [docs, parallel] and info["lang_alpha"] == 0.5
    assert info["corpus"]["texts_read"] == {"de": 10, "en": 92, "fr": 2}
    assert info["corpus"]["pairs"] == {"pairs/read": 3, "pairs/rejected/no_tab": 1}
    tok, _ = load_tokenizer(out)
    assert "bonjour" in tok.encode("Bonjour").tokens  # a French word of the parallel file was learned


def test_job_parallel_file_without_languages_needs_langs(tmp_path):
    (tmp_path / "pairs.tsv").write_text("one\tuno\ntwo\tdos\n" * 20)
    with pytest.raises(ValueError, match="--langs"):
        main(["--input", str(tmp_path / "pairs.tsv"), "--kind", "bpe", "--vocab-size", "60",
              "--output", str(tmp_path / "tok")])
    main(["--input", str(tmp_path / "pairs.tsv"), "--langs", "en,es", "--kind", "bpe", "--vocab-size", "60",
          "--min-frequency", "1", "--output", str(tmp_path / "tok")])
    info = json.loads((tmp_path / "tok" / "shardlm_tokenizer.json").read_text())
    assert info["corpus"]["texts_read"] == {"en": 40, "es": 40}


def test_from_converts_an_existing_vocabulary(tmp_path):
    from transformers import AutoTokenizer

    vocab = shared_data("tokenizers", "bert-base-uncased-wordpiece", "vocab.txt")
    out = main(["--from", str(vocab), "--output", str(tmp_path / "bert")])
    auto = AutoTokenizer.from_pretrained(out)
    assert auto("Hello world")["input_ids"] == [101, 7592, 2088, 102]
    assert json.loads((tmp_path / "bert" / "shardlm_tokenizer.json").read_text())["source"] == str(vocab)
    with pytest.raises(ValueError, match="--from converts a vocabulary; --kind"):
        main(["--from", str(vocab), "--kind", "wordpiece", "--output", str(tmp_path / "x")])
    with pytest.raises(SystemExit):
        main(["--output", str(tmp_path / "y")])  # neither --input nor --from
