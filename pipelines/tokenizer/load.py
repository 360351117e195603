"""Loading a tokenizer for `shardlm build` from any vocabulary a user has, and saving a tokenizer
folder that `transformers` 4.x and 5.x load (pure logic, no Beam).

`--tokenizer` accepts:
  a folder or URL of `tokenizer.json`     a Hugging Face tokenizer, used as it is
  a BERT `vocab.txt`                      WordPiece, lowercased when the vocabulary has no capitals
  a GPT-2/RoBERTa `vocab.json` (with `merges.txt` beside it)   byte-level BPE
  a SentencePiece `.model`                unigram or BPE, as the `sentencepiece` library encodes
A folder holding one of those files works too. Special tokens the family needs ([CLS]/<s>, [SEP]/</s>,
pad, mask, unk) are found by name, and added at the end of the vocabulary when missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tempfile
from typing import Any

import fsspec
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from pipelines.tokenizer import spm
from pipelines.tokenizer.word_starts import word_start_family
from schemas.tokenizer_folder import CONFIG_FILE, make_portable
from shards.storage import check_url, join
from shards.tokenizer import (TOKENIZER_FOLDER, clear_shard_set_tokenizer, load_shard_set_tokenizer,
                              read_tokenizer_files, write_shard_set_tokenizer)

TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "shardlm_tokenizer.json"
# Vocabulary files looked for in a folder without tokenizer.json, in this order.
VOCAB_FILES = ("vocab.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model")
# Names tried, in order, when finding a role's token in any tokenizer (BERT/ALBERT first, then RoBERTa/XLM-R).
ROLE_NAMES = {
    "cls": ("[CLS]", "<s>"),
    "sep": ("[SEP]", "</s>"),
    "pad": ("[PAD]", "<pad>"),
    "mask": ("[MASK]", "<mask>"),
    "unk": ("[UNK]", "<unk>"),
}
BERT_NAMES = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
ROBERTA_NAMES = {"cls": "<s>", "pad": "<pad>", "sep": "</s>", "unk": "<unk>", "mask": "<mask>"}


def special_ids(tok: Tokenizer) -> dict[str, int]:
    """Role -> id for cls/sep/pad/mask/unk, found by the BERT or RoBERTa token names."""
    out: dict[str, int] = {}
    for role, names in ROLE_NAMES.items():
        ids = [tok.token_to_id(n) for n in names if tok.token_to_id(n) is not None]
        if not ids:
            raise ValueError(f"tokenizer has no {role} token (tried {', '.join(names)}); "
                             f"train one with `shardlm tokenizer` or add the special tokens")
        out[role] = ids[0]
    return out


# ----------------------------------------------------------------------------- reading vocabularies


def _read(url: str, storage_options: dict | None) -> bytes:
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    if not fs.isfile(path):
        raise FileNotFoundError(f"{url} does not exist; give --tokenizer a folder written by `shardlm tokenizer`, "
                                f"a tokenizer.json, vocab.txt, vocab.json (+ merges.txt) or SentencePiece .model")
    with fs.open(path, "rb") as f:
        return f.read()


def resolve(url: str, storage_options: dict | None = None) -> str:
    """The vocabulary file a `--tokenizer` URL names: the URL itself, or the file found in a folder."""
    check_url(url)
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    if not fs.isdir(path):
        if not fs.exists(path) and not path.endswith((".json", ".txt", ".model")):
            raise FileNotFoundError(f"{url}/{TOKENIZER_FILE} does not exist; give --tokenizer a folder written by "
                                    f"`shardlm tokenizer` or a vocabulary file")
        return url
    for name in (TOKENIZER_FILE, *VOCAB_FILES):
        if fs.isfile(posixpath.join(path, name)):
            return join(url.rstrip("/"), name)
    models_found = sorted(p for p in fs.ls(path, detail=False) if p.endswith(".model"))
    if len(models_found) == 1:
        return join(url.rstrip("/"), posixpath.basename(models_found[0]))
    raise FileNotFoundError(f"{url}/{TOKENIZER_FILE} does not exist, nor {', '.join(VOCAB_FILES)} or one .model; "
                            f"give --tokenizer a folder written by `shardlm tokenizer` or a vocabulary file")


def read_vocabulary(url: str, storage_options: dict | None = None) -> tuple[Tokenizer, bytes, bool]:
    """(tokenizer, bytes of the file read, whether it was converted) for a vocabulary file URL."""
    name = posixpath.basename(url.rstrip("/"))
    data = _read(url, storage_options)
    if name.endswith(".model"):
        return spm.to_tokenizer(spm.parse_model(data)), data, True
    if name.endswith(".txt"):
        return wordpiece_from_vocab_txt(data.decode("utf-8")), data, True
    if name == "vocab.json":
        merges = _read(join(posixpath.dirname(url.rstrip("/")), "merges.txt"), storage_options)
        return bytelevel_from_files(json.loads(data), merges.decode("utf-8")), data + merges, True
    try:
        return Tokenizer.from_str(data.decode("utf-8")), data, False
    except Exception as err:  # noqa: BLE001 - tokenizers raises a bare Exception on bad JSON
        raise ValueError(f"{url} is not a Hugging Face tokenizer.json: {err}") from err


def wordpiece_from_vocab_txt(text: str) -> Tokenizer:
    """BERT's WordPiece from `vocab.txt` (one piece per line, id = line number), normalized as
    BertTokenizer does: lowercased and accents stripped when lowercasing changes no piece."""
    pieces = text.split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
    vocab: dict[str, int] = {}
    for i, piece in enumerate(pieces):
        vocab.setdefault(piece.rstrip("\r"), i)
    lowercase = all(p == p.lower() for p in vocab if not (p.startswith("[") and p.endswith("]")))
    unk = "[UNK]" if "[UNK]" in vocab else "<unk>"
    tok = Tokenizer(models.WordPiece(vocab, unk_token=unk, continuing_subword_prefix="##"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens([AddedToken(t, special=True) for t in BERT_NAMES.values() if t in vocab])
    return tok


def bytelevel_from_files(vocab: dict[str, int], merges_text: str) -> Tokenizer:
    """GPT-2/RoBERTa byte-level BPE from `vocab.json` and `merges.txt` (no prefix space, as
    GPT2TokenizerFast and RobertaTokenizerFast encode by default)."""
    merges = [tuple(line.split(" ")) for line in merges_text.splitlines()
              if line and not line.startswith("#version")]
    bad = [m for m in merges if len(m) != 2]
    if bad:
        raise ValueError(f"merges.txt line {' '.join(bad[0])!r} is not two pieces separated by a space")
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [t for t in vocab if t.startswith("<") and t.endswith(">") and len(t) > 2]
    tok.add_special_tokens([AddedToken(t, special=True) for t in specials])
    return tok


# ----------------------------------------------------------------------------- the family's tokens


def add_family_specials(tok: Tokenizer) -> bool:
    """Add the special tokens a role lacks (BERT names beside [CLS]/[SEP] or WordPiece, else RoBERTa
    names) and, where the tokenizer has none, the family's post-processor; True when it changed."""
    family = word_start_family(tok)
    bert = family == "wordpiece" or tok.token_to_id("[CLS]") is not None or tok.token_to_id("[SEP]") is not None
    names = BERT_NAMES if bert else ROBERTA_NAMES
    missing = [token for role, token in names.items()  # in the family's id order
               if all(tok.token_to_id(n) is None for n in ROLE_NAMES[role])]
    if missing:
        tok.add_special_tokens([_mask_token(t) if t == "<mask>" else AddedToken(t, special=True) for t in missing])
    if tok.post_processor is not None:
        return bool(missing)
    ids = special_ids(tok)
    cls, sep = tok.id_to_token(ids["cls"]), tok.id_to_token(ids["sep"])
    if family == "bytelevel" and not bert:
        tok.post_processor = processors.RobertaProcessing((sep, ids["sep"]), (cls, ids["cls"]),
                                                          trim_offsets=True, add_prefix_space=False)
    else:
        pair = f"{cls} $A {sep} $B:1 {sep}:1" if bert else f"{cls} $A {sep} {sep} $B {sep}"
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", pair=pair, special_tokens=[(cls, ids["cls"]), (sep, ids["sep"])])
    return True


def _mask_token(token: str) -> AddedToken:
    """RoBERTa's <mask> absorbs the space before it."""
    return AddedToken(token, lstrip=True, rstrip=False, special=True, normalized=False)


def open_tokenizer(url: str, storage_options: dict | None = None) -> tuple[Tokenizer, dict[str, Any], bool]:
    """Load `--tokenizer` (see the module docstring): the tokenizer (padding and truncation off),
    the info the shard-set manifest stores ({url, sha256, vocab_size, special_ids}), and whether it
    was converted (not a tokenizer.json used as it is; `tokenizer_for_build` saves it as a folder)."""
    file_url = resolve(url, storage_options)
    tok, data, converted = read_vocabulary(file_url, storage_options)
    converted = add_family_specials(tok) or converted
    tok.no_padding()
    tok.no_truncation()
    if converted:
        data = tok.to_str().encode("utf-8")
    fs, path = fsspec.core.url_to_fs(file_url, **(storage_options or {}))
    # The canonical URL (absolute path, or protocol://...), so a relative --tokenizer still
    # resolves when the trainer runs from another directory.
    canonical = fs.unstrip_protocol(path) if "://" in url else fs._strip_protocol(path)
    if url.rstrip("/") != file_url:  # a folder was given: name the folder
        canonical = posixpath.dirname(canonical)
    info = {"url": canonical, "sha256": hashlib.sha256(data).hexdigest(),
            "vocab_size": tok.get_vocab_size(with_added_tokens=True), "special_ids": special_ids(tok)}
    return tok, info, converted


def load_tokenizer(url: str, storage_options: dict | None = None) -> tuple[Tokenizer, dict[str, Any]]:
    """`open_tokenizer` without the converted flag."""
    tok, info, _ = open_tokenizer(url, storage_options)
    return tok, info


# ----------------------------------------------------------------------------- saving a folder


def save_tokenizer(tok: Tokenizer, output: str, storage_options: dict | None = None,
                   info: dict[str, Any] | None = None) -> list[str]:
    """Save a `transformers` tokenizer folder (tokenizer.json, tokenizer_config.json naming a
    class 4.x and 5.x both have (schemas.tokenizer_folder), and `INFO_FILE` holding `info`) to
    `output`, any fsspec URL;
    returns the file names."""
    from transformers import PreTrainedTokenizerFast  # heavy import: only where a folder is saved

    ids = special_ids(tok)
    names = {role: tok.id_to_token(i) for role, i in ids.items()}
    roberta = names["cls"] == "<s>"
    extra: dict[str, Any] = ({"bos_token": names["cls"], "eos_token": names["sep"],
                              "model_input_names": ["input_ids", "attention_mask"]} if roberta else
                             {"model_input_names": ["input_ids", "token_type_ids", "attention_mask"]})
    mask: str | AddedToken = _mask_token(names["mask"]) if roberta else names["mask"]
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=names["unk"], pad_token=names["pad"],
                                   cls_token=names["cls"], sep_token=names["sep"], mask_token=mask, **extra)
    info = {**(info or {}), "vocab_size": tok.get_vocab_size(with_added_tokens=True), "special_ids": ids}
    with tempfile.TemporaryDirectory(prefix="shardlm-tokenizer-") as tmp:
        fast.save_pretrained(tmp)
        make_portable(os.path.join(tmp, CONFIG_FILE))
        with open(os.path.join(tmp, INFO_FILE), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=2, sort_keys=True)
        files = sorted(os.listdir(tmp))
        for name in files:
            with open(os.path.join(tmp, name), "rb") as src, \
                    fsspec.open(join(check_url(output), name), "wb", **(storage_options or {})) as dst:
                dst.write(src.read())
    return files


def tokenizer_for_build(url: str, output: str, storage_options: dict | None = None) -> dict[str, Any]:
    """The manifest info of `shardlm build --tokenizer URL`, once the tokenizer is written into the
    shard set as `OUTPUT/tokenizer/`, which the info names relative to the set (shards.tokenizer).
    A tokenizer.json used as it is is copied with the transformers files beside it; a converted
    vocabulary (vocab.txt, vocab.json + merges.txt, .model, or a tokenizer.json that lacked special
    tokens) is saved there as a transformers folder."""
    tok, info, converted = open_tokenizer(url, storage_options)
    if converted:
        folder = join(output.rstrip("/"), TOKENIZER_FOLDER)
        clear_shard_set_tokenizer(output, storage_options)
        save_tokenizer(tok, folder, storage_options, {"source": info["url"]})
        _, saved, again = open_tokenizer(folder, storage_options)
        if again or saved["special_ids"] != info["special_ids"]:
            raise AssertionError(f"the tokenizer converted from {url} did not read back as written; a bug in shardlm")
        info = saved
    else:
        write_shard_set_tokenizer(read_tokenizer_files(info["url"], storage_options), output, storage_options)
    info = {**info, "url": TOKENIZER_FOLDER}
    load_shard_set_tokenizer(output, info, storage_options)  # what the workers load: the bytes the sha256 names
    return info
