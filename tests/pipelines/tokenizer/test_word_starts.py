"""Word starts per tokenizer family, with exact expected flags (pipelines/tokenizer/word_starts.py)."""

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from pipelines.build.tokenize_docs import tokenize_documents
from pipelines.tokenizer.word_starts import offset_word_starts, word_start_family, word_start_rule
from tests.conftest import shared_data


def flags(tok: Tokenizer, text: str) -> list[tuple[str, bool]]:
    """(token, word start) for one sentence, through tokenize_documents."""
    docs, _ = tokenize_documents(tok, [("d", text)])
    (doc,) = docs
    assert doc.num_sentences == 1
    return list(zip([tok.id_to_token(int(i)) for i in doc.ids], doc.word_start.tolist()))


def wordpiece() -> Tokenizer:
    vocab = ["[UNK]", "[CLS]", "un", "##aff", "##able", "don", "'", "t", ",", "go", "##es", "."]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def test_wordpiece_a_piece_without_hashes_starts_a_word():
    # BERT's pre-tokenizer makes punctuation words of its own (google-research/bert whole-word masking)
    assert flags(wordpiece(), "Unaffable, don't goes.") == [
        ("un", True), ("##aff", False), ("##able", False), (",", True), ("don", True), ("'", True),
        ("t", True), ("go", True), ("##es", False), (".", True)]
    assert word_start_rule(wordpiece()).family == word_start_family(wordpiece()) == "wordpiece"


def byte_alphabet_bpe(merges: list[tuple[str, str]]) -> Tokenizer:
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = sorted(alphabet) + ["".join(m) for m in merges]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(vocab)}, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def test_bytelevel_a_piece_beginning_with_a_space_starts_a_word():
    tok = byte_alphabet_bpe([("Ġ", "h"), ("Ġh", "i"), ("'", "t"), ("o", "k")])
    # fairseq: attached punctuation and contractions belong to the word before them; a lone
    # space piece starts the word its next piece continues; after a tab a word starts.
    assert flags(tok, "ok, hi don't\tok") == [
        ("ok", True), (",", False), ("Ġhi", True), ("Ġ", True), ("d", False), ("o", False), ("n", False),
        ("'t", False), ("ĉ", True), ("ok", True)]
    assert word_start_family(tok) == "bytelevel"


def test_bytelevel_on_the_real_gpt2_vocabulary():
    from transformers import GPT2TokenizerFast

    tok = GPT2TokenizerFast.from_pretrained(str(shared_data("tokenizers", "gpt2-bpe"))).backend_tokenizer
    assert flags(tok, "Hello world, don't stop  now!") == [
        ("Hello", True), ("Ġworld", True), (",", False), ("Ġdon", True), ("'t", False), ("Ġstop", True),
        ("Ġ", True), ("Ġnow", True), ("!", False)]


def metaspace_unigram() -> Tokenizer:
    pieces = [("<unk>", 0.0), ("▁", -2.0), ("▁he", -1.0), ("llo", -1.0), (",", -1.5), ("▁wor", -1.0), ("ld", -1.0),
              ("東京", -1.0), ("<0x0A>", -5.0)]
    tok = Tokenizer(models.Unigram(pieces, unk_id=0))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


def test_sentencepiece_a_piece_beginning_with_the_meta_space_starts_a_word():
    assert flags(metaspace_unigram(), "hello, world 東京") == [
        ("▁he", True), ("llo", False), (",", False), ("▁wor", True), ("ld", False), ("▁", True), ("東京", False)]
    rule = word_start_rule(metaspace_unigram())
    assert rule.family == word_start_family(metaspace_unigram()) == "metaspace" and rule.begins[8] and rule.ends[8]  # a newline byte piece


def test_xlm_bpe_the_piece_after_an_end_of_word_piece_starts_a_word():
    vocab = ["<unk>", "h", "e", "l", "o", "w", "r", "o</w>", "d</w>", ",</w>", "he", "ll", "wo", "wor", "ld</w>"]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(vocab)},
                               [("h", "e"), ("l", "l"), ("w", "o"), ("wo", "r"), ("l", "d</w>")],
                               unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    assert word_start_rule(tok).family == word_start_family(tok) == "end_of_word"
    assert flags(tok, "hello , world") == [
        ("he", True), ("ll", False), ("o</w>", False), (",</w>", True), ("wor", True), ("ld</w>", False)]


def test_added_tokens_stand_alone():
    tok = byte_alphabet_bpe([])
    tok.add_special_tokens([AddedToken("<mask>", special=True)])
    # "<mask>" has no space mark, yet starts a word; the piece after it does too.
    assert flags(tok, "a<mask>b") == [("a", True), ("<mask>", True), ("b", True)]


def test_tokenizers_without_marks_use_offsets():
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, ",": 2, "world": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    assert word_start_rule(tok).family == word_start_family(tok) == "offsets"
    assert flags(tok, "hello, world") == [("hello", True), (",", False), ("world", True)]
    assert offset_word_starts("ab c", [(0, 1), (1, 2), (3, 4), (3, 4)]).tolist() == [True, False, True, False]


def test_every_sentence_starts_a_word_and_documents_keep_their_sentences():
    tok = byte_alphabet_bpe([("Ġ", "h"), ("Ġh", "i")])
    docs, skipped = tokenize_documents(tok, [("a", "hi there. Hi hi"), ("empty", "   "), ("b", "x")])
    assert [d.doc_id for d in docs] == ["a", "b"] and skipped == {"empty_text": 1}
    a, b = docs
    assert [tok.id_to_token(int(i)) for i in a.ids] == ["h", "i", "Ġ", "t", "h", "e", "r", "e", ".", "H", "i", "Ġhi"]
    assert a.offsets.tolist() == [0, 9, 12]
    # "H" starts the second sentence without a space mark
    assert a.word_start.tolist() == [True, False, True, False, False, False, False, False, False, True, False, True]
    assert b.word_start.tolist() == [True] and b.ids.dtype == np.uint32


def test_a_sentence_of_no_tokens_is_dropped_and_a_document_of_none_counted():
    tok = wordpiece()
    tok.normalizer = normalizers.Sequence([normalizers.Lowercase(), normalizers.Replace(Regex("[x.]"), "")])
    docs, skipped = tokenize_documents(tok, [("a", "Go. Xx. Goes."), ("b", "Xxx.")])
    assert [d.doc_id for d in docs] == ["a"] and skipped == {"no_tokens": 1}
    assert docs[0].offsets.tolist() == [0, 1, 3] and docs[0].word_start.tolist() == [True, True, False]


def test_real_bert_vocabulary():
    tok = Tokenizer.from_file(str(shared_data("tokenizers", "bert-base-uncased-wordpiece", "tokenizer.json")))
    tok.no_padding()
    tok.no_truncation()
    assert flags(tok, "Une phrase: l'été à Paris, unaffable!") == [
        ("une", True), ("phrase", True), (":", True), ("l", True), ("'", True), ("et", True), ("##e", False),
        ("a", True), ("paris", True), (",", True), ("una", True), ("##ffa", False), ("##ble", False), ("!", True)]
