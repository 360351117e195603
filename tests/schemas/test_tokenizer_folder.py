import json

from schemas.tokenizer_folder import make_portable


def test_make_portable_names_a_class_both_transformers_know(tmp_path):
    path = tmp_path / "tokenizer_config.json"
    written_by_5 = {"backend": "tokenizers", "tokenizer_class": "TokenizersBackend", "mask_token": "<mask>",
                    "model_max_length": 128, "name": "Été"}
    path.write_text(json.dumps(written_by_5))
    make_portable(str(path))
    assert json.loads(path.read_text()) == {"tokenizer_class": "PreTrainedTokenizerFast", "mask_token": "<mask>",
                                            "model_max_length": 128, "name": "Été"}
    once = path.read_bytes()
    make_portable(str(path))
    assert path.read_bytes() == once
